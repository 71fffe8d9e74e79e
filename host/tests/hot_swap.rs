//! Hot-swapping component versions under load: no failed request, no lost or
//! duplicated side effect, responses switch versions; broken versions are
//! refused; `--watch` swaps a changed file.

mod common;

use common::{client, Host, Options, ADMIN_TOKEN};
use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

/// The same component with a custom section appended: another content hash,
/// the same behaviour.
fn variant(bytes: &[u8], tag: &str) -> Vec<u8> {
    let name = b"todo-test-variant";
    let payload = tag.as_bytes();
    let mut section = vec![name.len() as u8];
    section.extend_from_slice(name);
    section.extend_from_slice(payload);
    let mut out = bytes.to_vec();
    out.push(0); // custom section id
    out.push(section.len() as u8); // a LEB128 byte suffices below 128
    out.extend(section);
    out
}

struct Admin {
    base: String,
    http: reqwest::Client,
}

impl Admin {
    fn of(host: &Host) -> Self {
        Self { base: host.admin_base.clone().expect("admin API on"), http: reqwest::Client::new() }
    }

    async fn push(&self, id: &str, bytes: Vec<u8>, activate: bool) -> reqwest::Response {
        let url = format!("{}/admin/components/{id}/versions?activate={activate}", self.base);
        self.http.post(url).bearer_auth(ADMIN_TOKEN).body(bytes).send().await.unwrap()
    }

    async fn sha(&self, id: &str, bytes: Vec<u8>) -> String {
        let res = self.push(id, bytes, false).await;
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
        res.json::<serde_json::Value>().await.unwrap()["sha256"].as_str().unwrap().to_owned()
    }

    async fn activate(&self, id: &str, sha256: &str) {
        let url = format!("{}/admin/components/{id}/activate", self.base);
        let res = self
            .http
            .post(url)
            .bearer_auth(ADMIN_TOKEN)
            .json(&serde_json::json!({ "sha256": sha256 }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    }
}

fn wasm(package: &str) -> Vec<u8> {
    std::fs::read(common::repo().join(format!("target/wasm/wasm32-wasip2/release/{}.wasm", package.replace('-', "_"))))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swapping_under_load_fails_nothing_and_loses_nothing() {
    let v2 = std::fs::read(common::build_test_guest("v2")).unwrap();
    let host = Host::start_with(Options { admin: true, ..Options::default() });
    let admin = Admin::of(&host);
    let guest = [admin.sha("test-guest", wasm("test-guest")).await, admin.sha("test-guest", v2).await];
    let api =
        [admin.sha("task-api", wasm("task-api")).await, admin.sha("task-api", variant(&wasm("task-api"), "b")).await];

    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let versions = Arc::new(Mutex::new(HashMap::<String, usize>::new()));
    let (created, published) = (Arc::new(Mutex::new(Vec::new())), Arc::new(AtomicUsize::new(0)));
    let mut load = Vec::new();
    for worker in 0..3 {
        let (stop, failures, versions, created, published) =
            (stop.clone(), failures.clone(), versions.clone(), created.clone(), published.clone());
        let (alice, base) = (client("alice"), host.base.clone());
        load.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let outcome = match worker {
                    0 => match alice.get(format!("{base}/test/version")).send().await {
                        Ok(res) if res.status() == 200 => {
                            let version = res.text().await.unwrap();
                            *versions.lock().unwrap().entry(version).or_default() += 1;
                            Ok(())
                        }
                        other => Err(format!("version: {other:?}")),
                    },
                    1 => match alice
                        .post(format!("{base}/api/todos"))
                        .json(&serde_json::json!({ "title": format!("t{n}") }))
                        .send()
                        .await
                    {
                        Ok(res) if res.status() == 201 => {
                            let task: serde_json::Value = res.json().await.unwrap();
                            created.lock().unwrap().push(task["id"].as_str().unwrap().to_owned());
                            Ok(())
                        }
                        other => Err(format!("create: {other:?}")),
                    },
                    _ => match alice
                        .post(format!("{base}/test/publish?topic=test&id=load-{n}"))
                        .body("\"ok\"")
                        .send()
                        .await
                    {
                        Ok(res) if res.status() == 202 => {
                            published.fetch_add(1, Ordering::Relaxed);
                            Ok(())
                        }
                        other => Err(format!("publish: {other:?}")),
                    },
                };
                if let Err(e) = outcome {
                    failures.lock().unwrap().push(e);
                }
            }
        }));
    }

    for swap in 0..30 {
        admin.activate("test-guest", &guest[(swap + 1) % 2]).await;
        admin.activate("task-api", &api[(swap + 1) % 2]).await;
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    // Two more through the CLI: a rollback each.
    for id in ["test-guest", "task-api"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_todo-host"))
            .args(["component", "rollback", id, "--admin-url", host.admin_base.as_deref().unwrap()])
            .env("TODO_ADMIN_TOKEN", ADMIN_TOKEN)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    for worker in load {
        worker.await.unwrap();
    }

    assert_eq!(*failures.lock().unwrap(), Vec::<String>::new(), "requests failed during swaps");
    let versions = versions.lock().unwrap().clone();
    assert!(versions.get("v1").is_some_and(|n| *n > 0) && versions.get("v2").is_some_and(|n| *n > 0), "{versions:?}");

    // Every acknowledged create exists once; every published event was handled once.
    let created = created.lock().unwrap().clone();
    let alice = client("alice");
    for id in &created {
        assert_eq!(alice.get(host.url(&format!("/api/todos/{id}"))).send().await.unwrap().status(), 200);
    }
    let total = published.load(Ordering::Relaxed);
    let deliveries = host
        .eventually(Duration::from_secs(20), || async {
            let seen: Vec<String> =
                alice.get(host.url("/test/records?kind=event")).send().await.ok()?.json().await.ok()?;
            let load: Vec<String> = seen.into_iter().filter(|r| r.starts_with("test|load-")).collect();
            (load.len() >= total).then_some(load)
        })
        .await;
    let mut ids: Vec<&str> = deliveries.iter().map(|r| r.split('|').nth(1).unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!((ids.len(), deliveries.len()), (total, total), "an event was lost or handled twice");
    println!(
        "62 swaps under load: {} version requests, {} creates, {total} events, no failure",
        versions.values().sum::<usize>(),
        created.len()
    );

    let listed =
        admin.http.get(format!("{}/admin/components", admin.base)).bearer_auth(ADMIN_TOKEN).send().await.unwrap();
    let listed: serde_json::Value = listed.json().await.unwrap();
    assert_eq!(listed["components"]["test-guest"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn broken_versions_are_refused_and_traffic_is_unaffected() {
    let host = Host::start_with(Options { admin: true, ..Options::default() });
    let admin = Admin::of(&host);
    let alice = client("alice");

    let res = admin.push("test-guest", b"\0asm not really".to_vec(), true).await;
    assert_eq!(res.status(), 422);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("compiling"), "{body}");

    // The Task API is only an HTTP component: as the test component it lacks
    // the event-handler and scheduled-job exports its triggers need.
    let res = admin.push("test-guest", wasm("task-api"), true).await;
    assert_eq!(res.status(), 422);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("does not export"), "{body}");

    assert_eq!(admin.push("nope", wasm("task-api"), true).await.status(), 404);
    // The other refusals, each with its status and the API's error body.
    let post = |path: &str, body: &'static str| {
        admin
            .http
            .post(format!("{}/admin/components/test-guest/{path}", admin.base))
            .bearer_auth(ADMIN_TOKEN)
            .body(body)
            .send()
    };
    for (path, body, status, code) in [
        ("activate", "{\"sha256\": \"abc\"}", 400, "bad_request"),
        ("activate", "{\"sha\": 1", 400, "malformed_json"),
        ("activate", "{\"sha256\": \"0000000000\"}", 404, "not_found"),
        ("rollback", "", 409, "conflict"),
    ] {
        let res = post(path, body).await.unwrap();
        assert_eq!(res.status(), status, "{path} {body}");
        let answer: serde_json::Value = res.json().await.unwrap();
        assert_eq!(answer["error"]["code"], code, "{path} {body}: {answer}");
    }
    let res = admin.http.get(format!("{}/admin/components", admin.base)).send().await.unwrap();
    assert_eq!(res.status(), 401, "the admin API needs its token");

    assert_eq!(alice.get(host.url("/test/version")).send().await.unwrap().text().await.unwrap(), "v1");
    let res =
        alice.post(host.url("/api/todos")).json(&serde_json::json!({ "title": "still fine" })).send().await.unwrap();
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn watch_swaps_in_a_changed_component_file() {
    let v2 = std::fs::read(common::build_test_guest("v2")).unwrap();
    let watched = tempfile::tempdir().unwrap();
    let source = watched.path().join("test_guest.wasm");
    std::fs::write(&source, wasm("test-guest")).unwrap();
    let host = Host::start_with(Options { watch: true, test_guest: source.clone(), ..Options::default() });
    let alice = client("alice");
    let version = || async { alice.get(host.url("/test/version")).send().await.unwrap().text().await.unwrap() };
    assert_eq!(version().await, "v1");

    std::fs::write(&source, &v2).unwrap();
    host.eventually(Duration::from_secs(20), || async { (version().await == "v2").then_some(()) }).await;

    // A broken file is refused (the watcher saw it and said so); v2 keeps serving.
    let refusals = || host.metric("todo_component_swap_refusals_total{component=\"test-guest\"}");
    assert_eq!(refusals().await, 0.0);
    std::fs::write(&source, b"garbage").unwrap();
    host.eventually_or(
        Duration::from_secs(20),
        || async { (refusals().await >= 1.0).then_some(()) },
        || "the watcher never refused the garbage file".into(),
    )
    .await;
    assert_eq!(version().await, "v2");
}
