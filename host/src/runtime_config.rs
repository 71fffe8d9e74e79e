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
//! ```

use anyhow::Context;
use serde::Deserialize;
use std::path::Path;

/// Overrides `[sql]` with a PostgreSQL URL.
pub const SQL_URL_ENV: &str = "TODO_SQL_URL";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeConfig {
    #[serde(default)]
    pub sql: SqlConfig,
}

#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum SqlConfig {
    /// `app.db` in the data directory.
    #[default]
    Sqlite,
    Postgres {
        url: String,
        #[serde(default = "default_pool_size")]
        pool_size: usize,
    },
}

fn default_pool_size() -> usize {
    16
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
                SqlConfig::Sqlite => default_pool_size(),
            };
            config.sql = SqlConfig::Postgres { url, pool_size };
        }
        Ok(config)
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
        assert!(toml::from_str::<RuntimeConfig>("[sql]\ntype = \"oracle\"").is_err());
        assert!(toml::from_str::<RuntimeConfig>("[sqll]\ntype = \"sqlite\"").is_err());
    }
}
