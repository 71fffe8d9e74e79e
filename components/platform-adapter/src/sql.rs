//! `todo:platform/sql` on the instance's connection: values, transactions
//! and errors as the host's SQLite backend has them
//! (`host/src/capabilities/sql/sqlite.rs`).

use crate::conn::Conn;
use crate::exports::todo::platform::sql::{
    ConstraintKind, ConstraintViolation, Database, Error, GuestDatabase, GuestTransaction, RowSet, Transaction, Value,
};
use crate::fermyon::spin::sqlite::{self as spin, QueryResult};
use std::{cell::Cell, rc::Rc};

/// An opened database (the `database` resource).
pub struct Db {
    conn: Rc<Conn>,
}

/// An open transaction (the `transaction` resource); dropped uncommitted, it
/// rolls back.
pub struct Tx {
    pub conn: Rc<Conn>,
    open: Cell<bool>,
}

impl GuestDatabase for Db {
    fn open(label: String) -> Result<Database, Error> {
        Conn::open(&label).map(|conn| Database::new(Db { conn })).map_err(|e| opening(&label, e))
    }

    fn begin(&self) -> Result<Transaction, Error> {
        if self.conn.in_transaction() {
            return Err(busy());
        }
        self.conn.control("BEGIN IMMEDIATE").map_err(|e| error(&self.conn, e))?;
        Ok(Transaction::new(Tx { conn: self.conn.clone(), open: Cell::new(true) }))
    }

    fn execute(&self, statement: String, params: Vec<Value>) -> Result<u64, Error> {
        if self.conn.in_transaction() {
            return Err(busy());
        }
        self.conn.atomically(error, |c| execute(c, &statement, &params))
    }

    fn query(&self, statement: String, params: Vec<Value>) -> Result<RowSet, Error> {
        query(&self.conn, &statement, &params)
    }
}

impl Tx {
    /// The connection, while the transaction is open.
    pub fn conn(&self) -> Result<&Conn, Error> {
        self.open.get().then_some(&*self.conn).ok_or(Error::TransactionClosed)
    }

    fn finish(&self, statement: &str) -> Result<(), Error> {
        let conn = self.conn()?;
        self.open.set(false);
        conn.control(statement).map_err(|e| {
            // A failed COMMIT leaves the transaction open: end it.
            let _ = conn.control("ROLLBACK");
            error(conn, e)
        })
    }
}

impl GuestTransaction for Tx {
    fn execute(&self, statement: String, params: Vec<Value>) -> Result<u64, Error> {
        execute(self.conn()?, &statement, &params)
    }

    fn query(&self, statement: String, params: Vec<Value>) -> Result<RowSet, Error> {
        query(self.conn()?, &statement, &params)
    }

    fn commit(&self) -> Result<(), Error> {
        self.finish("COMMIT")
    }

    fn rollback(&self) -> Result<(), Error> {
        self.finish("ROLLBACK")
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        if self.open.get() {
            let _ = self.conn.control("ROLLBACK");
        }
    }
}

/// The host's answer to a second writer while this instance holds the
/// transaction: it would wait for the writer, then fail.
fn busy() -> Error {
    Error::Unavailable("this instance holds an open transaction: run the statement inside it".into())
}

fn execute(conn: &Conn, statement: &str, params: &[Value]) -> Result<u64, Error> {
    conn.run(statement, &to_spin(params)).map_err(|e| error(conn, e))?;
    conn.changes().map_err(|e| error(conn, e))
}

fn query(conn: &Conn, statement: &str, params: &[Value]) -> Result<RowSet, Error> {
    conn.run(statement, &to_spin(params)).map(row_set).map_err(|e| error(conn, e))
}

fn to_spin(params: &[Value]) -> Vec<spin::Value> {
    params
        .iter()
        .map(|v| match v {
            Value::Null => spin::Value::Null,
            Value::Boolean(b) => spin::Value::Integer(*b as i64),
            Value::Integer(i) => spin::Value::Integer(*i),
            Value::Real(f) => spin::Value::Real(*f),
            Value::Text(s) => spin::Value::Text(s.clone()),
            Value::Blob(b) => spin::Value::Blob(b.clone()),
        })
        .collect()
}

fn row_set(result: QueryResult) -> RowSet {
    let value = |v| match v {
        spin::Value::Null => Value::Null,
        spin::Value::Integer(i) => Value::Integer(i),
        spin::Value::Real(f) => Value::Real(f),
        spin::Value::Text(s) => Value::Text(s),
        spin::Value::Blob(b) => Value::Blob(b),
    };
    RowSet {
        columns: result.columns,
        rows: result.rows.into_iter().map(|r| r.values.into_iter().map(value).collect()).collect(),
    }
}

fn opening(label: &str, e: spin::Error) -> Error {
    match e {
        spin::Error::NoSuchDatabase => Error::NoSuchDatabase(label.to_owned()),
        spin::Error::AccessDenied => {
            Error::AccessDenied(format!("database {label:?} is not granted (sqlite_databases in spin.toml)"))
        }
        e => plain(e),
    }
}

/// A statement's error as the host reports it; Spin's carry only SQLite's
/// message, so the constraint is named from it as the host does.
fn error(conn: &Conn, e: spin::Error) -> Error {
    match &e {
        spin::Error::Io(message) if message.contains("constraint failed") => {
            Error::ConstraintViolation(constraint(conn, message))
        }
        _ => plain(e),
    }
}

fn plain(e: spin::Error) -> Error {
    let message = match e {
        spin::Error::Io(message) => message,
        spin::Error::DatabaseFull => return Error::Other("the database is full".into()),
        other => return Error::Other(format!("{other:?}")),
    };
    let has = |s: &str| message.contains(s);
    if has("outlived its deadline") {
        Error::DeadlineExceeded
    } else if has("database is locked") || has("database is busy") || has("unavailable") {
        Error::Unavailable(message)
    } else if has("no such") || has("syntax error") || has("invalid statement") || has("parameter") {
        Error::InvalidStatement(message)
    } else {
        Error::Other(message)
    }
}

/// The violated constraint in SQLite's message ("UNIQUE constraint failed:
/// task.parent_task_id"): a unique one named after the unique index on
/// exactly those columns, others (a primary key: the table's key columns)
/// by SQLite's `table.column` (or the CHECK constraint's name).
fn constraint(conn: &Conn, message: &str) -> ConstraintViolation {
    let (what, subject) = message.split_once(" constraint failed").unwrap_or((message, ""));
    let subject = subject.trim_start_matches(':').trim();
    let what = what.rsplit(": ").next().unwrap_or(what).trim();
    let (kind, name) = match what {
        "UNIQUE" | "PRIMARY KEY" => unique(conn, subject),
        "FOREIGN KEY" => (ConstraintKind::ForeignKey, subject.to_owned()),
        "CHECK" => (ConstraintKind::Check, subject.to_owned()),
        "NOT NULL" => (ConstraintKind::NotNull, subject.to_owned()),
        _ => (ConstraintKind::Other, subject.to_owned()),
    };
    ConstraintViolation { kind, name, message: message.to_owned() }
}

fn unique(conn: &Conn, columns: &str) -> (ConstraintKind, String) {
    let named = || -> Option<(String, Vec<String>)> {
        let mut wanted: Vec<String> = Vec::new();
        let mut table = None;
        for qualified in columns.split(", ") {
            let (t, column) = qualified.split_once('.')?;
            table.get_or_insert(t.to_owned());
            wanted.push(column.to_owned());
        }
        wanted.sort_unstable();
        Some((table?, wanted))
    };
    let Some((table, wanted)) = named() else { return (ConstraintKind::Unique, columns.to_owned()) };
    let key = texts(conn, "SELECT name FROM pragma_table_info($1) WHERE pk > 0 ORDER BY name", &table);
    if key == wanted {
        return (ConstraintKind::PrimaryKey, columns.to_owned());
    }
    let indexes = texts(conn, "SELECT name FROM pragma_index_list($1) WHERE \"unique\" = 1", &table);
    let index = indexes.into_iter().find(|index| {
        let mut covered = texts(conn, "SELECT name FROM pragma_index_info($1)", index);
        covered.sort_unstable();
        covered == wanted
    });
    (ConstraintKind::Unique, index.unwrap_or_else(|| columns.to_owned()))
}

/// The text column of a one-parameter query's rows (empty on failure: the
/// name is a best effort, as the host's).
fn texts(conn: &Conn, statement: &str, param: &str) -> Vec<String> {
    let rows = conn.run(statement, &[spin::Value::Text(param.to_owned())]).map(|r| r.rows).unwrap_or_default();
    rows.into_iter()
        .filter_map(|r| match r.values.into_iter().next() {
            Some(spin::Value::Text(t)) => Some(t),
            _ => None,
        })
        .collect()
}
