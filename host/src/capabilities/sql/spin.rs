//! Spin's SQLite interface (`fermyon:spin/sqlite@2.0.0`) on the host's `sql`
//! databases, for stock Spin components and for `todo:platform` through
//! `components/platform-adapter`. A component opens the labels its
//! manifest grants (`sqlite_databases`, Spin's key) that are SQLite
//! databases. Each `connection` is one session, as a Spin connection is:
//! `BEGIN` ... `COMMIT` / `ROLLBACK` through `execute` is a real transaction
//! on the single writer, with the host's writer wait and transaction
//! deadline (`host::Transaction`); other statements outside a transaction
//! commit on their own, plain reads on a reader.

use super::host::Transaction;
use super::{Dialect, RowSet, Sql, SqlCapability, SqlError, Value};
use std::sync::Arc;
use wasmtime::component::{HasData, Resource, ResourceTable};

wasmtime::component::bindgen!({
    path: "../wit",
    inline: "package todo:host-spin; world spin-sqlite { import fermyon:spin/sqlite@2.0.0; }",
    imports: { default: async | trappable },
    with: { "fermyon:spin/sqlite.connection": Connection },
});

pub use fermyon::spin::sqlite;

/// What one instance may reach of Spin's SQLite interface.
pub struct SpinSqliteCtx {
    pub capability: Arc<SqlCapability>,
    pub component: Arc<str>,
    /// The labels its manifest grants (`sqlite_databases`).
    pub granted: Arc<[String]>,
}

/// The instance's view for the WIT traits.
pub struct SpinSqliteView<'a> {
    pub ctx: &'a mut SpinSqliteCtx,
    pub table: &'a mut ResourceTable,
}

/// Selects `SpinSqliteView` for `add_to_linker`.
pub struct SpinSqliteData;

impl HasData for SpinSqliteData {
    type Data<'a> = SpinSqliteView<'a>;
}

/// An open connection (the `connection` resource), in a transaction after
/// `BEGIN`; dropped in one, the transaction rolls back.
pub struct Connection {
    sql: Arc<dyn Sql>,
    transaction: Option<Transaction>,
}

/// What a statement does to the connection's session.
#[derive(Debug, PartialEq)]
enum Control {
    Begin,
    Commit,
    Rollback,
    /// Anything else (also `ROLLBACK TO` a savepoint).
    Statement,
}

fn control(statement: &str) -> Control {
    let upper = statement.trim().trim_end_matches(';').to_ascii_uppercase();
    let words: Vec<&str> = upper.split_whitespace().collect();
    match words.as_slice() {
        ["BEGIN", ..] => Control::Begin,
        ["COMMIT" | "END"] | ["COMMIT" | "END", "TRANSACTION"] => Control::Commit,
        ["ROLLBACK"] | ["ROLLBACK", "TRANSACTION"] => Control::Rollback,
        _ => Control::Statement,
    }
}

/// A statement a read-only connection can answer: a plain SELECT that asks
/// nothing about this session's own writes.
fn reads_only(statement: &str) -> bool {
    let lower = statement.trim_start().to_ascii_lowercase();
    lower.starts_with("select")
        && !["changes()", "last_insert_rowid()", "total_changes()"].iter().any(|f| lower.contains(f))
}

/// SQLite's own words for a transaction statement out of place.
fn misplaced(what: &str) -> sqlite::Error {
    sqlite::Error::Io(what.to_owned())
}

/// A host error as Spin reports SQLite's: its message. Constraint
/// violations keep SQLite's own text ("UNIQUE constraint failed: t.c").
impl From<SqlError> for sqlite::Error {
    fn from(e: SqlError) -> Self {
        match e {
            SqlError::ConstraintViolation(c) => Self::Io(c.message),
            e => Self::Io(e.to_string()),
        }
    }
}

fn params(values: Vec<sqlite::Value>) -> Vec<Value> {
    use sqlite::Value as V;
    values
        .into_iter()
        .map(|v| match v {
            V::Integer(i) => Value::Integer(i),
            V::Real(f) => Value::Real(f),
            V::Text(s) => Value::Text(s),
            V::Blob(b) => Value::Blob(b),
            V::Null => Value::Null,
        })
        .collect()
}

fn query_result(rows: RowSet) -> sqlite::QueryResult {
    use sqlite::Value as V;
    let value = |v| match v {
        Value::Null => V::Null,
        Value::Boolean(b) => V::Integer(b.into()),
        Value::Integer(i) => V::Integer(i),
        Value::Real(f) => V::Real(f),
        Value::Text(s) => V::Text(s),
        Value::Blob(b) => V::Blob(b),
    };
    sqlite::QueryResult {
        columns: rows.columns,
        rows: rows.rows.into_iter().map(|r| sqlite::RowResult { values: r.into_iter().map(value).collect() }).collect(),
    }
}

impl SpinSqliteCtx {
    /// The database `label`, if granted and a SQLite database.
    fn open(&self, label: &str) -> Result<Arc<dyn Sql>, sqlite::Error> {
        if !self.granted.iter().any(|g| g == label) {
            tracing::warn!(component = %self.component, %label, "denied a database sqlite_databases does not grant");
            return Err(sqlite::Error::AccessDenied);
        }
        let sql = self.capability.database(label).ok_or(sqlite::Error::NoSuchDatabase)?;
        if sql.dialect() != Dialect::Sqlite {
            tracing::warn!(component = %self.component, %label, "fermyon:spin/sqlite opens SQLite databases only");
            return Err(sqlite::Error::NoSuchDatabase);
        }
        Ok(sql.clone())
    }
}

impl Connection {
    async fn execute(
        &mut self,
        statement: &str,
        values: Vec<Value>,
        ctx: &SpinSqliteCtx,
    ) -> Result<sqlite::QueryResult, sqlite::Error> {
        let empty = || sqlite::QueryResult { columns: vec![], rows: vec![] };
        match (control(statement), self.transaction.take()) {
            (Control::Begin, None) => {
                self.transaction = Some(Transaction::begin(self.sql.as_ref(), &ctx.capability, &ctx.component).await?);
                Ok(empty())
            }
            (Control::Begin, Some(tx)) => {
                self.transaction = Some(tx);
                Err(misplaced("cannot start a transaction within a transaction"))
            }
            (Control::Commit, Some(mut tx)) => tx.commit().await.map(|()| empty()).map_err(Into::into),
            (Control::Rollback, Some(mut tx)) => match tx.rollback().await {
                // Already rolled back at its deadline: what was asked for.
                Ok(()) | Err(SqlError::DeadlineExceeded) => Ok(empty()),
                Err(e) => Err(e.into()),
            },
            (Control::Commit, None) => Err(misplaced("cannot commit - no transaction is active")),
            (Control::Rollback, None) => Err(misplaced("cannot rollback - no transaction is active")),
            (Control::Statement, Some(tx)) => {
                let rows = tx.query(statement, values).await;
                self.transaction = Some(tx);
                Ok(query_result(rows?))
            }
            (Control::Statement, None) if reads_only(statement) => {
                Ok(query_result(self.sql.query(statement, values).await?))
            }
            (Control::Statement, None) => {
                let mut tx = self.sql.begin().await?;
                let rows = tx.query(statement, values).await?;
                tx.commit().await?;
                Ok(query_result(rows))
            }
        }
    }
}

impl sqlite::Host for SpinSqliteView<'_> {}

impl sqlite::HostConnection for SpinSqliteView<'_> {
    #[tracing::instrument(level = "debug", name = "spin.sqlite.open", skip(self))]
    async fn open(&mut self, database: String) -> wasmtime::Result<Result<Resource<Connection>, sqlite::Error>> {
        match self.ctx.open(&database) {
            Ok(sql) => Ok(Ok(self.table.push(Connection { sql, transaction: None })?)),
            Err(e) => Ok(Err(e)),
        }
    }

    #[tracing::instrument(level = "debug", name = "spin.sqlite.execute", skip_all, fields(statement = %statement))]
    async fn execute(
        &mut self,
        connection: Resource<Connection>,
        statement: String,
        parameters: Vec<sqlite::Value>,
    ) -> wasmtime::Result<Result<sqlite::QueryResult, sqlite::Error>> {
        let connection = self.table.get_mut(&connection)?;
        Ok(connection.execute(&statement, params(parameters), self.ctx).await)
    }

    async fn drop(&mut self, connection: Resource<Connection>) -> wasmtime::Result<()> {
        self.table.delete(connection)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_transaction_statements_from_others() {
        for (statement, expected) in [
            ("BEGIN IMMEDIATE", Control::Begin),
            ("begin;", Control::Begin),
            ("COMMIT", Control::Commit),
            ("end transaction", Control::Commit),
            ("ROLLBACK;", Control::Rollback),
            ("ROLLBACK TO sp", Control::Statement),
            ("INSERT INTO t VALUES (1)", Control::Statement),
        ] {
            assert_eq!(control(statement), expected, "{statement}");
        }
        assert!(reads_only(" SELECT * FROM t"));
        assert!(!reads_only("SELECT changes()"));
        assert!(!reads_only("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x"));
    }
}
