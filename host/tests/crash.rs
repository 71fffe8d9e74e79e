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
    // Every acknowledged create reaches the task-events subscriber; on a
    // timeout, say which ones did not.
    let wanted: HashSet<String> = acknowledged.iter().cloned().collect();
    let tester = client("tester");
    let missing = Arc::new(Mutex::new(wanted.clone()));
    host.eventually_or(
        Duration::from_secs(30),
        || async {
            let url = host.url("/test/records?kind=event");
            let seen: Vec<String> = tester.get(url).send().await.ok()?.json().await.ok()?;
            let delivered: HashSet<String> = seen
                .iter()
                .filter(|r| r.starts_with("task-events|"))
                .filter_map(|r| r.split('|').nth(3).map(str::to_owned))
                .collect();
            let still: HashSet<String> = wanted.difference(&delivered).cloned().collect();
            let done = still.is_empty();
            *missing.lock().unwrap() = still;
            done.then_some(())
        },
        || {
            let missing = missing.lock().unwrap();
            let some: Vec<&String> = missing.iter().take(10).collect();
            format!(
                "{} of {} acknowledged tasks have no task-events delivery, e.g. {some:?}",
                missing.len(),
                wanted.len()
            )
        },
    )
    .await;
    println!("{} acknowledged tasks and their events survived SIGKILL", acknowledged.len());
}
