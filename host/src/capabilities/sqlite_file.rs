//! What every SQLite file of the embedded default shares: opening it (WAL,
//! `synchronous = NORMAL`), checkpointing it off the writers' path, running
//! blocking work off the async threads, and the schema history of a file
//! the host owns (`PRAGMA user_version`).

use rusqlite::Connection;
use std::{
    path::Path,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

/// How long a connection waits for a lock another process holds.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens a database file in WAL mode. `synchronous = NORMAL` keeps every
/// committed transaction across a process crash (SIGKILL); only an OS crash
/// or power loss may lose the last commits. Commits never checkpoint: a
/// `Checkpointer` does, off the writers' path.
pub(crate) fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Components run dozens of distinct statements; the default cache (16)
    // would keep re-preparing them.
    conn.set_prepared_statement_cache_capacity(256);
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA wal_autocheckpoint = 0;",
    )?;
    Ok(conn)
}

/// Checkpoints a database's WAL from a thread of its own, for as long as it
/// lives. SQLite would otherwise checkpoint inside whichever commit takes
/// the WAL past 1000 pages, fsyncs included, stalling that writer and every
/// one queued behind it for milliseconds.
pub(crate) struct Checkpointer(Arc<AtomicBool>);

const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

impl Checkpointer {
    pub fn start(path: &Path) -> rusqlite::Result<Self> {
        let conn = open(path)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        std::thread::Builder::new()
            .name(format!("checkpoint {name}"))
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    std::thread::sleep(CHECKPOINT_EVERY);
                    // PASSIVE: copies what no reader still needs, never waits for a lock.
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                        tracing::warn!(database = %name, error = %e, "checkpoint failed; retrying");
                    }
                }
            })
            .expect("spawning a checkpoint thread");
        Ok(Self(stop))
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Runs blocking SQLite work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("sqlite worker panicked")
}

/// Whether SQLite gave up waiting for a lock (a retry may succeed).
pub(crate) fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
}

pub(crate) fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Brings a host-owned database file to the newest of `versions` (its
/// schema history, oldest first), each version once, recorded in
/// `PRAGMA user_version`.
pub(crate) fn migrate(conn: &mut Connection, versions: &[&str]) -> rusqlite::Result<()> {
    let applied: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (n, script) in versions.iter().enumerate().skip(applied) {
        let tx = conn.transaction()?;
        tx.execute_batch(script)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", n + 1))?;
        tx.commit()?;
    }
    Ok(())
}
