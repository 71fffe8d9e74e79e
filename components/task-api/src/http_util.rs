//! Request context and JSON responses.

use serde::Serialize;
use spin_sdk::http::{Method, Request, Response};
use todo_domain::ApiError;
use uuid::Uuid;

/// Who is calling, as the host authenticated it.
pub struct Context {
    pub user_id: String,
    /// For log lines; the host sets it on every request.
    pub request_id: String,
}

impl Context {
    pub fn of(req: &Request) -> Result<Self, ApiError> {
        let header = |name| {
            req.header(name)
                .and_then(|v| v.as_str())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let user_id = header("todo-user-id").ok_or_else(ApiError::unauthenticated)?;
        Ok(Self {
            user_id: user_id.to_owned(),
            request_id: header("todo-request-id").unwrap_or("-").to_owned(),
        })
    }

    /// Ties a server-side failure to its request in the host's log (the
    /// cause was logged where it happened).
    pub fn log_failure(&self, err: &ApiError) {
        eprintln!(
            "task-api request={} user={}: {err}",
            self.request_id, self.user_id
        );
    }
}

/// A path id: a UUID in any form `uuid` accepts, stored hyphenated.
pub fn parse_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::invalid_id(raw))
}

pub fn json(status: u16, body: &impl Serialize) -> Response {
    encode(body).map_or_else(|err| error(&err), |text| json_text(status, text))
}

pub fn encode(value: &impl Serialize) -> Result<String, ApiError> {
    serde_json::to_string(value)
        .map_err(|err| ApiError::internal(format!("could not encode JSON: {err}")))
}

/// A response whose JSON body is already encoded.
pub fn json_text(status: u16, body: String) -> Response {
    // spin-sdk writes the body in pieces no larger than the stream's write
    // permit, so bodies over wasi:http's 4 KiB per write are fine.
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body)
        .build()
}

pub fn error(err: &ApiError) -> Response {
    json_text(err.status(), err.to_json().to_string())
}

pub fn method_not_allowed(method: &Method, allow: &str) -> Response {
    let mut response = error(&ApiError::method_not_allowed(method));
    response.set_header("allow", allow);
    response
}

pub fn no_content() -> Response {
    Response::builder().status(204).body(Vec::new()).build()
}
