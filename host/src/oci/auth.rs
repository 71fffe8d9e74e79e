//! Registry credentials from the Docker config file, as `docker login`
//! writes them: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`,
//! with `auths.<registry>.auth` = base64 of `user:password`. Keys may be
//! URLs (`https://index.docker.io/v1/`): they match by host and port.

use base64::Engine;
use oci_client::secrets::RegistryAuth;
use serde::Deserialize;
use std::{collections::BTreeMap, path::PathBuf};

#[derive(Debug, Default, Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
}

#[derive(Debug, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
}

/// The Docker config file this process would use, if any.
fn config_path() -> Option<PathBuf> {
    match std::env::var_os("DOCKER_CONFIG") {
        Some(dir) => Some(PathBuf::from(dir).join("config.json")),
        None => std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker/config.json")),
    }
}

/// The credentials for `registry` (`host[:port]`); anonymous when the file
/// or the entry is missing. A file that does not parse is an error: running
/// without credentials someone configured would fail later, and unclearly.
pub fn for_registry(registry: &str) -> Result<RegistryAuth, super::OciError> {
    let Some(path) = config_path() else { return Ok(RegistryAuth::Anonymous) };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(RegistryAuth::Anonymous),
        Err(e) => return Err(super::OciError::io(format!("reading {}", path.display()), e)),
    };
    let config: DockerConfig = serde_json::from_str(&text)
        .map_err(|e| super::OciError::Credentials(format!("parsing {}: {e}", path.display())))?;
    lookup(&config, registry).map_err(|e| super::OciError::Credentials(format!("{}: {e}", path.display())))
}

fn lookup(config: &DockerConfig, registry: &str) -> Result<RegistryAuth, String> {
    let entry = config.auths.iter().find(|(key, _)| host_of(key) == registry).map(|(_, entry)| entry);
    let Some(encoded) = entry.and_then(|e| e.auth.as_deref()) else { return Ok(RegistryAuth::Anonymous) };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|e| format!("auths.{registry}.auth is not base64: {e}"))?;
    let decoded = String::from_utf8(decoded).map_err(|_| format!("auths.{registry}.auth is not UTF-8"))?;
    let (user, password) =
        decoded.split_once(':').ok_or_else(|| format!("auths.{registry}.auth is not base64 of user:password"))?;
    Ok(RegistryAuth::Basic(user.to_owned(), password.to_owned()))
}

/// `https://host:port/v1/` → `host:port`; a bare key is kept as it is.
fn host_of(key: &str) -> &str {
    let rest = key.split_once("://").map_or(key, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> DockerConfig {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn finds_basic_credentials_by_host() {
        let c = config(
            r#"{"auths": {"127.0.0.1:5000": {"auth": "dXNlcjpwYTpzcw=="},
                          "https://index.docker.io/v1/": {"auth": "ZDpo"}}, "credsStore": "desktop"}"#,
        );
        let basic = |registry: &str| match lookup(&c, registry).unwrap() {
            RegistryAuth::Basic(user, password) => Some((user, password)),
            _ => None,
        };
        assert_eq!(basic("127.0.0.1:5000"), Some(("user".into(), "pa:ss".into())));
        assert_eq!(basic("index.docker.io"), Some(("d".into(), "h".into())));
        assert_eq!(basic("ghcr.io"), None);
    }

    #[test]
    fn refuses_a_malformed_entry() {
        let c = config(r#"{"auths": {"r.example": {"auth": "bm9jb2xvbg=="}}}"#);
        assert!(lookup(&c, "r.example").unwrap_err().contains("user:password"));
        let c = config(r#"{"auths": {"r.example": {"auth": "%%%"}}}"#);
        assert!(lookup(&c, "r.example").unwrap_err().contains("not base64"));
    }
}
