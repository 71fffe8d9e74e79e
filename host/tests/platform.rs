//! The host with real components: health, authentication, body limits, the
//! sandbox (loops, traps, memory), pub/sub delivery, cron, state.

mod common;

use common::{client, distributed, Host, EVENT_WAIT};
use reqwest::StatusCode;
use std::time::{Duration, Instant};

async fn records(host: &Host, kind: &str) -> Vec<String> {
    let res = client("tester").get(host.url(&format!("/test/records?kind={kind}"))).send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn error_code(res: reqwest::Response) -> String {
    let body: serde_json::Value = res.json().await.unwrap();
    body["error"]["code"].as_str().unwrap_or_else(|| panic!("not a JSON error: {body}")).to_owned()
}

#[tokio::test]
async fn health_readiness_and_authentication() {
    let host = Host::start();
    let anon = reqwest::Client::new();
    assert_eq!(anon.get(host.url("/healthz")).send().await.unwrap().status(), 200);
    assert_eq!(anon.get(host.url("/readyz")).send().await.unwrap().status(), 200);

    // No token, a bad token, an expired token: 401, before the component does anything.
    let res = anon.get(host.url("/test/whoami")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    assert_eq!(error_code(res).await, "unauthorized");
    let res = anon.get(host.url("/test/whoami")).bearer_auth("not.a.jwt").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let expired = common::signed(common::SECRET, "alice", -60);
    let res = anon.get(host.url("/test/whoami")).bearer_auth(expired).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(records(&host, "whoami").await.is_empty());

    // A valid token: the component sees its user id, not the client's claim.
    let res = client("alice").get(host.url("/test/whoami")).header("todo-user-id", "mallory").send().await.unwrap();
    assert_eq!(res.text().await.unwrap(), "alice");

    // Signing out clears the stream cookie.
    let res = anon.post(host.url("/auth/sign-out")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(res.headers()["set-cookie"].to_str().unwrap().starts_with("todo_token=; Path=/api/stream"));
    // Development sign-in is off when the secret is configured.
    let res = anon.post(host.url("/auth/dev/sign-in")).json(&serde_json::json!({"user_id": "a"})).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // Unknown files are JSON 404s (other paths are the dashboard's routes).
    let res = client("alice").get(host.url("/nowhere.txt")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(res).await, "not_found");
}

/// The static-files component on the catch-all route, its files mounted
/// read-only from the manifest's `files`.
#[tokio::test]
async fn static_files_are_served_below_the_component_routes() {
    let host = Host::start();
    let anon = reqwest::Client::new();
    let get = |path: &str, accept: &str| anon.get(host.url(path)).header("accept", accept.to_owned()).send();
    let res = get("/", "text/html").await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
    assert!(res.text().await.unwrap().contains("<title>todo</title>"));
    let res = get("/assets/app.js", "*/*").await.unwrap();
    assert_eq!(res.headers()["content-type"], "text/javascript; charset=utf-8");
    assert!(res.headers()["cache-control"].to_str().unwrap().contains("immutable"));
    assert_eq!(res.text().await.unwrap(), "console.log('todo')");
    // A page of the single-page app (no dot in its last segment): the entry point.
    let res = get("/tasks/42", "text/html,application/xhtml+xml").await.unwrap();
    assert_eq!(res.headers()["cache-control"], "no-cache");
    assert!(res.text().await.unwrap().contains("<title>todo</title>"));
    let res = get("/assets/missing.js", "*/*").await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(res).await, "not_found");
    let res = get("/../spin.toml", "*/*").await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "nothing outside the mount");
    // Where the dashboard's stream is: the same origin here.
    let res = get("/todo-config.json", "*/*").await.unwrap();
    assert_eq!(res.json::<serde_json::Value>().await.unwrap(), serde_json::json!({ "stream_url": "" }));
    // Component routes still win, and still need a token.
    assert_eq!(get("/api/todos", "text/html").await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(anon.post(host.url("/")).send().await.unwrap().status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn bodies_over_one_mebibyte_are_refused_and_large_responses_arrive_whole() {
    let host = Host::start();
    let alice = client("alice");
    let res = alice.post(host.url("/test/publish")).body(vec![b' '; 1024 * 1024 + 1]).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(res).await, "payload_too_large");
    // The host answered before reading the oversized body, then closed that
    // connection: go on with a fresh one.
    let body = client("alice").get(host.url("/test/big?kb=300")).send().await.unwrap().text().await.unwrap();
    assert_eq!(body.len(), 300 * 1024);
}

#[tokio::test]
async fn a_looping_trapping_or_greedy_guest_does_not_take_the_host_down() {
    let host = Host::start();
    let alice = client("alice");
    let started = Instant::now();
    // Two guests loop forever while a third request is served at once.
    let loops: Vec<_> = (0..2).map(|_| alice.get(host.url("/test/loop")).send()).collect();
    let version = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let t = Instant::now();
        let res = alice.get(host.url("/test/version")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        t.elapsed()
    };
    let (looped, served_in) = tokio::join!(futures::future::join_all(loops), version);
    assert!(served_in < Duration::from_secs(1), "a request waited {served_in:?} behind looping guests");
    for res in looped {
        let res = res.unwrap();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(error_code(res).await, "component_failed");
    }
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_secs(2) && elapsed < Duration::from_secs(10), "time limit took {elapsed:?}");

    let res = alice.get(host.url("/test/trap")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    // The memory cap is 64 MiB: 8 MiB is fine, 100 MiB is not.
    assert_eq!(alice.get(host.url("/test/alloc?mb=8")).send().await.unwrap().status(), 200);
    let res = alice.get(host.url("/test/alloc?mb=100")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);

    // Still serving.
    assert_eq!(alice.get(host.url("/test/version")).send().await.unwrap().status(), 200);
    assert_eq!(reqwest::get(host.url("/healthz")).await.unwrap().status(), 200);
}

#[tokio::test]
async fn events_are_delivered_retried_and_dead_lettered_and_rollbacks_publish_nothing() {
    let host = Host::start();
    let alice = client("alice");
    let publish = |id: &'static str, data: &'static str, extra: &'static str| {
        let alice = alice.clone();
        let url = host.url(&format!("/test/publish?topic=test&id={id}{extra}"));
        async move { assert_eq!(alice.post(url).body(data).send().await.unwrap().status(), 202) }
    };
    publish("rolled-back", "\"ok\"", "&tx=rollback").await;
    publish("flaky", r#"{"fail_until": 2}"#, "").await;
    publish("poison", "\"trap\"", "").await;
    publish("dropped", "\"drop\"", "").await;
    publish("fine", "\"ok\"", "").await;

    let deliveries = host
        .eventually(Duration::from_secs(10), || async {
            let seen: Vec<String> =
                records(&host, "event").await.into_iter().filter(|r| r.starts_with("test|")).collect();
            seen.iter().any(|r| r.starts_with("test|fine|")).then_some(seen)
        })
        .await;
    let ids: Vec<String> = deliveries.iter().map(|r| r.split('|').take(3).collect::<Vec<_>>().join("|")).collect();
    assert_eq!(
        ids,
        vec![
            "test|flaky|1",
            "test|flaky|2", // retried once, then succeeded
            "test|poison|1",
            "test|poison|2",
            "test|poison|3", // trapped until out of attempts
            "test|dropped|1",
            "test|fine|1",
        ]
    );

    // The two it gave up on are in the dead-letter topic (embedded: listed
    // by `todo-host dead-letters`, with the reason).
    let letters =
        host.eventually(EVENT_WAIT, || async { Some(host.dead_letters("test").await).filter(|l| l.len() >= 2) }).await;
    let ids: Vec<&str> = letters.iter().map(|l| l["event_id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec!["poison", "dropped"]);
    if !distributed() {
        assert!(letters[0]["reason"].as_str().unwrap().contains("3 attempts"), "{letters:?}");
    }
}

#[tokio::test]
async fn cron_ticks_and_set_if_absent() {
    let host = Host::start();
    let ticks = host
        .eventually(Duration::from_secs(5), || async {
            let ticks = records(&host, "tick").await;
            (ticks.len() >= 2).then_some(ticks)
        })
        .await;
    let times: Vec<chrono::DateTime<chrono::Utc>> = ticks.iter().map(|t| t.parse().unwrap()).collect();
    assert!(times[1] - times[0] >= chrono::Duration::milliseconds(990), "{ticks:?}");

    // `todo-host job` runs a tick for a chosen time, next to the running host.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_todo-host"))
        .envs(host.backend_env())
        .args(["job", "test-guest", "--at", "2030-01-02T03:04:05+01:00", "-f"])
        .arg(host.dir.path().join("spin.toml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(records(&host, "tick").await.contains(&"2030-01-02T02:04:05.000000Z".to_owned()));

    let alice = client("alice");
    let once = |key: &'static str| {
        let (alice, url) = (alice.clone(), host.url(&format!("/test/once?key={key}")));
        async move { alice.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let racers = futures::future::join_all((0..8).map(|_| once("shared"))).await;
    assert_eq!(racers.iter().filter(|r| *r == "true").count(), 1, "{racers:?}");
}

#[tokio::test]
async fn compiled_components_are_cached_across_restarts() {
    let mut host = Host::start();
    // The harness shares one cache between hosts; it holds both components.
    let cache = host.dir.path().join(".data/compiled");
    let cached = || {
        std::fs::read_dir(&cache)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "cwasm"))
            .count()
    };
    assert!(cached() >= 2);
    let entries = || -> std::collections::BTreeMap<_, _> {
        std::fs::read_dir(&cache)
            .unwrap()
            .map(|e| e.unwrap())
            .map(|e| (e.file_name(), e.metadata().unwrap().modified().unwrap()))
            .collect()
    };
    let before = entries();
    host.restart();
    assert_eq!(client("a").get(host.url("/test/version")).send().await.unwrap().status(), 200);
    // Other tests' hosts may add entries meanwhile; none of these may change.
    let after = entries();
    for (name, modified) in &before {
        assert_eq!(after.get(name), Some(modified), "a restart recompiled {name:?}");
    }
}
