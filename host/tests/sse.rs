//! Real-time sync over Server-Sent Events: per-user streams of the Task
//! API's changes, resumable with `Last-Event-ID`, ended gracefully.

mod common;

use common::{client, token, Host, SseEvent, SseReader};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(5);

async fn open(host: &Host, user: &str, last_event_id: Option<&str>) -> SseReader {
    let mut request = client(user).get(host.url("/api/stream/tasks"));
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    SseReader::new(request.send().await.unwrap())
}

async fn create(host: &Host, user: &str, title: &str) -> String {
    let res =
        client(user).post(host.url("/api/todos")).json(&serde_json::json!({ "title": title })).send().await.unwrap();
    assert_eq!(res.status(), 201);
    res.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
}

async fn update(host: &Host, user: &str, id: &str, title: &str) {
    let res = client(user)
        .put(host.url(&format!("/api/todos/{id}")))
        .json(&serde_json::json!({ "title": title }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// The next `n` events, as (change type, task id).
async fn changes(stream: &mut SseReader, n: usize) -> Vec<(String, String)> {
    let mut seen = Vec::new();
    for _ in 0..n {
        let event = stream.next(WAIT).await.expect("an event");
        assert_eq!(event.event, "sync.task-changed", "{event:?}");
        let data = event.json();
        seen.push((data["change_type"].as_str().unwrap().to_owned(), data["task_id"].as_str().unwrap().to_owned()));
    }
    seen
}

#[tokio::test]
async fn each_user_sees_exactly_their_changes_in_order() {
    let host = Host::start();
    let mut alice = open(&host, "alice", None).await;
    let mut bob = open(&host, "bob", None).await;

    let a1 = create(&host, "alice", "a1").await;
    let b1 = create(&host, "bob", "b1").await;
    update(&host, "alice", &a1, "a1 renamed").await;
    let a2 = create(&host, "alice", "a2").await;
    let res = client("alice").delete(host.url(&format!("/api/todos/{a2}"))).send().await.unwrap();
    assert_eq!(res.status(), 204);

    let expected =
        |pairs: &[(&str, &String)]| pairs.iter().map(|(c, id)| (c.to_string(), id.to_string())).collect::<Vec<_>>();
    assert_eq!(
        changes(&mut alice, 4).await,
        expected(&[("created", &a1), ("updated", &a1), ("created", &a2), ("deleted", &a2)])
    );
    assert_eq!(changes(&mut bob, 1).await, expected(&[("created", &b1)]));
    assert_eq!(bob.next(Duration::from_millis(500)).await, None, "bob saw another user's event");
}

#[tokio::test]
async fn a_reconnect_with_last_event_id_replays_exactly_the_missed_events() {
    let host = Host::start();
    let mut stream = open(&host, "carol", None).await;
    let first = create(&host, "carol", "before").await;
    let seen = stream.next(WAIT).await.unwrap();
    assert_eq!(seen.json()["task_id"], first.as_str());
    let resume_from = seen.id.clone().expect("events carry an id");
    drop(stream);

    // Missed while disconnected: two of carol's changes, one of dave's.
    let missed1 = create(&host, "carol", "missed 1").await;
    create(&host, "dave", "not carol's").await;
    let missed2 = create(&host, "carol", "missed 2").await;

    let mut stream = open(&host, "carol", Some(&resume_from)).await;
    let replayed = changes(&mut stream, 2).await;
    assert_eq!(replayed, vec![("created".to_string(), missed1), ("created".to_string(), missed2.clone())]);
    // Then live, with no duplicate of the replayed ones.
    update(&host, "carol", &missed2, "live").await;
    assert_eq!(changes(&mut stream, 1).await, vec![("updated".to_string(), missed2)]);
    assert_eq!(stream.next(Duration::from_millis(300)).await, None);

    // Ids from elsewhere cannot be replayed exactly: the client is told to refetch.
    let mut stream = open(&host, "carol", Some("someotherlog-5")).await;
    let event = stream.next(WAIT).await.unwrap();
    assert_eq!(event.event, "resync");
}

#[tokio::test]
async fn streams_accept_a_query_token_or_the_cookie_and_refuse_none() {
    let host = Host::start();
    let anon = reqwest::Client::new();
    let res = anon.get(host.url("/api/stream/tasks")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let res = anon.get(host.url(&format!("/api/stream/tasks?access_token={}", token("erin")))).send().await.unwrap();
    let mut by_query = SseReader::new(res);
    let res = anon
        .get(host.url("/api/stream/tasks"))
        .header("cookie", format!("other=1; todo_token={}", token("erin")))
        .send()
        .await
        .unwrap();
    let mut by_cookie = SseReader::new(res);
    let id = create(&host, "erin", "seen twice").await;
    for stream in [&mut by_query, &mut by_cookie] {
        assert_eq!(stream.next(WAIT).await.unwrap().json()["task_id"], id.as_str());
    }
}

#[tokio::test]
async fn sigterm_tells_open_streams_to_reconnect_and_exits() {
    let mut host = Host::start();
    let mut stream = open(&host, "frank", None).await;
    unsafe { libc::kill(host.pid() as i32, libc::SIGTERM) };
    let goodbye: SseEvent = stream.next(WAIT).await.expect("a reconnect hint");
    assert_eq!(goodbye.retry, Some(1000));
    assert_eq!(stream.next(WAIT).await, None, "the stream ends");
    assert!(host.wait_exit(WAIT), "the host exits once streams are drained");
}

#[tokio::test]
async fn a_stream_is_the_same_on_its_own_connection_and_after_other_requests() {
    let host = Host::start();
    // A new connection whose first request is the stream (held outside hyper)...
    let mut own = open(&host, "erin", None).await;
    // ...and one that served a request before (the stream through hyper).
    let reused = client("erin");
    assert_eq!(reused.get(host.url("/healthz")).send().await.unwrap().status(), 200);
    let mut after = SseReader::new(reused.get(host.url("/api/stream/tasks")).send().await.unwrap());
    let id = create(&host, "erin", "seen twice").await;
    let (a, b) = (own.next(WAIT).await.expect("an event"), after.next(WAIT).await.expect("an event"));
    assert_eq!(a, b);
    assert_eq!(a.json()["task_id"], id);
    // A bad token gets the API's JSON error on either path.
    let res = reqwest::Client::new().get(host.url("/api/stream/tasks?access_token=nope")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.json::<serde_json::Value>().await.unwrap()["error"]["code"], "unauthorized");
}
