//! `pubsub` on a Dapr pub/sub component (Kafka in the distributed setup).
//!
//! Publishing posts the stored CloudEvent as `application/cloudevents+json`,
//! so Dapr keeps its id end to end. Subscribing registers the subscription
//! here; the sidecar learns of it from `GET /dapr/subscribe` and delivers
//! to `POST /dapr/events/<pubsub>/<topic>` (see `app`).
//!
//! Dapr allows an app one subscription per topic and pub/sub component, so
//! subscriptions of several components to one topic share it: each event
//! is dispatched to every one that has not finished with it yet, and the
//! answer is RETRY while any still wants a retry. Redeliveries are paced by
//! the sidecar's resiliency policy; the attempts, and when to give up (DROP,
//! which sends the event to the dead-letter topic), follow `spin.toml`.

use super::{Message, Next, Outcome, PubSub, PubSubError, Sink, Subscription};
use crate::capabilities::dapr_sidecar::{CallError, Sidecar};
use async_trait::async_trait;
use futures::{stream, TryStreamExt};
use reqwest::Method;
use serde::Serialize;
use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex, RwLock},
};

/// Publishes running at once, one per partition key (a key's events go in order).
const PUBLISH_CONCURRENCY: usize = 16;
/// Events whose delivery is in progress, remembered for their attempt counts.
const MAX_IN_PROGRESS: usize = 10_000;
/// The CloudEvent attributes the host stores; Dapr adds its own on delivery.
const ENVELOPE_FIELDS: [&str; 10] = [
    "specversion",
    "id",
    "source",
    "type",
    "subject",
    "time",
    "datacontenttype",
    "partitionkey",
    "traceparent",
    "data",
];

pub struct DaprPubSub {
    sidecar: Sidecar,
    /// For subscriptions the replicas share (one consumer group).
    component: String,
    /// For per-replica subscriptions (a consumer group per replica).
    replica_component: String,
    subscriptions: Arc<Subscriptions>,
}

impl DaprPubSub {
    pub fn new(sidecar: Sidecar, component: &str, replica_component: &str) -> Self {
        Self {
            sidecar,
            component: component.to_owned(),
            replica_component: replica_component.to_owned(),
            subscriptions: Arc::default(),
        }
    }

    /// What the app endpoints deliver to.
    pub fn subscriptions(&self) -> Arc<Subscriptions> {
        self.subscriptions.clone()
    }

    async fn publish_one(&self, message: &Message) -> Result<(), PubSubError> {
        let mut request = self
            .sidecar
            .request(Method::POST, &["publish", &self.component, &message.topic])
            .query(&[("metadata.partitionKey", &message.partition_key)])
            .header(reqwest::header::CONTENT_TYPE, "application/cloudevents+json");
        // Dapr writes its own span into the envelope: make it one of ours.
        #[derive(serde::Deserialize)]
        struct Traced {
            traceparent: Option<String>,
        }
        if let Ok(Traced { traceparent: Some(traceparent) }) = serde_json::from_str(&message.event) {
            request = request.header("traceparent", traceparent);
        }
        let request = request.body(message.event.clone());
        Sidecar::send(request).await.map(drop).map_err(|e| match e {
            CallError::Status { status, .. } if !status.is_server_error() => PubSubError::Other(e.to_string()),
            e => PubSubError::Unavailable(e.to_string()),
        })
    }
}

#[async_trait]
impl PubSub for DaprPubSub {
    /// At least once: a message published again (after a crash) is a
    /// duplicate on the broker; consumers are idempotent by event id.
    async fn publish(&self, messages: &[Message]) -> Result<(), PubSubError> {
        let mut by_key: BTreeMap<&str, Vec<&Message>> = BTreeMap::new();
        for m in messages {
            by_key.entry(&m.partition_key).or_default().push(m);
        }
        stream::iter(by_key.into_values().map(Ok))
            .try_for_each_concurrent(PUBLISH_CONCURRENCY, |group| async move {
                for message in group {
                    self.publish_one(message).await?;
                }
                Ok(())
            })
            .await
    }

    fn subscribe(&self, subscription: Subscription, sink: Arc<dyn Sink>) -> Result<(), PubSubError> {
        let pubsub = if subscription.per_replica { &self.replica_component } else { &self.component };
        self.subscriptions.add(pubsub, subscription, sink)
    }

    async fn ping(&self) -> Result<(), PubSubError> {
        self.sidecar.healthz().await.map_err(|e| PubSubError::Unavailable(e.to_string()))
    }
}

/// The host's Dapr subscriptions, by (pub/sub component, topic).
#[derive(Default)]
pub struct Subscriptions {
    topics: RwLock<BTreeMap<(String, String), Arc<Topic>>>,
}

struct Topic {
    dead_letter_topic: String,
    consumers: Vec<(Subscription, Arc<dyn Sink>)>,
    /// Per event id in progress: each consumer's attempts, and whether it is done.
    progress: Mutex<HashMap<String, Vec<(u32, bool)>>>,
}

/// One entry of `GET /dapr/subscribe`.
#[derive(Serialize, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DaprSubscription {
    pub pubsubname: String,
    pub topic: String,
    pub route: String,
    pub dead_letter_topic: String,
}

/// A delivery the host could not take apart.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("no subscription to {1} on {0}")]
    Unknown(String, String),
    #[error("not a CloudEvent: {0}")]
    Malformed(String),
}

impl Subscriptions {
    fn add(&self, pubsub: &str, subscription: Subscription, sink: Arc<dyn Sink>) -> Result<(), PubSubError> {
        let mut topics = self.topics.write().unwrap();
        let (topic, dead_letter_topic) = (subscription.topic.clone(), subscription.dead_letter_topic.clone());
        let key = (pubsub.to_owned(), topic.clone());
        let mut consumers = match topics.get(&key) {
            Some(t) if t.dead_letter_topic != dead_letter_topic => {
                return Err(PubSubError::Other(format!(
                    "topic {topic}: Dapr has one subscription per topic, so every subscriber must use the same dead-letter topic ({} or {dead_letter_topic})",
                    t.dead_letter_topic
                )))
            }
            Some(t) => t.consumers.clone(),
            None => Vec::new(),
        };
        consumers.push((subscription, sink));
        let topic = Topic { dead_letter_topic, consumers, progress: Mutex::default() };
        topics.insert(key, Arc::new(topic));
        Ok(())
    }

    /// The programmatic subscriptions, as `GET /dapr/subscribe` answers.
    pub fn list(&self) -> Vec<DaprSubscription> {
        let topics = self.topics.read().unwrap();
        topics
            .iter()
            .map(|((pubsub, topic), t)| DaprSubscription {
                pubsubname: pubsub.clone(),
                topic: topic.clone(),
                route: format!("/dapr/events/{pubsub}/{topic}"),
                dead_letter_topic: t.dead_letter_topic.clone(),
            })
            .collect()
    }

    /// Dispatches one delivered CloudEvent (Dapr's JSON) to the consumers
    /// that are not done with it; returns the answer for the sidecar.
    pub async fn deliver(&self, pubsub: &str, topic: &str, body: &[u8]) -> Result<Outcome, DeliveryError> {
        let entry = self.topics.read().unwrap().get(&(pubsub.to_owned(), topic.to_owned())).cloned();
        let topic = entry.ok_or_else(|| DeliveryError::Unknown(pubsub.to_owned(), topic.to_owned()))?;
        let message = message(topic.consumers[0].0.topic.clone(), body)?;
        let mut states = {
            let mut progress = topic.progress.lock().unwrap();
            if progress.len() >= MAX_IN_PROGRESS {
                progress.clear(); // attempts restart from 1: never fewer deliveries
            }
            progress.entry(message.event_id.clone()).or_insert_with(|| vec![(0, false); topic.consumers.len()]).clone()
        };
        let (mut dropped, mut pending) = (false, false);
        for ((subscription, sink), (attempts, done)) in topic.consumers.iter().zip(states.iter_mut()) {
            if *done {
                continue;
            }
            *attempts += 1;
            match subscription.next(sink.deliver(&subscription.topic, &message, *attempts).await, *attempts) {
                Next::Done => *done = true,
                Next::Retry => pending = true,
                Next::DeadLetter(reason) => {
                    *done = true;
                    dropped = true;
                    subscription.dead_lettered(&message.event_id, &reason);
                }
            }
        }
        let mut progress = topic.progress.lock().unwrap();
        if pending {
            progress.insert(message.event_id.clone(), states);
            return Ok(Outcome::Retry);
        }
        progress.remove(&message.event_id);
        Ok(if dropped { Outcome::Drop } else { Outcome::Success })
    }
}

/// The stored envelope back from Dapr's delivery (without the attributes
/// Dapr adds, such as `pubsubname` and `traceparent`).
fn message(topic: String, body: &[u8]) -> Result<Message, DeliveryError> {
    let mut event: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(body).map_err(|e| DeliveryError::Malformed(e.to_string()))?;
    event.retain(|k, _| ENVELOPE_FIELDS.contains(&k.as_str()));
    let text = |name: &str| event.get(name).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
    let (event_id, partition_key) = (text("id"), text("partitionkey"));
    if event_id.is_empty() {
        return Err(DeliveryError::Malformed("no id".into()));
    }
    let event = serde_json::Value::Object(event).to_string();
    Ok(Message { event_id, topic, partition_key, event, position: None })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::pubsub::Resume;
    use std::time::Duration;

    /// Answers from a script, one per delivery, recording the attempts.
    struct Scripted(Mutex<Vec<Outcome>>, Mutex<Vec<u32>>);

    #[async_trait]
    impl Sink for Scripted {
        async fn deliver(&self, _: &str, _: &Message, attempt: u32) -> Outcome {
            self.1.lock().unwrap().push(attempt);
            self.0.lock().unwrap().remove(0)
        }
    }

    fn subscription(name: &str, max_attempts: u32, dead_letter_topic: &str) -> Subscription {
        Subscription {
            name: name.into(),
            topic: "t".into(),
            dead_letter_topic: dead_letter_topic.into(),
            max_attempts,
            initial_backoff: Duration::ZERO,
            max_backoff: Duration::ZERO,
            per_replica: false,
            resume: Resume::Saved,
        }
    }

    #[tokio::test]
    async fn shared_topics_retry_only_unfinished_consumers_and_give_up_after_max_attempts() {
        let subs = Subscriptions::default();
        let a = Arc::new(Scripted(Mutex::new(vec![Outcome::Success]), Mutex::default()));
        let b = Arc::new(Scripted(Mutex::new(vec![Outcome::Retry, Outcome::Retry, Outcome::Retry]), Mutex::default()));
        subs.add("pubsub", subscription("a.t", 5, "t-dlq"), a.clone()).unwrap();
        subs.add("pubsub", subscription("b.t", 3, "t-dlq"), b.clone()).unwrap();
        assert!(subs.add("pubsub", subscription("c.t", 3, "other-dlq"), a.clone()).is_err());
        assert_eq!(
            subs.list(),
            [DaprSubscription {
                pubsubname: "pubsub".into(),
                topic: "t".into(),
                route: "/dapr/events/pubsub/t".into(),
                dead_letter_topic: "t-dlq".into()
            }]
        );
        let body = br#"{"id":"e1","partitionkey":"u","data":{},"pubsubname":"pubsub","traceparent":"x"}"#;
        assert_eq!(subs.deliver("pubsub", "t", body).await.unwrap(), Outcome::Retry);
        assert_eq!(subs.deliver("pubsub", "t", body).await.unwrap(), Outcome::Retry);
        assert_eq!(subs.deliver("pubsub", "t", body).await.unwrap(), Outcome::Drop);
        assert_eq!(*a.1.lock().unwrap(), [1]);
        assert_eq!(*b.1.lock().unwrap(), [1, 2, 3]);
        assert!(matches!(subs.deliver("pubsub", "x", body).await, Err(DeliveryError::Unknown(..))));
        assert!(matches!(subs.deliver("pubsub", "t", b"{}").await, Err(DeliveryError::Malformed(_))));
    }

    #[test]
    fn deliveries_lose_the_attributes_dapr_adds() {
        let m =
            message("t".into(), br#"{"id":"e1","partitionkey":"u","data":{"a":1},"topic":"t","traceid":"x"}"#).unwrap();
        assert_eq!((m.event_id.as_str(), m.partition_key.as_str(), m.topic.as_str()), ("e1", "u", "t"));
        assert_eq!(m.event, r#"{"data":{"a":1},"id":"e1","partitionkey":"u"}"#);
    }
}
