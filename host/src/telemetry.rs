//! Logs and traces. Logs are `tracing` events on stderr, filtered by
//! `RUST_LOG`; each request's carry its request id. Traces are OpenTelemetry
//! spans exported over OTLP/HTTP, off unless `OTEL_EXPORTER_OTLP_ENDPOINT`
//! (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) names a collector: a request,
//! the component call, its host calls (`sql.*`, `state.*`,
//! `pubsub.publish`, `outbox.publish`), and each delivery of the events it published, which
//! carry the W3C `traceparent` in their CloudEvent envelope.

use opentelemetry::{propagation::TextMapPropagator, trace::TracerProvider as _};
use opentelemetry_sdk::{propagation::TraceContextPropagator, trace::SdkTracerProvider, Resource};
use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{filter::Targets, layer::SubscriberExt, util::SubscriberInitExt, EnvFilter, Layer};

static TRACING: AtomicBool = AtomicBool::new(false);

/// Flushes the spans not exported yet when dropped.
pub struct Telemetry(Option<SdkTracerProvider>);

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.0.take() {
            if let Err(e) = provider.shutdown() {
                eprintln!("exporting the last spans failed: {e}");
            }
        }
    }
}

/// Installs the log output and, when a collector is configured, the span
/// exporter. `label` (a trigger plugin's name) starts every log line: Spin
/// interleaves the stderr of its trigger processes.
pub fn init(label: Option<&str>) -> anyhow::Result<Telemetry> {
    let logs = tracing_subscriber::fmt::layer().with_writer(LabelledStderr(label.map(Arc::from))).with_filter(
        EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| "info,wasmtime_cranelift=warn,cranelift_codegen=warn".into()),
    );
    let configured = ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
        .iter()
        .any(|name| std::env::var(name).is_ok_and(|v| !v.is_empty()));
    if !configured {
        tracing_subscriber::registry().with(logs).init();
        return Ok(Telemetry(None));
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder().with_http().build()?;
    let service = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| "todo-host".into());
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(service).build())
        .build();
    // The host's own spans, down to the host calls (debug level), whatever RUST_LOG says.
    let spans = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("todo-host"))
        .with_filter(Targets::new().with_target("todo_host", tracing::Level::DEBUG));
    tracing_subscriber::registry().with(logs).with(spans).init();
    TRACING.store(true, Ordering::Relaxed);
    Ok(Telemetry(Some(provider)))
}

/// Log lines on stderr, each after `[label] ` if there is a label.
#[derive(Clone)]
struct LabelledStderr(Option<Arc<str>>);

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LabelledStderr {
    type Writer = LabelledStderr;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl std::io::Write for LabelledStderr {
    /// The formatter writes each event in one call, so the label starts its line.
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut stderr = std::io::stderr().lock();
        if let Some(label) = &self.0 {
            write!(stderr, "[{label}] ")?;
        }
        stderr.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// The W3C `traceparent` of the current span, when traces are on.
pub fn traceparent() -> Option<String> {
    if !TRACING.load(Ordering::Relaxed) {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&tracing::Span::current().context(), &mut carrier);
    carrier.remove("traceparent")
}

/// Makes `span` a child of the remote span `traceparent` names.
pub fn set_parent(span: &tracing::Span, traceparent: Option<&str>) {
    let Some(traceparent) = traceparent.filter(|_| TRACING.load(Ordering::Relaxed)) else { return };
    let carrier = HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    let _ = span.set_parent(TraceContextPropagator::new().extract(&carrier));
}
