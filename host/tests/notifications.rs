//! The notification handler through the real host: one notification per
//! reminder event (redeliveries create nothing), the Notification API, and
//! the `notification.*` events that reach the user's own SSE stream.

mod common;

use common::{client, distributed, expect_error, expect_json, Host, SseReader, EVENT_WAIT};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;
use uuid::Uuid;

fn reminder(user: &str, kind: &str, title: &str) -> Value {
    json!({
        "kind": kind, "task_id": Uuid::new_v4(), "user_id": user,
        "title": title, "due_date": "2030-03-10T08:30:00Z",
    })
}

/// Publishes a reminder event for `user` (as the checker would, keyed by user).
async fn remind(host: &Host, user: &str, event_id: &str, data: &Value) {
    host.publish(user, "reminders", event_id, data).await;
}

async fn send(host: &Host, user: &str, method: Method, path: &str) -> reqwest::Response {
    client(user).request(method, host.url(path)).send().await.unwrap()
}

async fn page(host: &Host, user: &str, query: &str) -> Value {
    expect_json(send(host, user, Method::GET, &format!("/api/notifications?{query}")).await, 200).await
}

/// Every page of `query` at `limit` per page, concatenated.
async fn walk(host: &Host, user: &str, query: &str, limit: usize) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = page(host, user, &format!("{query}&limit={limit}{cursor}")).await;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= limit);
        all.extend(items.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => {
                assert_eq!(items.len(), limit, "a short page before the last");
                cursor = format!("&cursor={next}");
            }
            None => return all,
        }
        assert!(all.len() <= 100, "pagination does not end");
    }
}

async fn unread_count(host: &Host, user: &str) -> u64 {
    let body = expect_json(send(host, user, Method::GET, "/api/notifications/unread-count").await, 200).await;
    body["count"].as_u64().unwrap()
}

async fn mark_read(host: &Host, user: &str, id: &str) -> reqwest::Response {
    send(host, user, Method::PATCH, &format!("/api/notifications/{id}/read")).await
}

async fn read_all(host: &Host, user: &str) -> u64 {
    let body = expect_json(send(host, user, Method::POST, "/api/notifications/read-all").await, 200).await;
    body["updated"].as_u64().unwrap()
}

fn ids(items: &[Value]) -> Vec<&str> {
    items.iter().map(|n| n["id"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn the_api_lists_pages_and_marks_the_users_notifications_read() {
    let host = Host::start();
    for n in 1..=5 {
        remind(&host, "alice", &format!("alice-{n}"), &reminder("alice", "upcoming", &format!("Task {n}"))).await;
    }
    remind(&host, "bob", "bob-1", &reminder("bob", "overdue", "Bob's")).await;
    host.settle_reminders("alice").await;
    host.settle_reminders("bob").await;

    // Newest first, keyset pages.
    let all = host.notifications("alice").await;
    let titles: Vec<&str> = all.iter().map(|n| n["body"].as_str().unwrap()).collect();
    assert_eq!(titles.len(), 5);
    for (n, body) in titles.iter().enumerate() {
        assert!(body.starts_with(&format!("\"Task {}\"", 5 - n)), "{titles:?}");
    }
    assert!(all.windows(2).all(|w| w[0]["created_at"].as_str() >= w[1]["created_at"].as_str()));
    assert!(all.iter().all(|n| n["read"] == false && n["type"] == "reminder.upcoming"));
    let first = page(&host, "alice", "").await;
    assert_eq!(first["items"].as_array().unwrap(), &all, "default limit 20");
    assert_eq!(first["next_cursor"], Value::Null);
    assert_eq!(walk(&host, "alice", "", 2).await, all);
    assert_eq!(walk(&host, "alice", "", 1).await, all);
    assert_eq!(unread_count(&host, "alice").await, 5);

    // Marking one read, twice: the same answer.
    let target = all[1]["id"].as_str().unwrap();
    let mut expected = all[1].clone();
    expected["read"] = json!(true);
    assert_eq!(expect_json(mark_read(&host, "alice", target).await, 200).await, expected);
    assert_eq!(expect_json(mark_read(&host, "alice", target).await, 200).await, expected);
    assert_eq!(unread_count(&host, "alice").await, 4);
    let unread = walk(&host, "alice", "unread_only=true", 3).await;
    let mut expected_ids = ids(&all);
    expected_ids.remove(1);
    assert_eq!(ids(&unread), expected_ids);
    assert_eq!(walk(&host, "alice", "unread_only=false", 10).await.len(), 5);

    // Scoped to the user: another user's notification is not found.
    expect_error(mark_read(&host, "bob", target).await, 404, "not_found").await;
    let bobs = host.notifications("bob").await;
    assert_eq!(bobs.len(), 1);
    assert_eq!(bobs[0]["type"], "reminder.overdue");
    assert_eq!(bobs[0]["title"], "Task overdue");
    expect_error(mark_read(&host, "alice", bobs[0]["id"].as_str().unwrap()).await, 404, "not_found").await;
    expect_error(mark_read(&host, "alice", &Uuid::new_v4().to_string()).await, 404, "not_found").await;
    let message = expect_error(mark_read(&host, "alice", "not-a-uuid").await, 400, "invalid_id").await;
    assert!(message.contains("notification"), "{message}");

    // Read all: the user's, once.
    assert_eq!(read_all(&host, "alice").await, 4);
    assert_eq!(read_all(&host, "alice").await, 0);
    assert_eq!(unread_count(&host, "alice").await, 0);
    assert_eq!(page(&host, "alice", "unread_only=true").await["items"], json!([]));
    assert!(host.notifications("alice").await.iter().all(|n| n["read"] == true));
    assert_eq!(unread_count(&host, "bob").await, 1);

    // Errors, in the Task API's format.
    for query in ["limit=0", "limit=101", "limit=x", "cursor=garbage", "unread_only=maybe"] {
        let res = send(&host, "alice", Method::GET, &format!("/api/notifications?{query}")).await;
        expect_error(res, 400, "invalid_query").await;
    }
    for (method, path, allow) in [
        (Method::POST, "/api/notifications".to_owned(), "GET"),
        (Method::GET, "/api/notifications/read-all".to_owned(), "POST"),
        (Method::DELETE, "/api/notifications/unread-count".to_owned(), "GET"),
        (Method::GET, format!("/api/notifications/{target}/read"), "PATCH"),
    ] {
        let res = send(&host, "alice", method.clone(), &path).await;
        assert_eq!(res.headers()["allow"], allow, "{method} {path}");
        expect_error(res, 405, "method_not_allowed").await;
    }
    for path in [format!("/api/notifications/{target}"), format!("/api/notifications/{target}/read/x")] {
        expect_error(send(&host, "alice", Method::GET, &path).await, 404, "not_found").await;
    }
    let anonymous = reqwest::Client::new().get(host.url("/api/notifications")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_redelivered_reminder_creates_no_second_notification() {
    let host = Host::start();
    let data = reminder("alice", "upcoming", "Water the plants");
    remind(&host, "alice", "reminder-1", &data).await;
    host.eventually(EVENT_WAIT, || async { (host.notifications("alice").await.len() == 1).then_some(()) }).await;
    // The same event published again (the embedded broker keeps one message
    // per event id; Kafka delivers the copy)...
    remind(&host, "alice", "reminder-1", &data).await;
    // ...and truly redelivered, as after a crash between the handler's
    // commit and the broker's cursor update.
    host.redeliver_from("notification-handler", "reminders", "reminder-1").await;
    host.settle_reminders("alice").await;
    let notifications = host.notifications("alice").await;
    assert_eq!(notifications.len(), 1, "{notifications:?}");
    assert_eq!(notifications[0]["task_id"], data["task_id"]);
    // Embedded, the redelivery went to the handler only; on Kafka both
    // copies went to every subscriber of the topic.
    let copies = host.deliveries("reminders").await.into_iter().filter(|d| d.event_id == "reminder-1").count();
    assert_eq!(copies, if distributed() { 3 } else { 1 });
}

#[tokio::test]
async fn notification_events_reach_only_their_users_stream() {
    let host = Host::start();
    let res = client("alice")
        .post(host.url("/api/todos"))
        .json(&json!({"title": "Water the plants", "due_date": "2030-03-10T08:30:00Z"}))
        .send()
        .await
        .unwrap();
    let task = expect_json(res, 201).await;
    let open = |user: &'static str| {
        let request = client(user).get(host.url("/api/stream/tasks"));
        async move { SseReader::new(request.send().await.unwrap()) }
    };
    let (mut alice, mut bob) = (open("alice").await, open("bob").await);

    host.check_reminders("2030-03-10T08:00:00Z").await;
    let created = loop {
        let event = alice.next(EVENT_WAIT).await.expect("notification.created on alice's stream");
        if event.event == "notification.created" {
            break event.json();
        }
        assert_eq!(event.event, "sync.task-changed", "{event:?}");
    };
    let listed = host.notifications("alice").await;
    assert_eq!(listed.len(), 1);
    let mut expected = listed[0].clone();
    expected["user_id"] = json!("alice");
    assert_eq!(created, expected);
    assert_eq!(created["task_id"], task["id"]);

    // Marking read tells the user's other tabs, with the new unread count.
    let id = listed[0]["id"].as_str().unwrap();
    expect_json(mark_read(&host, "alice", id).await, 200).await;
    let read = alice.next(EVENT_WAIT).await.unwrap();
    assert_eq!(read.event, "notification.read");
    assert_eq!(read.json(), json!({"user_id": "alice", "ids": [id], "unread_count": 0}));
    remind(&host, "alice", "second", &reminder("alice", "overdue", "Pay rent")).await;
    assert_eq!(alice.next(EVENT_WAIT).await.unwrap().event, "notification.created");
    assert_eq!(read_all(&host, "alice").await, 1);
    let read = alice.next(EVENT_WAIT).await.unwrap();
    assert_eq!(read.event, "notification.read");
    assert_eq!(read.json(), json!({"user_id": "alice", "all": true, "unread_count": 0}));

    assert_eq!(bob.next(Duration::from_millis(500)).await, None, "bob saw alice's notification events");
}

#[tokio::test]
async fn malformed_reminders_are_dead_lettered_and_create_nothing() {
    let host = Host::start();
    let mut wrong_type = reminder("alice", "upcoming", "x");
    wrong_type["kind"] = json!("soon");
    remind(&host, "alice", "bad-kind", &wrong_type).await;
    remind(&host, "alice", "no-user", &json!({"kind": "overdue", "task_id": Uuid::new_v4(), "title": "t"})).await;
    host.settle_reminders("alice").await;
    let letters = host.dead_letters("reminders").await;
    let dead: Vec<&str> = letters.iter().map(|l| l["event_id"].as_str().unwrap()).collect();
    assert_eq!(dead, ["bad-kind", "no-user"]);
    if !distributed() {
        // The embedded broker also records who gave up on them.
        assert!(letters.iter().all(|l| l["subscription"] == "notification-handler.reminders"), "{letters:?}");
    }
    assert_eq!(host.notifications("alice").await, Vec::<Value>::new());
}
