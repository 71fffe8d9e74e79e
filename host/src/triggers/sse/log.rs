//! The stream log: every `task-updates` event this replica received, with a
//! sequence number clients resume from (`Last-Event-ID`). SQLite, durable,
//! trimmed to the newest `RETAINED` events.

use crate::capabilities::sqlite_file::{blocking, migrate, open, Checkpointer};
use rusqlite::{params, Connection, OptionalExtension};
use std::{
    path::Path,
    sync::{Arc, Mutex},
};

/// The log's schema history (host-owned; `PRAGMA user_version`).
const SCHEMA_V1: &str = "CREATE TABLE IF NOT EXISTS entry (
                 seq        INTEGER PRIMARY KEY AUTOINCREMENT,
                 event_id   TEXT NOT NULL UNIQUE,
                 user_id    TEXT NOT NULL,
                 event_type TEXT NOT NULL,
                 data       TEXT NOT NULL
             );
             CREATE INDEX IF NOT EXISTS entry_user ON entry (user_id, seq);
             CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);";

/// Events kept for replay; an older `Last-Event-ID` gets a resync.
pub const RETAINED: i64 = 100_000;

/// One event as streams send it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub seq: i64,
    pub user_id: String,
    pub event_type: String,
    pub data: String,
}

#[derive(Clone)]
pub struct StreamLog {
    conn: Arc<Mutex<Connection>>,
    /// Random per log file: ids from another log (another replica, a wiped
    /// data directory) are recognized and answered with a resync.
    pub log_id: String,
    _checkpointer: Arc<Checkpointer>,
}

impl StreamLog {
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let mut conn = open(path)?;
        migrate(&mut conn, &[SCHEMA_V1])?;
        let fresh = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
        conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('log_id', ?1)", [fresh])?;
        let log_id = conn.query_row("SELECT value FROM meta WHERE key = 'log_id'", [], |r| r.get(0))?;
        Ok(Self { conn: Arc::new(Mutex::new(conn)), log_id, _checkpointer: Arc::new(Checkpointer::start(path)?) })
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> rusqlite::Result<T> {
        let conn = self.conn.clone();
        blocking(move || f(&conn.lock().unwrap())).await
    }

    /// Appends an event; a redelivered one (same event id) is not appended
    /// again and yields None.
    pub async fn append(
        &self,
        event_id: &str,
        user_id: &str,
        event_type: &str,
        data: &str,
    ) -> rusqlite::Result<Option<Entry>> {
        let (event_id, user_id, event_type, data) =
            (event_id.to_owned(), user_id.to_owned(), event_type.to_owned(), data.to_owned());
        self.run(move |c| {
            let inserted = c
                .prepare_cached(
                    "INSERT OR IGNORE INTO entry (event_id, user_id, event_type, data) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![event_id, user_id, event_type, data])?;
            Ok((inserted == 1).then(|| Entry { seq: c.last_insert_rowid(), user_id, event_type, data }))
        })
        .await
    }

    /// The user's events after `seq`, oldest first, at most `limit`.
    pub async fn after(&self, user_id: &str, seq: i64, limit: i64) -> rusqlite::Result<Vec<Entry>> {
        let user_id = user_id.to_owned();
        self.run(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT seq, event_type, data FROM entry WHERE user_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![user_id, seq, limit], |r| {
                Ok(Entry { seq: r.get(0)?, user_id: user_id.clone(), event_type: r.get(1)?, data: r.get(2)? })
            })?;
            rows.collect()
        })
        .await
    }

    /// The oldest retained sequence number (None when the log is empty).
    pub async fn oldest(&self) -> rusqlite::Result<Option<i64>> {
        self.run(|c| c.query_row("SELECT min(seq) FROM entry", [], |r| r.get(0)).optional().map(Option::flatten)).await
    }

    /// The newest sequence number ever assigned (0 when none).
    pub async fn newest(&self) -> rusqlite::Result<i64> {
        self.run(|c| {
            c.query_row("SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'entry'", [], |r| r.get(0))
        })
        .await
        .or(Ok(0))
    }

    /// Drops all but the newest `RETAINED` events.
    pub async fn trim(&self) -> rusqlite::Result<usize> {
        self.run(|c| c.execute("DELETE FROM entry WHERE seq <= (SELECT max(seq) FROM entry) - ?1", [RETAINED])).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn appends_once_per_event_and_reads_per_user() {
        let dir = tempfile::tempdir().unwrap();
        let log = StreamLog::open(&dir.path().join("streams.db")).unwrap();
        let a1 = log.append("e1", "alice", "sync.task-changed", "{}").await.unwrap().unwrap();
        assert!(log.append("e1", "alice", "sync.task-changed", "{}").await.unwrap().is_none());
        log.append("e2", "bob", "sync.task-changed", "{}").await.unwrap().unwrap();
        let a3 = log.append("e3", "alice", "notification.created", "{}").await.unwrap().unwrap();
        let seqs: Vec<i64> = log.after("alice", 0, 10).await.unwrap().iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![a1.seq, a3.seq]);
        assert_eq!(log.after("alice", a1.seq, 10).await.unwrap(), vec![a3.clone()]);
        assert_eq!(log.oldest().await.unwrap(), Some(a1.seq));
        assert_eq!(log.newest().await.unwrap(), a3.seq);
        let reopened = StreamLog::open(&dir.path().join("streams.db")).unwrap();
        assert_eq!(reopened.log_id, log.log_id);
    }
}
