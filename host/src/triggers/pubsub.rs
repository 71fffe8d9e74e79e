//! The pub/sub trigger: each `[[trigger.pubsub]]` becomes a subscription
//! (named after its component) whose deliveries run the handler component.

use crate::capabilities::pubsub::{envelope, Message, Outcome, PubSub, Resume, Sink, Subscription};
use crate::manifest::Manifest;
use crate::metrics;
use crate::runtime::components::Components;
use async_trait::async_trait;
use std::sync::Arc;
use tracing::Instrument;

struct ComponentSink {
    components: Arc<Components>,
    component: String,
    subscription: String,
}

#[async_trait]
impl Sink for ComponentSink {
    async fn deliver(&self, topic: &str, message: &Message, attempt: u32) -> Outcome {
        let outcome = match envelope::parse(&message.event) {
            Ok((event, traceparent)) => {
                self.record_lag(event.time);
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
    fn record_lag(&self, event_time: crate::capabilities::wit::types::Timestamp) {
        let Some(time) = crate::capabilities::wit::to_utc(event_time) else { return };
        let lag = (chrono::Utc::now() - time).num_microseconds().unwrap_or(0) as f64 / 1e6;
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
            resume: Resume::Saved,
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
