//! The host's side of identity. Tokens are HS256 JWTs (`todo-token`):
//! components verify the bearer tokens of their own routes themselves,
//! with the secret they read as the Spin variable `jwt_secret`; the host
//! verifies them only for what it serves itself (the event stream).
//!
//! The secret is `TODO_JWT_SECRET`, else the Spin variable `jwt_secret`
//! (`SPIN_VARIABLE_JWT_SECRET`, a SpinApp's `spec.variables`); without
//! either the host keeps a development secret in the data directory and
//! gives components `dev_sign_in = "true"` (unless set), which turns the
//! sign-in component's development sign-in on.

use crate::variables::Variables;
use anyhow::Context;
use std::path::Path;
pub use todo_token::TokenError;

pub const SECRET_ENV: &str = "TODO_JWT_SECRET";
/// The variable components read the secret from.
pub const SECRET_VARIABLE: &str = "jwt_secret";
/// The variable that turns the development sign-in on.
pub const DEV_SIGN_IN_VARIABLE: &str = "dev_sign_in";

pub struct Auth {
    key: todo_token::Key,
    secret: String,
    /// True when the secret is the generated development one.
    development: bool,
}

impl Auth {
    /// The configured secret, else the development secret in `data_dir`
    /// (created on first use, so tokens survive restarts).
    pub fn resolve(variables: &Variables, data_dir: &Path) -> anyhow::Result<Self> {
        if let Some(secret) = variables.host_secret(SECRET_ENV) {
            return Ok(Self::new(secret, false));
        }
        let path = data_dir.join("dev-jwt-secret");
        let secret = match std::fs::read_to_string(&path) {
            Ok(secret) => secret,
            Err(_) => {
                std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
                let secret = hex::encode(rand::random::<[u8; 32]>());
                std::fs::write(&path, &secret).with_context(|| format!("writing {}", path.display()))?;
                secret
            }
        };
        tracing::warn!("{SECRET_ENV} is not set: using a development secret, and dev_sign_in defaults to \"true\"");
        Ok(Self::new(secret, true))
    }

    fn new(secret: String, development: bool) -> Self {
        Self { key: todo_token::Key::new(secret.as_bytes()), secret, development }
    }

    /// The user id of a valid token.
    pub fn verify(&self, token: &str) -> Result<String, TokenError> {
        self.key.verify(token, todo_token::now())
    }

    /// Issues a token for `user_id`, valid for `ttl`.
    pub fn issue(&self, user_id: &str, ttl: chrono::Duration) -> (String, chrono::DateTime<chrono::Utc>) {
        let now = chrono::Utc::now();
        let expires = now + ttl;
        (self.key.issue(user_id, now.timestamp(), expires.timestamp()), expires)
    }

    /// The value of application variable `name`: the secret for
    /// `jwt_secret`, else the providers' value, else (with the development
    /// secret) `"true"` for `dev_sign_in`.
    pub fn provide(&self, variables: &Variables, name: &str) -> Option<String> {
        match name {
            SECRET_VARIABLE => Some(self.secret.clone()),
            DEV_SIGN_IN_VARIABLE if self.development => variables.get(name).or_else(|| Some("true".into())),
            _ => variables.get(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_what_it_issues_and_provides_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let variables = Variables::default();
        let auth = Auth::resolve(&variables, dir.path()).unwrap();
        let (token, _) = auth.issue("alice", chrono::Duration::minutes(5));
        assert_eq!(auth.verify(&token).unwrap(), "alice");
        let again = Auth::resolve(&variables, dir.path()).unwrap();
        assert_eq!(again.verify(&token).unwrap(), "alice", "the development secret survives restarts");
        assert_eq!(auth.provide(&variables, SECRET_VARIABLE), Some(auth.secret.clone()));
        assert_eq!(auth.provide(&variables, DEV_SIGN_IN_VARIABLE).as_deref(), Some("true"));
        let configured = Auth::new("configured".into(), false);
        assert_eq!(configured.provide(&variables, DEV_SIGN_IN_VARIABLE), None, "the manifest's default applies");
        assert_eq!(configured.verify(&token).unwrap_err().to_string(), "token signature invalid");
        let (expired, _) = auth.issue("alice", chrono::Duration::minutes(-5));
        assert_eq!(auth.verify(&expired).unwrap_err().to_string(), "token expired");
    }
}
