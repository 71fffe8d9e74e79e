//! JSON-RPC 2.0 as MCP uses it: one message per POST, requests (with an id)
//! and notifications (without), results and errors.

use serde_json::{json, Map, Value};

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;
/// MCP: a resource that does not exist.
pub const RESOURCE_NOT_FOUND: i64 = -32002;
/// MCP 2026-07-28: the routing headers disagree with the body.
pub const HEADER_MISMATCH: i64 = -32020;
/// MCP 2026-07-28: a protocol version this server does not speak.
pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;

/// A request: it gets exactly one answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// A string or a number, echoed in the answer.
    pub id: Value,
    pub method: String,
    /// `{}` when the request has none.
    pub params: Map<String, Value>,
}

/// One message from the client.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Request(Request),
    /// No id: nothing is answered (HTTP 202).
    Notification,
}

/// An error answer, with the request's id when it could be read.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl Error {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), data: None }
    }

    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(INVALID_PARAMS, message)
    }

    pub fn to_json(&self) -> Value {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(data) = &self.data {
            error["data"] = data.clone();
        }
        error
    }
}

/// Reads one message. A body that is not JSON is a parse error; JSON that
/// is not a single JSON-RPC 2.0 message is an invalid request (with the id,
/// if it had a usable one).
pub fn parse(body: &[u8]) -> Result<Message, (Value, Error)> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| (Value::Null, Error::new(PARSE_ERROR, format!("not JSON: {e}"))))?;
    let Value::Object(mut object) = value else {
        return Err((Value::Null, Error::new(INVALID_REQUEST, "expected one JSON-RPC message (an object)")));
    };
    let id = object.remove("id");
    let usable_id = id.clone().filter(|id| id.is_string() || id.is_i64() || id.is_u64());
    let invalid = |message: &str| (usable_id.clone().unwrap_or(Value::Null), Error::new(INVALID_REQUEST, message));
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(invalid("`jsonrpc` must be \"2.0\""));
    }
    let Some(Value::String(method)) = object.remove("method") else {
        return Err(invalid("`method` must be a string"));
    };
    let params = match object.remove("params") {
        None => Map::new(),
        Some(Value::Object(params)) => params,
        Some(_) => return Err(invalid("`params` must be an object")),
    };
    match (id, usable_id.clone()) {
        (None, _) => Ok(Message::Notification),
        (Some(_), Some(id)) => Ok(Message::Request(Request { id, method, params })),
        (Some(_), None) => Err(invalid("`id` must be a string or an integer")),
    }
}

pub fn result(id: &Value, result: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "result": result })
}

pub fn error(id: &Value, error: &Error) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": error.to_json() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(body: &str) -> (Value, i64) {
        let (id, error) = parse(body.as_bytes()).unwrap_err();
        (id, error.code)
    }

    #[test]
    fn requests_and_notifications() {
        let message = parse(br#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#).unwrap();
        assert_eq!(message, Message::Request(Request { id: json!(7), method: "ping".into(), params: Map::new() }));
        let message = parse(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).unwrap();
        assert_eq!(message, Message::Notification);
    }

    #[test]
    fn malformed_messages() {
        assert_eq!(code("{"), (Value::Null, PARSE_ERROR));
        assert_eq!(code("[]"), (Value::Null, INVALID_REQUEST));
        assert_eq!(code(r#"{"jsonrpc":"1.0","id":"a","method":"ping"}"#), (json!("a"), INVALID_REQUEST));
        assert_eq!(code(r#"{"jsonrpc":"2.0","id":1,"method":3}"#), (json!(1), INVALID_REQUEST));
        assert_eq!(code(r#"{"jsonrpc":"2.0","id":1,"method":"x","params":[1]}"#), (json!(1), INVALID_REQUEST));
        assert_eq!(code(r#"{"jsonrpc":"2.0","id":{},"method":"x"}"#), (Value::Null, INVALID_REQUEST));
    }
}
