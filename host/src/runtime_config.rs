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
//!
//! Spin's own sections, as spin-operator writes them from a SpinApp, are
//! understood beside ours: `[sqlite_database.default] type = "spin"` (with
//! `path`) is `[sql]` on a SQLite file, `[key_value_store.default] type =
//! "spin"` (with `path`) is `[state]` on one, `[[config_provider]] type =
//! "env"` adds a source of variables. What the host cannot serve (another
//! label, another type, another option) stops it at start, by name: it is
//! never ignored. A file that does not exist means the defaults, as
//! spin-operator mounts it only when it has one.

use crate::variables::{EnvProvider, Variables};
use anyhow::{bail, Context};
use serde::Deserialize;
use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::{Path, PathBuf},
};

/// Overrides `[sql]` with a PostgreSQL URL.
pub const SQL_URL_ENV: &str = "TODO_SQL_URL";
/// Overrides the port of `[dapr] http_url` (the variable Dapr sets for its apps).
pub const DAPR_HTTP_PORT_ENV: &str = "DAPR_HTTP_PORT";

pub use crate::capabilities::{pubsub::Config as PubSubConfig, sql::Config as SqlConfig, state::Config as StateConfig};

/// The backend of each interface, and where variables come from.
#[derive(Debug, Default)]
pub struct RuntimeConfig {
    pub sql: SqlConfig,
    pub state: StateConfig,
    pub pubsub: PubSubConfig,
    pub cron: CronConfig,
    pub dapr: DaprConfig,
    pub variables: Variables,
}

/// The file as written: our sections and Spin's.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    sql: Option<SqlConfig>,
    state: Option<StateConfig>,
    #[serde(default)]
    pubsub: PubSubConfig,
    #[serde(default)]
    cron: CronConfig,
    #[serde(default)]
    dapr: DaprConfig,
    #[serde(default)]
    sqlite_database: BTreeMap<String, SpinSection>,
    #[serde(default)]
    key_value_store: BTreeMap<String, SpinSection>,
    #[serde(default)]
    config_provider: Vec<SpinSection>,
}

/// A Spin section: a `type` and that type's options.
#[derive(Debug, Deserialize)]
struct SpinSection {
    #[serde(rename = "type")]
    kind: String,
    #[serde(flatten)]
    options: BTreeMap<String, toml::Value>,
}

impl SpinSection {
    /// The `path` option (resolved against `base`, the file's directory, as
    /// Spin does), refusing any other.
    fn path_option(&self, section: &str, base: &Path) -> anyhow::Result<Option<PathBuf>> {
        if let Some(other) = self.options.keys().find(|k| *k != "path") {
            bail!("[{section}] type = \"{}\": unknown option {other:?} (this host takes `path`)", self.kind);
        }
        match self.options.get("path") {
            None => Ok(None),
            Some(toml::Value::String(path)) => Ok(Some(base.join(path))),
            Some(other) => bail!("[{section}] path must be a string, not {other}"),
        }
    }
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
            Some(path) if !path.exists() => {
                tracing::warn!(file = %path.display(), "the runtime configuration file does not exist: using the defaults");
                Self::default()
            }
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
                let base = path.parent().unwrap_or(Path::new("."));
                Self::parse(&text, base).with_context(|| format!("parsing {}", path.display()))?
            }
            None => Self::default(),
        };
        config.apply_env()?;
        Ok(config)
    }

    fn parse(text: &str, base: &Path) -> anyhow::Result<Self> {
        let file: File = toml::from_str(text)?;
        Ok(Self {
            sql: sql_config(file.sql, &file.sqlite_database, base)?,
            state: state_config(file.state, &file.key_value_store, base)?,
            pubsub: file.pubsub,
            cron: file.cron,
            dapr: file.dapr,
            variables: variables(&file.config_provider)?,
        })
    }

    /// The environment's overrides, for containers.
    fn apply_env(&mut self) -> anyhow::Result<()> {
        if let Ok(url) = std::env::var(SQL_URL_ENV) {
            let pool_size = match self.sql {
                SqlConfig::Postgres { pool_size, .. } => pool_size,
                SqlConfig::Sqlite { .. } => crate::capabilities::sql::default_pool_size(),
            };
            self.sql = SqlConfig::Postgres { url, pool_size };
        }
        if let Ok(port) = std::env::var(DAPR_HTTP_PORT_ENV) {
            let port: u16 = port.parse().with_context(|| format!("{DAPR_HTTP_PORT_ENV}={port:?} is not a port"))?;
            self.dapr.http_url = format!("http://127.0.0.1:{port}");
        }
        Ok(())
    }

    /// Whether the host serves the Dapr app endpoints (subscriptions, cron).
    pub fn uses_dapr_app(&self) -> bool {
        matches!(self.pubsub, PubSubConfig::Dapr { .. }) || self.cron == CronConfig::Dapr
    }
}

/// The one label each of Spin's store sections may configure here.
fn only_default<'a>(
    section: &str,
    stores: &'a BTreeMap<String, SpinSection>,
) -> anyhow::Result<Option<&'a SpinSection>> {
    if let Some(label) = stores.keys().find(|l| *l != "default") {
        bail!("[{section}.{label}]: this host has one, labelled \"default\"");
    }
    Ok(stores.get("default"))
}

/// `[sql]`, or Spin's `[sqlite_database.default]`, never both.
fn sql_config(sql: Option<SqlConfig>, spin: &BTreeMap<String, SpinSection>, base: &Path) -> anyhow::Result<SqlConfig> {
    let Some(section) = only_default("sqlite_database", spin)? else { return Ok(sql.unwrap_or_default()) };
    if sql.is_some() {
        bail!("both [sql] and [sqlite_database.default] configure the database: keep one");
    }
    match section.kind.as_str() {
        "spin" => Ok(SqlConfig::Sqlite { path: section.path_option("sqlite_database.default", base)? }),
        other => bail!(
            "[sqlite_database.default] type = {other:?}: this host serves type \"spin\" (a SQLite file); \
             for PostgreSQL use [sql] type = \"postgres\""
        ),
    }
}

/// `[state]`, or Spin's `[key_value_store.default]`, never both.
fn state_config(
    state: Option<StateConfig>,
    spin: &BTreeMap<String, SpinSection>,
    base: &Path,
) -> anyhow::Result<StateConfig> {
    let Some(section) = only_default("key_value_store", spin)? else { return Ok(state.unwrap_or_default()) };
    if state.is_some() {
        bail!("both [state] and [key_value_store.default] configure the store: keep one");
    }
    match section.kind.as_str() {
        "spin" => Ok(StateConfig::Sqlite { path: section.path_option("key_value_store.default", base)? }),
        "redis" => bail!(
            "[key_value_store.default] type = \"redis\": this host does not talk to Redis itself; \
             run a Dapr sidecar with a Redis state store and set [state] type = \"dapr\""
        ),
        other => bail!("[key_value_store.default] type = {other:?}: this host serves type \"spin\" (a SQLite file)"),
    }
}

/// Spin's `[[config_provider]]` sections: `env` ones, with a `prefix`.
fn variables(providers: &[SpinSection]) -> anyhow::Result<Variables> {
    let mut env = Vec::new();
    for p in providers {
        if p.kind != "env" {
            bail!(
                "[[config_provider]] type = {:?}: this host reads variables from the environment only (type \"env\")",
                p.kind
            );
        }
        if let Some(other) = p.options.keys().find(|k| *k != "prefix") {
            bail!("[[config_provider]] type = \"env\": option {other:?} is not supported here (only `prefix`)");
        }
        let prefix = match p.options.get("prefix") {
            None => crate::variables::DEFAULT_PREFIX.to_owned(),
            Some(toml::Value::String(prefix)) => prefix.clone(),
            Some(other) => bail!("[[config_provider]] prefix must be a string, not {other}"),
        };
        env.push(EnvProvider { prefix });
    }
    Ok(Variables::new(env))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<RuntimeConfig> {
        RuntimeConfig::parse(text, Path::new("/etc/todo"))
    }

    fn error(text: &str) -> String {
        format!("{:#}", parse(text).unwrap_err())
    }

    #[test]
    fn parses_backends_and_refuses_unknown_ones() {
        let c = parse("[sql]\ntype = \"postgres\"\nurl = \"postgres://x/y\"").unwrap();
        assert_eq!(c.sql, SqlConfig::Postgres { url: "postgres://x/y".into(), pool_size: 16 });
        let c = parse("").unwrap();
        assert_eq!(c.sql, SqlConfig::Sqlite { path: None });
        assert_eq!(
            (&c.state, &c.pubsub, &c.cron),
            (&StateConfig::Sqlite { path: None }, &PubSubConfig::Sqlite, &CronConfig::Host)
        );
        assert!(!c.uses_dapr_app());
        assert!(parse("[sql]\ntype = \"oracle\"").is_err());
        assert!(error("[sqll]\ntype = \"sqlite\"").contains("sqll"));
        assert!(error("[llm_compute]\ntype = \"spin\"").contains("llm_compute"));
    }

    #[test]
    fn parses_the_dapr_backends_with_defaults() {
        let c = parse(
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
        assert!(parse("[pubsub]\ntype = \"dapr\"\ncomponent_name = \"x\"").is_err());
    }

    /// What spin-operator renders for a SpinApp with a `spin` SQLite
    /// database and key-value store (go-toml: options as keys beside `type`).
    const OPERATOR: &str = r#"
[[config_provider]]
type = "env"
prefix = "SPIN_VARIABLE_"

[key_value_store]
[key_value_store.default]
path = "/mnt/data/kv.db"
type = "spin"

[sqlite_database]
[sqlite_database.default]
path = "app.db"
type = "spin"
"#;

    #[test]
    fn understands_what_spin_operator_writes() {
        let c = parse(OPERATOR).unwrap();
        assert_eq!(c.sql, SqlConfig::Sqlite { path: Some("/etc/todo/app.db".into()) }, "relative to the file");
        assert_eq!(c.state, StateConfig::Sqlite { path: Some("/mnt/data/kv.db".into()) });
        assert_eq!(c.variables, Variables::new(vec![EnvProvider { prefix: "SPIN_VARIABLE_".into() }]));
        let c = parse("[sqlite_database.default]\ntype = \"spin\"").unwrap();
        assert_eq!(c.sql, SqlConfig::Sqlite { path: None });
    }

    #[test]
    fn refuses_what_it_cannot_serve_by_name() {
        let redis = error("[key_value_store.default]\ntype = \"redis\"\nurl = \"redis://r:6379\"");
        assert!(redis.contains("does not talk to Redis") && redis.contains("[state] type = \"dapr\""), "{redis}");
        assert!(error("[sqlite_database.default]\ntype = \"libsql\"\nurl = \"x\"").contains("\"libsql\""));
        assert!(error("[sqlite_database.other]\ntype = \"spin\"").contains("[sqlite_database.other]"));
        assert!(error("[key_value_store.default]\ntype = \"spin\"\nsize = 3").contains("\"size\""));
        assert!(error("[sql]\ntype = \"sqlite\"\n[sqlite_database.default]\ntype = \"spin\"").contains("keep one"));
        assert!(error("[[config_provider]]\ntype = \"vault\"\nurl = \"x\"").contains("\"vault\""));
        assert!(error("[[config_provider]]\ntype = \"env\"\ndotenv_path = \".env\"").contains("dotenv_path"));
    }

    #[test]
    fn a_missing_file_means_the_defaults() {
        let c = RuntimeConfig::load(Some(Path::new("/nonexistent/runtime-config.toml"))).unwrap();
        assert_eq!(c.sql, SqlConfig::Sqlite { path: None });
    }
}
