//! A component reaches only what its manifest grants: outbound HTTP
//! (`allowed_outbound_hosts`), databases and state stores (`sql_databases`,
//! `state_stores`); a grant the runtime configuration cannot satisfy, or a
//! component built for another version of the platform, stops the host.

mod common;

use common::{client, refused_start, Host, Options, ALL_GRANTS};
use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A loopback HTTP server that counts the connections it accepted and
/// answers each request with 200 "pong".
async fn counting_server() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let _ = socket.read(&mut buf).await;
                let _ =
                    socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\nconnection: close\r\n\r\npong").await;
            });
        }
    });
    (format!("http://{addr}"), seen)
}

async fn outbound(host: &Host, url: &str) -> (u16, String) {
    let target: String = form_urlencoded::byte_serialize(format!("{url}/ping").as_bytes()).collect();
    let res = client("alice").get(host.url(&format!("/test/outbound?url={target}"))).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test]
async fn outbound_http_reaches_only_the_granted_hosts() {
    let (server, seen) = counting_server().await;
    let denied = Host::start();
    let (status, body) = outbound(&denied, &server).await;
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("HttpRequestDenied"), "the guest sees wasi-http's denial: {body}");
    assert_eq!(seen.load(Ordering::SeqCst), 0, "a denied request never leaves the host");

    // A grant of another port of the same host is no grant of this one.
    let port: u16 = server.rsplit(':').next().unwrap().parse().unwrap();
    let other = Host::start_with(Options {
        test_guest_outbound: vec![format!("http://127.0.0.1:{}", port + 1)],
        ..Options::default()
    });
    assert_eq!(outbound(&other, &server).await.0, 502);
    assert_eq!(seen.load(Ordering::SeqCst), 0);

    let granted = Host::start_with(Options { test_guest_outbound: vec![server.clone()], ..Options::default() });
    let (status, body) = outbound(&granted, &server).await;
    assert_eq!((status, body.as_str()), (200, "200 pong"));
    assert_eq!(seen.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn stores_not_granted_are_denied() {
    let host = Host::start_with(Options { test_guest_grants: "publish_topics = [\"*\"]".into(), ..Options::default() });
    let alice = client("alice");
    for query in ["sql=default", "state=default"] {
        let res = alice.get(host.url(&format!("/test/open?{query}"))).send().await.unwrap();
        let status = res.status().as_u16();
        let body = res.text().await.unwrap();
        assert_eq!(status, 403, "{query}: {body}");
        assert!(body.contains("AccessDenied"), "{query}: {body}");
    }
    // The Task API keeps its own grant.
    let res = alice.post(host.url("/api/todos")).json(&serde_json::json!({ "title": "granted" })).send().await.unwrap();
    assert_eq!(res.status(), 201);

    let granted = Host::start();
    let res = alice.get(granted.url("/test/open?sql=other")).send().await.unwrap();
    assert_eq!(res.status(), 403, "a label not granted is denied, defined or not");
    assert!(res.text().await.unwrap().contains("AccessDenied"));
}

#[test]
fn a_grant_the_runtime_configuration_does_not_define_stops_the_host() {
    let stderr = refused_start(&Options {
        test_guest_grants: ALL_GRANTS
            .replace("state_stores = [\"default\"]", "state_stores = [\"default\", \"cache\"]"),
        ..Options::default()
    });
    for part in ["test-guest", "state_stores", "\"cache\""] {
        assert!(stderr.contains(part), "the refusal names {part}: {stderr}");
    }
    let stderr = refused_start(&Options { test_guest_outbound: vec!["api.example.com".into()], ..Options::default() });
    assert!(stderr.contains("test-guest") && stderr.contains("api.example.com"), "{stderr}");
}

/// A component whose only import is `todo:platform/sql@0.1.0`.
fn old_platform_component() -> Vec<u8> {
    wat::parse_str(r#"(component (import "todo:platform/sql@0.1.0" (instance)))"#).unwrap()
}

#[test]
fn a_component_built_for_platform_0_1_is_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.wasm");
    std::fs::write(&old, old_platform_component()).unwrap();
    let stderr = refused_start(&Options { test_guest: old, ..Options::default() });
    assert!(stderr.contains("todo:platform/sql@0.1.0") && stderr.contains("0.2.0"), "{stderr}");
}

#[tokio::test]
async fn a_component_built_for_platform_0_1_is_refused_at_swap() {
    let host = Host::start_with(Options { admin: true, ..Options::default() });
    let res = reqwest::Client::new()
        .post(format!("{}/admin/components/test-guest/versions?activate=true", host.admin_base.as_ref().unwrap()))
        .bearer_auth(common::ADMIN_TOKEN)
        .body(old_platform_component())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("todo:platform/sql@0.1.0"), "{body}");
}
