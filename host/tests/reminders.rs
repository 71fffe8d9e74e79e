//! The reminder checker through the real host: `todo-host job
//! reminder-checker --at T` runs one tick for the scheduled time T (no test
//! waits for the clock), the notification handler turns each reminder into
//! a notification, and the test component records every reminder event.

mod common;

use common::{client, expect_json, Host};
use serde_json::{json, Value};
use std::collections::BTreeMap;

async fn create(host: &Host, user: &str, body: Value) -> String {
    let res = client(user).post(host.url("/api/todos")).json(&body).send().await.unwrap();
    expect_json(res, 201).await["id"].as_str().unwrap().to_owned()
}

async fn update(host: &Host, user: &str, id: &str, body: Value) {
    let res = client(user).put(host.url(&format!("/api/todos/{id}"))).json(&body).send().await.unwrap();
    expect_json(res, 200).await;
}

async fn complete(host: &Host, user: &str, id: &str) {
    let res = client(user).patch(host.url(&format!("/api/todos/{id}/complete"))).send().await.unwrap();
    assert_eq!(expect_json(res, 200).await["completed"], true);
}

/// How many reminder events each task got so far (by event subject).
async fn reminders_per_task(host: &Host) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for delivery in host.deliveries("reminders").await {
        *counts.entry(delivery.subject).or_default() += 1;
    }
    counts
}

async fn reminders_of(host: &Host, task: &str) -> usize {
    reminders_per_task(host).await.get(task).copied().unwrap_or(0)
}

/// The user's notifications as (type, task id), newest first.
async fn notified(host: &Host, user: &str) -> Vec<(String, String)> {
    host.notifications(user)
        .await
        .iter()
        .map(|n| (n["type"].as_str().unwrap().to_owned(), n["task_id"].as_str().unwrap().to_owned()))
        .collect()
}

fn pair(kind: &str, task: &str) -> (String, String) {
    (kind.to_owned(), task.to_owned())
}

#[tokio::test]
async fn a_task_due_in_30_minutes_yields_one_upcoming_reminder_and_one_notification() {
    let host = Host::start();
    let soon = create(&host, "alice", json!({"title": "Water the plants", "due_date": "2030-03-10T08:30:00Z"})).await;
    let later = create(&host, "alice", json!({"title": "Later", "due_date": "2030-03-10T09:30:00Z"})).await;
    let done = create(&host, "alice", json!({"title": "Done already", "due_date": "2030-03-10T08:15:00Z"})).await;
    complete(&host, "alice", &done).await;
    create(&host, "alice", json!({"title": "Someday"})).await;
    let bobs = create(&host, "bob", json!({"title": "Bob's", "due_date": "2030-03-10T09:45:00+01:00"})).await;

    // Several ticks before the due date...
    for at in ["2030-03-10T08:00:00Z", "2030-03-10T08:01:00Z", "2030-03-10T08:05:00+00:00"] {
        host.check_reminders(at).await;
    }
    // ...and three replicas running the same tick at once.
    futures::future::join_all((0..3).map(|_| host.check_reminders("2030-03-10T08:06:00Z"))).await;
    host.settle_reminders("alice").await;
    host.settle_reminders("bob").await;

    let counts = reminders_per_task(&host).await;
    assert_eq!(counts.get(&soon), Some(&1), "{counts:?}");
    assert_eq!(counts.get(&bobs), Some(&1), "{counts:?}");
    assert_eq!(counts.get(&later), None, "due in 90 minutes: not yet");
    assert_eq!(counts.get(&done), None, "a completed task gets no reminder");

    let notifications = host.notifications("alice").await;
    assert_eq!(notifications.len(), 1, "{notifications:?}");
    let n = &notifications[0];
    assert_eq!(n["type"], "reminder.upcoming");
    assert_eq!(n["task_id"], soon.as_str());
    assert_eq!(n["title"], "Task due soon");
    assert_eq!(n["body"], "\"Water the plants\" is due at 2030-03-10 08:30 UTC.");
    assert_eq!(n["read"], false);
    let mut keys: Vec<&str> = n.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["body", "created_at", "id", "read", "task_id", "title", "type"]);
    assert_eq!(notified(&host, "bob").await, [pair("reminder.upcoming", &bobs)]);
}

#[tokio::test]
async fn an_upcoming_reminder_is_sent_once_per_due_date() {
    let host = Host::start();
    let task = create(&host, "alice", json!({"title": "Call mum", "due_date": "2030-03-10T08:30:00Z"})).await;
    host.check_reminders("2030-03-10T08:00:00Z").await;
    host.check_reminders("2030-03-10T08:02:00Z").await;
    host.settle_reminders("alice").await;
    assert_eq!(reminders_of(&host, &task).await, 1);

    // A new due date is a new reminder, once.
    update(&host, "alice", &task, json!({"due_date": "2030-03-10T08:45:00Z"})).await;
    host.check_reminders("2030-03-10T08:10:00Z").await;
    host.check_reminders("2030-03-10T08:11:00Z").await;
    host.settle_reminders("alice").await;
    assert_eq!(reminders_of(&host, &task).await, 2);

    // Back to the first due date: that one was reminded already.
    update(&host, "alice", &task, json!({"due_date": "2030-03-10T08:30:00Z"})).await;
    host.check_reminders("2030-03-10T08:12:00Z").await;
    host.settle_reminders("alice").await;
    assert_eq!(reminders_of(&host, &task).await, 2);

    let bodies: Vec<String> =
        host.notifications("alice").await.iter().map(|n| n["body"].as_str().unwrap().to_owned()).collect();
    assert_eq!(
        bodies,
        ["\"Call mum\" is due at 2030-03-10 08:45 UTC.", "\"Call mum\" is due at 2030-03-10 08:30 UTC."]
    );
}

#[tokio::test]
async fn an_overdue_task_is_reminded_once_a_day_until_completed() {
    let host = Host::start();
    let overdue = create(&host, "alice", json!({"title": "File taxes", "due_date": "2030-03-09T12:00:00Z"})).await;
    let soon = create(&host, "alice", json!({"title": "Pay rent", "due_date": "2030-03-10T08:30:00Z"})).await;

    // Day one (UTC): several ticks. `soon` is upcoming at first, overdue later.
    for at in ["2030-03-10T08:00:00Z", "2030-03-10T08:20:00Z", "2030-03-10T12:00:00Z", "2030-03-10T23:59:59Z"] {
        host.check_reminders(at).await;
    }
    host.settle_reminders("alice").await;
    assert_eq!(reminders_of(&host, &overdue).await, 1);
    assert_eq!(reminders_of(&host, &soon).await, 2);

    // Day two: one more each, however many ticks (and replicas).
    host.check_reminders("2030-03-11T00:00:30Z").await;
    futures::future::join_all((0..2).map(|_| host.check_reminders("2030-03-11T09:00:00Z"))).await;
    host.settle_reminders("alice").await;
    assert_eq!(reminders_of(&host, &overdue).await, 2);
    assert_eq!(reminders_of(&host, &soon).await, 3);

    // Completed tasks are not reminded any more.
    complete(&host, "alice", &overdue).await;
    complete(&host, "alice", &soon).await;
    host.check_reminders("2030-03-12T08:00:00Z").await;
    host.settle_reminders("alice").await;
    assert_eq!(reminders_of(&host, &overdue).await, 2);
    assert_eq!(reminders_of(&host, &soon).await, 3);

    let mut seen = notified(&host, "alice").await;
    seen.sort();
    let mut expected = vec![
        pair("reminder.overdue", &overdue),
        pair("reminder.overdue", &overdue),
        pair("reminder.overdue", &soon),
        pair("reminder.overdue", &soon),
        pair("reminder.upcoming", &soon),
    ];
    expected.sort();
    assert_eq!(seen, expected);
    let overdue_note =
        host.notifications("alice").await.into_iter().find(|n| n["task_id"] == overdue.as_str()).unwrap();
    assert_eq!(overdue_note["title"], "Task overdue");
    assert_eq!(overdue_note["body"], "\"File taxes\" was due at 2030-03-09 12:00 UTC.");
}
