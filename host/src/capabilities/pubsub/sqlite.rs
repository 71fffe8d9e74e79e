//! Durable pub/sub on SQLite: an append-only log of messages, a cursor per
//! subscription, at-least-once delivery in publish order with in-place
//! retries (exponential backoff), then the subscription's dead-letter topic.

use super::{Message, Next, PubSub, PubSubError, Sink, Subscription};
use crate::capabilities::sqlite_file::{blocking, is_busy, migrate, now_millis, open, Checkpointer};
use async_trait::async_trait;
use rusqlite::{params, Connection};
use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::sync::watch;

const BATCH: i64 = 128;
/// The log's schema history (host-owned; `PRAGMA user_version`).
const SCHEMA_V1: &str = "CREATE TABLE IF NOT EXISTS message (
                 offset        INTEGER PRIMARY KEY AUTOINCREMENT,
                 topic         TEXT NOT NULL,
                 event_id      TEXT NOT NULL,
                 partition_key TEXT NOT NULL,
                 event         TEXT NOT NULL,
                 published_at  INTEGER NOT NULL,
                 -- for dead letters: the subscription that gave up, and why
                 origin        TEXT NOT NULL DEFAULT '',
                 reason        TEXT,
                 UNIQUE (topic, event_id, origin)
             );
             CREATE INDEX IF NOT EXISTS message_topic ON message (topic, offset);
             CREATE TABLE IF NOT EXISTS cursor (
                 subscription TEXT PRIMARY KEY,
                 topic        TEXT NOT NULL,
                 position     INTEGER NOT NULL
             );";
/// How often an idle subscription looks for messages it was not woken for
/// (published by another process on the same file).
const IDLE_POLL: Duration = Duration::from_secs(1);

pub struct SqlitePubSub {
    conn: Arc<Mutex<Connection>>,
    /// Bumped after every publish, to wake idle subscriptions at once.
    published: watch::Sender<u64>,
    _checkpointer: Checkpointer,
}

impl SqlitePubSub {
    pub fn open(path: PathBuf) -> anyhow::Result<Self> {
        let mut conn = open(&path)?;
        migrate(&mut conn, &[SCHEMA_V1])?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            published: watch::channel(0).0,
            _checkpointer: Checkpointer::start(&path)?,
        })
    }

    async fn run<T: Send + 'static>(
        conn: &Arc<Mutex<Connection>>,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, PubSubError> {
        let conn = conn.clone();
        blocking(move || f(&mut conn.lock().unwrap())).await.map_err(|e| {
            if is_busy(&e) {
                PubSubError::Unavailable(e.to_string())
            } else {
                PubSubError::Other(e.to_string())
            }
        })
    }

    /// Lists the dead letters of a topic's subscriptions, oldest first.
    pub async fn dead_letters(&self, dead_letter_topic: &str) -> Result<Vec<DeadLetter>, PubSubError> {
        let topic = dead_letter_topic.to_owned();
        Self::run(&self.conn, move |c| {
            let mut stmt = c.prepare(
                "SELECT event_id, origin, reason, event, published_at FROM message
                 WHERE topic = ?1 ORDER BY offset",
            )?;
            let rows = stmt.query_map([topic], |r| {
                Ok(DeadLetter {
                    event_id: r.get(0)?,
                    subscription: r.get(1)?,
                    reason: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                    event: r.get(3)?,
                    at_millis: r.get(4)?,
                })
            })?;
            rows.collect()
        })
        .await
    }
}

/// An event a subscription gave up on.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeadLetter {
    pub event_id: String,
    pub subscription: String,
    pub reason: String,
    pub event: String,
    pub at_millis: i64,
}

fn insert(c: &Connection, m: &Message, origin: &str, reason: Option<&str>) -> rusqlite::Result<usize> {
    c.prepare_cached(
        "INSERT OR IGNORE INTO message (topic, event_id, partition_key, event, published_at, origin, reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![m.topic, m.event_id, m.partition_key, m.event, now_millis(), origin, reason])
}

#[async_trait]
impl PubSub for SqlitePubSub {
    async fn publish(&self, messages: &[Message]) -> Result<(), PubSubError> {
        let messages = messages.to_vec();
        Self::run(&self.conn, move |c| {
            let tx = c.transaction()?;
            for m in &messages {
                insert(&tx, m, "", None)?;
            }
            tx.commit()
        })
        .await?;
        self.published.send_modify(|n| *n += 1);
        Ok(())
    }

    fn subscribe(&self, subscription: Subscription, sink: Arc<dyn Sink>) -> Result<(), PubSubError> {
        let consumer = Consumer { conn: self.conn.clone(), published: self.published.clone(), subscription, sink };
        tokio::spawn(consumer.run());
        Ok(())
    }

    async fn ping(&self) -> Result<(), PubSubError> {
        Self::run(&self.conn, |c| c.query_row("SELECT 1", [], |_| Ok(()))).await
    }
}

/// One subscription's delivery loop.
struct Consumer {
    conn: Arc<Mutex<Connection>>,
    published: watch::Sender<u64>,
    subscription: Subscription,
    sink: Arc<dyn Sink>,
}

impl Consumer {
    async fn run(self) {
        let mut wake = self.published.subscribe();
        loop {
            wake.borrow_and_update();
            match self.next_batch().await {
                Ok(batch) if batch.is_empty() => {
                    let _ = tokio::time::timeout(IDLE_POLL, wake.changed()).await;
                }
                Ok(batch) => {
                    // The cursor moves once per batch (and with each dead
                    // letter): after a crash at most one batch is redelivered.
                    let mut delivered = None;
                    for (offset, message) in batch {
                        match self.deliver(&message).await {
                            None => delivered = Some(offset),
                            Some(reason) => {
                                self.advance(offset, Some((message, reason))).await;
                                delivered = None;
                            }
                        }
                    }
                    if let Some(offset) = delivered {
                        self.advance(offset, None).await;
                    }
                }
                Err(e) => {
                    tracing::error!(subscription = %self.subscription.name, error = %e, "reading the log");
                    tokio::time::sleep(IDLE_POLL).await;
                }
            }
        }
    }

    async fn next_batch(&self) -> Result<Vec<(i64, Message)>, PubSubError> {
        let (name, topic) = (self.subscription.name.clone(), self.subscription.topic.clone());
        SqlitePubSub::run(&self.conn, move |c| {
            c.execute(
                "INSERT OR IGNORE INTO cursor (subscription, topic, position) VALUES (?1, ?2, 0)",
                params![name, topic],
            )?;
            let position: i64 =
                c.query_row("SELECT position FROM cursor WHERE subscription = ?1", [&name], |r| r.get(0))?;
            let mut stmt = c.prepare_cached(
                "SELECT offset, event_id, partition_key, event FROM message
                 WHERE topic = ?1 AND offset > ?2 AND origin = '' ORDER BY offset LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![topic, position, BATCH], |r| {
                Ok((
                    r.get(0)?,
                    Message { event_id: r.get(1)?, topic: topic.clone(), partition_key: r.get(2)?, event: r.get(3)? },
                ))
            })?;
            rows.collect()
        })
        .await
    }

    /// Delivers one message until it succeeds, is dropped or runs out of
    /// attempts; returns why it must be dead-lettered, if it must.
    async fn deliver(&self, message: &Message) -> Option<String> {
        let sub = &self.subscription;
        let mut backoff = sub.initial_backoff;
        let mut attempt = 1;
        let reason = loop {
            match sub.next(self.sink.deliver(&sub.topic, message, attempt).await, attempt) {
                Next::Done => break None,
                Next::DeadLetter(reason) => break Some(reason),
                Next::Retry => {
                    tracing::debug!(subscription = %sub.name, event_id = %message.event_id, attempt, ?backoff, "redelivering");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(sub.max_backoff);
                    attempt += 1;
                }
            }
        };
        if let Some(reason) = &reason {
            sub.dead_lettered(&message.event_id, reason);
        }
        reason
    }

    /// Moves the cursor (and files a dead letter) in one transaction, retrying
    /// until the database takes it: a lost cursor update only means one
    /// redelivery, but a lost dead letter would lose the event.
    async fn advance(&self, offset: i64, dead_letter: Option<(Message, String)>) {
        let sub = &self.subscription;
        loop {
            let (name, dead_letter, dlq) = (sub.name.clone(), dead_letter.clone(), sub.dead_letter_topic.clone());
            let saved = SqlitePubSub::run(&self.conn, move |c| {
                let tx = c.transaction()?;
                if let Some((message, reason)) = dead_letter {
                    let letter = Message { topic: dlq, ..message };
                    insert(&tx, &letter, &name, Some(&reason))?;
                }
                tx.execute("UPDATE cursor SET position = ?2 WHERE subscription = ?1", params![name, offset])?;
                tx.commit()
            })
            .await;
            match saved {
                Ok(()) => return,
                Err(e) => {
                    tracing::error!(subscription = %sub.name, error = %e, "saving the cursor");
                    tokio::time::sleep(IDLE_POLL).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::pubsub::Outcome;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// Fails every event whose payload says "fail", records the others.
    struct Recorder {
        seen: Mutex<Vec<String>>,
        attempts: AtomicU32,
    }

    #[async_trait]
    impl Sink for Recorder {
        async fn deliver(&self, _topic: &str, message: &Message, _attempt: u32) -> Outcome {
            self.attempts.fetch_add(1, Ordering::SeqCst);
            match message.event.as_str() {
                "fail" => Outcome::Retry,
                "drop" => Outcome::Drop,
                _ => {
                    self.seen.lock().unwrap().push(message.event_id.clone());
                    Outcome::Success
                }
            }
        }
    }

    fn message(id: &str, event: &str) -> Message {
        Message { event_id: id.into(), topic: "t".into(), partition_key: "u".into(), event: event.into() }
    }

    fn subscription() -> Subscription {
        Subscription {
            name: "s".into(),
            topic: "t".into(),
            dead_letter_topic: "t-dlq".into(),
            max_attempts: 3,
            initial_backoff: Duration::from_millis(1),
            per_replica: false,
            max_backoff: Duration::from_millis(4),
        }
    }

    #[tokio::test]
    async fn delivers_in_order_once_retries_then_dead_letters() {
        let dir = tempfile::tempdir().unwrap();
        let bus = SqlitePubSub::open(dir.path().join("pubsub.db")).unwrap();
        let sink = Arc::new(Recorder { seen: Mutex::new(vec![]), attempts: AtomicU32::new(0) });
        bus.publish(&[message("1", "ok"), message("2", "fail"), message("3", "drop")]).await.unwrap();
        // Publishing the same event again (an outbox relay replay) is a no-op.
        bus.publish(&[message("1", "ok"), message("4", "ok")]).await.unwrap();
        bus.subscribe(subscription(), sink.clone()).unwrap();

        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while bus.dead_letters("t-dlq").await.unwrap().len() < 2 || sink.seen.lock().unwrap().len() < 2 {
            assert!(tokio::time::Instant::now() < deadline, "delivery timed out");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(*sink.seen.lock().unwrap(), vec!["1", "4"]);
        // 1 + 3 (retried) + 1 (dropped) + 1
        assert_eq!(sink.attempts.load(Ordering::SeqCst), 6);
        let letters = bus.dead_letters("t-dlq").await.unwrap();
        assert_eq!(letters.iter().map(|l| l.event_id.as_str()).collect::<Vec<_>>(), vec!["2", "3"]);
        assert!(letters[0].reason.contains("3 attempts"), "{}", letters[0].reason);
    }

    /// Runs `f` on a runtime of its own that is then shut down, killing the
    /// consumer tasks it spawned: a process restart, in miniature.
    fn in_process<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Runtime::new().unwrap().block_on(f)
    }

    /// Waits (at most 5 s) until `sink` saw `n` events and the
    /// subscription's cursor stands at `offset`.
    async fn wait_for(bus: &SqlitePubSub, sink: &Recorder, n: usize, offset: i64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let position = SqlitePubSub::run(&bus.conn, |c| {
                c.query_row("SELECT coalesce(max(position), 0) FROM cursor WHERE subscription = 's'", [], |r| {
                    r.get::<_, i64>(0)
                })
            })
            .await
            .unwrap();
            let seen = sink.seen.lock().unwrap().len();
            if seen >= n && position >= offset {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "saw {seen} of {n} events, cursor at {position} of {offset}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[test]
    fn a_restarted_subscription_resumes_after_its_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pubsub.db");
        let first = Arc::new(Recorder { seen: Mutex::new(vec![]), attempts: AtomicU32::new(0) });
        in_process(async {
            let bus = SqlitePubSub::open(path.clone()).unwrap();
            bus.publish(&[message("1", "ok"), message("2", "ok")]).await.unwrap();
            bus.subscribe(subscription(), first.clone()).unwrap();
            wait_for(&bus, &first, 2, 2).await;
        });
        let second = Arc::new(Recorder { seen: Mutex::new(vec![]), attempts: AtomicU32::new(0) });
        in_process(async {
            let bus = SqlitePubSub::open(path.clone()).unwrap();
            bus.publish(&[message("3", "ok")]).await.unwrap();
            bus.subscribe(subscription(), second.clone()).unwrap();
            wait_for(&bus, &second, 1, 3).await;
        });
        assert_eq!(*first.seen.lock().unwrap(), vec!["1", "2"]);
        assert_eq!(*second.seen.lock().unwrap(), vec!["3"]);
    }
}
