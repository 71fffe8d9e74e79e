//! The embedded default: every backend on SQLite files in the data
//! directory, so a local run needs no server.

mod pubsub;
mod sql;
mod state;

pub use pubsub::SqlitePubSub;
pub use sql::SqliteSql;
pub use state::SqliteState;

use rusqlite::Connection;
use std::path::Path;

/// Opens a database file in WAL mode. `synchronous = NORMAL` keeps every
/// committed transaction across a process crash (SIGKILL); only an OS crash
/// or power loss may lose the last commits.
pub(crate) fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;",
    )?;
    Ok(conn)
}

/// Runs blocking SQLite work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("sqlite worker panicked")
}

/// Whether SQLite gave up waiting for a lock (a retry may succeed).
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
}

fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
