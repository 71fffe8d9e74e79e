//! What the SQL tests share: the real schema in an in-memory SQLite, and
//! the domain's SQL parameters as SQLite values.

use rusqlite::{types::Value, Connection};
use todo_domain::SqlParam;

/// A database with the application's schema (the SQLite migrations).
pub fn schema() -> Connection {
    let db = Connection::open_in_memory().unwrap();
    db.execute_batch(include_str!("../../../../migrations/sqlite/0001_init.sql")).unwrap();
    db
}

pub fn to_sqlite(param: SqlParam) -> Value {
    match param {
        SqlParam::Text(text) => Value::Text(text),
        SqlParam::Integer(n) => Value::Integer(n),
        SqlParam::Boolean(b) => Value::Integer(i64::from(b)),
    }
}
