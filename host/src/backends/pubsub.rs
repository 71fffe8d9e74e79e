//! The `pubsub` backend trait: durable topics, subscriptions that deliver to
//! a sink with retries, backoff and a dead-letter topic.

use async_trait::async_trait;
use std::{sync::Arc, time::Duration};

/// An event on its way to a topic (already a serialized CloudEvent).
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub event_id: String,
    pub topic: String,
    pub partition_key: String,
    /// The CloudEvents 1.0 JSON envelope.
    pub event: String,
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
    /// Appends messages to their topics. Idempotent per (topic, event id):
    /// the outbox relay may publish a message again after a crash.
    async fn publish(&self, messages: &[Message]) -> Result<(), PubSubError>;
    /// Starts delivering the subscription's events to `sink`, at least once,
    /// in publish order, until the process ends.
    fn subscribe(&self, subscription: Subscription, sink: Arc<dyn Sink>) -> Result<(), PubSubError>;
    async fn ping(&self) -> Result<(), PubSubError>;
}
