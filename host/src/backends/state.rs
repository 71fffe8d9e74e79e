//! The `state` backend trait: a key-value store with TTLs and set-if-absent.

use async_trait::async_trait;
use std::time::Duration;

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum StateError {
    #[error("state store unavailable: {0}")]
    Unavailable(String),
    #[error("state store error: {0}")]
    Other(String),
}

#[async_trait]
pub trait State: Send + Sync {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StateError>;
    async fn set(&self, key: &str, value: Vec<u8>, ttl: Option<Duration>) -> Result<(), StateError>;
    async fn delete(&self, key: &str) -> Result<(), StateError>;
    /// Stores the value only if the key is absent or expired; true if it did.
    /// Must be atomic across every caller of the same store.
    async fn set_if_absent(&self, key: &str, value: Vec<u8>, ttl: Option<Duration>) -> Result<bool, StateError>;
    async fn ping(&self) -> Result<(), StateError>;
}
