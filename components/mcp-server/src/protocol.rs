//! MCP over Streamable HTTP: one JSON-RPC message per POST to `/mcp`,
//! answered with `application/json` (notifications with 202 and no body).
//!
//! Two eras of the protocol, told apart as the official SDKs do, by the
//! `MCP-Protocol-Version` header: the handshake revisions (2024-11-05 to
//! 2025-11-25: `initialize` negotiates the version, then requests carry it
//! in the header), and 2026-07-28, the newest, where every request carries
//! its version, the client's capabilities and routing headers of its own
//! (no handshake, no session: `server/discover` describes the server). This
//! server keeps no session in either (`Mcp-Session-Id` is optional), so any
//! replica answers any request.

use crate::jsonrpc::{self, Error, Message, Request, HEADER_MISMATCH, METHOD_NOT_FOUND};
use crate::jsonrpc::{INVALID_PARAMS, INVALID_REQUEST, PARSE_ERROR, UNSUPPORTED_PROTOCOL_VERSION};
use crate::{recent, tools, SOURCE};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};
use spin_sdk::http::{Method, Request as HttpRequest, Response};
use todo_domain::ApiError;
use todo_guest::api::Caller;
use todo_guest::http::{method_not_allowed, Context};

/// The revisions reached through `initialize`, oldest first.
pub const HANDSHAKE_VERSIONS: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
/// The newest revision (the `mcp` Python SDK 2.3's `LATEST_PROTOCOL_VERSION`).
pub const MODERN_VERSION: &str = "2026-07-28";

const VERSION_HEADER: &str = "mcp-protocol-version";
const METHOD_HEADER: &str = "mcp-method";
const NAME_HEADER: &str = "mcp-name";
const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const META_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";

const INSTRUCTIONS: &str = "The caller's tasks and notifications in the todo system. Tools act only on the \
                            authenticated user's data; the resource todo://events/recent holds their last 20 task \
                            events, newest first.";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Era {
    Handshake,
    Modern,
}

impl Era {
    /// As the reference server routes: a version header that is not a
    /// handshake revision (the newest, or one unknown) takes the modern path,
    /// which names what it supports when it does not know the version.
    fn of(req: &HttpRequest) -> Self {
        match header(req, VERSION_HEADER) {
            Some(version) if !HANDSHAKE_VERSIONS.contains(&version) => Self::Modern,
            _ => Self::Handshake,
        }
    }
}

pub fn serve(ctx: &Context, req: &HttpRequest) -> Result<Response, ApiError> {
    if *req.method() != Method::Post {
        return Ok(method_not_allowed(req.method(), "POST"));
    }
    let era = Era::of(req);
    let request = match jsonrpc::parse(req.body()) {
        Ok(Message::Request(request)) => request,
        Ok(Message::Notification) => return Ok(Response::builder().status(202).body(Vec::new()).build()),
        Err((id, error)) => return Ok(reply_error(era, &id, &error)),
    };
    let caller = Caller { user_id: &ctx.user_id, source: SOURCE };
    let answer = match era {
        Era::Modern => check_envelope(req, &request).and_then(|()| call(caller, &request, era)),
        Era::Handshake => call(caller, &request, era),
    };
    Ok(match answer {
        Ok(result) => json_response(200, jsonrpc::result(&request.id, stamp(era, &request.method, result))),
        Err(error) => reply_error(era, &request.id, &error),
    })
}

fn call(caller: Caller, request: &Request, era: Era) -> Result<Value, Error> {
    let params = &request.params;
    match request.method.as_str() {
        "initialize" if era == Era::Handshake => Ok(initialize(params)),
        "server/discover" => Ok(discover()),
        "ping" => Ok(json!({})),
        "tools/list" => Ok(json!({ "tools": tools::list() })),
        "tools/call" => tools::call(caller, params),
        "resources/list" => Ok(json!({ "resources": [recent::resource()] })),
        "resources/templates/list" => Ok(json!({ "resourceTemplates": [] })),
        "resources/read" => recent::read(caller, params),
        method => Err(Error::new(METHOD_NOT_FOUND, format!("no method {method}"))),
    }
}

/// Answers with the client's revision when it is one of ours, else the newest
/// handshake revision (the client then decides whether it can go on).
fn initialize(params: &serde_json::Map<String, Value>) -> Value {
    let asked = params.get("protocolVersion").and_then(Value::as_str).unwrap_or_default();
    let version = HANDSHAKE_VERSIONS.iter().find(|v| **v == asked).unwrap_or(&HANDSHAKE_VERSIONS[3]);
    json!({
        "protocolVersion": version,
        "capabilities": capabilities(),
        "serverInfo": server_info(),
        "instructions": INSTRUCTIONS,
    })
}

fn discover() -> Value {
    let mut versions = HANDSHAKE_VERSIONS.to_vec();
    versions.push(MODERN_VERSION);
    json!({
        "supportedVersions": versions,
        "capabilities": capabilities(),
        "instructions": INSTRUCTIONS,
        "_meta": { META_SERVER_INFO: server_info() },
    })
}

fn capabilities() -> Value {
    json!({ "tools": { "listChanged": false }, "resources": { "subscribe": false, "listChanged": false } })
}

fn server_info() -> Value {
    json!({ "name": "todo", "title": "todo tasks", "version": env!("CARGO_PKG_VERSION") })
}

/// 2026-07-28 results say they are complete, and lists and reads how long a
/// client may cache them: not at all (they change with every write), and
/// never for another user.
fn stamp(era: Era, method: &str, mut result: Value) -> Value {
    if era == Era::Modern {
        result["resultType"] = json!("complete");
        if matches!(
            method,
            "server/discover" | "tools/list" | "resources/list" | "resources/templates/list" | "resources/read"
        ) {
            result["ttlMs"] = json!(0);
            result["cacheScope"] = json!("private");
        }
    }
    result
}

/// The checks a 2026-07-28 request passes before its method runs, in the
/// reference implementation's order: the envelope in `_meta`, then the
/// routing headers against the body, then the version.
fn check_envelope(req: &HttpRequest, request: &Request) -> Result<(), Error> {
    let meta = request.params.get("_meta").and_then(Value::as_object);
    let version = meta.and_then(|m| m.get(META_VERSION));
    if version.is_none() || !meta.is_some_and(|m| m.contains_key(META_CAPABILITIES)) {
        return Err(Error::invalid_params(format!(
            "params._meta must carry {META_VERSION:?} and {META_CAPABILITIES:?}"
        )));
    }
    if header(req, VERSION_HEADER) != version.and_then(Value::as_str) {
        return Err(Error::new(HEADER_MISMATCH, "MCP-Protocol-Version does not match params._meta"));
    }
    if header(req, METHOD_HEADER) != Some(request.method.as_str()) {
        return Err(Error::new(HEADER_MISMATCH, "Mcp-Method does not match the method"));
    }
    if let Some(named) = name_of(request) {
        if header(req, NAME_HEADER).map(decode_header) != Some(Some(named.to_owned())) {
            return Err(Error::new(HEADER_MISMATCH, "Mcp-Name does not match the request"));
        }
    }
    match version.and_then(Value::as_str) {
        Some(MODERN_VERSION) => Ok(()),
        Some(other) => Err(Error::new(UNSUPPORTED_PROTOCOL_VERSION, "Unsupported protocol version")
            .with_data(json!({ "supported": [MODERN_VERSION], "requested": other }))),
        None => Err(Error::invalid_params("the protocol version must be a string")),
    }
}

/// What `Mcp-Name` must repeat: the tool's name, the resource's URI.
fn name_of(request: &Request) -> Option<&str> {
    let key = match request.method.as_str() {
        "tools/call" | "prompts/get" => "name",
        "resources/read" => "uri",
        _ => return None,
    };
    request.params.get(key).and_then(Value::as_str)
}

/// A header value as sent, or its text when wrapped as `=?base64?...?=`.
fn decode_header(value: &str) -> Option<String> {
    match value.strip_prefix("=?base64?").and_then(|rest| rest.strip_suffix("?=")) {
        Some(encoded) => String::from_utf8(STANDARD.decode(encoded).ok()?).ok(),
        None => Some(value.to_owned()),
    }
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.header(name).and_then(|v| v.as_str())
}

/// An error answer, with the HTTP status its code has: malformed messages
/// are 400 in both eras; in 2026-07-28 bad parameters and header or version
/// disagreements are 400 and an unknown method 404, as that revision asks.
fn reply_error(era: Era, id: &Value, error: &Error) -> Response {
    let status = match (error.code, era) {
        (PARSE_ERROR | INVALID_REQUEST, _) => 400,
        (INVALID_PARAMS | HEADER_MISMATCH | UNSUPPORTED_PROTOCOL_VERSION, Era::Modern) => 400,
        (METHOD_NOT_FOUND, Era::Modern) => 404,
        _ => 200,
    };
    json_response(status, jsonrpc::error(id, error))
}

fn json_response(status: u16, body: Value) -> Response {
    todo_guest::http::json_text(status, body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_may_be_base64_wrapped() {
        assert_eq!(decode_header("list_tasks").as_deref(), Some("list_tasks"));
        assert_eq!(decode_header("=?base64?dG9kbw==?=").as_deref(), Some("todo"));
        assert_eq!(decode_header("=?base64?!!?="), None);
    }

    #[test]
    fn initialize_negotiates_the_version() {
        let params = |v: &str| json!({ "protocolVersion": v }).as_object().unwrap().clone();
        assert_eq!(initialize(&params("2025-03-26"))["protocolVersion"], "2025-03-26");
        assert_eq!(initialize(&params("2099-01-01"))["protocolVersion"], "2025-11-25");
    }
}
