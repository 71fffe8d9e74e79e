//! The distributed backend as a cluster: host replicas, each with its own
//! daprd, on one Kafka, Redis and PostgreSQL; and outages of Kafka and of
//! a sidecar. Run by `scripts/test.sh`, which starts those servers (the
//! tests are ignored without them). One test at a time: they stop servers
//! every test relies on.

mod common;

use common::{client, distributed, Host, Options, SseReader, TaskApi, EVENT_WAIT};
use serde_json::json;
use std::{collections::BTreeMap, time::Duration};

const NEEDS: &str = "needs the distributed backend's servers (scripts/test.sh)";
/// An async lock, so that a panicking test frees it and the others go on.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How many tasks each of the user's tasks is the parent of.
async fn children(host: &Host, user: &str) -> BTreeMap<String, usize> {
    let mut count = BTreeMap::new();
    for t in TaskApi::new(host, user).tasks().await {
        if let Some(parent) = t["parent_task_id"].as_str() {
            *count.entry(parent.to_owned()).or_default() += 1;
        }
    }
    count
}

fn replica_of(first: &Host) -> Options {
    Options { cluster: Some(first.cluster()), dapr_cron: true, ..Options::default() }
}

#[tokio::test]
#[ignore = "needs the distributed backend's servers (scripts/test.sh)"]
async fn two_replicas_share_the_events_streams_recurrences_and_reminders() {
    assert!(distributed(), "{NEEDS}");
    let _serial = ONE_AT_A_TIME.lock().await;
    let a = Host::start_with(Options { dapr_cron: true, ..Options::default() });
    let b = Host::start_with(replica_of(&a));

    // A change made through A reaches a stream held by B.
    let res = client("alice").get(b.url("/api/stream/tasks")).send().await.unwrap();
    let mut on_b = SseReader::new(res);
    let task = TaskApi::new(&a, "alice").create(json!({"title": "made on A"})).await;
    let change = loop {
        let event = on_b.next(EVENT_WAIT).await.expect("B's stream got nothing from A");
        if event.event == "sync.task-changed" {
            break event.json();
        }
    };
    assert_eq!(change["task_id"], task["id"]);

    // set-if-absent is atomic across replicas, on Redis: one winner of 16.
    let once = |host: &Host| {
        let url = host.url("/test/once?key=race");
        async move { client("alice").get(url).send().await.unwrap().text().await.unwrap() }
    };
    let racers = futures::future::join_all((0..16).map(|i| once(if i % 2 == 0 { &a } else { &b }))).await;
    assert_eq!(racers.iter().filter(|r| *r == "true").count(), 1, "{racers:?}");

    // Completed recurring tasks, through either replica: one next occurrence each.
    let mut parents = Vec::new();
    for i in 0..6 {
        let host = if i % 2 == 0 { &a } else { &b };
        let body = json!({"title": format!("recurring {i}"), "recurrence_pattern": {"frequency": "daily"}});
        let id = TaskApi::new(host, "alice").create(body).await["id"].as_str().unwrap().to_owned();
        TaskApi::new(if i % 2 == 0 { &b } else { &a }, "alice").complete(&id, true).await;
        parents.push(id);
    }
    let expected: BTreeMap<String, usize> = parents.iter().map(|p| (p.clone(), 1)).collect();
    a.eventually(EVENT_WAIT, || async { (children(&a, "alice").await == expected).then_some(()) }).await;

    // A task due within the hour: both replicas' cron bindings run the
    // checker every minute; the user is reminded once.
    let due = (chrono::Utc::now() + chrono::Duration::minutes(30)).to_rfc3339();
    let task = TaskApi::new(&a, "bob").create(json!({"title": "due soon", "due_date": due})).await;
    const RUNS: &str = r#"todo_instantiate_seconds_count{component="reminder-checker"}"#;
    let (a_runs, b_runs) = (a.metric(RUNS).await, b.metric(RUNS).await);
    a.eventually(Duration::from_secs(90), || async {
        (a.metric(RUNS).await > a_runs && b.metric(RUNS).await > b_runs).then_some(())
    })
    .await;
    a.settle_reminders("bob").await;
    let notified = a.notifications("bob").await;
    assert_eq!(notified.len(), 1, "{notified:?}");
    assert_eq!(notified[0]["task_id"], task["id"]);
    // Nothing more came late.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(children(&a, "alice").await, expected);
    assert_eq!(b.notifications("bob").await.len(), 1);
}

#[tokio::test]
#[ignore = "needs the distributed backend's servers (scripts/test.sh)"]
async fn a_kafka_outage_fails_no_write_and_loses_or_doubles_no_event() {
    assert!(distributed(), "{NEEDS}");
    let _serial = ONE_AT_A_TIME.lock().await;
    let host = Host::start();
    let carol = TaskApi::new(&host, "carol");
    let mut parents = Vec::new();
    let write = |i: usize| {
        let carol = &carol;
        async move {
            let body =
                json!({"title": format!("during the outage {i}"), "recurrence_pattern": {"frequency": "weekly"}});
            let id = carol.create(body).await["id"].as_str().unwrap().to_owned();
            carol.complete(&id, true).await;
            id
        }
    };
    for i in 0..3 {
        parents.push(write(i).await);
    }
    common::stop_kafka();
    // Steady writes for 30 s with Kafka down: every one succeeds (the
    // outbox keeps their events).
    let outage = std::time::Instant::now();
    while outage.elapsed() < Duration::from_secs(30) {
        parents.push(write(parents.len()).await);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let during = parents.len() - 3;
    assert_eq!(host.readyz().await, 200, "the sidecar's health does not depend on Kafka");
    common::start_kafka();
    for _ in 0..3 {
        parents.push(write(parents.len()).await);
    }
    // Every event arrives: each completed recurring task has its next
    // occurrence, exactly one (the handler is idempotent), and the test
    // component saw every task's task.created.
    let expected: BTreeMap<String, usize> = parents.iter().map(|p| (p.clone(), 1)).collect();
    host.eventually(Duration::from_secs(120), || async { (children(&host, "carol").await == expected).then_some(()) })
        .await;
    let created: std::collections::BTreeSet<String> =
        carol.tasks().await.iter().map(|t| t["id"].as_str().unwrap().to_owned()).collect();
    host.eventually(EVENT_WAIT, || async {
        let seen: std::collections::BTreeSet<String> =
            host.deliveries("task-events").await.into_iter().map(|d| d.subject).collect();
        created.is_subset(&seen).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(children(&host, "carol").await, expected);
    eprintln!("{} recurring tasks created and completed, {during} of them while Kafka was down", parents.len());
}

#[tokio::test]
#[ignore = "needs the distributed backend's servers (scripts/test.sh)"]
async fn a_stopped_sidecar_fails_readiness_keeps_the_data_and_recovers() {
    assert!(distributed(), "{NEEDS}");
    let _serial = ONE_AT_A_TIME.lock().await;
    let mut host = Host::start();
    let before = TaskApi::new(&host, "dave").create(json!({"title": "before"})).await;
    host.stop_sidecar();
    host.eventually(Duration::from_secs(10), || async { (host.readyz().await == 503).then_some(()) }).await;
    // The data stays readable and writable (events wait in the outbox).
    let during = TaskApi::new(&host, "dave")
        .create(json!({"title": "during", "recurrence_pattern": {"frequency": "daily"}}))
        .await;
    let during_id = during["id"].as_str().unwrap().to_owned();
    TaskApi::new(&host, "dave").complete(&during_id, true).await;
    assert_eq!(TaskApi::new(&host, "dave").tasks().await.len(), 2);
    host.start_sidecar();
    host.eventually(Duration::from_secs(60), || async { (host.readyz().await == 200).then_some(()) }).await;
    // The events written meanwhile go out once the sidecar is back.
    host.eventually(EVENT_WAIT, || async { (children(&host, "dave").await.get(&during_id) == Some(&1)).then_some(()) })
        .await;
    let ids: Vec<String> =
        TaskApi::new(&host, "dave").tasks().await.iter().map(|t| t["id"].as_str().unwrap().to_owned()).collect();
    assert!(ids.contains(&before["id"].as_str().unwrap().to_owned()));
}

/// Events are keyed by user: Kafka keeps each key on one partition, and a
/// partition has one consumer in the group, so each user's events are
/// handled in publish order however the partitions are spread over the
/// replicas. Here over 3 partitions (the seed's count for its busy topics,
/// and what kafka.sh gives auto-created topics) and two replicas sharing
/// the `pubsub` component's consumer group.
#[tokio::test]
#[ignore = "needs the distributed backend's servers (scripts/test.sh)"]
async fn each_users_events_stay_in_order_across_three_partitions_and_two_replicas() {
    assert!(distributed(), "{NEEDS}");
    let _serial = ONE_AT_A_TIME.lock().await;
    let a = Host::start();
    let b = Host::start_with(Options { cluster: Some(a.cluster()), ..Options::default() });
    const HANDLED: &str = r#"todo_pubsub_deliveries_total{subscription="test-guest.test",outcome="success"}"#;
    let run = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let users: Vec<String> = (0..12).map(|u| format!("order-{run}-{u:02}")).collect();

    // Rounds of one event per user, each user's through one replica's
    // outbox (half through A, half through B), until both replicas have
    // handled some (B joins the group after A: its share of the partitions
    // comes with the rebalance), and at least 8 rounds.
    let mut published: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let mut round = 0;
    while round < 8 || a.metric(HANDLED).await == 0.0 || b.metric(HANDLED).await == 0.0 {
        assert!(std::time::Instant::now() < deadline, "after {round} rounds, not both replicas have handled events");
        for (u, user) in users.iter().enumerate() {
            let id = format!("{user}-{round:03}");
            (if u % 2 == 0 { &a } else { &b }).publish(user, "test", &id, &json!("ok")).await;
            published.entry(user.clone()).or_default().push(id);
        }
        round += 1;
    }
    let total: usize = published.values().map(Vec::len).sum();

    // Every event handled; per user, in publish order (by first delivery:
    // a rebalance may deliver an event again, never one before an earlier).
    let firsts = a
        .eventually_or(
            EVENT_WAIT,
            || async {
                let mut seen = std::collections::BTreeSet::new();
                let firsts: Vec<String> = a
                    .deliveries("test")
                    .await
                    .into_iter()
                    .filter(|d| d.event_id.starts_with(&format!("order-{run}-")) && seen.insert(d.event_id.clone()))
                    .map(|d| d.event_id)
                    .collect();
                (firsts.len() == total).then_some(firsts)
            },
            || format!("{total} events published"),
        )
        .await;
    for (user, ids) in &published {
        let handled: Vec<&String> = firsts.iter().filter(|id| id.rsplit_once('-').unwrap().0 == user).collect();
        assert_eq!(handled, ids.iter().collect::<Vec<_>>(), "{user}'s events out of order");
    }

    // The topic as the replicas used it has 3 partitions, and both replicas
    // took part: one consumer group split between them.
    let topic = a.broker_topic("test");
    let port = std::env::var("TODO_TEST_KAFKA").unwrap().rsplit(':').next().unwrap().to_owned();
    let out = tokio::process::Command::new(common::repo().join("scripts/services/kafka.sh"))
        .args(["topics", &port, "--describe", "--topic", &topic])
        .output()
        .await
        .unwrap();
    let described = String::from_utf8_lossy(&out.stdout);
    assert!(described.contains("PartitionCount: 3"), "{topic}: {described}");
    let (on_a, on_b) = (a.metric(HANDLED).await, b.metric(HANDLED).await);
    assert!(on_a > 0.0 && on_b > 0.0, "handled on A {on_a}, on B {on_b}");
    // (Two groups would each handle every event; a rebalance redelivers a few.)
    assert!(on_a + on_b < 1.5 * total as f64, "{on_a} + {on_b} deliveries of {total} events: not one group");
    eprintln!("{total} events of {} users over 3 partitions: {on_a} handled on A, {on_b} on B", users.len());
}
