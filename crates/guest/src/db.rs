//! The "default" database (opened once per instance), statements inside or
//! outside a transaction, values to bind, and decoding rows column by column.

use crate::sql::{Database, RowSet, Transaction, Value};
use crate::{StoreError, DEFAULT_LABEL};
use std::fmt::Display;
use std::sync::OnceLock;
use todo_domain::{SqlFragment, SqlParam};

static DATABASE: OnceLock<Database> = OnceLock::new();

/// The application's database (label "default"), opened on first use and
/// kept for the rest of the instance (each request, event or tick gets a
/// fresh instance). Failing to open it is an error like any other; the next
/// call tries again.
pub fn database() -> Result<&'static Database, StoreError> {
    if let Some(db) = DATABASE.get() {
        return Ok(db);
    }
    let db = Database::open(DEFAULT_LABEL)?;
    Ok(DATABASE.get_or_init(|| db))
}

/// Opens a transaction on the application's database. Dropping it without
/// `tx::commit` rolls it back.
pub fn begin() -> Result<Transaction, StoreError> {
    Ok(database()?.begin()?)
}

/// Runs statements inside a transaction, or each on its own.
pub trait Db {
    fn query(&self, statement: &str, params: &[Value]) -> Result<RowSet, StoreError>;
    fn execute(&self, statement: &str, params: &[Value]) -> Result<u64, StoreError>;
}

impl Db for Transaction {
    fn query(&self, statement: &str, params: &[Value]) -> Result<RowSet, StoreError> {
        Ok(Transaction::query(self, statement, params)?)
    }

    fn execute(&self, statement: &str, params: &[Value]) -> Result<u64, StoreError> {
        Ok(Transaction::execute(self, statement, params)?)
    }
}

impl Db for Database {
    fn query(&self, statement: &str, params: &[Value]) -> Result<RowSet, StoreError> {
        Ok(Database::query(self, statement, params)?)
    }

    fn execute(&self, statement: &str, params: &[Value]) -> Result<u64, StoreError> {
        Ok(Database::execute(self, statement, params)?)
    }
}

/// Statements outside a transaction on the application's database, each
/// committed on its own.
pub struct Autocommit;

impl Db for Autocommit {
    fn query(&self, statement: &str, params: &[Value]) -> Result<RowSet, StoreError> {
        Db::query(database()?, statement, params)
    }

    fn execute(&self, statement: &str, params: &[Value]) -> Result<u64, StoreError> {
        Db::execute(database()?, statement, params)
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
    decode: impl FnMut(&[Value]) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
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

    fn next(&mut self) -> Result<&'a Value, StoreError> {
        self.values.next().ok_or_else(|| corrupt("a column is missing"))
    }

    pub fn opt_text(&mut self) -> Result<Option<&'a str>, StoreError> {
        match self.next()? {
            Value::Null => Ok(None),
            Value::Text(text) => Ok(Some(text)),
            other => Err(corrupt(format!("expected text, got {other:?}"))),
        }
    }

    pub fn text(&mut self) -> Result<&'a str, StoreError> {
        self.opt_text()?.ok_or_else(|| corrupt("unexpected NULL"))
    }

    /// BOOLEAN columns come back as booleans; 0 and 1 are accepted too.
    pub fn boolean(&mut self) -> Result<bool, StoreError> {
        match self.next()? {
            Value::Boolean(b) => Ok(*b),
            Value::Integer(0) => Ok(false),
            Value::Integer(1) => Ok(true),
            other => Err(corrupt(format!("expected a boolean, got {other:?}"))),
        }
    }

    pub fn integer(&mut self) -> Result<i64, StoreError> {
        match self.next()? {
            Value::Integer(n) => Ok(*n),
            other => Err(corrupt(format!("expected an integer, got {other:?}"))),
        }
    }

    pub fn parsed<T, E: Display>(&mut self, parse: impl FnOnce(&'a str) -> Result<T, E>) -> Result<T, StoreError> {
        parse(self.text()?).map_err(corrupt)
    }

    pub fn opt_parsed<T, E: Display>(
        &mut self,
        parse: impl FnOnce(&'a str) -> Result<T, E>,
    ) -> Result<Option<T>, StoreError> {
        self.opt_text()?.map(parse).transpose().map_err(corrupt)
    }
}

/// A stored value this code cannot read (`StoreError::Corrupt`).
pub fn corrupt(detail: impl Display) -> StoreError {
    StoreError::corrupt(detail)
}

/// A count from `SELECT COUNT(*)`: an integer (or, on some backends, a
/// numeric text).
pub fn count(rows: &RowSet) -> Result<u64, StoreError> {
    match rows.rows.first().and_then(|row| row.first()) {
        Some(Value::Integer(n)) => u64::try_from(*n).map_err(corrupt),
        Some(Value::Text(n)) => n.parse().map_err(corrupt),
        other => Err(corrupt(format!("expected a count, got {other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(value: Value) -> RowSet {
        RowSet { columns: vec!["count".into()], rows: vec![vec![value]] }
    }

    #[test]
    fn counts_are_integers_or_numeric_text() {
        assert_eq!(count(&rows(Value::Integer(3))), Ok(3));
        assert_eq!(count(&rows(text("7"))), Ok(7));
        for bad in [Value::Integer(-1), text("x"), Value::Null] {
            assert!(matches!(count(&rows(bad)), Err(StoreError::Corrupt(_))));
        }
    }

    #[test]
    fn cells_read_in_order_and_report_what_is_wrong() {
        let row = [text("a"), Value::Null, Value::Boolean(true), Value::Integer(4)];
        let mut cells = Cells::new(&row);
        assert_eq!(cells.text(), Ok("a"));
        assert_eq!(cells.opt_text(), Ok(None));
        assert_eq!(cells.boolean(), Ok(true));
        assert_eq!(cells.integer(), Ok(4));
        assert_eq!(cells.text(), Err(StoreError::Corrupt("a column is missing".into())));
        let mut cells = Cells::new(&row[1..]);
        assert_eq!(cells.text(), Err(StoreError::Corrupt("unexpected NULL".into())));
    }
}
