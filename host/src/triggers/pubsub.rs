//! The pub/sub trigger: each `[[trigger.pubsub]]` becomes a subscription
//! (named after its component) whose deliveries run the handler component.

use crate::backends::pubsub::{Message, Outcome, PubSub, Sink, Subscription};
use crate::manifest::Manifest;
use crate::metrics;
use crate::runtime::bindings::todo::platform::types::CloudEvent;
use crate::runtime::components::Components;
use async_trait::async_trait;
use serde::Deserialize;
use std::sync::Arc;
use tracing::Instrument;

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
    /// The span that published the event (a host extension, not for guests).
    #[serde(default)]
    traceparent: Option<String>,
}

/// Parses a stored envelope into the WIT record, and the publisher's span.
pub fn cloud_event(json: &str) -> Result<(CloudEvent, Option<String>), serde_json::Error> {
    let e: Envelope = serde_json::from_str(json)?;
    let event = CloudEvent {
        id: e.id,
        source: e.source,
        type_: e.ty,
        subject: e.subject,
        time: e.time.unwrap_or_default(),
        data: e.data.get().to_owned(),
    };
    Ok((event, e.traceparent))
}

struct ComponentSink {
    components: Arc<Components>,
    component: String,
    subscription: String,
}

#[async_trait]
impl Sink for ComponentSink {
    async fn deliver(&self, topic: &str, message: &Message, attempt: u32) -> Outcome {
        let outcome = match cloud_event(&message.event) {
            Ok((event, traceparent)) => {
                self.record_lag(&event.time);
                let span = tracing::info_span!(
                    "deliver",
                    otel.name = format!("deliver {topic} to {}", self.component),
                    otel.kind = "consumer",
                    component = %self.component, %topic, event_id = %event.id, attempt
                );
                crate::telemetry::set_parent(&span, traceparent.as_deref());
                self.components.handle_event(&self.component, topic, &event, attempt).instrument(span).await
            }
            Err(e) => {
                tracing::warn!(event_id = %message.event_id, error = %e, "not a CloudEvent: dropping");
                Outcome::Drop
            }
        };
        let name = match outcome {
            Outcome::Success => "success",
            Outcome::Retry => "retry",
            Outcome::Drop => "drop",
        };
        let labels = metrics::Delivery { subscription: self.subscription.clone(), outcome: name };
        metrics::METRICS.deliveries.get_or_create(&labels).inc();
        outcome
    }
}

impl ComponentSink {
    /// The subscription's lag: how old the event it just received is.
    fn record_lag(&self, event_time: &str) {
        let Ok(time) = chrono::DateTime::parse_from_rfc3339(event_time) else { return };
        let lag = (chrono::Utc::now() - time.with_timezone(&chrono::Utc)).num_microseconds().unwrap_or(0) as f64 / 1e6;
        let labels = metrics::Subscription { subscription: self.subscription.clone() };
        metrics::METRICS.consumer_lag_seconds.get_or_create(&labels).set(lag.max(0.0));
        metrics::METRICS.delivery_lag_seconds.get_or_create(&labels).observe(lag.max(0.0));
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
            per_replica: false,
        };
        tracing::info!(topic = %t.topic, component = %t.component, "subscribing");
        let sink = Arc::new(ComponentSink {
            components: components.clone(),
            component: t.component.clone(),
            subscription: subscription.name.clone(),
        });
        pubsub.subscribe(subscription, sink)?;
    }
    Ok(())
}
