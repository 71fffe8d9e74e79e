//! The opaque keyset cursor of task lists: url-safe base64 of JSON holding the
//! last row's sort key and id, and the sort and order it belongs to.

use crate::query::{SortField, SortOrder};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A sort key value as the SQL sort expression yields it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SortKey {
    Integer(i64),
    Text(String),
}

/// Where the previous page ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cursor {
    pub sort: SortField,
    pub order: SortOrder,
    pub key: SortKey,
    pub id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("is not a cursor returned by this API")]
pub struct CursorError;

impl Cursor {
    pub fn encode(&self) -> String {
        // A struct of strings and numbers always serializes.
        let json = serde_json::to_vec(self).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }

    /// Decodes a cursor and checks that its key has its sort's type.
    pub fn decode(text: &str) -> Result<Self, CursorError> {
        let json = URL_SAFE_NO_PAD.decode(text).map_err(|_| CursorError)?;
        let cursor: Self = serde_json::from_slice(&json).map_err(|_| CursorError)?;
        let key_is_integer = matches!(cursor.key, SortKey::Integer(_));
        if key_is_integer == cursor.sort.has_integer_key() {
            Ok(cursor)
        } else {
            Err(CursorError)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor(sort: SortField, key: SortKey) -> Cursor {
        Cursor { sort, order: SortOrder::Asc, key, id: Uuid::from_u128(42) }
    }

    #[test]
    fn round_trips_and_is_url_safe() {
        for c in [
            cursor(SortField::Priority, SortKey::Integer(3)),
            cursor(SortField::Title, SortKey::Text("ü?/+&= ~".repeat(20))),
            cursor(SortField::DueDate, SortKey::Text("9999-12-31T23:59:59.999999Z".into())),
        ] {
            let text = c.encode();
            assert!(text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{text}");
            assert_eq!(Cursor::decode(&text), Ok(c));
        }
    }

    #[test]
    fn refuses_garbage() {
        for text in ["", "!!!", "bm90IGpzb24", &URL_SAFE_NO_PAD.encode(b"{\"sort\":\"title\"}")] {
            assert_eq!(Cursor::decode(text), Err(CursorError), "{text:?}");
        }
    }

    #[test]
    fn refuses_a_key_of_the_wrong_type() {
        let text = cursor(SortField::Priority, SortKey::Text("high".into())).encode();
        assert_eq!(Cursor::decode(&text), Err(CursorError));
        let text = cursor(SortField::Title, SortKey::Integer(1)).encode();
        assert_eq!(Cursor::decode(&text), Err(CursorError));
    }
}
