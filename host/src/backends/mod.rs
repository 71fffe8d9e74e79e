//! The host's backends, behind traits: components reach them only through
//! the `todo:platform` interfaces, so a backend can change (SQLite, a Dapr
//! sidecar, PostgreSQL) without touching a component.

pub mod dapr;
pub mod postgres;
pub mod pubsub;
pub mod sql;
pub mod sqlite;
pub mod state;

use std::sync::Arc;

/// The backends one running application uses.
#[derive(Clone)]
pub struct Backends {
    pub sql: Arc<dyn sql::Sql>,
    pub state: Arc<dyn state::State>,
    pub pubsub: Arc<dyn pubsub::PubSub>,
}

impl Backends {
    /// Checks that every backend answers; `/readyz` reports the first failure.
    pub async fn check_ready(&self) -> Result<(), String> {
        self.sql.ping().await.map_err(|e| format!("sql: {e}"))?;
        self.state.ping().await.map_err(|e| format!("state: {e}"))?;
        self.pubsub.ping().await.map_err(|e| format!("pubsub: {e}"))?;
        Ok(())
    }
}
