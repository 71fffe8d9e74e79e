//! OpenTelemetry traces: with an OTLP endpoint configured, one trace runs
//! from an HTTP request through the component and its host calls to the
//! delivery of the event it published, and on into the handler's own calls.

mod common;

use common::{client, expect_json, Host, Options, EVENT_WAIT};
use opentelemetry_proto::tonic::{collector::trace::v1::ExportTraceServiceRequest, trace::v1::Span};
use prost::Message;
use serde_json::json;
use std::sync::{Arc, Mutex};

/// An OTLP/HTTP endpoint that keeps every span exported to it (decoded from
/// the protobuf the host sends, as a collector would).
async fn receiver() -> (String, Arc<Mutex<Vec<Span>>>) {
    let spans = Arc::new(Mutex::new(Vec::new()));
    let kept = spans.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: bytes::Bytes| {
            let kept = kept.clone();
            async move {
                let request = ExportTraceServiceRequest::decode(body).expect("an OTLP trace export");
                let exported = request.resource_spans.into_iter().flat_map(|r| r.scope_spans).flat_map(|s| s.spans);
                kept.lock().unwrap().extend(exported);
                ""
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, spans)
}

#[tokio::test]
async fn a_request_its_host_calls_and_the_delivery_of_its_event_form_one_trace() {
    let (endpoint, spans) = receiver().await;
    let env = [("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()), ("OTEL_BSP_SCHEDULE_DELAY", "100")];
    let host =
        Host::start_with(Options { env: env.map(|(k, v)| (k.to_owned(), v.to_owned())).into(), ..Options::default() });
    let alice = client("alice");
    let body = json!({"title": "traced", "recurrence_pattern": {"frequency": "daily"}});
    let task = expect_json(alice.post(host.url("/api/todos")).json(&body).send().await.unwrap(), 201).await;

    // The caller's trace continues in the host (W3C traceparent).
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let res = alice
        .patch(host.url(&format!("/api/todos/{}/complete", task["id"].as_str().unwrap())))
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .send()
        .await
        .unwrap();
    expect_json(res, 200).await;

    let in_trace = |name: &str| -> Vec<Span> {
        let spans = spans.lock().unwrap();
        spans.iter().filter(|s| hex(&s.trace_id) == trace_id && s.name.starts_with(name)).cloned().collect()
    };
    let delivery = host
        .eventually(EVENT_WAIT, || async { in_trace("deliver task-events to recurring-handler").into_iter().next() })
        .await;
    let request = in_trace("PATCH /api/todos/...").pop().expect("the request's span");
    assert_eq!(hex(&request.parent_span_id), "00f067aa0ba902b7");
    // The component's host calls are children of the request...
    let children_of = |parent: &Span| -> Vec<String> {
        let spans = spans.lock().unwrap();
        spans.iter().filter(|s| s.parent_span_id == parent.span_id).map(|s| s.name.clone()).collect()
    };
    let calls = children_of(&request);
    for call in ["sql.open", "sql.begin", "sql.query", "sql.execute", "sql.commit", "outbox.publish"] {
        assert!(calls.iter().any(|c| c == call), "no {call} under the request: {calls:?}");
    }
    // ...and the handler's, of the delivery (which creates the next occurrence).
    host.eventually(EVENT_WAIT, || async { children_of(&delivery).iter().any(|c| c == "sql.commit").then_some(()) })
        .await;
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
