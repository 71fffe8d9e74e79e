//! The todo system's bearer tokens: `Authorization: Bearer <JWT>`, HS256,
//! claims `sub` (the user id), `exp` (required) and `iat`. The host mints
//! and checks them for its own routes (the event stream), guests check them
//! for theirs, and all give a rejected token the same few messages, which
//! say what is wrong without naming any library's internals.
//!
//! Validation follows what the host did with the `jsonwebtoken` crate
//! (HS256 only, `exp` and `sub` required, 5 s of leeway on `exp`, `nbf` not
//! checked, a token with an `aud` refused since none is expected), so
//! tokens minted by either verify with the other.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Seconds a token stays valid past its `exp`, for clocks a little apart.
pub const LEEWAY_SECONDS: i64 = 5;

/// Why a request's identity cannot be taken: `Display` is the message the
/// client gets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("missing bearer token")]
    Missing,
    /// One of a few fixed messages: "invalid token", "token expired",
    /// "token signature invalid", "token missing sub", "token missing exp",
    /// "token sub is not a valid user id".
    #[error("{0}")]
    Invalid(&'static str),
}

const INVALID: TokenError = TokenError::Invalid("invalid token");

/// The claims this system's tokens carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub exp: i64,
    #[serde(default)]
    pub iat: i64,
}

/// User ids: 1-128 characters of letters, digits and `._@+-`.
pub fn valid_user_id(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric() || "._@+-".contains(c))
}

/// Seconds since the Unix epoch, now.
pub fn now() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
}

/// The HS256 key tokens are signed and checked with.
#[derive(Clone)]
pub struct Key {
    mac: HmacSha256,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)") // the secret stays out of logs
    }
}

impl Key {
    pub fn new(secret: &[u8]) -> Self {
        Self { mac: HmacSha256::new_from_slice(secret).expect("HMAC takes a key of any length") }
    }

    fn mac(&self, signing_input: &str) -> HmacSha256 {
        let mut mac = self.mac.clone();
        mac.update(signing_input.as_bytes());
        mac
    }

    /// A token for `user_id` issued at `iat` (Unix seconds), valid until `exp`.
    pub fn issue(&self, user_id: &str, iat: i64, exp: i64) -> String {
        let header = URL_SAFE_NO_PAD.encode(r#"{"typ":"JWT","alg":"HS256"}"#);
        let claims = Claims { sub: user_id.to_owned(), exp, iat };
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).expect("claims encode"));
        let signing_input = format!("{header}.{payload}");
        let signature = URL_SAFE_NO_PAD.encode(self.mac(&signing_input).finalize().into_bytes());
        format!("{signing_input}.{signature}")
    }

    /// The user id of a valid `Authorization` header value (`Bearer <token>`).
    pub fn verify_header(&self, header: Option<&str>, now: i64) -> Result<String, TokenError> {
        let token = header
            .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(TokenError::Missing)?;
        self.verify(token, now)
    }

    /// The user id of a valid token, at time `now` (Unix seconds). Checked
    /// in the order the host always did: the header's algorithm, the
    /// signature, then the claims.
    pub fn verify(&self, token: &str, now: i64) -> Result<String, TokenError> {
        let (signing_input, signature) = token.rsplit_once('.').ok_or(INVALID)?;
        let (header, payload) = signing_input.split_once('.').ok_or(INVALID)?;
        if decode_object(header)?.get("alg").and_then(Value::as_str) != Some("HS256") {
            return Err(INVALID);
        }
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap_or_default();
        self.mac(signing_input).verify_slice(&signature).map_err(|_| TokenError::Invalid("token signature invalid"))?;
        subject(&decode_object(payload)?, now)
    }
}

/// A base64url JSON object of a token.
fn decode_object(part: &str) -> Result<Map<String, Value>, TokenError> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| INVALID)?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(INVALID),
    }
}

/// The valid user id the claims name, at `now`.
fn subject(claims: &Map<String, Value>, now: i64) -> Result<String, TokenError> {
    // As the JWT library: an `exp` that is not a non-negative number counts as missing.
    let exp = claims
        .get("exp")
        .and_then(|exp| exp.as_u64().or_else(|| exp.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)))
        .ok_or(TokenError::Invalid("token missing exp"))?;
    let exp = i64::try_from(exp).unwrap_or(i64::MAX);
    let sub = match claims.get("sub") {
        None => return Err(TokenError::Invalid("token missing sub")),
        Some(sub) => sub.as_str().ok_or(INVALID)?,
    };
    if exp < now - LEEWAY_SECONDS {
        return Err(TokenError::Invalid("token expired"));
    }
    if claims.contains_key("aud") {
        return Err(INVALID);
    }
    if !valid_user_id(sub) {
        return Err(TokenError::Invalid("token sub is not a valid user id"));
    }
    Ok(sub.to_owned())
}

#[cfg(test)]
mod tests;
