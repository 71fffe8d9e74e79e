//! The transactional outbox: events are written to the `outbox` table in the
//! same transaction as the change that caused them. So an acknowledged write
//! always yields its events, even if the process dies right after answering.
//! On the embedded default the table is the pub/sub log itself (`sqlite`
//! reads it in place); with a broker (Dapr) the relay here moves the events
//! to it afterwards.

use super::{Message, PubSub};
use crate::capabilities::sql::{host::Transaction, ConstraintKind, Sql, SqlError, Value};
use crate::capabilities::wit::pubsub;
use std::{sync::Arc, time::Duration};
use tokio::sync::Notify;

const INSERT: &str =
    "INSERT INTO outbox (event_id, topic, partition_key, event, created_at) VALUES ($1, $2, $3, $4, $5)";
/// Where the outbox is the log, an event id already in it is the same event
/// published again: it is kept (and delivered) once.
pub(super) const INSERT_ONCE: &str =
    "INSERT INTO outbox (event_id, topic, partition_key, event, created_at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (event_id) DO NOTHING";
const BATCH: i64 = 256;

/// What a second event with one id means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duplicates {
    /// The guest's bug (`duplicate-event`): ids are unique while queued.
    Refuse,
    /// The same event again: kept once (the embedded log dedups by id).
    KeepOnce,
}

impl Duplicates {
    fn statement(self) -> &'static str {
        match self {
            Duplicates::Refuse => INSERT,
            Duplicates::KeepOnce => INSERT_ONCE,
        }
    }
}

pub(super) fn row(message: &Message) -> Vec<Value> {
    vec![
        Value::Text(message.event_id.clone()),
        Value::Text(message.topic.clone()),
        Value::Text(message.partition_key.clone()),
        Value::Text(message.event.clone()),
        Value::Text(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
    ]
}

/// What a failed outbox write means to the guest: a second event with one
/// id is the guest's bug, anything else the database's trouble.
fn refused(message: &Message, e: SqlError) -> pubsub::Error {
    match e {
        SqlError::ConstraintViolation(c) if matches!(c.kind, ConstraintKind::Unique | ConstraintKind::PrimaryKey) => {
            pubsub::Error::DuplicateEvent(format!("event {} is already queued", message.event_id))
        }
        SqlError::DeadlineExceeded => {
            pubsub::Error::Unavailable("the transaction outlived its deadline and was rolled back".into())
        }
        e => pubsub::Error::Unavailable(e.to_string()),
    }
}

/// Queues `message` inside a transaction.
pub async fn write(tx: &Transaction, message: &Message, duplicates: Duplicates) -> Result<(), pubsub::Error> {
    tx.execute(duplicates.statement(), row(message)).await.map(drop).map_err(|e| refused(message, e))
}

/// Queues `message` on its own, durably.
pub async fn write_now(sql: &dyn Sql, message: &Message, duplicates: Duplicates) -> Result<(), pubsub::Error> {
    sql.execute(duplicates.statement(), row(message)).await.map(drop).map_err(|e| refused(message, e))
}

/// Moves outbox rows to the pub/sub backend, oldest first, keeping them until
/// the backend has accepted them.
pub struct Relay {
    wake: Notify,
}

impl Relay {
    pub fn new() -> Arc<Self> {
        Arc::new(Self { wake: Notify::new() })
    }

    /// Tells the relay there is something to move (after a commit).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Runs the relay until the process ends. It also polls, so events
    /// written before a crash, or by another replica, still leave.
    pub fn spawn(self: &Arc<Self>, sql: Arc<dyn Sql>, pubsub: Arc<dyn PubSub>) {
        let this = self.clone();
        tokio::spawn(async move {
            let mut failures = 0u32;
            loop {
                match relay_batch(sql.as_ref(), pubsub.as_ref()).await {
                    Ok(moved) if moved as i64 == BATCH => continue,
                    Ok(_) => {
                        failures = 0;
                        let _ = tokio::time::timeout(Duration::from_millis(500), this.wake.notified()).await;
                    }
                    Err(e) => {
                        failures += 1;
                        let wait = Duration::from_millis(100 * 2u64.pow(failures.min(6)));
                        tracing::warn!(error = %e, ?wait, "outbox relay failed; events stay queued");
                        tokio::time::sleep(wait).await;
                    }
                }
            }
        });
    }
}

/// Publishes one batch and deletes it from the outbox; returns its size.
async fn relay_batch(sql: &dyn Sql, pubsub: &dyn PubSub) -> anyhow::Result<usize> {
    let rows = sql
        .query(
            "SELECT seq, event_id, topic, partition_key, event FROM outbox ORDER BY seq LIMIT $1",
            vec![Value::Integer(BATCH)],
        )
        .await?;
    if rows.rows.is_empty() {
        return Ok(0);
    }
    let mut seqs = Vec::with_capacity(rows.rows.len());
    let messages = rows
        .rows
        .into_iter()
        .map(|r| match <[Value; 5]>::try_from(r) {
            Ok([Value::Integer(seq), Value::Text(event_id), Value::Text(topic), Value::Text(partition_key), Value::Text(event)]) => {
                seqs.push(Value::Integer(seq));
                Ok(Message { event_id, topic, partition_key, event, position: None })
            }
            other => Err(anyhow::anyhow!("unexpected outbox row {other:?}")),
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    pubsub.publish(&messages).await?;
    for m in &messages {
        crate::metrics::METRICS.published.get_or_create(&crate::metrics::Topic { topic: m.topic.clone() }).inc();
    }
    // Exactly the rows relayed: with concurrent writers (PostgreSQL) a lower
    // seq may commit after a higher one, so a range delete could lose it.
    let placeholders: Vec<String> = (1..=seqs.len()).map(|i| format!("${i}")).collect();
    sql.execute(&format!("DELETE FROM outbox WHERE seq IN ({})", placeholders.join(", ")), seqs).await?;
    Ok(messages.len())
}
