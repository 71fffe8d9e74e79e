//! The JSON plumbing of HTTP components (spin-sdk 5.2): who is calling,
//! routing by path segments, JSON responses and the API's error format.

use crate::{encode, log};
use serde::Serialize;
use spin_sdk::http::{Method, Request, Response};
use todo_domain::ApiError;
use uuid::Uuid;

/// Beyond this the host has already refused the body; checked again here.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

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
        log::line(format_args!(
            "request={} user={}: {err}",
            self.request_id, self.user_id
        ));
    }
}

/// Serves one request of `component`: the caller must be authenticated, the
/// body at most `MAX_BODY_BYTES`; an error becomes its JSON response, and a
/// server-side one is logged with the request id.
pub fn serve(
    req: &Request,
    component: &'static str,
    dispatch: impl FnOnce(&Context, &Request) -> Result<Response, ApiError>,
) -> Response {
    log::set_component(component);
    let ctx = match Context::of(req) {
        Ok(ctx) => ctx,
        Err(err) => return error(&err),
    };
    let result = if req.body().len() > MAX_BODY_BYTES {
        Err(ApiError::payload_too_large(MAX_BODY_BYTES))
    } else {
        dispatch(&ctx, req)
    };
    result.unwrap_or_else(|err| {
        if err.status() >= 500 {
            ctx.log_failure(&err);
        }
        error(&err)
    })
}

/// The segments of `path` after `prefix`: none for the prefix itself (with
/// or without a trailing slash); `None` for another path or an empty segment.
/// `/api/todos/abc/complete/` under `/api/todos` is `["abc", "complete"]`.
pub fn segments<'a>(path: &'a str, prefix: &str) -> Option<Vec<&'a str>> {
    let rest = match path.strip_prefix(prefix)? {
        "" | "/" => return Some(Vec::new()),
        rest => rest.strip_prefix('/')?.trim_end_matches('/'),
    };
    let segments: Vec<&str> = rest.split('/').collect();
    if segments.contains(&"") {
        return None;
    }
    Some(segments)
}

/// A path id of a `what` (`task`, ...): a UUID in any form `uuid` accepts,
/// stored hyphenated.
pub fn parse_id(raw: &str, what: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::invalid_id_of(what, raw))
}

pub fn json(status: u16, body: &impl Serialize) -> Response {
    encode(body).map_or_else(|err| error(&err), |text| json_text(status, text))
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

#[cfg(test)]
mod tests {
    use super::segments;

    #[test]
    fn segments_after_a_prefix() {
        let of = |path| segments(path, "/api/todos");
        assert_eq!(of("/api/todos"), Some(vec![]));
        assert_eq!(of("/api/todos/"), Some(vec![]));
        assert_eq!(of("/api/todos/abc"), Some(vec!["abc"]));
        assert_eq!(of("/api/todos/abc/"), Some(vec!["abc"]));
        assert_eq!(of("/api/todos/abc/complete"), Some(vec!["abc", "complete"]));
        for path in [
            "/api/todosx",
            "/api/todos//complete",
            "/api/todos//",
            "/other",
        ] {
            assert_eq!(of(path), None, "{path}");
        }
    }
}
