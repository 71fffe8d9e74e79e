//! The `Idempotency-Key` request header of creates.

use crate::error::FieldError;

pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 200;

/// 1 to 200 characters, used as given.
pub fn validate_idempotency_key(key: &str) -> Result<&str, FieldError> {
    let chars = key.chars().count();
    if (1..=MAX_IDEMPOTENCY_KEY_CHARS).contains(&chars) {
        Ok(key)
    } else {
        Err(FieldError::new(
            "Idempotency-Key",
            format!("must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} characters, got {chars}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        assert_eq!(validate_idempotency_key("k"), Ok("k"));
        assert!(validate_idempotency_key(&"ä".repeat(200)).is_ok());
        assert_eq!(
            validate_idempotency_key("").unwrap_err().to_string(),
            "Idempotency-Key: must be 1 to 200 characters, got 0"
        );
        assert!(validate_idempotency_key(&"k".repeat(201)).is_err());
    }
}
