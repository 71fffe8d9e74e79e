//! `GET /metrics` after some traffic: the series are there, with plausible values.

mod common;

use common::{client, Host};
use std::time::Duration;

/// The value of the first sample whose line starts with `series` (name and labels).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find(|l| l.starts_with(series)).and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test]
async fn metrics_count_requests_instances_failures_events_and_streams() {
    let host = Host::start();
    let alice = client("alice");
    for n in 0..5 {
        let res = alice
            .post(host.url("/api/todos"))
            .json(&serde_json::json!({ "title": format!("m{n}") }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
    }
    assert_eq!(alice.get(host.url("/test/trap")).send().await.unwrap().status(), 500);
    let res =
        alice.post(host.url("/test/publish?topic=test&id=m-retry")).body(r#"{"fail_until": 2}"#).send().await.unwrap();
    assert_eq!(res.status(), 202);
    let res = alice.post(host.url("/test/publish?topic=test&id=m-drop")).body("\"drop\"").send().await.unwrap();
    assert_eq!(res.status(), 202);
    let _stream = alice.get(host.url("/api/stream/tasks")).send().await.unwrap();

    let text = host
        .eventually(Duration::from_secs(10), || async {
            let text = reqwest::get(host.url("/metrics")).await.ok()?.text().await.ok()?;
            let dead = sample(&text, r#"todo_pubsub_dead_letters_total{subscription="test-guest.test"}"#);
            (dead == Some(1.0)).then_some(text)
        })
        .await;
    let has = |series: &str| sample(&text, series).unwrap_or_else(|| panic!("no {series} in\n{text}"));

    assert_eq!(has(r#"todo_http_requests_total{route="/api/todos/...",component="task-api",status="201"}"#), 5.0);
    assert_eq!(has(r#"todo_http_requests_total{route="/test/...",component="test-guest",status="500"}"#), 1.0);
    assert_eq!(has(r#"todo_http_request_seconds_count{route="/api/todos/...",component="task-api"}"#), 5.0);
    let seconds = has(r#"todo_http_request_seconds_sum{route="/api/todos/...",component="task-api"}"#);
    assert!(seconds > 0.0 && seconds < 5.0, "{seconds}");
    assert!(has(r#"todo_instantiate_seconds_count{component="task-api"}"#) >= 5.0);
    assert_eq!(has(r#"todo_guest_failures_total{component="test-guest",kind="trap"}"#), 1.0);
    assert!(has(r#"todo_pubsub_published_total{topic="task-events"}"#) >= 5.0);
    assert_eq!(has(r#"todo_pubsub_deliveries_total{subscription="test-guest.test",outcome="retry"}"#), 1.0);
    assert!(has(r#"todo_pubsub_deliveries_total{subscription="test-guest.test",outcome="success"}"#) >= 1.0);
    assert_eq!(has(r#"todo_pubsub_deliveries_total{subscription="test-guest.test",outcome="drop"}"#), 1.0);
    let lag = has(r#"todo_pubsub_consumer_lag_seconds{subscription="test-guest.task-events"}"#);
    assert!((0.0..5.0).contains(&lag), "{lag}");
    assert_eq!(has("todo_sse_streams "), 1.0);
}
