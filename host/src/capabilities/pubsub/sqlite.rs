//! The embedded pub/sub: the `outbox` table of the application's SQLite
//! database is the log. A guest's transaction writes its events there once;
//! each subscription is a cursor over it (`pubsub_cursor`), delivering at
//! least once in publish order (the seq order: SQLite has one writer), with
//! in-place retries (exponential backoff), then a dead letter. No relay: the
//! consumers read the rows where the transaction put them. Other processes
//! may share the file (append to it, consume other subscriptions): an idle
//! subscription notices their appends by polling the log's end.

use super::{Message, Next, PubSub, PubSubError, Resume, Sink, Subscription};
use crate::capabilities::sql::{Sql, SqlError, Value};
use crate::capabilities::sqlite_file::now_millis;
use async_trait::async_trait;
use std::{
    collections::HashMap,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};
use tokio::sync::watch;

const BATCH: i64 = 128;
/// How often the log's end is read for appends no wake-up announced
/// (another process's, or a commit in this one that raced the wake-up).
const POLL: Duration = Duration::from_millis(20);
/// The events kept per topic for replay (SSE `Last-Event-ID`) once every
/// subscription has passed them.
pub const RETAINED: i64 = 100_000;
/// A cursor that has not moved for this long (a removed subscription, a
/// replica gone) no longer holds retention back.
const STALE_CURSOR: Duration = Duration::from_secs(7 * 24 * 3600);
const TRIM_EVERY: Duration = Duration::from_secs(3600);
/// Rows deleted per trimming statement, so the writer is never held long.
const TRIM_CHUNK: i64 = 10_000;

pub struct SqlitePubSub {
    /// The application's default database, where the outbox lives; writes
    /// (cursors, dead letters) queue for its one writer like any other.
    sql: Arc<dyn Sql>,
    /// Per topic, what its idle consumers wait on to read the log again.
    appended: Arc<Appended>,
    /// Started with the first subscription: the poller and the trimmer.
    started: OnceLock<()>,
}

impl SqlitePubSub {
    /// The log in `sql`, which must be a SQLite database with the host's
    /// migrations applied.
    pub fn new(sql: Arc<dyn Sql>) -> Self {
        Self { sql, appended: Arc::default(), started: OnceLock::new() }
    }

    /// Wakes the idle subscriptions of `topic`: a commit has appended to it.
    pub fn wake(&self, topic: &str) {
        self.appended.wake(topic);
    }

    /// Polls the log's end and trims it, for as long as the process runs.
    fn start(&self) {
        let (sql, appended) = (self.sql.clone(), self.appended.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(POLL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut known = 0;
            loop {
                tick.tick().await;
                match newest(sql.as_ref()).await {
                    // Which topics grew is not known here: all look again.
                    Ok(seq) if seq > known => {
                        known = seq;
                        appended.wake_all();
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "reading the end of the event log"),
                }
            }
        });
        let sql = self.sql.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(TRIM_EVERY);
            loop {
                every.tick().await;
                match trim(sql.as_ref()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(events = n, "trimmed the event log"),
                    Err(e) => tracing::warn!(error = %e, "trimming the event log"),
                }
            }
        });
    }
}

fn unavailable(e: SqlError) -> PubSubError {
    match e {
        SqlError::Unavailable(e) => PubSubError::Unavailable(e),
        e => PubSubError::Other(e.to_string()),
    }
}

/// The newest seq in the log (0 when empty).
async fn newest(sql: &dyn Sql) -> Result<i64, SqlError> {
    let rows = sql.query_short("SELECT coalesce(max(seq), 0) FROM outbox", vec![]).await?;
    Ok(match rows.rows.first().and_then(|r| r.first()) {
        Some(Value::Integer(seq)) => *seq,
        _ => 0,
    })
}

/// Deletes what retention allows: per topic, all but the newest `RETAINED`
/// events, and of those only what every live cursor of the topic has passed.
/// The bounds are read first, off the writer; each delete is one chunk, so
/// a guest's write never waits behind a long one. Returns how many went.
pub async fn trim(sql: &dyn Sql) -> Result<u64, SqlError> {
    let stale = now_millis() - STALE_CURSOR.as_millis() as i64;
    let bounds = sql
        .query(
            "SELECT o.topic, max(o.seq) - $1,
                    (SELECT min(c.position) FROM pubsub_cursor c WHERE c.topic = o.topic AND c.moved_at >= $2)
             FROM outbox o GROUP BY o.topic",
            vec![Value::Integer(RETAINED), Value::Integer(stale)],
        )
        .await?;
    let mut total = 0;
    for row in bounds.rows {
        let (topic, retained, passed) = match <[Value; 3]>::try_from(row) {
            Ok([topic, Value::Integer(retained), Value::Integer(passed)]) => (topic, retained, passed),
            Ok([topic, Value::Integer(retained), Value::Null]) => (topic, retained, i64::MAX),
            other => return Err(SqlError::Other(format!("unexpected retention bounds {other:?}"))),
        };
        let upto = Value::Integer(retained.min(passed));
        loop {
            let deleted = sql
                .execute(
                    "DELETE FROM outbox WHERE seq IN
                         (SELECT seq FROM outbox WHERE topic = $1 AND seq <= $2 ORDER BY seq LIMIT $3)",
                    vec![topic.clone(), upto.clone(), Value::Integer(TRIM_CHUNK)],
                )
                .await?;
            total += deleted;
            if (deleted as i64) < TRIM_CHUNK {
                break;
            }
        }
    }
    Ok(total)
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

/// Lists the dead letters filed under a dead-letter topic, oldest first.
pub async fn dead_letters(sql: &dyn Sql, dead_letter_topic: &str) -> Result<Vec<DeadLetter>, PubSubError> {
    let rows = sql
        .query(
            "SELECT event_id, subscription, reason, event, at_millis FROM pubsub_dead_letter
             WHERE topic = $1 ORDER BY seq",
            vec![Value::Text(dead_letter_topic.to_owned())],
        )
        .await
        .map_err(unavailable)?;
    rows.rows
        .into_iter()
        .map(|row| match <[Value; 5]>::try_from(row) {
            Ok([Value::Text(event_id), Value::Text(subscription), Value::Text(reason), Value::Text(event), Value::Integer(at_millis)]) => {
                Ok(DeadLetter { event_id, subscription, reason, event, at_millis })
            }
            other => Err(PubSubError::Other(format!("unexpected dead letter row {other:?}"))),
        })
        .collect()
}

#[async_trait]
impl PubSub for SqlitePubSub {
    /// Appends to the log directly (an event id already in it is kept once).
    async fn publish(&self, messages: &[Message]) -> Result<(), PubSubError> {
        let mut tx = self.sql.begin().await.map_err(unavailable)?;
        for m in messages {
            tx.execute(super::outbox::INSERT_ONCE, super::outbox::row(m)).await.map_err(unavailable)?;
        }
        tx.commit().await.map_err(unavailable)?;
        for m in messages {
            self.wake(&m.topic);
        }
        Ok(())
    }

    fn subscribe(&self, subscription: Subscription, sink: Arc<dyn Sink>) -> Result<(), PubSubError> {
        self.started.get_or_init(|| self.start());
        let appended = self.appended.subscribe(&subscription.topic);
        let consumer = Consumer { sql: self.sql.clone(), appended, subscription, sink, live: None };
        tokio::spawn(consumer.run());
        Ok(())
    }

    async fn ping(&self) -> Result<(), PubSubError> {
        self.sql.ping().await.map_err(unavailable)
    }
}

/// The wake-ups of idle consumers, per topic: a commit wakes only the
/// consumers of the topics it appended to.
#[derive(Default)]
struct Appended(Mutex<HashMap<String, watch::Sender<()>>>);

impl Appended {
    fn subscribe(&self, topic: &str) -> watch::Receiver<()> {
        self.0.lock().unwrap().entry(topic.to_owned()).or_insert_with(|| watch::channel(()).0).subscribe()
    }

    fn wake(&self, topic: &str) {
        if let Some(appended) = self.0.lock().unwrap().get(topic) {
            appended.send_replace(());
        }
    }

    fn wake_all(&self) {
        for appended in self.0.lock().unwrap().values() {
            appended.send_replace(());
        }
    }
}

/// One subscription's delivery loop.
struct Consumer {
    sql: Arc<dyn Sql>,
    appended: watch::Receiver<()>,
    subscription: Subscription,
    sink: Arc<dyn Sink>,
    /// A `Resume::Live` subscription's position (it has no saved cursor).
    live: Option<i64>,
}

impl Consumer {
    async fn run(mut self) {
        while let Err(e) = self.start().await {
            tracing::error!(subscription = %self.subscription.name, error = %e, "starting the subscription");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        loop {
            self.appended.borrow_and_update();
            match self.next_batch().await {
                Ok(batch) if batch.is_empty() => {
                    // The poller bumps `appended` on any append it sees; the
                    // timeout is a backstop only.
                    let _ = tokio::time::timeout(Duration::from_secs(1), self.appended.changed()).await;
                }
                Ok(batch) => self.deliver_batch(batch).await,
                Err(e) => {
                    tracing::error!(subscription = %self.subscription.name, error = %e, "reading the log");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// A new saved subscription starts at the log's beginning (it gets every
    /// retained event); a live one at the log's end.
    async fn start(&mut self) -> Result<(), SqlError> {
        let sub = &self.subscription;
        if sub.resume == Resume::Live {
            self.live = Some(newest(self.sql.as_ref()).await?);
            return Ok(());
        }
        self.sql
            .execute(
                "INSERT INTO pubsub_cursor (subscription, topic, position, moved_at) VALUES ($1, $2, 0, $3)
                 ON CONFLICT (subscription) DO NOTHING",
                vec![Value::Text(sub.name.clone()), Value::Text(sub.topic.clone()), Value::Integer(now_millis())],
            )
            .await
            .map(drop)
    }

    /// The cursor moves once per batch (and with each dead letter): after a
    /// crash at most one batch is redelivered.
    async fn deliver_batch(&mut self, batch: Vec<Message>) {
        let mut delivered = None;
        for message in batch {
            let seq = message.position.expect("read from the log");
            match self.deliver(&message).await {
                None => delivered = Some(seq),
                Some(reason) => {
                    self.advance(seq, Some((message, reason))).await;
                    delivered = None;
                }
            }
        }
        if let Some(seq) = delivered {
            self.advance(seq, None).await;
        }
    }

    /// The events after the cursor, read afresh each time (a test, or an
    /// operator, may move it).
    async fn next_batch(&self) -> Result<Vec<Message>, SqlError> {
        let sub = &self.subscription;
        let (statement, params) = match self.live {
            Some(position) => (
                "SELECT seq, event_id, partition_key, event FROM outbox
                 WHERE topic = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                vec![Value::Text(sub.topic.clone()), Value::Integer(position), Value::Integer(BATCH)],
            ),
            None => (
                "SELECT o.seq, o.event_id, o.partition_key, o.event FROM pubsub_cursor c
                 JOIN outbox o ON o.topic = c.topic AND o.seq > c.position
                 WHERE c.subscription = $1 ORDER BY o.seq LIMIT $2",
                vec![Value::Text(sub.name.clone()), Value::Integer(BATCH)],
            ),
        };
        let rows = self.sql.query_short(statement, params).await?;
        rows.rows
            .into_iter()
            .map(|row| match <[Value; 4]>::try_from(row) {
                Ok([Value::Integer(seq), Value::Text(event_id), Value::Text(partition_key), Value::Text(event)]) => {
                    Ok(Message { event_id, topic: sub.topic.clone(), partition_key, event, position: Some(seq) })
                }
                other => Err(SqlError::Other(format!("unexpected outbox row {other:?}"))),
            })
            .collect()
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
    /// redelivery, but a lost dead letter would lose the event. A live
    /// subscription moves in memory (its dead letters are still filed; the
    /// cursor update then finds no row).
    async fn advance(&mut self, seq: i64, dead_letter: Option<(Message, String)>) {
        if let Some(position) = &mut self.live {
            *position = seq;
            if dead_letter.is_none() {
                return;
            }
        }
        while let Err(e) = self.save(seq, dead_letter.as_ref()).await {
            tracing::error!(subscription = %self.subscription.name, error = %e, "saving the cursor");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    async fn save(&self, seq: i64, dead_letter: Option<&(Message, String)>) -> Result<(), SqlError> {
        let sub = &self.subscription;
        const MOVE: &str = "UPDATE pubsub_cursor SET position = $2, moved_at = $3 WHERE subscription = $1";
        let moved = vec![Value::Text(sub.name.clone()), Value::Integer(seq), Value::Integer(now_millis())];
        let Some((message, reason)) = dead_letter else {
            // One statement, committed on its own: no transaction to open.
            return self.sql.execute(MOVE, moved).await.map(drop);
        };
        let mut tx = self.sql.begin().await?;
        tx.execute(
            "INSERT INTO pubsub_dead_letter (topic, subscription, event_id, partition_key, event, reason, at_millis)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            vec![
                Value::Text(sub.dead_letter_topic.clone()),
                Value::Text(sub.name.clone()),
                Value::Text(message.event_id.clone()),
                Value::Text(message.partition_key.clone()),
                Value::Text(message.event.clone()),
                Value::Text(reason.clone()),
                Value::Integer(now_millis()),
            ],
        )
        .await?;
        tx.execute(MOVE, moved).await?;
        tx.commit().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::pubsub::Outcome;
    use crate::capabilities::sql::{migrate, sqlite::SqliteSql, Dialect};
    use std::sync::{
        atomic::{AtomicU32, Ordering},
        Mutex,
    };

    /// Fails every event whose payload says "fail", records the others.
    #[derive(Default)]
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
        Message {
            event_id: id.into(),
            topic: "t".into(),
            partition_key: "u".into(),
            event: event.into(),
            position: None,
        }
    }

    fn subscription(name: &str) -> Subscription {
        Subscription {
            name: name.into(),
            topic: "t".into(),
            dead_letter_topic: "t-dlq".into(),
            max_attempts: 3,
            initial_backoff: Duration::from_millis(1),
            per_replica: false,
            resume: Resume::Saved,
            max_backoff: Duration::from_millis(4),
        }
    }

    /// The application's database as a process opens it: its own
    /// connections, the host's migrations applied.
    async fn database(path: &std::path::Path) -> Arc<dyn Sql> {
        let sql = SqliteSql::open(path.to_owned(), Duration::from_secs(5)).unwrap();
        migrate::apply(&sql, &migrate::host_history(Dialect::Sqlite)).await.unwrap();
        Arc::new(sql)
    }

    async fn until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !done() {
            assert!(tokio::time::Instant::now() < deadline, "{what} timed out");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn delivers_in_order_once_retries_then_dead_letters() {
        let dir = tempfile::tempdir().unwrap();
        let sql = database(&dir.path().join("app.db")).await;
        let bus = SqlitePubSub::new(sql.clone());
        let sink = Arc::new(Recorder::default());
        bus.publish(&[message("1", "ok"), message("2", "fail"), message("3", "drop")]).await.unwrap();
        // The same event published again is kept once.
        bus.publish(&[message("1", "ok"), message("4", "ok")]).await.unwrap();
        bus.subscribe(subscription("s"), sink.clone()).unwrap();

        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while dead_letters(sql.as_ref(), "t-dlq").await.unwrap().len() < 2 || sink.seen.lock().unwrap().len() < 2 {
            assert!(tokio::time::Instant::now() < deadline, "delivery timed out");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(*sink.seen.lock().unwrap(), vec!["1", "4"]);
        // 1 + 3 (retried) + 1 (dropped) + 1
        assert_eq!(sink.attempts.load(Ordering::SeqCst), 6);
        let letters = dead_letters(sql.as_ref(), "t-dlq").await.unwrap();
        assert_eq!(letters.iter().map(|l| l.event_id.as_str()).collect::<Vec<_>>(), vec!["2", "3"]);
        assert!(letters[0].reason.contains("3 attempts"), "{}", letters[0].reason);
    }

    /// Runs `f` on a runtime of its own that is then shut down, killing the
    /// consumer tasks it spawned: a process, in miniature.
    fn in_process<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Runtime::new().unwrap().block_on(f)
    }

    async fn position(sql: &dyn Sql, subscription: &str) -> i64 {
        let rows = sql
            .query(
                "SELECT coalesce(max(position), 0) FROM pubsub_cursor WHERE subscription = $1",
                vec![Value::Text(subscription.into())],
            )
            .await
            .unwrap();
        match rows.rows[0][0] {
            Value::Integer(p) => p,
            ref other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_restarted_subscription_resumes_after_its_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.db");
        let first = Arc::new(Recorder::default());
        in_process(async {
            let sql = database(&path).await;
            let bus = SqlitePubSub::new(sql.clone());
            bus.publish(&[message("1", "ok"), message("2", "ok")]).await.unwrap();
            bus.subscribe(subscription("s"), first.clone()).unwrap();
            until("the first run", || first.seen.lock().unwrap().len() == 2).await;
            while position(sql.as_ref(), "s").await < 2 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        let second = Arc::new(Recorder::default());
        in_process(async {
            let bus = SqlitePubSub::new(database(&path).await);
            bus.publish(&[message("3", "ok")]).await.unwrap();
            bus.subscribe(subscription("s"), second.clone()).unwrap();
            until("the second run", || !second.seen.lock().unwrap().is_empty()).await;
        });
        assert_eq!(*first.seen.lock().unwrap(), vec!["1", "2"]);
        assert_eq!(*second.seen.lock().unwrap(), vec!["3"]);
    }

    /// A live subscription (the SSE hub's) starts at the log's end and moves
    /// in memory: it gets only what is appended after it started, and
    /// delivering to it writes no cursor.
    #[tokio::test]
    async fn a_live_subscription_starts_at_the_end_and_saves_no_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let sql = database(&dir.path().join("app.db")).await;
        let bus = SqlitePubSub::new(sql.clone());
        bus.publish(&[message("before", "ok")]).await.unwrap();
        let sink = Arc::new(Recorder::default());
        bus.subscribe(Subscription { resume: Resume::Live, ..subscription("live") }, sink.clone()).unwrap();
        // Published until one arrives: the subscription may still be reading
        // the log's end when the first ones are appended.
        let mut n = 0;
        while sink.seen.lock().unwrap().is_empty() {
            n += 1;
            bus.publish(&[message(&format!("after{n}"), "ok")]).await.unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        until("the rest", || sink.seen.lock().unwrap().last() == Some(&format!("after{n}"))).await;
        let seen = sink.seen.lock().unwrap().clone();
        assert!(!seen.contains(&"before".to_owned()), "{seen:?}");
        let cursors = sql.query("SELECT count(*) FROM pubsub_cursor", vec![]).await.unwrap();
        assert_eq!(cursors.rows[0][0], Value::Integer(0));
    }

    /// Two processes on one file, each consuming a subscription of its own;
    /// events appended by a third writer (as Spin's adapter does, with a
    /// plain INSERT and no wake-up) reach both, once each, in order.
    #[tokio::test]
    async fn processes_sharing_the_file_see_each_others_appends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.db");
        let (a, b, writer) = (database(&path).await, database(&path).await, database(&path).await);
        let (sink_a, sink_b) = (Arc::new(Recorder::default()), Arc::new(Recorder::default()));
        SqlitePubSub::new(a).subscribe(subscription("a"), sink_a.clone()).unwrap();
        SqlitePubSub::new(b).subscribe(subscription("b"), sink_b.clone()).unwrap();
        for n in 0..50 {
            writer
                .execute(
                    "INSERT INTO outbox (event_id, topic, partition_key, event, created_at) VALUES ($1, 't', 'u', 'ok', '')",
                    vec![Value::Text(n.to_string())],
                )
                .await
                .unwrap();
        }
        let all: Vec<String> = (0..50).map(|n| n.to_string()).collect();
        until("both subscriptions", || {
            sink_a.seen.lock().unwrap().len() == 50 && sink_b.seen.lock().unwrap().len() == 50
        })
        .await;
        assert_eq!(*sink_a.seen.lock().unwrap(), all);
        assert_eq!(*sink_b.seen.lock().unwrap(), all);
    }

    #[tokio::test]
    async fn trims_only_what_every_live_cursor_passed_beyond_the_retained() {
        let dir = tempfile::tempdir().unwrap();
        let sql = database(&dir.path().join("app.db")).await;
        let count = || async { newest(sql.as_ref()).await.unwrap() };
        // `n` events with ids `<prefix><i>`.
        let fill = |prefix: &'static str, n: i64| {
            let sql = sql.clone();
            async move {
                sql.execute(
                    "INSERT INTO outbox (event_id, topic, partition_key, event, created_at)
                     WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < $2)
                     SELECT $1 || i, 't', 'u', 'ok', '' FROM s",
                    vec![Value::Text(prefix.into()), Value::Integer(n)],
                )
                .await
                .unwrap();
            }
        };
        fill("e", RETAINED + 20).await;
        assert_eq!(count().await, RETAINED + 20);
        let cursor = |position: i64, moved_at: i64| {
            let sql = sql.clone();
            async move {
                sql.execute(
                    "INSERT INTO pubsub_cursor (subscription, topic, position, moved_at) VALUES ('s', 't', $1, $2)
                     ON CONFLICT (subscription) DO UPDATE SET position = $1, moved_at = $2",
                    vec![Value::Integer(position), Value::Integer(moved_at)],
                )
                .await
                .unwrap();
            }
        };
        let oldest = || async {
            match sql.query("SELECT min(seq) FROM outbox", vec![]).await.unwrap().rows[0][0] {
                Value::Integer(seq) => seq,
                ref other => panic!("{other:?}"),
            }
        };
        // A live cursor at 5 holds everything after it.
        cursor(5, now_millis()).await;
        assert_eq!(trim(sql.as_ref()).await.unwrap(), 5);
        assert_eq!(oldest().await, 6);
        // Past it, only the newest RETAINED stay.
        cursor(RETAINED + 20, now_millis()).await;
        assert_eq!(trim(sql.as_ref()).await.unwrap(), 15);
        assert_eq!(oldest().await, 21);
        // A stale cursor holds nothing back.
        fill("f", 30).await;
        cursor(0, 0).await;
        assert_eq!(trim(sql.as_ref()).await.unwrap(), 30);
    }
}
