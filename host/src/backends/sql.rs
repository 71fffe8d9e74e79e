//! The `sql` backend trait: statements with typed parameters, transactions.

use async_trait::async_trait;

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

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum SqlError {
    #[error("constraint violation: {0}")]
    ConstraintViolation(String),
    #[error("invalid statement: {0}")]
    InvalidStatement(String),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("transaction already closed")]
    TransactionClosed,
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
