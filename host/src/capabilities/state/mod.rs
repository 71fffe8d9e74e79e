//! The `state` capability: key-value stores with TTLs and set-if-absent,
//! opened by label and granted per component (`state_stores`). The backend
//! trait is here; `sqlite` (the embedded default) and `dapr` implement it;
//! `host` is the WIT side.

pub mod dapr;
pub mod host;
pub mod sqlite;

use anyhow::Context;
use async_trait::async_trait;
use serde::Deserialize;
use std::{path::Path, sync::Arc, time::Duration};

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

/// Which backend serves the application's store (`[state]` in the runtime
/// configuration).
#[derive(Debug, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Config {
    /// A SQLite file: `path`, else `state.db` in the data directory.
    Sqlite {
        #[serde(default)]
        path: Option<std::path::PathBuf>,
    },
    /// A Dapr state store.
    Dapr {
        #[serde(default = "default_store")]
        store: String,
    },
}

impl Default for Config {
    fn default() -> Self {
        Config::Sqlite { path: None }
    }
}

fn default_store() -> String {
    "statestore".into()
}

/// The key-value stores of one application, by label.
pub struct StateCapability {
    stores: super::Labelled<dyn State>,
}

impl StateCapability {
    /// Opens the configured store as label `default`.
    pub fn open(
        config: &Config,
        data_dir: &Path,
        sidecar: impl FnOnce() -> anyhow::Result<crate::capabilities::dapr_sidecar::Sidecar>,
    ) -> anyhow::Result<Self> {
        let store: Arc<dyn State> = match config {
            Config::Sqlite { path } => {
                let path = path.clone().unwrap_or_else(|| data_dir.join("state.db"));
                let state =
                    sqlite::SqliteState::open(path.clone()).with_context(|| format!("opening {}", path.display()));
                let state = Arc::new(state?);
                state.spawn_purger(Duration::from_secs(60));
                state
            }
            Config::Dapr { store } => Arc::new(dapr::DaprState::new(sidecar()?, store)),
        };
        Ok(Self { stores: super::Labelled::default_only(store) })
    }

    pub fn store(&self, label: &str) -> Option<&Arc<dyn State>> {
        self.stores.get(label)
    }

    pub async fn ping(&self) -> Result<(), StateError> {
        for (_, store) in self.stores.iter() {
            store.ping().await?;
        }
        Ok(())
    }

    /// Checks a component's `state_stores` when the app loads.
    pub fn check_grants(&self, component: &str, granted: &[String]) -> anyhow::Result<()> {
        self.stores.check_grants(component, "state_stores", granted)
    }

    /// The context of one instance of `component`.
    pub fn instance(self: &Arc<Self>, component: &Arc<str>, granted: &Arc<[String]>) -> host::StateCtx {
        host::StateCtx { capability: self.clone(), component: component.clone(), granted: granted.clone() }
    }
}
