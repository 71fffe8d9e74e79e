//! Authentication: `Authorization: Bearer <JWT>`, HS256, `sub` = user id,
//! `exp` required. The secret comes from `TODO_JWT_SECRET`; without it the
//! host uses a development secret kept in the data directory and offers a
//! development sign-in endpoint.

use anyhow::Context;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const SECRET_ENV: &str = "TODO_JWT_SECRET";

pub struct Auth {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// True when the secret is the generated development one.
    pub dev_sign_in: bool,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub exp: i64,
    #[serde(default)]
    pub iat: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("missing bearer token")]
    Missing,
    /// One of a few fixed messages (see `rejection`): the JWT library's
    /// own wording, which names its internals, is only logged.
    #[error("{0}")]
    Invalid(&'static str),
}

/// What the claims of a token must hold beyond the validated `exp`.
#[derive(Deserialize)]
struct Subject {
    /// Optional here so that a token without one fails validation with
    /// `MissingRequiredClaim` (and says so) rather than as malformed JSON.
    #[serde(default)]
    sub: Option<String>,
}

/// The message a client gets for a token jsonwebtoken rejects; the
/// library's detail goes to the debug log only.
fn rejection(e: &jsonwebtoken::errors::Error) -> AuthError {
    use jsonwebtoken::errors::ErrorKind;
    tracing::debug!(error = %e, "rejecting a token");
    AuthError::Invalid(match e.kind() {
        ErrorKind::ExpiredSignature => "token expired",
        ErrorKind::ImmatureSignature => "token not yet valid",
        ErrorKind::InvalidSignature => "token signature invalid",
        ErrorKind::MissingRequiredClaim(claim) if claim == "sub" => "token missing sub",
        ErrorKind::MissingRequiredClaim(claim) if claim == "exp" => "token missing exp",
        _ => "invalid token",
    })
}

impl Auth {
    /// Uses `TODO_JWT_SECRET` if set, else the development secret in
    /// `data_dir` (created on first use, so sign-ins survive restarts).
    pub fn from_env(data_dir: &Path) -> anyhow::Result<Self> {
        match std::env::var(SECRET_ENV) {
            Ok(secret) if !secret.is_empty() => Ok(Self::new(secret.as_bytes(), false)),
            _ => {
                let path = data_dir.join("dev-jwt-secret");
                let secret = match std::fs::read(&path) {
                    Ok(secret) => secret,
                    Err(_) => {
                        let secret: [u8; 32] = rand::random();
                        let secret = hex::encode(secret).into_bytes();
                        std::fs::write(&path, &secret).with_context(|| format!("writing {}", path.display()))?;
                        secret
                    }
                };
                tracing::warn!("{SECRET_ENV} is not set: using a development secret and enabling development sign-in");
                Ok(Self::new(&secret, true))
            }
        }
    }

    pub fn new(secret: &[u8], dev_sign_in: bool) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            dev_sign_in,
        }
    }

    /// The user id of a valid `Authorization` header value.
    pub fn verify_header(&self, header: Option<&str>) -> Result<String, AuthError> {
        let token = header
            .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::Missing)?;
        self.verify(token)
    }

    pub fn verify(&self, token: &str) -> Result<String, AuthError> {
        let data =
            jsonwebtoken::decode::<Subject>(token, &self.decoding, &self.validation).map_err(|e| rejection(&e))?;
        let sub = data.claims.sub.ok_or(AuthError::Invalid("token missing sub"))?;
        if !valid_user_id(&sub) {
            return Err(AuthError::Invalid("token sub is not a valid user id"));
        }
        Ok(sub)
    }

    /// Issues a token for `user_id`, valid for `ttl`.
    pub fn issue(&self, user_id: &str, ttl: chrono::Duration) -> (String, chrono::DateTime<chrono::Utc>) {
        let now = chrono::Utc::now();
        let expires = now + ttl;
        let claims = Claims { sub: user_id.to_owned(), exp: expires.timestamp(), iat: now.timestamp() };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 encoding cannot fail");
        (token, expires)
    }
}

/// User ids: 1-128 characters of letters, digits and `._@+-`.
pub fn valid_user_id(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric() || "._@+-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_issued_tokens_and_rejects_bad_ones() {
        let auth = Auth::new(b"secret", false);
        let (token, _) = auth.issue("alice", chrono::Duration::minutes(5));
        assert_eq!(auth.verify_header(Some(&format!("Bearer {token}"))).unwrap(), "alice");
        assert!(matches!(auth.verify_header(None), Err(AuthError::Missing)));
        assert!(matches!(auth.verify_header(Some("Basic x")), Err(AuthError::Missing)));
        let other = Auth::new(b"other", false);
        assert!(matches!(other.verify(&token), Err(AuthError::Invalid(_))));
        let (expired, _) = auth.issue("alice", chrono::Duration::minutes(-5));
        assert!(matches!(auth.verify(&expired), Err(AuthError::Invalid(_))));
        let (bad_sub, _) = auth.issue("a b", chrono::Duration::minutes(5));
        assert!(matches!(auth.verify(&bad_sub), Err(AuthError::Invalid(_))));
    }

    fn message(result: Result<String, AuthError>) -> String {
        result.expect_err("the token should be rejected").to_string()
    }

    /// A token signed with `secret` (HS256) over these claims.
    fn signed(secret: &[u8], claims: serde_json::Value) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(secret)).unwrap()
    }

    #[test]
    fn rejections_say_what_is_wrong_without_the_library_internals() {
        use base64::Engine;
        let auth = Auth::new(b"secret", false);
        let exp = chrono::Utc::now().timestamp() + 300;
        let b64 = |json: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json);
        let none =
            format!("{}.{}.", b64(r#"{"alg":"none","typ":"JWT"}"#), b64(&format!(r#"{{"sub":"alice","exp":{exp}}}"#)));
        assert_eq!(message(auth.verify(&none)), "invalid token");
        assert_eq!(message(auth.verify_header(Some(&format!("Bearer {none}")))), "invalid token");
        assert_eq!(message(auth.verify("not a token")), "invalid token");
        let (expired, _) = auth.issue("alice", chrono::Duration::minutes(-5));
        assert_eq!(message(auth.verify(&expired)), "token expired");
        let (token, _) = auth.issue("alice", chrono::Duration::minutes(5));
        assert_eq!(message(Auth::new(b"other", false).verify(&token)), "token signature invalid");
        assert_eq!(message(auth.verify(&signed(b"secret", serde_json::json!({ "exp": exp })))), "token missing sub");
        assert_eq!(
            message(auth.verify(&signed(b"secret", serde_json::json!({ "sub": "alice" })))),
            "token missing exp"
        );
        assert_eq!(
            message(auth.verify(&signed(b"secret", serde_json::json!({ "sub": 7, "exp": exp })))),
            "invalid token"
        );
        assert_eq!(message(auth.verify_header(None)), "missing bearer token");
    }
}
