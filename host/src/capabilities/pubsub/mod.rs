//! The `pubsub` capability: events published to topics a component is
//! granted (`publish_topics`), on their own (`pubsub`) or inside a database
//! transaction (`outbox`); either way through the transactional outbox,
//! which the embedded default reads in place as its log and which a relay
//! drains to any other broker. The broker trait is here, with durable
//! topics and subscriptions that deliver to a sink with retries, backoff
//! and a dead-letter topic; `sqlite` (the embedded default) and `dapr`
//! implement it; `host` is the WIT side; `envelope` the CloudEvents JSON
//! format.

pub mod dapr;
pub mod envelope;
pub mod host;
pub mod outbox;
pub mod sqlite;

use crate::capabilities::sql::Sql;
use async_trait::async_trait;
use serde::Deserialize;
use std::{sync::Arc, time::Duration};

/// An event on its way to a topic (already a serialized CloudEvent).
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub event_id: String,
    pub topic: String,
    pub partition_key: String,
    /// The CloudEvents 1.0 JSON envelope.
    pub event: String,
    /// Where it stands in the embedded log (the outbox's seq): SSE ids and
    /// replay use it. None from a broker.
    pub position: Option<i64>,
}

/// What a sink answers for one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Retry,
    Drop,
}

/// A subscription: a named cursor over one topic.
#[derive(Debug, Clone)]
pub struct Subscription {
    /// Unique per consumer (the component id); each name sees every event once.
    pub name: String,
    pub topic: String,
    pub dead_letter_topic: String,
    /// Deliveries before the event goes to the dead-letter topic.
    pub max_attempts: u32,
    /// The wait before the first redelivery; doubles each time.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Every replica gets every event (its own consumer group), rather
    /// than the replicas sharing the events out.
    pub per_replica: bool,
    pub resume: Resume,
}

/// Where a subscription's delivery resumes when the process starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// After the last event it acknowledged: the position is saved.
    Saved,
    /// At the log's end. The embedded log keeps the position in memory only,
    /// so acknowledging costs no write: for a consumer that replays what it
    /// missed from the log itself (the SSE hub). A broker that keeps offsets
    /// of its own (Dapr) resumes as `Saved`.
    Live,
}

/// What follows one delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    Done,
    Retry,
    /// Give up: the event goes to the dead-letter topic, for this reason.
    DeadLetter(String),
}

impl Subscription {
    /// What follows `outcome` at delivery `attempt` (counted from 1): every
    /// backend retries and gives up alike.
    pub fn next(&self, outcome: Outcome, attempt: u32) -> Next {
        match outcome {
            Outcome::Success => Next::Done,
            Outcome::Drop => Next::DeadLetter(format!("dropped by the handler at attempt {attempt}")),
            Outcome::Retry if attempt >= self.max_attempts => {
                Next::DeadLetter(format!("still failing after {attempt} attempts"))
            }
            Outcome::Retry => Next::Retry,
        }
    }

    /// Counts and logs an event this subscription gave up on.
    pub fn dead_lettered(&self, event_id: &str, reason: &str) {
        let labels = crate::metrics::Subscription { subscription: self.name.clone() };
        crate::metrics::METRICS.dead_letters.get_or_create(&labels).inc();
        tracing::warn!(
            subscription = %self.name, %event_id, dead_letter_topic = %self.dead_letter_topic, %reason, "event dead-lettered"
        );
    }
}

/// Receives delivered events.
#[async_trait]
pub trait Sink: Send + Sync {
    async fn deliver(&self, topic: &str, message: &Message, attempt: u32) -> Outcome;
}

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum PubSubError {
    #[error("pub/sub unavailable: {0}")]
    Unavailable(String),
    #[error("pub/sub error: {0}")]
    Other(String),
}

#[async_trait]
pub trait PubSub: Send + Sync {
    /// Appends messages to their topics. Idempotent per event id: the
    /// outbox relay may publish a message again after a crash.
    async fn publish(&self, messages: &[Message]) -> Result<(), PubSubError>;
    /// Starts delivering the subscription's events to `sink`, at least once,
    /// in publish order, until the process ends.
    fn subscribe(&self, subscription: Subscription, sink: Arc<dyn Sink>) -> Result<(), PubSubError>;
    async fn ping(&self) -> Result<(), PubSubError>;
}

/// Which broker serves the application (`[pubsub]` in the runtime configuration).
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Config {
    /// The outbox of the application's SQLite database, read in place.
    #[default]
    Sqlite,
    /// Dapr pub/sub components: `component` for the subscriptions every
    /// replica shares, `replica_component` for those each replica has of
    /// its own (its consumer group names the replica, e.g. `{podName}`).
    Dapr {
        #[serde(default = "default_pubsub")]
        component: String,
        #[serde(default = "default_replica_pubsub")]
        replica_component: String,
    },
}

fn default_pubsub() -> String {
    "pubsub".into()
}
fn default_replica_pubsub() -> String {
    "pubsub-replica".into()
}

/// Publishing for one application: the outbox in its database, and how
/// events get from there to the subscriptions.
pub struct PubSubCapability {
    pub broker: Arc<dyn PubSub>,
    /// Where events are queued (the application's default database).
    pub outbox: Arc<dyn Sql>,
    delivery: Delivery,
}

/// How committed events reach the broker's subscriptions.
enum Delivery {
    /// The outbox is the broker's log (the embedded default): a commit
    /// only wakes its consumers.
    InPlace(Arc<sqlite::SqlitePubSub>),
    /// A relay moves them from the outbox to the broker (Dapr).
    Relayed(Arc<outbox::Relay>),
}

/// A grant of every topic (`publish_topics = ["*"]`).
pub const ANY_TOPIC: &str = "*";

impl PubSubCapability {
    /// The embedded default: `log` reads the outbox in `outbox` in place.
    pub fn embedded(log: Arc<sqlite::SqlitePubSub>, outbox: Arc<dyn Sql>) -> Self {
        Self { broker: log.clone(), outbox, delivery: Delivery::InPlace(log) }
    }

    /// A broker the relay feeds from the outbox.
    pub fn relayed(broker: Arc<dyn PubSub>, outbox: Arc<dyn Sql>) -> Self {
        Self { broker, outbox, delivery: Delivery::Relayed(outbox::Relay::new()) }
    }

    pub async fn ping(&self) -> Result<(), PubSubError> {
        self.broker.ping().await
    }

    /// Starts the relay from the outbox to the broker, if there is one.
    pub fn start_relay(&self) {
        if let Delivery::Relayed(relay) = &self.delivery {
            relay.spawn(self.outbox.clone(), self.broker.clone());
        }
    }

    /// After a commit queued an event on `topic`: the embedded log counts it
    /// published and wakes its consumers; else the relay is woken to move it.
    pub fn committed(&self, topic: &str) {
        match &self.delivery {
            Delivery::InPlace(log) => {
                crate::metrics::METRICS
                    .published
                    .get_or_create(&crate::metrics::Topic { topic: topic.to_owned() })
                    .inc();
                log.wake(topic);
            }
            Delivery::Relayed(relay) => relay.wake(),
        }
    }

    /// What an event id already queued means.
    pub fn duplicates(&self) -> outbox::Duplicates {
        match self.delivery {
            Delivery::InPlace(_) => outbox::Duplicates::KeepOnce,
            Delivery::Relayed(_) => outbox::Duplicates::Refuse,
        }
    }

    /// The context of one instance of `component`.
    pub fn instance(self: &Arc<Self>, component: &Arc<str>, topics: &Arc<[String]>) -> host::PubSubCtx {
        host::PubSubCtx { capability: self.clone(), component: component.clone(), topics: topics.clone() }
    }
}
