//! The capabilities the host gives components, one module each, in the
//! style of Spin's factors: `sql`, `state`, `pubsub` (with the transactional
//! `outbox`) and `outbound_http`. Each holds its host side of the WIT
//! (`host.rs`), its configuration, its grants and its backends, and gives
//! every instance a context of its own. Components reach a capability only
//! through `todo:platform` (bindings in `wit`) and only as far as their
//! manifest grants.
//!
//! This is the bottom layer: it imports only `metrics`, `telemetry` and
//! `manifest` (for the grants), never the runtime or the triggers.

pub mod dapr_sidecar;
pub mod outbound_http;
pub mod pubsub;
pub mod sql;
pub mod sqlite_file;
pub mod state;
pub mod wit;

use std::collections::BTreeSet;

/// Every capability of one running application.
pub struct Capabilities {
    pub sql: std::sync::Arc<sql::SqlCapability>,
    pub state: std::sync::Arc<state::StateCapability>,
    pub pubsub: std::sync::Arc<pubsub::PubSubCapability>,
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

/// Checks, when the app loads, that every label a component's grant names
/// is defined by the runtime configuration.
pub fn check_labels(component: &str, key: &str, granted: &[String], defined: &BTreeSet<String>) -> anyhow::Result<()> {
    for label in granted {
        anyhow::ensure!(
            defined.contains(label),
            "component {component:?}: {key} grants {label:?}, which the runtime configuration does not define \
             (defined: {})",
            defined.iter().map(|l| format!("{l:?}")).collect::<Vec<_>>().join(", ")
        );
    }
    Ok(())
}
