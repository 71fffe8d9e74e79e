//! The runtime configuration file (`--runtime-config-file`, as `spin up`
//! has): which backend serves each interface, and where it is. Without a
//! file, everything is the embedded default. Environment variables override
//! the file, for containers.
//!
//! ```toml
//! [sql]
//! type = "postgres"              # or "sqlite" (the default)
//! url = "postgres://todo@127.0.0.1:5432/todo"
//! pool_size = 16
//!
//! [state]
//! type = "dapr"                  # or "sqlite"
//! store = "statestore"
//!
//! [pubsub]
//! type = "dapr"                  # or "sqlite"
//! component = "pubsub"           # one consumer group for every replica
//! replica_component = "pubsub-replica"  # a consumer group per replica (SSE)
//!
//! [cron]
//! type = "dapr"                  # or "host" (the default): its own timers
//!
//! [dapr]
//! http_url = "http://127.0.0.1:3500"   # the sidecar's HTTP API
//! app_listen = "127.0.0.1:3100"        # where the sidecar delivers to the host
//! ```

use anyhow::Context;
use serde::Deserialize;
use std::{net::SocketAddr, path::Path};

/// Overrides `[sql]` with a PostgreSQL URL.
pub const SQL_URL_ENV: &str = "TODO_SQL_URL";
/// Overrides the port of `[dapr] http_url` (the variable Dapr sets for its apps).
pub const DAPR_HTTP_PORT_ENV: &str = "DAPR_HTTP_PORT";

pub use crate::capabilities::{pubsub::Config as PubSubConfig, sql::Config as SqlConfig, state::Config as StateConfig};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeConfig {
    #[serde(default)]
    pub sql: SqlConfig,
    #[serde(default)]
    pub state: StateConfig,
    #[serde(default)]
    pub pubsub: PubSubConfig,
    #[serde(default)]
    pub cron: CronConfig,
    #[serde(default)]
    pub dapr: DaprConfig,
}

#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum CronConfig {
    /// The host's own timers.
    #[default]
    Host,
    /// Dapr cron input bindings, delivered to `/dapr/cron/<component>`.
    Dapr,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DaprConfig {
    #[serde(default = "default_dapr_url")]
    pub http_url: String,
    #[serde(default = "default_app_listen")]
    pub app_listen: SocketAddr,
}

impl Default for DaprConfig {
    fn default() -> Self {
        Self { http_url: default_dapr_url(), app_listen: default_app_listen() }
    }
}

fn default_dapr_url() -> String {
    "http://127.0.0.1:3500".into()
}
fn default_app_listen() -> SocketAddr {
    ([127, 0, 0, 1], 3100).into()
}

impl RuntimeConfig {
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
                toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?
            }
            None => Self::default(),
        };
        if let Ok(url) = std::env::var(SQL_URL_ENV) {
            let pool_size = match config.sql {
                SqlConfig::Postgres { pool_size, .. } => pool_size,
                SqlConfig::Sqlite => crate::capabilities::sql::default_pool_size(),
            };
            config.sql = SqlConfig::Postgres { url, pool_size };
        }
        if let Ok(port) = std::env::var(DAPR_HTTP_PORT_ENV) {
            let port: u16 = port.parse().with_context(|| format!("{DAPR_HTTP_PORT_ENV}={port:?} is not a port"))?;
            config.dapr.http_url = format!("http://127.0.0.1:{port}");
        }
        Ok(config)
    }

    /// Whether the host serves the Dapr app endpoints (subscriptions, cron).
    pub fn uses_dapr_app(&self) -> bool {
        matches!(self.pubsub, PubSubConfig::Dapr { .. }) || self.cron == CronConfig::Dapr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_backends_and_refuses_unknown_ones() {
        let c: RuntimeConfig = toml::from_str("[sql]\ntype = \"postgres\"\nurl = \"postgres://x/y\"").unwrap();
        assert_eq!(c.sql, SqlConfig::Postgres { url: "postgres://x/y".into(), pool_size: 16 });
        let c: RuntimeConfig = toml::from_str("").unwrap();
        assert_eq!(c.sql, SqlConfig::Sqlite);
        assert_eq!((&c.state, &c.pubsub, &c.cron), (&StateConfig::Sqlite, &PubSubConfig::Sqlite, &CronConfig::Host));
        assert!(!c.uses_dapr_app());
        assert!(toml::from_str::<RuntimeConfig>("[sql]\ntype = \"oracle\"").is_err());
        assert!(toml::from_str::<RuntimeConfig>("[sqll]\ntype = \"sqlite\"").is_err());
    }

    #[test]
    fn parses_the_dapr_backends_with_defaults() {
        let c: RuntimeConfig = toml::from_str(
            "[state]\ntype = \"dapr\"\n[pubsub]\ntype = \"dapr\"\n[cron]\ntype = \"dapr\"\n[dapr]\napp_listen = \"127.0.0.1:4000\"",
        )
        .unwrap();
        assert_eq!(c.state, StateConfig::Dapr { store: "statestore".into() });
        assert_eq!(
            c.pubsub,
            PubSubConfig::Dapr { component: "pubsub".into(), replica_component: "pubsub-replica".into() }
        );
        assert_eq!(
            c.dapr,
            DaprConfig { http_url: "http://127.0.0.1:3500".into(), app_listen: ([127, 0, 0, 1], 4000).into() }
        );
        assert!(c.uses_dapr_app());
        assert!(toml::from_str::<RuntimeConfig>("[pubsub]\ntype = \"dapr\"\ncomponent_name = \"x\"").is_err());
    }
}
