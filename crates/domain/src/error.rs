//! The API's error type: a stable code, a human message and an HTTP status.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Machine-readable error codes, each with one HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The body is not JSON, or not a JSON object.
    MalformedJson,
    /// A field has the wrong type or an invalid value, or is unknown.
    ValidationFailed,
    /// The task id in the path is not a UUID.
    InvalidId,
    /// A query parameter has an invalid value.
    InvalidQuery,
    NotFound,
    MethodNotAllowed,
    /// An `Idempotency-Key` was reused with a different body.
    IdempotencyKeyReused,
    /// The request carries no valid bearer token.
    Unauthorized,
    PayloadTooLarge,
    /// A concurrent change won the race (a unique constraint refused ours).
    Conflict,
    /// The database is unreachable or busy: retrying later may succeed.
    Unavailable,
    Internal,
}

impl ErrorCode {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::MalformedJson => "malformed_json",
            Self::ValidationFailed => "validation_failed",
            Self::InvalidId => "invalid_id",
            Self::InvalidQuery => "invalid_query",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::Unauthorized => "unauthorized",
            Self::PayloadTooLarge => "payload_too_large",
            Self::Conflict => "conflict",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }

    pub const fn status(self) -> u16 {
        match self {
            Self::MalformedJson | Self::InvalidId | Self::InvalidQuery => 400,
            Self::Unauthorized => 401,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::Conflict => 409,
            Self::PayloadTooLarge => 413,
            Self::ValidationFailed | Self::IdempotencyKeyReused => 422,
            Self::Internal => 500,
            Self::Unavailable => 503,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error as the API reports it: `{"error": {"code": ..., "message": ...}}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    pub fn malformed_json(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::MalformedJson, message)
    }

    pub fn invalid_query(param: &str, reason: impl fmt::Display) -> Self {
        Self::new(ErrorCode::InvalidQuery, format!("{param}: {reason}"))
    }

    /// A task id in the path that is not a UUID.
    pub fn invalid_id(raw: &str) -> Self {
        Self::invalid_id_of("task", raw)
    }

    /// An id of a `what` (`task`, `notification`) that is not a UUID.
    pub fn invalid_id_of(what: &str, raw: &str) -> Self {
        Self::new(ErrorCode::InvalidId, format!("`{raw}` is not a valid {what} id (a UUID)"))
    }

    /// No such task (or not the caller's).
    pub fn not_found() -> Self {
        Self::not_found_of("task")
    }

    /// No such `what` (or not the caller's).
    pub fn not_found_of(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("no such {what}"))
    }

    pub fn route_not_found() -> Self {
        Self::new(ErrorCode::NotFound, "no such route")
    }

    pub fn method_not_allowed(method: impl fmt::Display) -> Self {
        Self::new(ErrorCode::MethodNotAllowed, format!("method {method} is not allowed on this path"))
    }

    pub fn idempotency_key_reused() -> Self {
        Self::new(
            ErrorCode::IdempotencyKeyReused,
            "this Idempotency-Key was already used with a different request body",
        )
    }

    /// No valid bearer token; `why` is the token check's fixed message.
    pub fn unauthorized(why: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, why)
    }

    pub fn payload_too_large(max_bytes: usize) -> Self {
        Self::new(ErrorCode::PayloadTooLarge, format!("the request body is larger than {max_bytes} bytes"))
    }

    /// `reason` is shown to the client: keep it short and free of internals.
    pub fn internal(reason: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, reason)
    }

    pub fn status(&self) -> u16 {
        self.code.status()
    }

    /// The response body.
    pub fn to_json(&self) -> serde_json::Value {
        let body =
            ErrorBody { error: ErrorDetail { code: self.code.as_str().to_owned(), message: self.message.clone() } };
        // Two strings always serialize.
        serde_json::to_value(body).unwrap_or_default()
    }
}

/// The body of every error the API answers (the host's own included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ErrorDetail {
    /// Stable and machine-readable: `malformed_json`, `invalid_id`, `invalid_query`, `unauthorized`,
    /// `not_found`, `method_not_allowed`, `conflict`, `payload_too_large`, `validation_failed`,
    /// `idempotency_key_reused`, `too_many_streams`, `internal`, `component_failed`, `unavailable`.
    pub code: String,
    /// For people; a validation failure names the field.
    pub message: String,
}

/// A field of an input that breaks a rule; becomes `validation_failed`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    pub field: &'static str,
    pub reason: String,
}

impl FieldError {
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self { field, reason: reason.into() }
    }
}

impl From<FieldError> for ApiError {
    fn from(err: FieldError) -> Self {
        Self::new(ErrorCode::ValidationFailed, err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn codes_map_to_their_statuses() {
        let expected = [
            (ErrorCode::MalformedJson, "malformed_json", 400),
            (ErrorCode::ValidationFailed, "validation_failed", 422),
            (ErrorCode::InvalidId, "invalid_id", 400),
            (ErrorCode::InvalidQuery, "invalid_query", 400),
            (ErrorCode::NotFound, "not_found", 404),
            (ErrorCode::MethodNotAllowed, "method_not_allowed", 405),
            (ErrorCode::IdempotencyKeyReused, "idempotency_key_reused", 422),
            (ErrorCode::Unauthorized, "unauthorized", 401),
            (ErrorCode::PayloadTooLarge, "payload_too_large", 413),
            (ErrorCode::Conflict, "conflict", 409),
            (ErrorCode::Unavailable, "unavailable", 503),
            (ErrorCode::Internal, "internal", 500),
        ];
        for (code, name, status) in expected {
            assert_eq!(code.as_str(), name);
            assert_eq!(code.status(), status, "{name}");
        }
    }

    #[test]
    fn renders_the_error_envelope() {
        let err = ApiError::not_found();
        assert_eq!(err.to_json(), json!({"error": {"code": "not_found", "message": "no such task"}}));
        assert_eq!(err.status(), 404);
    }

    #[test]
    fn field_errors_become_validation_failures_naming_the_field() {
        let err: ApiError = FieldError::new("title", "must not be empty").into();
        assert_eq!(err.code, ErrorCode::ValidationFailed);
        assert_eq!(err.message, "title: must not be empty");
    }

    #[test]
    fn messages_name_the_culprit() {
        assert_eq!(
            ApiError::invalid_query("limit", "must be between 1 and 100").message,
            "limit: must be between 1 and 100"
        );
        assert!(ApiError::invalid_id("abc").message.contains("`abc`"));
        assert_eq!(ApiError::invalid_id_of("notification", "x").message, "`x` is not a valid notification id (a UUID)");
        assert_eq!(
            ApiError::not_found_of("notification").to_json(),
            json!({"error": {"code": "not_found", "message": "no such notification"}})
        );
        assert!(ApiError::method_not_allowed("PATCH").message.contains("PATCH"));
    }
}
