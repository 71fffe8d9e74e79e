//! Request bodies: JSON objects, with errors that say which field is wrong.

use crate::error::ApiError;
use serde::de::DeserializeOwned;
use serde_json::error::Category;

/// Deserializes a JSON object body.
///
/// Syntax errors and non-objects are `malformed_json`; a well-formed object
/// whose fields do not fit `T` is `validation_failed`, with the field's path
/// and serde's message (which gives the line and column).
pub fn parse_object<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        None => return Err(ApiError::malformed_json("the request body is empty")),
        // Anything else that is valid JSON is not an object; anything invalid
        // is malformed anyway.
        Some(b'{') => {}
        Some(_) => return Err(ApiError::malformed_json("the request body must be a JSON object")),
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(path_error)?;
    de.end().map_err(|e| ApiError::malformed_json(e.to_string()))?;
    Ok(value)
}

/// Whether the body has nothing but whitespace (an omitted optional body).
pub fn is_blank(body: &[u8]) -> bool {
    body.iter().all(u8::is_ascii_whitespace)
}

fn path_error(err: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = err.path().to_string();
    let inner = err.into_inner();
    match inner.classify() {
        Category::Data => {
            let message = if path == "." { inner.to_string() } else { format!("{path}: {inner}") };
            ApiError::new(crate::ErrorCode::ValidationFailed, message)
        }
        Category::Syntax | Category::Eof | Category::Io => ApiError::malformed_json(inner.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Probe {
        flag: Option<bool>,
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        n: u8,
    }

    fn code(body: &str) -> ErrorCode {
        parse_object::<Probe>(body.as_bytes()).unwrap_err().code
    }

    #[test]
    fn accepts_an_object() {
        let probe: Probe = parse_object(br#" {"flag": true} "#).unwrap();
        assert_eq!(probe.flag, Some(true));
    }

    #[test]
    fn syntax_errors_and_non_objects_are_malformed() {
        for body in ["", "   ", "{", "{\"flag\": tru}", "[1]", "\"x\"", "42", "null", "nope", "{} {}"] {
            assert_eq!(code(body), ErrorCode::MalformedJson, "{body:?}");
        }
    }

    #[test]
    fn wrong_types_are_validation_failures_naming_the_field() {
        let err = parse_object::<Probe>(br#"{"flag": "yes"}"#).unwrap_err();
        assert_eq!(err.code, ErrorCode::ValidationFailed);
        assert!(err.message.starts_with("flag: invalid type"), "{}", err.message);
        assert!(err.message.contains("line 1"), "{}", err.message);
    }

    #[test]
    fn nested_fields_are_named_by_path() {
        let err = parse_object::<Probe>(br#"{"inner": {"n": 300}}"#).unwrap_err();
        assert_eq!(err.code, ErrorCode::ValidationFailed);
        assert!(err.message.starts_with("inner.n: "), "{}", err.message);
    }

    #[test]
    fn unknown_fields_are_validation_failures_naming_the_field() {
        let err = parse_object::<Probe>(br#"{"colour": 1}"#).unwrap_err();
        assert_eq!(err.code, ErrorCode::ValidationFailed);
        assert!(err.message.contains("unknown field `colour`"), "{}", err.message);
    }

    #[test]
    fn blank_bodies() {
        assert!(is_blank(b""));
        assert!(is_blank(b" \n\t"));
        assert!(!is_blank(b"{}"));
    }
}
