//! The `sql` capability: relational databases opened by label, granted per
//! component (`sql_databases`), with transactions that have a deadline of
//! their own. The backend trait is here; `sqlite` (the embedded default) and
//! `postgres` implement it; `host` is the WIT side; `migrate` applies the
//! host's and the application's schema histories; `spin` serves Spin's
//! SQLite interface on the same databases.

pub mod host;
pub mod migrate;
pub mod postgres;
pub mod spin;
pub mod sqlite;

use anyhow::Context;
use async_trait::async_trait;
use serde::Deserialize;
use std::{path::Path, sync::Arc, time::Duration};

/// A parameter or column value (mirrors `todo:platform/sql.value`).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Boolean(bool),
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// Rows returned by a query, with column names in select order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RowSet {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

/// Which kind of constraint refused a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConstraintKind {
    Unique,
    PrimaryKey,
    ForeignKey,
    Check,
    NotNull,
    Other,
}

/// A constraint that refused a change: its kind, its name (the index or
/// constraint name where the database has one, else `table.columns`) and
/// the database's message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message} ({name})")]
pub struct Constraint {
    pub kind: ConstraintKind,
    pub name: String,
    pub message: String,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum SqlError {
    #[error("constraint violation: {0}")]
    ConstraintViolation(Constraint),
    #[error("invalid statement: {0}")]
    InvalidStatement(String),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("transaction already closed")]
    TransactionClosed,
    #[error("the transaction outlived its deadline and was rolled back")]
    DeadlineExceeded,
    #[error("database error: {0}")]
    Other(String),
}

/// Which SQL dialect a backend speaks: selects the migrations directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    pub fn dir_name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
        }
    }

    /// A statement that, run first in a transaction, keeps every other
    /// process's migrations waiting until it ends (replicas start together).
    /// SQLite needs none: its transactions here take the one write lock.
    pub fn migration_lock(self) -> Option<&'static str> {
        match self {
            Dialect::Sqlite => None,
            Dialect::Postgres => Some("SELECT pg_advisory_xact_lock(7428116501)"),
        }
    }
}

#[async_trait]
pub trait Sql: Send + Sync {
    fn dialect(&self) -> Dialect;
    /// Runs one changing statement, committed on its own.
    async fn execute(&self, statement: &str, params: Vec<Value>) -> Result<u64, SqlError>;
    /// Runs one read-only statement.
    async fn query(&self, statement: &str, params: Vec<Value>) -> Result<RowSet, SqlError>;
    /// A read the caller knows to be short (an indexed range with a small
    /// limit, as the pub/sub and the stream log run): where the backend
    /// allows, it runs where it is called, sparing a thread hop each way.
    async fn query_short(&self, statement: &str, params: Vec<Value>) -> Result<RowSet, SqlError> {
        self.query(statement, params).await
    }
    /// Opens a transaction; dropping it uncommitted rolls it back.
    async fn begin(&self) -> Result<Box<dyn SqlTransaction>, SqlError>;
    /// Checks the database answers.
    async fn ping(&self) -> Result<(), SqlError>;
}

#[async_trait]
pub trait SqlTransaction: Send {
    async fn execute(&mut self, statement: &str, params: Vec<Value>) -> Result<u64, SqlError>;
    async fn query(&mut self, statement: &str, params: Vec<Value>) -> Result<RowSet, SqlError>;
    /// Runs a script of several statements without parameters (migrations).
    async fn execute_script(&mut self, script: &str) -> Result<(), SqlError>;
    async fn commit(&mut self) -> Result<(), SqlError>;
    async fn rollback(&mut self) -> Result<(), SqlError>;
}

/// Which backend serves the application's database (`[sql]` in the
/// runtime configuration).
#[derive(Debug, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Config {
    /// A SQLite file: `path`, else `app.db` in the data directory.
    Sqlite {
        #[serde(default)]
        path: Option<std::path::PathBuf>,
    },
    Postgres {
        url: String,
        #[serde(default = "default_pool_size")]
        pool_size: usize,
    },
}

impl Default for Config {
    fn default() -> Self {
        Config::Sqlite { path: None }
    }
}

pub fn default_pool_size() -> usize {
    16
}

/// How long a guest may hold a transaction, and wait for the writer.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Past this a transaction is rolled back and the guest gets `deadline-exceeded`.
    pub transaction_deadline: Duration,
    /// Past this, waiting for the database (the SQLite writer, a pooled
    /// PostgreSQL connection) fails with `unavailable`.
    pub writer_wait: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self { transaction_deadline: Duration::from_secs(5), writer_wait: Duration::from_secs(5) }
    }
}

/// The databases of one application, by label.
pub struct SqlCapability {
    databases: super::Labelled<dyn Sql>,
    pub limits: Limits,
    deadlines: host::Deadlines,
}

impl SqlCapability {
    /// Opens the configured database as label `default`.
    pub fn open(config: &Config, data_dir: &Path, limits: Limits) -> anyhow::Result<Self> {
        let sql: Arc<dyn Sql> = match config {
            Config::Sqlite { path } => {
                let path = path.clone().unwrap_or_else(|| data_dir.join("app.db"));
                let sql = sqlite::SqliteSql::open(path.clone(), limits.writer_wait);
                Arc::new(sql.with_context(|| format!("opening {}", path.display()))?)
            }
            Config::Postgres { url, pool_size } => Arc::new(
                postgres::PostgresSql::new(url, *pool_size, limits.writer_wait).context("configuring PostgreSQL")?,
            ),
        };
        Ok(Self { databases: super::Labelled::default_only(sql), limits, deadlines: host::Deadlines::default() })
    }

    pub fn database(&self, label: &str) -> Option<&Arc<dyn Sql>> {
        self.databases.get(label)
    }

    /// The application's own database (where the outbox lives).
    pub fn default_database(&self) -> &Arc<dyn Sql> {
        self.databases.get(super::DEFAULT_LABEL).expect("the default database is always configured")
    }

    pub fn databases(&self) -> impl Iterator<Item = (&String, &Arc<dyn Sql>)> {
        self.databases.iter()
    }

    pub async fn ping(&self) -> Result<(), SqlError> {
        for (_, sql) in self.databases.iter() {
            sql.ping().await?;
        }
        Ok(())
    }

    /// Checks a component's `sql_databases` when the app loads.
    pub fn check_grants(&self, component: &str, granted: &[String]) -> anyhow::Result<()> {
        self.databases.check_grants(component, "sql_databases", granted)
    }

    /// Checks a component's `sqlite_databases` (Spin's SQLite interface) when the app loads.
    pub fn check_sqlite_grants(&self, component: &str, granted: &[String]) -> anyhow::Result<()> {
        self.databases.check_grants(component, "sqlite_databases", granted)
    }

    /// The context of one instance of `component` on Spin's SQLite interface.
    pub fn spin_instance(self: &Arc<Self>, component: &Arc<str>, granted: &Arc<[String]>) -> spin::SpinSqliteCtx {
        spin::SpinSqliteCtx { capability: self.clone(), component: component.clone(), granted: granted.clone() }
    }

    /// The context of one instance of `component`.
    pub fn instance(self: &Arc<Self>, component: &Arc<str>, granted: &Arc<[String]>) -> host::SqlCtx {
        host::SqlCtx { capability: self.clone(), component: component.clone(), granted: granted.clone() }
    }
}
