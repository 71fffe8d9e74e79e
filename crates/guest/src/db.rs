//! Statements inside or outside a transaction, values to bind, and decoding
//! rows column by column.

use crate::log;
use crate::sql::{self, RowSet, Transaction, Value};
use std::fmt::Display;
use todo_domain::{ApiError, ErrorCode, SqlFragment, SqlParam};

/// Runs statements inside a transaction, or each on its own.
pub trait Db {
    fn query(&self, statement: &str, params: &[Value]) -> Result<RowSet, sql::Error>;
    fn execute(&self, statement: &str, params: &[Value]) -> Result<u64, sql::Error>;
}

impl Db for Transaction {
    fn query(&self, statement: &str, params: &[Value]) -> Result<RowSet, sql::Error> {
        Transaction::query(self, statement, params)
    }

    fn execute(&self, statement: &str, params: &[Value]) -> Result<u64, sql::Error> {
        Transaction::execute(self, statement, params)
    }
}

/// Statements outside a transaction, each committed on its own.
pub struct Autocommit;

impl Db for Autocommit {
    fn query(&self, statement: &str, params: &[Value]) -> Result<RowSet, sql::Error> {
        sql::query(statement, params)
    }

    fn execute(&self, statement: &str, params: &[Value]) -> Result<u64, sql::Error> {
        sql::execute(statement, params)
    }
}

impl From<sql::Error> for ApiError {
    fn from(err: sql::Error) -> Self {
        log::line(format_args!("sql error: {err:?}"));
        match err {
            // The unique (task_id, version) or idempotency key of a concurrent
            // request, or another unique key (a task's next occurrence).
            sql::Error::ConstraintViolation(_) => ApiError::new(
                ErrorCode::Conflict,
                "the task was changed by a concurrent request; retry",
            ),
            sql::Error::Unavailable(_) => ApiError::new(
                ErrorCode::Unavailable,
                "the database is unavailable; retry later",
            ),
            _ => ApiError::internal("database error"),
        }
    }
}

impl From<SqlParam> for Value {
    fn from(param: SqlParam) -> Self {
        match param {
            SqlParam::Text(text) => Value::Text(text),
            SqlParam::Integer(n) => Value::Integer(n),
            SqlParam::Boolean(b) => Value::Boolean(b),
        }
    }
}

/// Runs a domain `SELECT` (see `SqlFragment`), decoding each row.
pub fn select<T>(
    db: &impl Db,
    fragment: SqlFragment,
    decode: impl FnMut(&[Value]) -> Result<T, ApiError>,
) -> Result<Vec<T>, ApiError> {
    let params: Vec<Value> = fragment.params.into_iter().map(Value::from).collect();
    let rows = db.query(&fragment.sql, &params)?;
    rows.rows.iter().map(Vec::as_slice).map(decode).collect()
}

pub fn text(value: impl ToString) -> Value {
    Value::Text(value.to_string())
}

pub fn opt_text(value: Option<impl ToString>) -> Value {
    value.map_or(Value::Null, text)
}

/// Reads a row's values one column after the other.
pub struct Cells<'a> {
    values: std::slice::Iter<'a, Value>,
}

impl<'a> Cells<'a> {
    pub fn new(row: &'a [Value]) -> Self {
        Self { values: row.iter() }
    }

    fn next(&mut self) -> Result<&'a Value, ApiError> {
        self.values
            .next()
            .ok_or_else(|| corrupt("a column is missing"))
    }

    pub fn opt_text(&mut self) -> Result<Option<&'a str>, ApiError> {
        match self.next()? {
            Value::Null => Ok(None),
            Value::Text(text) => Ok(Some(text)),
            other => Err(corrupt(format!("expected text, got {other:?}"))),
        }
    }

    pub fn text(&mut self) -> Result<&'a str, ApiError> {
        self.opt_text()?.ok_or_else(|| corrupt("unexpected NULL"))
    }

    /// BOOLEAN columns come back as booleans; 0 and 1 are accepted too.
    pub fn boolean(&mut self) -> Result<bool, ApiError> {
        match self.next()? {
            Value::Boolean(b) => Ok(*b),
            Value::Integer(0) => Ok(false),
            Value::Integer(1) => Ok(true),
            other => Err(corrupt(format!("expected a boolean, got {other:?}"))),
        }
    }

    pub fn integer(&mut self) -> Result<i64, ApiError> {
        match self.next()? {
            Value::Integer(n) => Ok(*n),
            other => Err(corrupt(format!("expected an integer, got {other:?}"))),
        }
    }

    pub fn parsed<T, E: Display>(
        &mut self,
        parse: impl FnOnce(&'a str) -> Result<T, E>,
    ) -> Result<T, ApiError> {
        parse(self.text()?).map_err(corrupt)
    }

    pub fn opt_parsed<T, E: Display>(
        &mut self,
        parse: impl FnOnce(&'a str) -> Result<T, E>,
    ) -> Result<Option<T>, ApiError> {
        self.opt_text()?.map(parse).transpose().map_err(corrupt)
    }
}

/// A stored value this code cannot read: logged, and an internal error.
pub fn corrupt(detail: impl Display) -> ApiError {
    log::line(format_args!("unreadable row: {detail}"));
    ApiError::internal("stored data is unreadable")
}

/// A count from `SELECT COUNT(*)`: an integer (or, on some backends, a
/// numeric text).
pub fn count(rows: &RowSet) -> Result<u64, ApiError> {
    match rows.rows.first().and_then(|row| row.first()) {
        Some(Value::Integer(n)) => u64::try_from(*n).map_err(corrupt),
        Some(Value::Text(n)) => n.parse().map_err(corrupt),
        other => Err(corrupt(format!("expected a count, got {other:?}"))),
    }
}
