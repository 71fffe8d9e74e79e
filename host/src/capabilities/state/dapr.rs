//! `state` on a Dapr state store (Redis in the distributed setup).
//!
//! Values are opaque bytes, so they travel as base64 JSON strings. Every
//! write uses first-write concurrency with an ETag, so that every key
//! carries the store's first-write flag: set-if-absent sends ETag "0" ("no
//! version yet"), which the store refuses atomically (409) once any version
//! exists; a plain `set` sends the version it just read, and reads again if
//! another write came in between. (A key some other client wrote without
//! the flag would be overwritten by set-if-absent: this host writes them all.)

use super::{State, StateError};
use crate::capabilities::dapr_sidecar::{CallError, Sidecar};
use async_trait::async_trait;
use base64::{engine::general_purpose::STANDARD, Engine};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

pub struct DaprState {
    sidecar: Sidecar,
    store: String,
}

impl DaprState {
    pub fn new(sidecar: Sidecar, store: &str) -> Self {
        Self { sidecar, store: store.to_owned() }
    }

    /// One save item of Dapr's state API, written over version `etag`.
    fn item(key: &str, value: &[u8], ttl: Option<Duration>, etag: &str) -> Value {
        let mut item = json!({
            "key": key,
            "value": STANDARD.encode(value),
            "etag": etag,
            "options": { "concurrency": "first-write" },
        });
        if let Some(ttl) = ttl {
            // Dapr's TTL is in whole seconds: round up, never to "no TTL".
            let seconds = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
            item["metadata"] = json!({ "ttlInSeconds": seconds.max(1).to_string() });
        }
        item
    }

    /// Saves over version `etag` ("0": none yet); false if the key has
    /// another version by now.
    async fn save(&self, key: &str, value: &[u8], ttl: Option<Duration>, etag: &str) -> Result<bool, StateError> {
        let request =
            self.sidecar.request(Method::POST, &["state", &self.store]).json(&[Self::item(key, value, ttl, etag)]);
        match Sidecar::send(request).await {
            Ok(_) => Ok(true),
            Err(CallError::Status { status: StatusCode::CONFLICT, .. }) => Ok(false),
            Err(e) => Err(state_error(e)),
        }
    }

    /// The sidecar's answer for the key: its value (no body when absent) and version.
    async fn read(&self, key: &str) -> Result<reqwest::Response, StateError> {
        let request = self.sidecar.request(Method::GET, &["state", &self.store, key]);
        Sidecar::send(request).await.map_err(state_error)
    }

    /// The key's current version, "0" when it has none.
    async fn version(&self, key: &str) -> Result<String, StateError> {
        let response = self.read(key).await?;
        let etag = response.headers().get(reqwest::header::ETAG).and_then(|v| v.to_str().ok());
        Ok(etag.unwrap_or("0").to_owned())
    }
}

fn state_error(e: CallError) -> StateError {
    match e {
        CallError::Unreachable(m) => StateError::Unavailable(m),
        // 500: the store behind the sidecar failed (e.g. Redis is down).
        CallError::Status { status, body } if status.is_server_error() => {
            StateError::Unavailable(format!("{status}: {body}"))
        }
        e => StateError::Other(e.to_string()),
    }
}

#[async_trait]
impl State for DaprState {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        let body = self.read(key).await?.bytes().await.map_err(|e| StateError::Unavailable(e.to_string()))?;
        if body.is_empty() {
            return Ok(None);
        }
        let encoded: String = serde_json::from_slice(&body)
            .map_err(|e| StateError::Other(format!("key {key:?} does not hold a value this host wrote: {e}")))?;
        STANDARD.decode(encoded).map(Some).map_err(|e| StateError::Other(format!("key {key:?}: {e}")))
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Option<Duration>) -> Result<(), StateError> {
        for _ in 0..100 {
            let etag = self.version(key).await?;
            if self.save(key, &value, ttl, &etag).await? {
                return Ok(());
            }
        }
        Err(StateError::Other(format!("key {key:?} kept changing while it was being set")))
    }

    async fn delete(&self, key: &str) -> Result<(), StateError> {
        let request = self.sidecar.request(Method::DELETE, &["state", &self.store, key]);
        Sidecar::send(request).await.map(drop).map_err(state_error)
    }

    async fn set_if_absent(&self, key: &str, value: Vec<u8>, ttl: Option<Duration>) -> Result<bool, StateError> {
        self.save(key, &value, ttl, "0").await
    }

    async fn ping(&self) -> Result<(), StateError> {
        self.sidecar.healthz().await.map_err(state_error)
    }
}
