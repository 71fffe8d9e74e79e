//! SIGKILL while writes are in flight: every acknowledged task, and every
//! event of one, survives the crash (the outbox relays them after restart).

mod common;

use common::{client, Host};
use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::Duration,
};

#[tokio::test]
async fn sigkill_during_writes_loses_no_acknowledged_task_or_event() {
    let mut host = Host::start();
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (alice, url, acknowledged) = (client("alice"), host.url("/api/todos"), acknowledged.clone());
            tokio::spawn(async move {
                for n in 0.. {
                    let body = serde_json::json!({ "title": format!("writer {w} task {n}") });
                    let Ok(res) = alice.post(&url).json(&body).send().await else { return };
                    if res.status() != 201 {
                        return;
                    }
                    let Ok(task) = res.json::<serde_json::Value>().await else { return };
                    acknowledged.lock().unwrap().push(task["id"].as_str().unwrap().to_owned());
                }
            })
        })
        .collect();
    host.eventually(Duration::from_secs(30), || async { (acknowledged.lock().unwrap().len() >= 300).then_some(()) })
        .await;
    host.kill();
    for writer in writers {
        writer.await.unwrap();
    }
    let acknowledged: Vec<String> = acknowledged.lock().unwrap().clone();

    host.restart();
    let alice = client("alice");
    for id in &acknowledged {
        let res = alice.get(host.url(&format!("/api/todos/{id}"))).send().await.unwrap();
        assert_eq!(res.status(), 200, "acknowledged task {id} is gone");
    }
    // Every acknowledged create reaches the task-events subscriber.
    let wanted: HashSet<&str> = acknowledged.iter().map(String::as_str).collect();
    let tester = client("tester");
    let missing = host
        .eventually(Duration::from_secs(30), || async {
            let url = host.url("/test/records?kind=event");
            let seen: Vec<String> = tester.get(url).send().await.ok()?.json().await.ok()?;
            let delivered: HashSet<&str> =
                seen.iter().filter(|r| r.starts_with("task-events|")).filter_map(|r| r.split('|').nth(3)).collect();
            let missing = wanted.difference(&delivered).count();
            (missing == 0).then_some(missing)
        })
        .await;
    assert_eq!(missing, 0);
    println!("{} acknowledged tasks and their events survived SIGKILL", acknowledged.len());
}
