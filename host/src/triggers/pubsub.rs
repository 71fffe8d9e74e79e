//! The pub/sub trigger: each `[[trigger.pubsub]]` becomes a subscription
//! (named after its component) whose deliveries run the handler component.

use crate::backends::pubsub::{Message, Outcome, PubSub, Sink, Subscription};
use crate::manifest::Manifest;
use crate::runtime::bindings::todo::platform::types::CloudEvent;
use crate::runtime::components::Components;
use async_trait::async_trait;
use serde::Deserialize;
use std::sync::Arc;

/// The parts of a CloudEvents JSON envelope a handler receives.
#[derive(Deserialize)]
struct Envelope {
    id: String,
    source: String,
    #[serde(rename = "type")]
    ty: String,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    time: Option<String>,
    data: Box<serde_json::value::RawValue>,
}

/// Parses a stored envelope into the WIT record.
pub fn cloud_event(json: &str) -> Result<CloudEvent, serde_json::Error> {
    let e: Envelope = serde_json::from_str(json)?;
    Ok(CloudEvent {
        id: e.id,
        source: e.source,
        type_: e.ty,
        subject: e.subject,
        time: e.time.unwrap_or_default(),
        data: e.data.get().to_owned(),
    })
}

struct ComponentSink {
    components: Arc<Components>,
    component: String,
}

#[async_trait]
impl Sink for ComponentSink {
    async fn deliver(&self, topic: &str, message: &Message, attempt: u32) -> Outcome {
        match cloud_event(&message.event) {
            Ok(event) => self.components.handle_event(&self.component, topic, &event, attempt).await,
            Err(e) => {
                tracing::warn!(event_id = %message.event_id, error = %e, "not a CloudEvent: dropping");
                Outcome::Drop
            }
        }
    }
}

/// Starts a subscription for every `[[trigger.pubsub]]`.
pub fn start(manifest: &Manifest, pubsub: &dyn PubSub, components: &Arc<Components>) -> anyhow::Result<()> {
    for t in &manifest.trigger.pubsub {
        let subscription = Subscription {
            name: format!("{}.{}", t.component, t.topic),
            topic: t.topic.clone(),
            dead_letter_topic: t.dead_letter_topic(),
            max_attempts: t.max_attempts,
            initial_backoff: t.initial_backoff(),
            max_backoff: t.max_backoff(),
        };
        tracing::info!(topic = %t.topic, component = %t.component, "subscribing");
        let sink = Arc::new(ComponentSink { components: components.clone(), component: t.component.clone() });
        pubsub.subscribe(subscription, sink)?;
    }
    Ok(())
}
