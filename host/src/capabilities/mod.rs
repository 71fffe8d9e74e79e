//! The capabilities the host gives components, one module each, in the
//! style of Spin's factors: `sql`, `state`, `pubsub` (with the transactional
//! `outbox`), `outbound_http` and Spin's `variables`. Each holds its host side of the WIT
//! (`host.rs`), its configuration, its grants and its backends, and gives
//! every instance a context of its own. Components reach a capability only
//! through `todo:platform` (bindings in `wit`) and only as far as their
//! manifest grants.
//!
//! This is the bottom layer: it imports only `metrics`, `telemetry`,
//! `manifest` (for the grants) and `variables` (Spin's variable rules),
//! never the runtime or the triggers.

pub mod dapr_sidecar;
pub mod outbound_http;
pub mod pubsub;
pub mod sql;
pub mod sqlite_file;
pub mod state;
pub mod variables;
pub mod wit;

use std::{collections::BTreeMap, sync::Arc};

/// Every capability of one running application.
pub struct Capabilities {
    pub sql: Arc<sql::SqlCapability>,
    pub state: Arc<state::StateCapability>,
    pub pubsub: Arc<pubsub::PubSubCapability>,
}

impl Capabilities {
    /// Checks that every backend answers; `/readyz` reports the first failure.
    pub async fn check_ready(&self) -> Result<(), String> {
        self.sql.ping().await.map_err(|e| format!("sql: {e}"))?;
        self.state.ping().await.map_err(|e| format!("state: {e}"))?;
        self.pubsub.ping().await.map_err(|e| format!("pubsub: {e}"))?;
        Ok(())
    }
}

/// The label of the application's own database and store.
pub const DEFAULT_LABEL: &str = "default";

/// A capability's backends by label ("default" is the application's own),
/// and the check of a component's grant against them when the app loads.
pub struct Labelled<B: ?Sized>(BTreeMap<String, Arc<B>>);

impl<B: ?Sized> Labelled<B> {
    /// One backend, as label `default`.
    pub fn default_only(backend: Arc<B>) -> Self {
        Self(BTreeMap::from([(DEFAULT_LABEL.to_owned(), backend)]))
    }

    pub fn get(&self, label: &str) -> Option<&Arc<B>> {
        self.0.get(label)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Arc<B>)> {
        self.0.iter()
    }

    /// Refuses a grant (`key` of `component`'s manifest) naming a label the
    /// runtime configuration does not define.
    pub fn check_grants(&self, component: &str, key: &str, granted: &[String]) -> anyhow::Result<()> {
        for label in granted {
            anyhow::ensure!(
                self.0.contains_key(label),
                "component {component:?}: {key} grants {label:?}, which the runtime configuration does not define \
                 (defined: {})",
                self.0.keys().map(|l| format!("{l:?}")).collect::<Vec<_>>().join(", ")
            );
        }
        Ok(())
    }
}
