//! The schema a database needs before the platform runs on it, applied when
//! the instance first opens it (under Spin nothing migrates before the first
//! request): the adapter's state table, then the host's history and the
//! application's, each version once in a transaction of its own, recorded in
//! the tables the host records them in (`host/src/capabilities/sql/migrate.rs`),
//! so that a todo-host opening the same database later finds them applied.

use crate::conn::Conn;
use crate::fermyon::spin::sqlite::{Error, Value};
use crate::{state, statement};

mod histories {
    include!(concat!(env!("OUT_DIR"), "/histories.rs"));
}

/// Each history: the table recording it, and its versions in order.
const HISTORIES: [(&str, &[(&str, &str)]); 2] =
    [("todo_host_migration", histories::HOST), ("schema_migration", histories::APP)];

pub fn apply(conn: &Conn) -> Result<(), Error> {
    if up_to_date(conn) {
        return Ok(());
    }
    conn.atomically(|_, e| e, |c| script(c, state::SCHEMA))?;
    for (table, versions) in HISTORIES {
        conn.run(
            &format!("CREATE TABLE IF NOT EXISTS {table} (version TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"),
            &[],
        )?;
        for (version, sql) in versions {
            conn.atomically(|_, e| e, |c| apply_version(c, table, version, sql))?;
        }
    }
    Ok(())
}

/// Whether every version is recorded and the state table exists: one read,
/// the common case of every instance after the first.
fn up_to_date(conn: &Conn) -> bool {
    let recorded = conn.run(
        "SELECT version FROM todo_host_migration UNION ALL SELECT version FROM schema_migration \
         UNION ALL SELECT 'table ' || name FROM sqlite_master WHERE type = 'table' AND name = $1",
        &[Value::Text(state::TABLE.into())],
    );
    let Ok(recorded) = recorded else { return false };
    let recorded: Vec<String> = recorded
        .rows
        .into_iter()
        .filter_map(|r| match r.values.into_iter().next() {
            Some(Value::Text(version)) => Some(version),
            _ => None,
        })
        .collect();
    let wanted = HISTORIES.iter().flat_map(|(_, versions)| versions.iter().map(|(v, _)| v.to_string()));
    recorded.contains(&format!("table {}", state::TABLE)) && wanted.into_iter().all(|v| recorded.contains(&v))
}

fn apply_version(conn: &Conn, table: &str, version: &str, sql: &str) -> Result<(), Error> {
    let applied = conn.run(&format!("SELECT 1 FROM {table} WHERE version = $1"), &[Value::Text(version.into())])?;
    if !applied.rows.is_empty() {
        return Ok(());
    }
    script(conn, sql)?;
    // The host's format for applied_at (chrono's default RFC 3339).
    let now = chrono::Utc::now().to_rfc3339();
    conn.run(
        &format!("INSERT INTO {table} (version, applied_at) VALUES ($1, $2)"),
        &[Value::Text(version.into()), Value::Text(now)],
    )
    .map(drop)
}

/// Runs a script statement by statement (Spin's `execute` runs one).
fn script(conn: &Conn, sql: &str) -> Result<(), Error> {
    statement::split(sql).iter().try_for_each(|s| conn.run(s, &[]).map(drop))
}
