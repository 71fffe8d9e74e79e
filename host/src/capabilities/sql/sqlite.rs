//! `sql` on SQLite: one writer connection (SQLite has one writer at a time,
//! so the host queues writers instead of letting them spin on SQLITE_BUSY)
//! and a small pool of read-only connections. A transaction's BEGIN waits
//! for the file's write lock off the async threads (another process may
//! hold it); once it holds the lock, its statements and its COMMIT run
//! where the guest's call runs, without a thread hop each: they never wait
//! for anyone (WAL, `synchronous = NORMAL`: a commit appends to the log
//! and does not sync).

use super::{Constraint, ConstraintKind, Dialect, RowSet, Sql, SqlError, SqlTransaction, Value};
use crate::capabilities::sqlite_file::{blocking, open, Checkpointer, BUSY_TIMEOUT};
use async_trait::async_trait;
use rusqlite::{ffi, types::ValueRef, Connection, ErrorCode};
use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::sync::{OwnedMutexGuard, Semaphore};

const READERS: usize = 4;

pub struct SqliteSql {
    writer: Arc<tokio::sync::Mutex<Connection>>,
    readers: Arc<Mutex<Vec<Connection>>>,
    reader_permits: Arc<Semaphore>,
    /// How long a writer may wait for the writer connection.
    writer_wait: Duration,
    _checkpointer: Checkpointer,
}

impl SqliteSql {
    pub fn open(path: PathBuf, writer_wait: Duration) -> anyhow::Result<Self> {
        let writer = open(&path)?;
        let readers = (0..READERS)
            .map(|_| {
                let conn = open(&path)?;
                conn.execute_batch("PRAGMA query_only = ON;")?;
                Ok(conn)
            })
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(Self {
            writer: Arc::new(tokio::sync::Mutex::new(writer)),
            readers: Arc::new(Mutex::new(readers)),
            reader_permits: Arc::new(Semaphore::new(READERS)),
            writer_wait,
            _checkpointer: Checkpointer::start(&path)?,
        })
    }

    /// The writer connection, waited for at most `writer_wait` (a guest
    /// holding a transaction keeps everyone else waiting).
    async fn writer(&self) -> Result<OwnedMutexGuard<Connection>, SqlError> {
        tokio::time::timeout(self.writer_wait, self.writer.clone().lock_owned())
            .await
            .map_err(|_| SqlError::Unavailable(format!("the database writer stayed busy for {:?}", self.writer_wait)))
    }

    /// Runs `f` on the writer connection.
    async fn with_writer<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, SqlError> + Send + 'static,
    ) -> Result<T, SqlError> {
        let mut guard = self.writer().await?;
        blocking(move || f(&mut guard)).await
    }
}

#[async_trait]
impl Sql for SqliteSql {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    async fn execute(&self, statement: &str, params: Vec<Value>) -> Result<u64, SqlError> {
        let statement = statement.to_owned();
        self.with_writer(move |conn| execute(conn, &statement, &params)).await
    }

    async fn query(&self, statement: &str, params: Vec<Value>) -> Result<RowSet, SqlError> {
        let _permit = self.reader_permits.acquire().await.expect("semaphore closed");
        let conn = self.readers.lock().unwrap().pop().expect("a reader per permit");
        let statement = statement.to_owned();
        let (conn, result) = blocking(move || {
            let result = query(&conn, &statement, &params);
            (conn, result)
        })
        .await;
        self.readers.lock().unwrap().push(conn);
        result
    }

    /// On a reader, here: in WAL mode a read never waits for the writer.
    /// When every reader is busy it queues as `query` does.
    async fn query_short(&self, statement: &str, params: Vec<Value>) -> Result<RowSet, SqlError> {
        let Ok(_permit) = self.reader_permits.try_acquire() else { return self.query(statement, params).await };
        let conn = self.readers.lock().unwrap().pop().expect("a reader per permit");
        let result = query(&conn, statement, &params);
        self.readers.lock().unwrap().push(conn);
        result
    }

    async fn begin(&self) -> Result<Box<dyn SqlTransaction>, SqlError> {
        let guard = self.writer().await?;
        // No writer of this process holds the file's lock now, so unless
        // another process does, BEGIN takes it at once: try that here,
        // without waiting (a thread hop costs more than the BEGIN), and only
        // when the lock is busy wait for it off the async threads.
        let guard = match begin_now(&guard) {
            Ok(()) => guard,
            Err(e) if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy) => {
                blocking(move || run_cached(&guard, "BEGIN IMMEDIATE").map(|()| guard))
                    .await
                    .map_err(|e| map_err_plain(&e))?
            }
            Err(e) => return Err(map_err_plain(&e)),
        };
        Ok(Box::new(SqliteTransaction { conn: Some(guard) }))
    }

    async fn ping(&self) -> Result<(), SqlError> {
        self.query("SELECT 1", vec![]).await.map(|_| ())
    }
}

/// Holds the writer connection (and the file's write lock) from BEGIN to
/// COMMIT / ROLLBACK.
struct SqliteTransaction {
    conn: Option<OwnedMutexGuard<Connection>>,
}

impl SqliteTransaction {
    fn run<T>(&mut self, f: impl FnOnce(&mut Connection) -> Result<T, SqlError>) -> Result<T, SqlError> {
        f(self.conn.as_mut().ok_or(SqlError::TransactionClosed)?)
    }

    fn finish(&mut self, sql: &'static str) -> Result<(), SqlError> {
        let conn = self.conn.take().ok_or(SqlError::TransactionClosed)?;
        run_cached(&conn, sql).map_err(|e| {
            // A failed COMMIT leaves the transaction open: end it so the
            // writer connection goes back clean.
            let error = map_err(&conn, e);
            let _ = conn.execute_batch("ROLLBACK");
            error
        })
    }
}

#[async_trait]
impl SqlTransaction for SqliteTransaction {
    async fn execute(&mut self, statement: &str, params: Vec<Value>) -> Result<u64, SqlError> {
        self.run(|conn| execute(conn, statement, &params))
    }

    async fn query(&mut self, statement: &str, params: Vec<Value>) -> Result<RowSet, SqlError> {
        self.run(|conn| query(conn, statement, &params))
    }

    async fn execute_script(&mut self, script: &str) -> Result<(), SqlError> {
        self.run(|conn| conn.execute_batch(script).map_err(|e| map_err(conn, e)))
    }

    async fn commit(&mut self) -> Result<(), SqlError> {
        self.finish("COMMIT")
    }

    async fn rollback(&mut self) -> Result<(), SqlError> {
        self.finish("ROLLBACK")
    }
}

impl Drop for SqliteTransaction {
    /// A transaction abandoned by a trapped or timed-out guest: roll back
    /// before the writer connection is released.
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if let Err(e) = conn.execute_batch("ROLLBACK") {
                tracing::error!(error = %e, "rolling back an abandoned transaction");
            }
        }
    }
}

/// `BEGIN IMMEDIATE` without waiting: SQLITE_BUSY at once if another
/// process holds the write lock.
fn begin_now(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::ZERO)?;
    let begun = run_cached(conn, "BEGIN IMMEDIATE");
    conn.busy_timeout(BUSY_TIMEOUT)?;
    begun
}

/// Runs a statement without parameters or rows (BEGIN, COMMIT, ROLLBACK),
/// prepared once per connection: parsing it is most of its cost.
fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.raw_execute().map(drop)
}

fn execute(conn: &Connection, statement: &str, params: &[Value]) -> Result<u64, SqlError> {
    let mut stmt = conn.prepare_cached(statement).map_err(|e| map_err(conn, e))?;
    bind(&mut stmt, params)?;
    stmt.raw_execute().map(|n| n as u64).map_err(|e| map_err(conn, e))
}

fn query(conn: &Connection, statement: &str, params: &[Value]) -> Result<RowSet, SqlError> {
    let mut stmt = conn.prepare_cached(statement).map_err(|e| map_err(conn, e))?;
    bind(&mut stmt, params)?;
    let columns: Vec<String> = stmt.column_names().into_iter().map(str::to_owned).collect();
    let booleans: Vec<bool> =
        stmt.columns().iter().map(|c| c.decl_type().is_some_and(|t| t.eq_ignore_ascii_case("BOOLEAN"))).collect();
    let mut rows = Vec::new();
    let mut raw = stmt.raw_query();
    while let Some(row) = raw.next().map_err(|e| map_err(conn, e))? {
        let values = (0..columns.len())
            .map(|i| row.get_ref(i).map(|v| to_value(v, booleans[i])))
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| map_err(conn, e))?;
        rows.push(values);
    }
    Ok(RowSet { columns, rows })
}

/// Binds `$N` (and SQLite's `?N`) placeholders to `params[N-1]` (and plain
/// `?` by position), so statements written for PostgreSQL run unchanged.
fn bind(stmt: &mut rusqlite::CachedStatement<'_>, params: &[Value]) -> Result<(), SqlError> {
    let count = stmt.parameter_count();
    let mut highest = 0;
    for index in 1..=count {
        let position = match stmt.parameter_name(index) {
            None => index,
            Some(name) => name
                .strip_prefix(['$', '?'])
                .and_then(|n| n.parse::<usize>().ok())
                .ok_or_else(|| SqlError::InvalidStatement(format!("placeholder {name}: use $1, $2, ...")))?,
        };
        let value = params.get(position.wrapping_sub(1)).ok_or_else(|| {
            SqlError::InvalidStatement(format!("placeholder ${position} has no parameter ({} given)", params.len()))
        })?;
        highest = highest.max(position);
        stmt.raw_bind_parameter(index, to_sql(value)).map_err(|e| map_err_plain(&e))?;
    }
    if highest != params.len() {
        return Err(SqlError::InvalidStatement(format!(
            "{} parameters given, the statement uses {highest}",
            params.len()
        )));
    }
    Ok(())
}

fn to_sql(value: &Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match value {
        Value::Null => V::Null,
        Value::Boolean(b) => V::Integer(*b as i64),
        Value::Integer(i) => V::Integer(*i),
        Value::Real(f) => V::Real(*f),
        Value::Text(s) => V::Text(s.clone()),
        Value::Blob(b) => V::Blob(b.clone()),
    }
}

fn to_value(value: ValueRef<'_>, boolean: bool) -> Value {
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) if boolean => Value::Boolean(i != 0),
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

/// A statement's error, with a constraint named as precisely as the
/// database allows (see `constraint`).
fn map_err(conn: &Connection, e: rusqlite::Error) -> SqlError {
    match &e {
        rusqlite::Error::SqliteFailure(f, message) if f.code == ErrorCode::ConstraintViolation => {
            SqlError::ConstraintViolation(constraint(conn, f.extended_code, message.as_deref().unwrap_or("")))
        }
        _ => map_err_plain(&e),
    }
}

fn map_err_plain(e: &rusqlite::Error) -> SqlError {
    match e {
        rusqlite::Error::SqliteFailure(f, message) => match f.code {
            ErrorCode::ConstraintViolation => {
                let message = message.clone().unwrap_or_default();
                SqlError::ConstraintViolation(Constraint { kind: ConstraintKind::Other, name: String::new(), message })
            }
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => SqlError::Unavailable(e.to_string()),
            ErrorCode::ReadOnly | ErrorCode::ApiMisuse => SqlError::InvalidStatement(e.to_string()),
            _ if e.to_string().contains("no such") || e.to_string().contains("syntax error") => {
                SqlError::InvalidStatement(e.to_string())
            }
            _ => SqlError::Other(e.to_string()),
        },
        rusqlite::Error::SqlInputError { .. }
        | rusqlite::Error::InvalidParameterName(_)
        | rusqlite::Error::InvalidParameterCount(..)
        | rusqlite::Error::InvalidColumnIndex(_)
        | rusqlite::Error::MultipleStatement => SqlError::InvalidStatement(e.to_string()),
        _ => SqlError::Other(e.to_string()),
    }
}

/// Names a constraint SQLite reported. Its messages name columns, not
/// indexes ("UNIQUE constraint failed: task.parent_task_id"), so a unique
/// violation is named after the unique index on exactly those columns, as
/// PostgreSQL would name it; other kinds keep SQLite's `table.column` (or
/// the CHECK constraint's name).
fn constraint(conn: &Connection, extended_code: i32, message: &str) -> Constraint {
    let kind = match extended_code {
        ffi::SQLITE_CONSTRAINT_UNIQUE => ConstraintKind::Unique,
        ffi::SQLITE_CONSTRAINT_PRIMARYKEY => ConstraintKind::PrimaryKey,
        ffi::SQLITE_CONSTRAINT_FOREIGNKEY => ConstraintKind::ForeignKey,
        ffi::SQLITE_CONSTRAINT_CHECK => ConstraintKind::Check,
        ffi::SQLITE_CONSTRAINT_NOTNULL => ConstraintKind::NotNull,
        _ => ConstraintKind::Other,
    };
    let subject = message.split_once("constraint failed: ").map_or("", |(_, s)| s).trim();
    let name = match kind {
        ConstraintKind::Unique => unique_index(conn, subject).unwrap_or_else(|| subject.to_owned()),
        _ => subject.to_owned(),
    };
    Constraint { kind, name, message: message.to_owned() }
}

/// The unique index covering exactly `table.a, table.b` (SQLite's list).
fn unique_index(conn: &Connection, columns: &str) -> Option<String> {
    let mut wanted: Vec<&str> = Vec::new();
    let mut table = None;
    for qualified in columns.split(", ") {
        let (t, column) = qualified.split_once('.')?;
        table.get_or_insert(t);
        wanted.push(column);
    }
    wanted.sort_unstable();
    let table = table?;
    let mut indexes = conn.prepare("SELECT name FROM pragma_index_list(?1) WHERE \"unique\" = 1").ok()?;
    let names: Vec<String> = indexes.query_map([table], |r| r.get(0)).ok()?.collect::<Result<_, _>>().ok()?;
    names.into_iter().find(|index| {
        let Ok(mut info) = conn.prepare("SELECT name FROM pragma_index_info(?1)") else { return false };
        let covered: rusqlite::Result<Vec<String>> =
            info.query_map([index], |r| r.get(0)).and_then(|rows| rows.collect());
        covered.is_ok_and(|mut covered| {
            covered.sort_unstable();
            covered == wanted
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn db() -> (tempfile::TempDir, SqliteSql) {
        let dir = tempfile::tempdir().unwrap();
        let sql = SqliteSql::open(dir.path().join("app.db"), std::time::Duration::from_secs(5)).unwrap();
        sql.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, done BOOLEAN)", vec![])
            .await
            .unwrap();
        (dir, sql)
    }

    #[tokio::test]
    async fn binds_numbered_placeholders_out_of_order_and_reports_booleans() {
        let (_dir, sql) = db().await;
        let n = sql
            .execute("INSERT INTO t (done, name) VALUES ($2, $1)", vec![Value::Text("a".into()), Value::Boolean(true)])
            .await
            .unwrap();
        assert_eq!(n, 1);
        let rows = sql
            .query("SELECT name, done FROM t WHERE name = $1 OR name = $1", vec![Value::Text("a".into())])
            .await
            .unwrap();
        assert_eq!(rows.columns, vec!["name", "done"]);
        assert_eq!(rows.rows, vec![vec![Value::Text("a".into()), Value::Boolean(true)]]);
    }

    #[tokio::test]
    async fn maps_errors() {
        let (_dir, sql) = db().await;
        sql.execute("INSERT INTO t (name) VALUES ($1)", vec![Value::Text("a".into())]).await.unwrap();
        let dup = sql.execute("INSERT INTO t (name) VALUES ($1)", vec![Value::Text("a".into())]).await;
        assert!(matches!(dup, Err(SqlError::ConstraintViolation(_))), "{dup:?}");
        let bad = sql.query("SELEC nonsense", vec![]).await;
        assert!(matches!(bad, Err(SqlError::InvalidStatement(_))), "{bad:?}");
        let missing = sql.execute("INSERT INTO t (name) VALUES ($2)", vec![Value::Text("a".into())]).await;
        assert!(matches!(missing, Err(SqlError::InvalidStatement(_))), "{missing:?}");
        let write_on_reader = sql.query("DELETE FROM t RETURNING id", vec![]).await;
        assert!(matches!(write_on_reader, Err(SqlError::InvalidStatement(_))), "{write_on_reader:?}");
    }

    #[tokio::test]
    async fn transactions_commit_roll_back_and_roll_back_on_drop() {
        let (_dir, sql) = db().await;
        let mut tx = sql.begin().await.unwrap();
        tx.execute("INSERT INTO t (name) VALUES ('kept')", vec![]).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(tx.commit().await, Err(SqlError::TransactionClosed));

        let mut tx = sql.begin().await.unwrap();
        tx.execute("INSERT INTO t (name) VALUES ('undone')", vec![]).await.unwrap();
        tx.rollback().await.unwrap();

        let mut tx = sql.begin().await.unwrap();
        tx.execute("INSERT INTO t (name) VALUES ('dropped')", vec![]).await.unwrap();
        drop(tx);

        let rows = sql.query("SELECT name FROM t ORDER BY name", vec![]).await.unwrap();
        assert_eq!(rows.rows, vec![vec![Value::Text("kept".into())]]);
    }
}
