//! The stream log: every event of the trigger's topic, with a sequence
//! number clients resume from (`Last-Event-ID`). On the embedded default it
//! is the pub/sub log itself (the outbox, whose seq is the sequence number):
//! nothing is copied. With a broker whose log is elsewhere (Dapr), each
//! replica keeps its own in `streams.db`, appended as events arrive and
//! trimmed to the newest `RETAINED`.

use crate::capabilities::pubsub::Message;
use crate::capabilities::sql::{Sql, SqlError, Value};
use crate::capabilities::sqlite_file::{blocking, migrate, open, Checkpointer};
use rusqlite::{params, Connection, OptionalExtension};
use std::{
    path::Path,
    sync::{Arc, Mutex},
};

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("stream log: {0}")]
    File(#[from] rusqlite::Error),
    #[error("event log: {0}")]
    Outbox(#[from] SqlError),
}

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

/// Where a hub's events are kept for replay.
#[derive(Clone)]
pub enum StreamLog {
    /// A file of this replica's own (with a broker whose log is not local).
    Own(OwnLog),
    /// The embedded pub/sub's log, read in place.
    Outbox(OutboxLog),
}

impl StreamLog {
    /// Random per log: ids from another log (another replica, a wiped data
    /// directory) are recognized and answered with a resync.
    pub fn log_id(&self) -> &str {
        match self {
            StreamLog::Own(log) => &log.log_id,
            StreamLog::Outbox(log) => &log.log_id,
        }
    }

    /// The entry a delivered event makes; None for a redelivery (already
    /// streamed). Its own log appends it (once per event id); the outbox
    /// holds it already, at the position it was delivered from.
    pub async fn append(
        &self,
        message: &Message,
        user_id: &str,
        event_type: &str,
        data: &str,
    ) -> Result<Option<Entry>, LogError> {
        match self {
            StreamLog::Own(log) => Ok(log.append(&message.event_id, user_id, event_type, data).await?),
            StreamLog::Outbox(_) => Ok(message.position.map(|seq| Entry {
                seq,
                user_id: user_id.to_owned(),
                event_type: event_type.to_owned(),
                data: data.to_owned(),
            })),
        }
    }

    /// The user's events after `seq`, oldest first, at most `limit`.
    pub async fn after(&self, user_id: &str, seq: i64, limit: i64) -> Result<Vec<Entry>, LogError> {
        match self {
            StreamLog::Own(log) => Ok(log.after(user_id, seq, limit).await?),
            StreamLog::Outbox(log) => Ok(log.after(user_id, seq, limit).await?),
        }
    }

    /// The oldest retained sequence number (None when the log is empty).
    pub async fn oldest(&self) -> Result<Option<i64>, LogError> {
        match self {
            StreamLog::Own(log) => Ok(log.oldest().await?),
            StreamLog::Outbox(log) => Ok(log.oldest().await?),
        }
    }

    /// The newest sequence number ever assigned (0 when none).
    pub async fn newest(&self) -> Result<i64, LogError> {
        match self {
            StreamLog::Own(log) => Ok(log.newest().await?),
            StreamLog::Outbox(log) => Ok(log.newest().await?),
        }
    }
}

#[derive(Clone)]
pub struct OwnLog {
    conn: Arc<Mutex<Connection>>,
    /// Random per log file: ids from another log (another replica, a wiped
    /// data directory) are recognized and answered with a resync.
    pub log_id: String,
    _checkpointer: Arc<Checkpointer>,
}

impl OwnLog {
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

/// The embedded pub/sub's log (the application database's outbox) as a
/// stream log: one topic, its users told apart by the trigger's
/// `user_attribute` (the partition key has a column and an index; any other
/// attribute is read from the envelope). Retention is the pub/sub's.
#[derive(Clone)]
pub struct OutboxLog {
    sql: Arc<dyn Sql>,
    topic: String,
    user_attribute: String,
    log_id: String,
}

impl OutboxLog {
    pub async fn open(sql: Arc<dyn Sql>, topic: &str, user_attribute: &str) -> Result<Self, SqlError> {
        let rows = sql.query("SELECT value FROM todo_host_meta WHERE key = 'log_id'", vec![]).await?;
        let log_id = match rows.rows.first().and_then(|r| r.first()) {
            Some(Value::Text(id)) => id.clone(),
            other => return Err(SqlError::Other(format!("no log id in todo_host_meta: {other:?}"))),
        };
        Ok(Self { sql, topic: topic.to_owned(), user_attribute: user_attribute.to_owned(), log_id })
    }

    async fn after(&self, user_id: &str, seq: i64, limit: i64) -> Result<Vec<Entry>, SqlError> {
        let mut params = vec![
            Value::Text(self.topic.clone()),
            Value::Text(user_id.to_owned()),
            Value::Integer(seq),
            Value::Integer(limit),
        ];
        let indexed = self.user_attribute == "partitionkey";
        let statement = if indexed {
            "SELECT seq, event FROM outbox WHERE topic = $1 AND partition_key = $2 AND seq > $3 ORDER BY seq LIMIT $4"
        } else {
            // The attribute's name as a quoted JSON path key.
            params.push(Value::Text(format!("$.\"{}\"", self.user_attribute.replace('"', ""))));
            "SELECT seq, event FROM outbox WHERE topic = $1 AND seq > $3 AND json_extract(event, $5) = $2
             ORDER BY seq LIMIT $4"
        };
        // Only the partition key has an index: a read by another attribute scans.
        let rows = if indexed {
            self.sql.query_short(statement, params).await?
        } else {
            self.sql.query(statement, params).await?
        };
        let mut entries = Vec::with_capacity(rows.rows.len());
        for row in rows.rows {
            let Ok([Value::Integer(seq), Value::Text(event)]) = <[Value; 2]>::try_from(row) else {
                return Err(SqlError::Other("unexpected outbox row".into()));
            };
            // An event the hub would drop (not a JSON CloudEvent naming its
            // user) is not replayed either.
            if let Some((user_id, event_type, data)) = super::routed(&event, &self.user_attribute) {
                entries.push(Entry { seq, user_id, event_type, data });
            }
        }
        Ok(entries)
    }

    async fn oldest(&self) -> Result<Option<i64>, SqlError> {
        let rows = self
            .sql
            .query_short("SELECT min(seq) FROM outbox WHERE topic = $1", vec![Value::Text(self.topic.clone())])
            .await?;
        Ok(match rows.rows.first().and_then(|r| r.first()) {
            Some(Value::Integer(seq)) => Some(*seq),
            _ => None,
        })
    }

    async fn newest(&self) -> Result<i64, SqlError> {
        let rows = self.sql.query_short("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'", vec![]).await?;
        Ok(match rows.rows.first().and_then(|r| r.first()) {
            Some(Value::Integer(seq)) => *seq,
            _ => 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn appends_once_per_event_and_reads_per_user() {
        let dir = tempfile::tempdir().unwrap();
        let log = OwnLog::open(&dir.path().join("streams.db")).unwrap();
        let a1 = log.append("e1", "alice", "sync.task-changed", "{}").await.unwrap().unwrap();
        assert!(log.append("e1", "alice", "sync.task-changed", "{}").await.unwrap().is_none());
        log.append("e2", "bob", "sync.task-changed", "{}").await.unwrap().unwrap();
        let a3 = log.append("e3", "alice", "notification.created", "{}").await.unwrap().unwrap();
        let seqs: Vec<i64> = log.after("alice", 0, 10).await.unwrap().iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![a1.seq, a3.seq]);
        assert_eq!(log.after("alice", a1.seq, 10).await.unwrap(), vec![a3.clone()]);
        assert_eq!(log.oldest().await.unwrap(), Some(a1.seq));
        assert_eq!(log.newest().await.unwrap(), a3.seq);
        let reopened = OwnLog::open(&dir.path().join("streams.db")).unwrap();
        assert_eq!(reopened.log_id, log.log_id);
    }
}
