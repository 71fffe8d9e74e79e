//! `state` on SQLite: one table, expiry as a timestamp; expired rows read as
//! absent and are purged in the background.

use super::{State, StateError};
use crate::capabilities::sqlite_file::{blocking, is_busy, migrate, now_millis, open, Checkpointer};
use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};
use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};

/// The store's schema history (host-owned; `PRAGMA user_version`).
const SCHEMA_V1: &str = "CREATE TABLE IF NOT EXISTS kv (
                 key        TEXT PRIMARY KEY,
                 value      BLOB NOT NULL,
                 expires_at INTEGER
             );
             CREATE INDEX IF NOT EXISTS kv_expires ON kv (expires_at) WHERE expires_at IS NOT NULL;";

/// Milliseconds since the epoch: the wall clock, or a test's own.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

pub struct SqliteState {
    conn: Arc<Mutex<Connection>>,
    clock: Clock,
    _checkpointer: Checkpointer,
}

impl SqliteState {
    pub fn open(path: PathBuf) -> anyhow::Result<Self> {
        Self::open_with_clock(path, Arc::new(now_millis))
    }

    /// Opens the store with `clock` deciding what has expired.
    pub fn open_with_clock(path: PathBuf, clock: Clock) -> anyhow::Result<Self> {
        let mut conn = open(&path)?;
        migrate(&mut conn, &[SCHEMA_V1])?;
        Ok(Self { conn: Arc::new(Mutex::new(conn)), clock, _checkpointer: Checkpointer::start(&path)? })
    }

    fn expiry(&self, ttl: Option<Duration>) -> Option<i64> {
        ttl.map(|t| (self.clock)() + t.as_millis() as i64)
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StateError> {
        let conn = self.conn.clone();
        blocking(move || f(&conn.lock().unwrap())).await.map_err(|e| {
            if is_busy(&e) {
                StateError::Unavailable(e.to_string())
            } else {
                StateError::Other(e.to_string())
            }
        })
    }

    /// Deletes expired keys every `every`, for as long as the process runs.
    pub fn spawn_purger(self: &Arc<Self>, every: Duration) {
        let this = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let Some(this) = this.upgrade() else { return };
                let now = (this.clock)();
                let purged = this.run(move |c| c.execute("DELETE FROM kv WHERE expires_at <= ?1", [now])).await;
                if let Err(e) = purged {
                    tracing::warn!(error = %e, "purging expired state keys");
                }
            }
        });
    }
}

#[async_trait]
impl State for SqliteState {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        let (key, now) = (key.to_owned(), (self.clock)());
        self.run(move |c| {
            c.prepare_cached("SELECT value FROM kv WHERE key = ?1 AND (expires_at IS NULL OR expires_at > ?2)")?
                .query_row(params![key, now], |r| r.get(0))
                .optional()
        })
        .await
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Option<Duration>) -> Result<(), StateError> {
        let (key, expires) = (key.to_owned(), self.expiry(ttl));
        self.run(move |c| {
            c.prepare_cached(
                "INSERT INTO kv (key, value, expires_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
            )?
            .execute(params![key, value, expires])
            .map(|_| ())
        })
        .await
    }

    async fn delete(&self, key: &str) -> Result<(), StateError> {
        let key = key.to_owned();
        self.run(move |c| c.prepare_cached("DELETE FROM kv WHERE key = ?1")?.execute([key]).map(|_| ())).await
    }

    async fn set_if_absent(&self, key: &str, value: Vec<u8>, ttl: Option<Duration>) -> Result<bool, StateError> {
        let (key, expires, now) = (key.to_owned(), self.expiry(ttl), (self.clock)());
        // One statement, so atomic: it inserts, or overwrites only an expired row.
        self.run(move |c| {
            c.prepare_cached(
                "INSERT INTO kv (key, value, expires_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
                 WHERE kv.expires_at IS NOT NULL AND kv.expires_at <= ?4",
            )?
            .execute(params![key, value, expires, now])
            .map(|changed| changed == 1)
        })
        .await
    }

    async fn ping(&self) -> Result<(), StateError> {
        self.run(|c| c.query_row("SELECT 1", [], |_| Ok(()))).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::atomic::{AtomicI64, Ordering};

    #[tokio::test]
    async fn set_if_absent_is_exclusive_and_respects_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let now = Arc::new(AtomicI64::new(1_000_000));
        let clock = now.clone();
        let state =
            SqliteState::open_with_clock(dir.path().join("state.db"), Arc::new(move || clock.load(Ordering::SeqCst)));
        let state = Arc::new(state.unwrap());
        let racers = (0..16).map(|i| {
            let state = state.clone();
            tokio::spawn(async move { state.set_if_absent("k", vec![i], None).await.unwrap() })
        });
        let wins = futures::future::join_all(racers).await.into_iter().filter(|r| *r.as_ref().unwrap()).count();
        assert_eq!(wins, 1);

        assert!(state.set_if_absent("short", b"a".to_vec(), Some(Duration::from_millis(50))).await.unwrap());
        assert!(!state.set_if_absent("short", b"b".to_vec(), None).await.unwrap());
        now.fetch_add(49, Ordering::SeqCst);
        assert_eq!(state.get("short").await.unwrap(), Some(b"a".to_vec()), "not expired 1 ms before its TTL");
        now.fetch_add(1, Ordering::SeqCst);
        assert_eq!(state.get("short").await.unwrap(), None, "expired at its TTL");
        assert!(state.set_if_absent("short", b"c".to_vec(), None).await.unwrap());
        assert_eq!(state.get("short").await.unwrap(), Some(b"c".to_vec()));
        state.delete("short").await.unwrap();
        assert_eq!(state.get("short").await.unwrap(), None);
    }
}
