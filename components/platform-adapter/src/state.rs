//! `todo:platform/state` in a table of the default database (Spin's
//! key-value store has neither TTLs nor an atomic set-if-absent): expiry as
//! a time in milliseconds, expired rows read as absent, as the host's
//! SQLite store (`host/src/capabilities/state/sqlite.rs`).

use crate::conn::Conn;
use crate::exports::todo::platform::state::{Error, GuestStore, Store as StoreHandle};
use crate::fermyon::spin::sqlite::{self as spin, Value};
use std::rc::Rc;

pub const TABLE: &str = "todo_state";

/// The table, created by `migrate` when missing.
pub const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS todo_state (
                              key        TEXT PRIMARY KEY,
                              value      BLOB NOT NULL,
                              expires_at INTEGER
                          );
                          CREATE INDEX IF NOT EXISTS todo_state_expires ON todo_state (expires_at)
                              WHERE expires_at IS NOT NULL;";

const MAX_KEY_BYTES: usize = 1024;
const UPSERT: &str = "INSERT INTO todo_state (key, value, expires_at) VALUES ($1, $2, $3)
                      ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at";

/// An opened store (the `store` resource): the default database's table.
pub struct Store {
    conn: Rc<Conn>,
}

fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn check_key(key: &str) -> Result<Value, Error> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(Error::InvalidKey(format!("keys are 1 to {MAX_KEY_BYTES} bytes, got {}", key.len())));
    }
    Ok(Value::Text(key.to_owned()))
}

fn expiry(ttl_seconds: Option<u32>) -> Value {
    ttl_seconds.map_or(Value::Null, |s| Value::Integer(now_millis() + i64::from(s) * 1000))
}

fn failed(e: spin::Error) -> Error {
    match e {
        spin::Error::Io(m) if m.contains("locked") || m.contains("busy") || m.contains("unavailable") => {
            Error::Unavailable(m)
        }
        spin::Error::Io(m) => Error::Other(m),
        other => Error::Other(format!("{other:?}")),
    }
}

impl GuestStore for Store {
    fn open(label: String) -> Result<StoreHandle, Error> {
        if label != "default" {
            return Err(Error::NoSuchStore(label));
        }
        let conn = Conn::open(&label).map_err(|e| match e {
            spin::Error::AccessDenied => {
                Error::AccessDenied("the default database is not granted (sqlite_databases in spin.toml)".into())
            }
            e => failed(e),
        })?;
        // What the host's background purger does, once per instance here.
        let purged = conn.run("DELETE FROM todo_state WHERE expires_at <= $1", &[Value::Integer(now_millis())]);
        purged.map_err(failed)?;
        Ok(StoreHandle::new(Store { conn }))
    }

    fn get(&self, key: String) -> Result<Option<Vec<u8>>, Error> {
        let rows = self
            .conn
            .run(
                "SELECT value FROM todo_state WHERE key = $1 AND (expires_at IS NULL OR expires_at > $2)",
                &[check_key(&key)?, Value::Integer(now_millis())],
            )
            .map_err(failed)?;
        match rows.rows.into_iter().next().and_then(|r| r.values.into_iter().next()) {
            None => Ok(None),
            Some(Value::Blob(value)) => Ok(Some(value)),
            Some(other) => Err(Error::Other(format!("state value of {key:?} is {other:?}, not bytes"))),
        }
    }

    fn set(&self, key: String, value: Vec<u8>, ttl_seconds: Option<u32>) -> Result<(), Error> {
        let params = [check_key(&key)?, Value::Blob(value), expiry(ttl_seconds)];
        self.conn.run(UPSERT, &params).map(drop).map_err(failed)
    }

    fn delete(&self, key: String) -> Result<(), Error> {
        self.conn.run("DELETE FROM todo_state WHERE key = $1", &[check_key(&key)?]).map(drop).map_err(failed)
    }

    fn set_if_absent(&self, key: String, value: Vec<u8>, ttl_seconds: Option<u32>) -> Result<bool, Error> {
        // One statement, so atomic: it inserts, or overwrites only an expired
        // row; RETURNING says which (Spin 2.0 reports no change count).
        let statement =
            format!("{UPSERT} WHERE todo_state.expires_at IS NOT NULL AND todo_state.expires_at <= $4 RETURNING 1");
        let params = [check_key(&key)?, Value::Blob(value), expiry(ttl_seconds), Value::Integer(now_millis())];
        let rows = self.conn.run(&statement, &params).map_err(failed)?;
        Ok(!rows.rows.is_empty())
    }
}
