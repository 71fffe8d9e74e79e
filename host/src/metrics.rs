//! Prometheus metrics, served at `GET /metrics` in the text format (a leaf:
//! every layer calls it, it imports none of them): HTTP
//! requests and latency per route and component, instantiation time, guest
//! traps and timeouts, pub/sub publish / deliver / retry / dead-letter counts,
//! consumer lag per subscription, open SSE streams, hot swaps.

use prometheus_client::{
    encoding::{text::encode, EncodeLabelSet},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};
use std::sync::{atomic::AtomicU64, LazyLock};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Request {
    pub route: String,
    pub component: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Route {
    pub route: String,
    pub component: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Component {
    pub component: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Failure {
    pub component: String,
    /// `trap`, `timeout` or `out_of_memory`.
    pub kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Topic {
    pub topic: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Delivery {
    pub subscription: String,
    /// `success`, `retry` or `drop`.
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Subscription {
    pub subscription: String,
}

fn latency_buckets() -> Histogram {
    // 50 µs to ~13 s.
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(0.000_05, 2.0, 18))
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<Request, Counter>,
    pub request_seconds: Family<Route, Histogram, fn() -> Histogram>,
    pub instantiate_seconds: Family<Component, Histogram, fn() -> Histogram>,
    pub guest_failures: Family<Failure, Counter>,
    pub published: Family<Topic, Counter>,
    pub deliveries: Family<Delivery, Counter>,
    pub dead_letters: Family<Subscription, Counter>,
    pub consumer_lag_seconds: Family<Subscription, Gauge<f64, AtomicU64>>,
    pub delivery_lag_seconds: Family<Subscription, Histogram, fn() -> Histogram>,
    pub sse_streams: Gauge,
    pub swaps: Family<Component, Counter>,
    pub swap_refusals: Family<Component, Counter>,
}

pub static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let mut registry = Registry::with_prefix("todo");
    let m = Metrics {
        requests: Family::default(),
        request_seconds: Family::new_with_constructor(latency_buckets),
        instantiate_seconds: Family::new_with_constructor(latency_buckets),
        guest_failures: Family::default(),
        published: Family::default(),
        deliveries: Family::default(),
        dead_letters: Family::default(),
        consumer_lag_seconds: Family::default(),
        delivery_lag_seconds: Family::new_with_constructor(latency_buckets),
        sse_streams: Gauge::default(),
        swaps: Family::default(),
        swap_refusals: Family::default(),
        registry: Registry::default(),
    };
    registry.register("http_requests", "HTTP requests served by components", m.requests.clone());
    registry.register("http_request_seconds", "HTTP request latency through a component", m.request_seconds.clone());
    registry.register(
        "instantiate_seconds",
        "Time to instantiate a component for one call",
        m.instantiate_seconds.clone(),
    );
    registry.register("guest_failures", "Guest calls that trapped or hit their time limit", m.guest_failures.clone());
    registry.register("pubsub_published", "Events relayed from the outbox to the broker", m.published.clone());
    registry.register("pubsub_deliveries", "Event deliveries to handler components, by outcome", m.deliveries.clone());
    registry.register("pubsub_dead_letters", "Events moved to a dead-letter topic", m.dead_letters.clone());
    registry.register(
        "pubsub_consumer_lag_seconds",
        "Age of the event a subscription last received (delivery time minus event time)",
        m.consumer_lag_seconds.clone(),
    );
    registry.register(
        "pubsub_delivery_lag_seconds",
        "Event age at delivery to a subscription (delivery time minus event time)",
        m.delivery_lag_seconds.clone(),
    );
    registry.register("sse_streams", "Open Server-Sent Events streams", m.sse_streams.clone());
    registry.register("component_swaps", "Hot swaps of a component's active version", m.swaps.clone());
    registry.register(
        "component_swap_refusals",
        "New component versions refused (did not compile, or did not fit the component's worlds)",
        m.swap_refusals.clone(),
    );
    Metrics { registry, ..m }
});

/// The registry in the Prometheus text format.
pub fn render() -> String {
    let mut out = String::new();
    encode(&mut out, &METRICS.registry).expect("writing to a String cannot fail");
    out
}

/// Counts a request a component answered, and its latency.
pub fn served(route: String, component: String, status: u16, started: std::time::Instant) {
    let labels = Route { route, component };
    METRICS.request_seconds.get_or_create(&labels).observe(started.elapsed().as_secs_f64());
    METRICS.requests.get_or_create(&Request { route: labels.route, component: labels.component, status }).inc();
}

/// Records how long instantiating `component` took.
pub fn instantiated(component: &str, started: std::time::Instant) {
    let labels = Component { component: component.to_owned() };
    METRICS.instantiate_seconds.get_or_create(&labels).observe(started.elapsed().as_secs_f64());
}

/// Counts a failed guest call of `kind` (`trap`, `timeout`, `out_of_memory`).
pub fn guest_failed(component: &str, kind: &'static str) {
    METRICS.guest_failures.get_or_create(&Failure { component: component.to_owned(), kind }).inc();
}
