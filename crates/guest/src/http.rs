//! The JSON plumbing of HTTP components (spin-sdk 5.2): who is calling (the
//! bearer token, verified here), routing by path segments, JSON responses,
//! the API's error format, and the one place where a persistence failure
//! (`StoreError`) becomes an API error.

use crate::sql::ConstraintKind;
use crate::{log, Backend, StoreError};
use serde::Serialize;
use spin_sdk::http::{Method, Request, Response};
use todo_domain::{ApiError, ErrorCode};
use uuid::Uuid;

/// Beyond this the host has already refused the body; checked again here.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The variable holding the secret tokens are signed with (`secret = true`
/// in the manifest); each HTTP component's `[component.<id>.variables]`
/// maps it.
pub const SECRET_VARIABLE: &str = "jwt_secret";

/// Who is calling, as its bearer token proves.
pub struct Context {
    pub user_id: String,
    /// For log lines; `todo-host` sets it on every request.
    pub request_id: String,
}

impl Context {
    /// The caller of `req`: the `sub` of a valid `Authorization: Bearer`
    /// token. No header names an identity, whoever set it: under Spin
    /// nothing strips a client's.
    pub fn of(req: &Request) -> Result<Self, ApiError> {
        let header = |name| req.header(name).and_then(|v| v.as_str()).map(str::trim).filter(|v| !v.is_empty());
        let user_id = token_key()?
            .verify_header(header("authorization"), todo_token::now())
            .map_err(|err| ApiError::unauthorized(err.to_string()))?;
        Ok(Self { user_id, request_id: header("todo-request-id").unwrap_or("-").to_owned() })
    }

    /// Ties a server-side failure to its request in the host's log (the
    /// cause was logged where it happened).
    pub fn log_failure(&self, err: &ApiError) {
        log::line(format_args!("request={} user={}: {err}", self.request_id, self.user_id));
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

/// What the API answers for a persistence failure:
/// - a unique (or primary-key) violation is a concurrent request that won
///   the race for one of the Task API's keys — the task's next audit version
///   `(task_id, version)` or an `Idempotency-Key` — 409 `conflict`, to retry;
/// - an unavailable backend or a transaction past the host's deadline is
///   503 `unavailable`;
/// - a missing row is 404 `not_found` ("no such task");
/// - anything else (another constraint, a refused statement, a
///   misconfiguration, unreadable data) is 500 `internal`, with no internals
///   in the message.
pub fn api_error(err: &StoreError) -> ApiError {
    match err {
        StoreError::Constraint { kind: ConstraintKind::Unique | ConstraintKind::PrimaryKey, .. } => {
            ApiError::new(ErrorCode::Conflict, "the task was changed by a concurrent request; retry")
        }
        StoreError::NotFound(what) => ApiError::not_found_of(what),
        StoreError::Unavailable { backend: Backend::Pubsub, .. } => {
            ApiError::new(ErrorCode::Unavailable, "events cannot be queued now; retry later")
        }
        StoreError::Unavailable { backend: Backend::State, .. } => {
            ApiError::new(ErrorCode::Unavailable, "the state store is unavailable; retry later")
        }
        StoreError::Unavailable { backend: Backend::Sql, .. } => {
            ApiError::new(ErrorCode::Unavailable, "the database is unavailable; retry later")
        }
        StoreError::DeadlineExceeded => {
            ApiError::new(ErrorCode::Unavailable, "the request took too long and was rolled back; retry later")
        }
        StoreError::Corrupt(_) => ApiError::internal("stored data is unreadable"),
        StoreError::Encode(detail) => ApiError::internal(format!("could not encode JSON: {detail}")),
        StoreError::Misconfigured { backend, .. } | StoreError::Other { backend, .. } => match backend {
            Backend::Sql => ApiError::internal("database error"),
            Backend::State => ApiError::internal("state store error"),
            Backend::Pubsub => ApiError::internal("could not publish the change"),
        },
        StoreError::Constraint { .. } => ApiError::internal("database error"),
    }
}

/// `?` on a `StoreError` in an HTTP handler: `api_error`, with the cause
/// logged (a missing row is an answer, not a failure, and is not).
impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        if !matches!(err, StoreError::NotFound(_)) {
            log::line(format_args!("store error: {err}"));
        }
        api_error(&err)
    }
}

/// JSON text of `value`; failing to encode is an internal error.
pub fn encode(value: &impl Serialize) -> Result<String, ApiError> {
    crate::encode(value).map_err(|err| api_error(&err))
}

pub fn json(status: u16, body: &impl Serialize) -> Response {
    encode(body).map_or_else(|err| error(&err), |text| json_text(status, text))
}

/// A response whose JSON body is already encoded.
pub fn json_text(status: u16, body: String) -> Response {
    // spin-sdk writes the body in pieces no larger than the stream's write
    // permit, so bodies over wasi:http's 4 KiB per write are fine.
    Response::builder().status(status).header("content-type", "application/json").body(body).build()
}

pub fn error(err: &ApiError) -> Response {
    let mut response = json_text(err.status(), err.to_json().to_string());
    if err.code == ErrorCode::Unauthorized {
        response.set_header("www-authenticate", "Bearer");
    }
    response
}

/// The key of the secret in `jwt_secret`. Without it (not mapped to the
/// component, or no value: Spin resolves values when they are read) the
/// component cannot authenticate anyone, the operator's mistake: 500.
fn token_key() -> Result<todo_token::Key, ApiError> {
    match spin_sdk::variables::get(SECRET_VARIABLE) {
        Ok(secret) => Ok(todo_token::Key::new(secret.as_bytes())),
        Err(err) => {
            log::line(format_args!("reading variable {SECRET_VARIABLE}: {err:?}"));
            Err(ApiError::internal(format!("the component cannot read its {SECRET_VARIABLE} variable")))
        }
    }
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
    use super::*;
    use crate::{pubsub, sql, state};

    fn violation(kind: ConstraintKind, name: &str) -> StoreError {
        StoreError::Constraint { kind, name: name.into(), message: "constraint failed".into() }
    }

    fn status_and_message(err: StoreError) -> (u16, String) {
        let api = api_error(&err);
        assert_eq!(api.status(), api.code.status());
        (api.status(), api.message)
    }

    #[test]
    fn concurrency_key_violations_are_conflicts() {
        for err in [
            violation(ConstraintKind::Unique, "task_event_task_id_version_key"),
            violation(ConstraintKind::Unique, "task_event.task_id,version"),
            violation(ConstraintKind::PrimaryKey, "idempotency_key_pkey"),
            StoreError::from(sql::Error::ConstraintViolation(sql::ConstraintViolation {
                kind: ConstraintKind::PrimaryKey,
                name: "idempotency_key.user_id,key".into(),
                message: "UNIQUE constraint failed".into(),
            })),
        ] {
            let api = api_error(&err);
            assert_eq!(api.code, ErrorCode::Conflict, "{err:?}");
            assert_eq!(
                api.to_json(),
                serde_json::json!({"error": {"code": "conflict",
                    "message": "the task was changed by a concurrent request; retry"}})
            );
        }
    }

    #[test]
    fn other_constraints_are_internal_errors() {
        for kind in [ConstraintKind::ForeignKey, ConstraintKind::Check, ConstraintKind::NotNull, ConstraintKind::Other]
        {
            assert_eq!(status_and_message(violation(kind, "task.priority")), (500, "database error".into()));
        }
    }

    #[test]
    fn unavailable_backends_and_deadlines_are_503() {
        let unavailable = |err| api_error(&err).code;
        assert_eq!(unavailable(sql::Error::Unavailable("busy".into()).into()), ErrorCode::Unavailable);
        assert_eq!(unavailable(sql::Error::DeadlineExceeded.into()), ErrorCode::Unavailable);
        assert_eq!(
            status_and_message(sql::Error::Unavailable("busy".into()).into()),
            (503, "the database is unavailable; retry later".into())
        );
        assert_eq!(
            status_and_message(pubsub::Error::Unavailable("full".into()).into()),
            (503, "events cannot be queued now; retry later".into())
        );
        assert_eq!(status_and_message(state::Error::Unavailable("down".into()).into()).0, 503);
    }

    #[test]
    fn missing_rows_are_404_of_what_is_missing() {
        assert_eq!(api_error(&StoreError::NotFound("task")), ApiError::not_found());
        assert_eq!(api_error(&StoreError::NotFound("notification")), ApiError::not_found_of("notification"));
    }

    #[test]
    fn everything_else_is_500_without_internals() {
        let cases = [
            (StoreError::corrupt("expected text, got Integer(5)"), "stored data is unreadable"),
            (sql::Error::InvalidStatement("near SELEC".into()).into(), "database error"),
            (sql::Error::TransactionClosed.into(), "database error"),
            (sql::Error::AccessDenied("default".into()).into(), "database error"),
            (sql::Error::NoSuchDatabase("default".into()).into(), "database error"),
            (sql::Error::Other("disk I/O".into()).into(), "database error"),
            (pubsub::Error::DuplicateEvent("e1".into()).into(), "could not publish the change"),
            (pubsub::Error::AccessDenied("reminders".into()).into(), "could not publish the change"),
            (pubsub::Error::InvalidEvent("no id".into()).into(), "could not publish the change"),
            (state::Error::Other("x".into()).into(), "state store error"),
        ];
        for (err, message) in cases {
            assert_eq!(status_and_message(err), (500, message.to_owned()));
        }
        assert_eq!(
            api_error(&StoreError::Encode("key must be a string".into())).message,
            "could not encode JSON: key must be a string"
        );
    }

    #[test]
    fn segments_after_a_prefix() {
        let of = |path| segments(path, "/api/todos");
        assert_eq!(of("/api/todos"), Some(vec![]));
        assert_eq!(of("/api/todos/"), Some(vec![]));
        assert_eq!(of("/api/todos/abc"), Some(vec!["abc"]));
        assert_eq!(of("/api/todos/abc/"), Some(vec!["abc"]));
        assert_eq!(of("/api/todos/abc/complete"), Some(vec!["abc", "complete"]));
        for path in ["/api/todosx", "/api/todos//complete", "/api/todos//", "/other"] {
            assert_eq!(of(path), None, "{path}");
        }
    }
}
