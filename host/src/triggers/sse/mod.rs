//! The SSE trigger (`[[trigger.sse]]`): the host holds Server-Sent Events
//! streams natively. A per-replica subscription to the trigger's topic fans
//! each event out to the open streams of the user the event's
//! `user_attribute` names; streams replay from the stream log (on the
//! embedded default the pub/sub log itself, else a log of the replica's own
//! that the subscription appends to).

mod log;
pub mod native;
pub mod stream;

use crate::capabilities::pubsub::{Message, Outcome, PubSub, Resume, Sink, Subscription as PubSubSubscription};
use crate::capabilities::sql::{Sql, SqlError};
use crate::manifest::SseTrigger;
use async_trait::async_trait;
pub use log::{Entry, LogError, OutboxLog, OwnLog, StreamLog};
use std::{
    collections::HashMap,
    path::Path,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex, Weak,
    },
    time::Duration,
};
use tokio::sync::{mpsc, watch};

/// Events a stream may have queued before it is closed with a resync.
pub const STREAM_BUFFER: usize = 256;
/// Streams one user may hold open on one replica (browser tabs, devices).
pub const MAX_STREAMS_PER_USER: usize = 32;

/// A user already holds `MAX_STREAMS_PER_USER` streams.
#[derive(Debug, thiserror::Error)]
#[error("at most {MAX_STREAMS_PER_USER} streams may be open per user")]
pub struct TooManyStreams;

pub struct Hub {
    pub log: StreamLog,
    pub trigger: SseTrigger,
    streams: Mutex<HashMap<String, Vec<Subscriber>>>,
    next_id: AtomicU64,
    shutdown: watch::Sender<bool>,
    /// Connections `native` holds (hyper's are tracked by hyper).
    native_streams: AtomicU64,
}

/// A connection held by `native`, counted while it lives.
pub struct NativeStream(Arc<Hub>);

impl Drop for NativeStream {
    fn drop(&mut self) {
        self.0.native_streams.fetch_sub(1, Ordering::Release);
    }
}

struct Subscriber {
    id: u64,
    tx: mpsc::Sender<Arc<Entry>>,
    overflowed: Arc<AtomicBool>,
}

/// A stream's registration; dropping it (client gone) frees it at once.
pub struct Registration {
    hub: Weak<Hub>,
    user_id: String,
    id: u64,
    pub rx: mpsc::Receiver<Arc<Entry>>,
    pub overflowed: Arc<AtomicBool>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        crate::metrics::METRICS.sse_streams.dec();
        if let Some(hub) = self.hub.upgrade() {
            hub.remove(&self.user_id, self.id);
        }
    }
}

impl Hub {
    /// A hub with a stream log of its own at `path` (a broker whose log is
    /// not local).
    pub fn open(path: &Path, trigger: SseTrigger) -> anyhow::Result<Arc<Self>> {
        Ok(Self::new(StreamLog::Own(OwnLog::open(path)?), trigger))
    }

    /// A hub replaying from the embedded pub/sub's log in `sql`.
    pub async fn over_outbox(sql: Arc<dyn Sql>, trigger: SseTrigger) -> Result<Arc<Self>, SqlError> {
        let log = OutboxLog::open(sql, &trigger.topic, &trigger.user_attribute).await?;
        Ok(Self::new(StreamLog::Outbox(log), trigger))
    }

    fn new(log: StreamLog, trigger: SseTrigger) -> Arc<Self> {
        Arc::new(Self {
            log,
            trigger,
            streams: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            shutdown: watch::channel(false).0,
            native_streams: AtomicU64::new(0),
        })
    }

    /// Subscribes this replica to the trigger's topic (a subscription of its
    /// own, so every replica sees every event) and trims its own log hourly.
    pub fn start(self: &Arc<Self>, pubsub: &dyn PubSub, replica: &str) -> anyhow::Result<()> {
        let topic = &self.trigger.topic;
        let subscription = PubSubSubscription {
            name: format!("sse-hub.{replica}"),
            topic: topic.clone(),
            dead_letter_topic: format!("{topic}-dlq"),
            max_attempts: u32::MAX,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(5),
            per_replica: true,
            // Streams replay what the hub missed from the log (Last-Event-ID):
            // on the embedded log, delivery to it writes nothing.
            resume: Resume::Live,
        };
        pubsub.subscribe(subscription, Arc::new(HubSink(self.clone())))?;
        let StreamLog::Own(log) = self.log.clone() else { return Ok(()) };
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(3600));
            loop {
                every.tick().await;
                if let Err(e) = log.trim().await {
                    tracing::warn!(error = %e, "trimming the stream log");
                }
            }
        });
        Ok(())
    }

    /// Registers a stream of `user_id` for live events, unless the user
    /// already holds `MAX_STREAMS_PER_USER`.
    pub fn register(self: &Arc<Self>, user_id: &str) -> Result<Registration, TooManyStreams> {
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let overflowed = Arc::new(AtomicBool::new(false));
        let subscriber = Subscriber { id, tx, overflowed: overflowed.clone() };
        let mut streams = self.streams.lock().unwrap();
        let list = streams.entry(user_id.to_owned()).or_default();
        list.retain(|s| !s.tx.is_closed());
        if list.len() >= MAX_STREAMS_PER_USER {
            return Err(TooManyStreams);
        }
        list.push(subscriber);
        drop(streams);
        crate::metrics::METRICS.sse_streams.inc();
        Ok(Registration { hub: Arc::downgrade(self), user_id: user_id.to_owned(), id, rx, overflowed })
    }

    fn remove(&self, user_id: &str, id: u64) {
        let mut streams = self.streams.lock().unwrap();
        if let Some(list) = streams.get_mut(user_id) {
            list.retain(|s| s.id != id);
            if list.is_empty() {
                streams.remove(user_id);
            }
        }
    }

    /// Sends an entry to the user's streams. A stream whose buffer is full is
    /// cut off (it then sends a resync) rather than growing host memory.
    fn fan_out(&self, entry: &Arc<Entry>) {
        let mut streams = self.streams.lock().unwrap();
        let Some(list) = streams.get_mut(&entry.user_id) else { return };
        list.retain(|s| match s.tx.try_send(entry.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                s.overflowed.store(true, Ordering::Release);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        });
        if list.is_empty() {
            streams.remove(&entry.user_id);
        }
    }

    /// Tells every stream to reconnect, then to end (graceful shutdown).
    pub fn shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Counts a connection `native` holds until the guard drops.
    pub fn native_stream(self: &Arc<Self>) -> NativeStream {
        self.native_streams.fetch_add(1, Ordering::Acquire);
        NativeStream(self.clone())
    }

    /// After `shutdown`: waits (at most `limit`) for the connections
    /// `native` holds to have sent their last message.
    pub async fn drained(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while self.native_streams.load(Ordering::Acquire) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// The fields of a CloudEvents envelope a stream needs: its type, its JSON
/// data, and the user it is for (the trigger's `user_attribute`).
fn routed(event: &str, user_attribute: &str) -> Option<(String, String, String)> {
    let envelope: serde_json::Map<String, serde_json::Value> = serde_json::from_str(event).ok()?;
    let text = |name: &str| envelope.get(name)?.as_str().map(str::to_owned);
    Some((text(user_attribute)?, text("type")?, envelope.get("data")?.to_string()))
}

struct HubSink(Arc<Hub>);

#[async_trait]
impl Sink for HubSink {
    async fn deliver(&self, _topic: &str, message: &Message, _attempt: u32) -> Outcome {
        let attribute = &self.0.trigger.user_attribute;
        let Some((user, event_type, data)) = routed(&message.event, attribute) else {
            tracing::warn!(event_id = %message.event_id, %attribute, "not a JSON CloudEvent naming its user: dropping");
            return Outcome::Drop;
        };
        match self.0.log.append(message, &user, &event_type, &data).await {
            Ok(Some(entry)) => {
                self.0.fan_out(&Arc::new(entry));
                Outcome::Success
            }
            Ok(None) => Outcome::Success, // a redelivery: already streamed
            Err(e) => {
                tracing::warn!(event_id = %message.event_id, error = %e, "appending to the stream log");
                Outcome::Retry
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trigger() -> SseTrigger {
        SseTrigger { route: "/s".into(), topic: "updates".into(), user_attribute: "partitionkey".into() }
    }

    #[tokio::test]
    async fn caps_the_streams_of_one_user() {
        let dir = tempfile::tempdir().unwrap();
        let hub = Hub::open(&dir.path().join("streams.db"), trigger()).unwrap();
        let held: Vec<_> = (0..MAX_STREAMS_PER_USER).map(|_| hub.register("alice").unwrap()).collect();
        assert!(hub.register("alice").is_err());
        assert!(hub.register("bob").is_ok(), "the cap is per user");
        drop(held);
        assert!(hub.register("alice").is_ok(), "closed streams free their places");
    }

    #[test]
    fn routes_by_the_configured_attribute() {
        let event = r#"{"id":"1","type":"t","partitionkey":"alice","owner":"bob","data":{"a":1}}"#;
        assert_eq!(routed(event, "partitionkey"), Some(("alice".into(), "t".into(), r#"{"a":1}"#.into())));
        assert_eq!(routed(event, "owner").unwrap().0, "bob");
        assert_eq!(routed(event, "missing"), None);
    }

    fn entry(seq: i64, user: &str) -> Arc<Entry> {
        Arc::new(Entry { seq, user_id: user.into(), event_type: "t".into(), data: "{}".into() })
    }

    #[tokio::test]
    async fn fans_out_per_user_and_cuts_off_a_stream_that_falls_behind() {
        let dir = tempfile::tempdir().unwrap();
        let hub = Hub::open(&dir.path().join("streams.db"), trigger()).unwrap();
        let mut alice = hub.register("alice").unwrap();
        let mut bob = hub.register("bob").unwrap();
        hub.fan_out(&entry(1, "alice"));
        assert_eq!(alice.rx.recv().await.unwrap().seq, 1);
        assert!(bob.rx.try_recv().is_err());

        for seq in 2..=(STREAM_BUFFER as i64 + 2) {
            hub.fan_out(&entry(seq, "bob"));
        }
        assert!(bob.overflowed.load(Ordering::Acquire));
        let mut received = 0;
        while bob.rx.recv().await.is_some() {
            received += 1;
        }
        assert_eq!(received, STREAM_BUFFER, "the buffered entries, then the end");

        drop(alice);
        assert!(hub.streams.lock().unwrap().is_empty(), "a dropped stream is freed at once");
    }
}
