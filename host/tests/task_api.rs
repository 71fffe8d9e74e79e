//! The Task API over HTTP, through the real host and component: CRUD,
//! scoping by user, validation, lists, idempotent creates, history and the
//! `task-events` it publishes (seen by the test component's subscription).

mod common;

use common::{client, Host};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;
use uuid::Uuid;

/// How long events may take to arrive.
const WAIT: Duration = Duration::from_secs(20);

/// The Task API of one host, as one user.
struct Api<'h> {
    host: &'h Host,
    client: reqwest::Client,
}

impl<'h> Api<'h> {
    fn new(host: &'h Host, user: &str) -> Self {
        Self { host, client: client(user) }
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.host.url(path))
    }

    /// Sends `body` as given (not re-encoded), as JSON.
    async fn send(&self, method: Method, path: &str, body: Option<&str>) -> Response {
        let mut req = self.request(method, path);
        if let Some(body) = body {
            req = req.header("content-type", "application/json").body(body.to_owned());
        }
        req.send().await.unwrap()
    }

    async fn create(&self, body: Value) -> Value {
        let res = self.send(Method::POST, "/api/todos", Some(&body.to_string())).await;
        expect_json(res, 201).await
    }

    async fn get(&self, id: &str) -> Response {
        self.send(Method::GET, &format!("/api/todos/{id}"), None).await
    }

    async fn update(&self, id: &str, body: Value) -> Value {
        let res = self.send(Method::PUT, &format!("/api/todos/{id}"), Some(&body.to_string())).await;
        expect_json(res, 200).await
    }

    /// `PATCH .../complete`, with no body or the given one.
    async fn complete(&self, id: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| b.to_string());
        let res = self.send(Method::PATCH, &format!("/api/todos/{id}/complete"), body.as_deref()).await;
        expect_json(res, 200).await
    }

    async fn delete(&self, id: &str) -> Response {
        self.send(Method::DELETE, &format!("/api/todos/{id}"), None).await
    }

    /// One page: `{"items": [...], "next_cursor": ...}`.
    async fn page(&self, query: &str) -> Value {
        expect_json(self.send(Method::GET, &format!("/api/todos?{query}"), None).await, 200).await
    }

    /// The items of the first page of at most 100.
    async fn list(&self, query: &str) -> Vec<Value> {
        let page = self.page(&format!("limit=100&{query}")).await;
        assert_eq!(page["next_cursor"], Value::Null, "more than 100 tasks");
        page["items"].as_array().unwrap().clone()
    }

    /// Every page of `query` at `limit` per page, concatenated.
    async fn walk(&self, query: &str, limit: usize) -> Vec<Value> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let after = cursor.as_ref().map(|c| format!("&cursor={c}")).unwrap_or_default();
            let page = self.page(&format!("{query}&limit={limit}{after}")).await;
            let items = page["items"].as_array().unwrap();
            assert!(items.len() <= limit, "{query}: a page of {} at limit {limit}", items.len());
            all.extend(items.iter().cloned());
            match page["next_cursor"].as_str() {
                Some(next) => {
                    assert_eq!(items.len(), limit, "{query}: a short page before the last");
                    cursor = Some(next.to_owned());
                }
                None => return all,
            }
            assert!(all.len() <= 1000, "{query}: pagination does not end");
        }
    }

    async fn history_response(&self, id: &str, query: &str) -> Response {
        self.send(Method::GET, &format!("/api/todos/{id}/history?{query}"), None).await
    }

    async fn history(&self, id: &str, query: &str) -> Vec<Value> {
        let body = expect_json(self.history_response(id, query).await, 200).await;
        body["items"].as_array().unwrap().clone()
    }
}

/// Asserts the status and returns the JSON body.
async fn expect_json(res: Response, status: u16) -> Value {
    let actual = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(actual, status, "{text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Asserts an error response `{"error": {"code", "message"}}` with this
/// status and code; returns the message.
async fn expect_error(res: Response, status: u16, code: &str) -> String {
    let body = expect_json(res, status).await;
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_else(|| panic!("no message: {body}"));
    assert!(!message.is_empty(), "{body}");
    message.to_owned()
}

/// Sends a request that must be refused with this status and code, and a
/// message containing `mention`.
async fn expect_rejected(
    api: &Api<'_>,
    method: Method,
    path: &str,
    body: Option<&str>,
    status: u16,
    code: &str,
    mention: &str,
) {
    let what = format!("{method} {path} {}", body.unwrap_or("").chars().take(100).collect::<String>());
    let res = api.send(method, path, body).await;
    let actual = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(actual, status, "{what}: {text}");
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{what}: not JSON: {text}"));
    assert_eq!(body["error"]["code"], code, "{what}: {body}");
    let message = body["error"]["message"].as_str().unwrap_or_else(|| panic!("{what}: no message: {body}"));
    assert!(!message.is_empty() && message.contains(mention), "{what}: {message:?} does not mention {mention:?}");
}

fn id_of(task: &Value) -> String {
    task["id"].as_str().unwrap().to_owned()
}

fn ids(tasks: &[Value]) -> Vec<String> {
    tasks.iter().map(id_of).collect()
}

fn titles(tasks: &[Value]) -> Vec<&str> {
    tasks.iter().map(|t| t["title"].as_str().unwrap()).collect()
}

/// Asserts a timestamp is written as UTC with microseconds
/// (`2026-01-02T03:04:05.123456Z`) and is about now.
fn assert_recent_utc_micros(text: &Value) {
    let text = text.as_str().unwrap_or_else(|| panic!("not a timestamp: {text}"));
    assert!(text.len() == 27 && text.ends_with('Z') && &text[19..20] == ".", "{text}");
    let at = chrono::DateTime::parse_from_rfc3339(text).unwrap();
    let age = chrono::Utc::now().signed_duration_since(at);
    assert!(age.num_seconds().abs() < 300, "{text} is not about now");
}

/// One delivery of a `task-events` event to the test component.
#[derive(Debug, Clone, PartialEq)]
struct Delivery {
    event_id: String,
    attempt: u32,
    subject: String,
}

/// Every `task-events` delivery so far, in delivery order.
async fn task_events(host: &Host) -> Vec<Delivery> {
    let res = client("tester").get(host.url("/test/records?kind=event")).send().await.unwrap();
    let records: Vec<String> =
        expect_json(res, 200).await.as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_owned()).collect();
    records
        .iter()
        .filter_map(|r| {
            let parts: Vec<&str> = r.split('|').collect();
            (parts[0] == "task-events").then(|| Delivery {
                event_id: parts[1].to_owned(),
                attempt: parts[2].parse().unwrap(),
                subject: parts[3].to_owned(),
            })
        })
        .collect()
}

/// The deliveries of one task's events.
fn of_task(deliveries: &[Delivery], id: &str) -> Vec<Delivery> {
    deliveries.iter().filter(|d| d.subject == id).cloned().collect()
}

/// Creates a marker task and waits for its `task.created` delivery. A topic
/// is delivered in publish order, retries in place, so by then every event
/// published before the marker has been delivered (or never will be).
/// Returns the marker and every delivery so far.
async fn settle(api: &Api<'_>) -> (Value, Vec<Delivery>) {
    let marker = api.create(json!({"title": "marker"})).await;
    let id = id_of(&marker);
    let deliveries = api
        .host
        .eventually(WAIT, || async {
            let all = task_events(api.host).await;
            all.iter().any(|d| d.subject == id).then_some(all)
        })
        .await;
    (marker, deliveries)
}

#[tokio::test]
async fn create_read_update_complete_and_delete_a_task() {
    let host = Host::start();
    let alice = Api::new(&host, "alice");

    let body = json!({
        "title": "  Buy milk \t",
        "description": "semi-skimmed",
        "tags": ["home", "shop"],
        "due_date": "2026-03-01T10:30:00+02:00",
    });
    let res = alice.send(Method::POST, "/api/todos", Some(&body.to_string())).await;
    assert_eq!(res.headers()["content-type"], "application/json");
    let created = expect_json(res, 201).await;
    let id = id_of(&created);
    assert_eq!(Uuid::parse_str(&id).unwrap().get_version_num(), 4, "{id}");
    assert_eq!(created["title"], "Buy milk");
    assert_eq!(created["description"], "semi-skimmed");
    assert_eq!(created["completed"], false);
    assert_eq!(created["priority"], "medium");
    assert_eq!(created["tags"], json!(["home", "shop"]));
    assert_eq!(created["due_date"], "2026-03-01T08:30:00.000000Z");
    assert_eq!(created["recurrence_pattern"], Value::Null);
    assert_eq!(created["parent_task_id"], Value::Null);
    assert_recent_utc_micros(&created["created_at"]);
    assert_eq!(created["updated_at"], created["created_at"]);

    // Read back exactly as created, by the id in any form a UUID takes.
    assert_eq!(expect_json(alice.get(&id).await, 200).await, created);
    assert_eq!(expect_json(alice.get(&id.to_uppercase()).await, 200).await, created);
    assert_eq!(expect_json(alice.get(&id.replace('-', "")).await, 200).await, created);

    // A partial update changes the given fields only; null clears.
    let updated = alice.update(&id, json!({"priority": "high", "description": null})).await;
    let mut expected = created.clone();
    expected["priority"] = json!("high");
    expected["description"] = Value::Null;
    expected["updated_at"] = updated["updated_at"].clone();
    assert_eq!(updated, expected);
    assert_recent_utc_micros(&updated["updated_at"]);
    assert!(updated["updated_at"].as_str() > created["updated_at"].as_str(), "{updated}");

    let updated = alice.update(&id, json!({"due_date": null, "tags": ["shop"], "title": "Buy oat milk"})).await;
    expected["due_date"] = Value::Null;
    expected["tags"] = json!(["shop"]);
    expected["title"] = json!("Buy oat milk");
    expected["updated_at"] = updated["updated_at"].clone();
    assert_eq!(updated, expected);
    assert_eq!(updated["created_at"], created["created_at"]);
    assert_eq!(expect_json(alice.get(&id).await, 200).await, updated);

    // Complete without a body, then reopen.
    let completed = alice.complete(&id, None).await;
    assert_eq!(completed["completed"], true);
    assert_eq!(expect_json(alice.get(&id).await, 200).await, completed);
    let reopened = alice.complete(&id, Some(json!({"completed": false}))).await;
    assert_eq!(reopened["completed"], false);
    assert_eq!(reopened["title"], "Buy oat milk");
    assert_eq!(expect_json(alice.get(&id).await, 200).await, reopened);

    // Delete: 204 with no body, then it is gone.
    let res = alice.delete(&id).await;
    assert_eq!(res.status(), 204);
    assert!(res.bytes().await.unwrap().is_empty());
    expect_error(alice.get(&id).await, 404, "not_found").await;
    expect_error(alice.delete(&id).await, 404, "not_found").await;
    assert!(alice.list("").await.is_empty());
}

#[tokio::test]
async fn another_users_task_is_not_found_and_not_listed() {
    let host = Host::start();
    let (alice, bob) = (Api::new(&host, "alice"), Api::new(&host, "bob"));
    let task = alice.create(json!({"title": "Alice's secret", "tags": ["private"]})).await;
    let id = id_of(&task);

    expect_error(bob.get(&id).await, 404, "not_found").await;
    let res = bob.send(Method::PUT, &format!("/api/todos/{id}"), Some(r#"{"title": "mine now"}"#)).await;
    expect_error(res, 404, "not_found").await;
    let res = bob.send(Method::PATCH, &format!("/api/todos/{id}/complete"), None).await;
    expect_error(res, 404, "not_found").await;
    expect_error(bob.delete(&id).await, 404, "not_found").await;
    expect_error(bob.history_response(&id, "").await, 404, "not_found").await;
    assert!(bob.list("").await.is_empty());
    assert!(bob.list("tag=private").await.is_empty());
    assert!(bob.list("q=secret").await.is_empty());

    // Bob's own task is his alone; Alice's is untouched by his attempts.
    let bobs = bob.create(json!({"title": "Bob's task"})).await;
    assert_eq!(ids(&bob.list("").await), [id_of(&bobs)]);
    assert_eq!(ids(&alice.list("").await), std::slice::from_ref(&id));
    expect_error(alice.get(&id_of(&bobs)).await, 404, "not_found").await;
    assert_eq!(expect_json(alice.get(&id).await, 200).await, task);
    let history = alice.history(&id, "").await;
    assert_eq!(history.len(), 1, "{history:?}");
}

#[tokio::test]
async fn invalid_requests_are_refused_and_write_nothing() {
    let host = Host::start();
    let alice = Api::new(&host, "alice");
    let existing = alice.create(json!({"title": "Existing", "tags": ["a"]})).await;
    let id = id_of(&existing);
    // Titles count characters after trimming: 500 two-byte characters are fine.
    let longest = alice.create(json!({"title": format!("  {}  ", "é".repeat(500))})).await;
    assert_eq!(longest["title"], "é".repeat(500));
    let before = alice.list("").await;
    let task_path = &format!("/api/todos/{id}");
    let complete_path = &format!("/api/todos/{id}/complete");

    // Not a JSON object: 400 malformed_json.
    for (method, path, body) in [
        (Method::POST, "/api/todos", r#"{"title": "x""#),
        (Method::POST, "/api/todos", r#"{"title": "x"} {}"#),
        (Method::POST, "/api/todos", r#"["x"]"#),
        (Method::POST, "/api/todos", ""),
        (Method::PUT, task_path, r#"{"title": "#),
        (Method::PATCH, complete_path, "true"),
    ] {
        expect_rejected(&alice, method, path, Some(body), 400, "malformed_json", "").await;
    }

    // Well-formed but invalid: 422 validation_failed, naming the field.
    let a_uuid = Uuid::new_v4().to_string();
    for (body, mention) in [
        (json!({"title": 7}), "title: invalid type"),
        (json!({"title": "x", "completed": "yes"}), "completed: invalid type"),
        (json!({"title": "x", "tags": "home"}), "tags: invalid type"),
        (json!({"title": "x", "colour": "red"}), "unknown field `colour`"),
        (json!({}), "title: is required"),
        (json!({"title": null}), "title: must not be null"),
        (json!({"title": ""}), "title: must not be empty"),
        (json!({"title": " \t\n "}), "title: must not be empty"),
        (json!({"title": "a".repeat(501)}), "title: must be at most 500 characters, got 501"),
        (json!({"title": "x", "description": "d".repeat(10_001)}), "description: must be at most 10000"),
        (json!({"title": "x", "due_date": "tomorrow"}), "due_date: must be an RFC 3339"),
        (json!({"title": "x", "due_date": "2026-03-01T10:00:00"}), "due_date: must be an RFC 3339"),
        (json!({"title": "x", "due_date": "2026-02-30T10:00:00Z"}), "due_date: must be an RFC 3339"),
        (json!({"title": "x", "due_date": 20260301}), "due_date: invalid type"),
        (json!({"title": "x", "priority": "urgent"}), "priority: unknown variant `urgent`"),
        (json!({"title": "x", "tags": ["ok", "  "]}), "tags: a tag must not be empty"),
        (
            json!({"title": "x", "recurrence_pattern": {"frequency": "hourly"}}),
            "recurrence_pattern.frequency: unknown variant",
        ),
        (
            json!({"title": "x", "recurrence_pattern": {"frequency": "daily", "interval": 0}}),
            "recurrence_pattern: interval must be",
        ),
        (
            json!({"title": "x", "recurrence_pattern": {"frequency": "weekly", "interval": 366}}),
            "recurrence_pattern: interval must be",
        ),
        (json!({"title": "x", "recurrence_pattern": {"interval": 2}}), "recurrence_pattern: missing field `frequency`"),
        (json!({"title": "x", "id": a_uuid}), "id: is read-only"),
        (json!({"title": "x", "created_at": "2026-01-01T00:00:00Z"}), "created_at: is read-only"),
        (json!({"title": "x", "updated_at": null}), "updated_at: is read-only"),
        (json!({"title": "x", "parent_task_id": id}), "parent_task_id: is read-only"),
    ] {
        let body = body.to_string();
        expect_rejected(&alice, Method::POST, "/api/todos", Some(&body), 422, "validation_failed", mention).await;
    }
    for (body, mention) in [
        (json!({"title": "   "}), "title: must not be empty"),
        (json!({"priority": null}), "priority: must not be null"),
        (json!({"completed": null}), "completed: must not be null"),
        (json!({"tags": [1]}), "tags[0]: invalid type"),
        (json!({"due_date": "2026-13-01T00:00:00Z"}), "due_date: must be an RFC 3339"),
        (json!({"title": "ok", "done": true}), "unknown field `done`"),
        (json!({"id": a_uuid}), "id: is read-only"),
    ] {
        let body = body.to_string();
        expect_rejected(&alice, Method::PUT, task_path, Some(&body), 422, "validation_failed", mention).await;
    }
    for (body, mention) in [
        (json!({"completed": "yes"}), "completed: invalid type"),
        (json!({"completed": true, "title": "x"}), "unknown field `title`"),
    ] {
        let body = body.to_string();
        expect_rejected(&alice, Method::PATCH, complete_path, Some(&body), 422, "validation_failed", mention).await;
    }

    // Not a UUID in the path: 400 invalid_id.
    for (method, path) in [
        (Method::GET, "/api/todos/not-a-uuid"),
        (Method::PUT, "/api/todos/not-a-uuid"),
        (Method::DELETE, "/api/todos/not-a-uuid"),
        (Method::PATCH, "/api/todos/not-a-uuid/complete"),
        (Method::GET, "/api/todos/not-a-uuid/history"),
    ] {
        let body = (method == Method::PUT).then_some(r#"{"title": "x"}"#);
        expect_rejected(&alice, method, path, body, 400, "invalid_id", "`not-a-uuid`").await;
    }

    // A method the path does not serve.
    let res = alice.send(Method::POST, task_path, Some(r#"{"title": "x"}"#)).await;
    assert_eq!(res.headers()["allow"], "GET, PUT, DELETE");
    expect_error(res, 405, "method_not_allowed").await;
    // A body over 1 MiB.
    let huge = json!({"title": "x", "description": "d".repeat(1024 * 1024)}).to_string();
    let res = alice.send(Method::POST, "/api/todos", Some(&huge)).await;
    expect_error(res, 413, "payload_too_large").await;
    // No token: the Task API refuses it (it checks tokens itself).
    let res =
        reqwest::Client::new().post(host.url("/api/todos")).json(&json!({"title": "anonymous"})).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    expect_error(res, 401, "unauthorized").await;
    // An Idempotency-Key longer than 200 characters.
    let res = alice
        .request(Method::POST, "/api/todos")
        .header("idempotency-key", "k".repeat(201))
        .json(&json!({"title": "x"}))
        .send()
        .await
        .unwrap();
    let message = expect_error(res, 422, "validation_failed").await;
    assert!(message.contains("Idempotency-Key"), "{message}");

    // Nothing was written: the list is as it was and only the two creates
    // (and the marker) published events.
    let (marker, deliveries) = settle(&alice).await;
    let mut after = alice.list("").await;
    assert_eq!(id_of(&after.remove(0)), id_of(&marker));
    assert_eq!(after, before);
    let subjects: Vec<&str> = deliveries.iter().map(|d| d.subject.as_str()).collect();
    assert_eq!(subjects, [id.as_str(), longest["id"].as_str().unwrap(), marker["id"].as_str().unwrap()]);
    assert_eq!(alice.history(&id, "").await.len(), 1);
}

/// Five tasks with distinct shapes plus nine fillers, as in `list_filters_sorts_and_pages`.
async fn seed_list(alice: &Api<'_>) -> Vec<Value> {
    let mut tasks = Vec::new();
    for body in [
        json!({
            "title": "Buy milk",
            "description": "Semi-skimmed, 50% off",
            "priority": "high",
            "tags": ["home", "shop"],
            "due_date": "2026-03-02T09:00:00Z",
        }),
        json!({"title": "Call mum", "priority": "low", "tags": ["family"]}),
        json!({
            "title": "Pay rent",
            "description": "Transfer to the LANDLORD",
            "tags": ["home", "money"],
            "due_date": "2026-03-01T09:00:00Z",
        }),
        json!({"title": "Book dentist", "priority": "high", "due_date": "2026-02-15T09:00:00+01:00"}),
        json!({"title": "Write report", "tags": ["work"]}),
    ] {
        tasks.push(alice.create(body).await);
    }
    // Fillers share priorities and due dates, so pages split ties.
    for n in 1..=9 {
        let priority = ["low", "medium", "high"][n % 3];
        let due = (n % 2 == 0).then_some("2026-04-01T00:00:00Z");
        let filler = json!({"title": format!("Filler {n}"), "priority": priority, "due_date": due, "tags": ["filler"]});
        tasks.push(alice.create(filler).await);
    }
    for done in [1, 3, 6, 7] {
        tasks[done] = alice.complete(&id_of(&tasks[done]), None).await;
    }
    tasks
}

#[tokio::test]
async fn list_filters_sorts_and_pages() {
    let host = Host::start();
    let alice = Api::new(&host, "alice");
    let tasks = seed_list(&alice).await;
    let all: HashSet<String> = ids(&tasks).into_iter().collect();
    let by_titles = |query: &'static str| {
        let alice = &alice;
        async move {
            let mut found: Vec<String> = titles(&alice.list(query).await).into_iter().map(str::to_owned).collect();
            found.sort();
            found
        }
    };

    // Filters.
    assert_eq!(by_titles("completed=true").await, ["Book dentist", "Call mum", "Filler 2", "Filler 3"]);
    assert_eq!(alice.list("completed=false").await.len(), 10);
    assert_eq!(by_titles("priority=low").await, ["Call mum", "Filler 3", "Filler 6", "Filler 9"]);
    assert_eq!(by_titles("tag=home").await, ["Buy milk", "Pay rent"]);
    assert_eq!(by_titles("tag=hom").await, Vec::<String>::new());
    assert_eq!(by_titles("q=MILK").await, ["Buy milk"]);
    assert_eq!(by_titles("q=landlord").await, ["Pay rent"]);
    assert_eq!(by_titles("q=semi-SKIMMED").await, ["Buy milk"]);
    assert_eq!(by_titles("q=%25").await, ["Buy milk"], "% is a literal, not a wildcard");
    assert_eq!(by_titles("q=_").await, Vec::<String>::new(), "_ is a literal, not a wildcard");
    assert_eq!(by_titles("q=filler&completed=false&priority=high").await, ["Filler 5", "Filler 8"]);
    assert_eq!(by_titles("tag=home&priority=medium").await, ["Pay rent"]);

    // The tag filter follows changes of tags.
    let rent = id_of(&tasks[2]);
    alice.update(&rent, json!({"tags": ["money", "monthly"]})).await;
    assert_eq!(by_titles("tag=home").await, ["Buy milk"]);
    assert_eq!(by_titles("tag=monthly").await, ["Pay rent"]);
    alice.update(&rent, json!({"tags": ["home", "money"]})).await;
    assert_eq!(by_titles("tag=home").await, ["Buy milk", "Pay rent"]);
    assert_eq!(by_titles("tag=monthly").await, Vec::<String>::new());

    // Sorts, against the named tasks first.
    let listed = alice.list("").await;
    assert_eq!(listed.len(), 14);
    assert_eq!(ids(&listed).into_iter().rev().collect::<Vec<_>>(), ids(&tasks), "created_at, newest first");
    let mut oldest_first = ids(&tasks);
    oldest_first.truncate(3);
    assert_eq!(ids(&alice.list("order=asc").await)[..3], oldest_first);
    let due: Vec<Value> = alice.list("sort=due_date").await;
    assert_eq!(titles(&due)[..3], ["Book dentist", "Pay rent", "Buy milk"]);
    // Seven tasks have a due date; the seven without come last.
    assert!(due[..7].iter().all(|t| !t["due_date"].is_null()), "{:?}", titles(&due));
    assert!(due[7..].iter().all(|t| t["due_date"].is_null()), "undated last: {:?}", titles(&due));
    let due_desc = alice.list("sort=due_date&order=desc").await;
    assert!(due_desc[..7].iter().all(|t| t["due_date"].is_null()), "undated first in descending order");
    let rank = |t: &Value| ["low", "medium", "high"].iter().position(|p| t["priority"] == *p).unwrap();
    let by_priority = alice.list("sort=priority").await;
    assert!(by_priority.windows(2).all(|w| rank(&w[0]) <= rank(&w[1])), "{:?}", titles(&by_priority));
    let by_priority_desc = alice.list("sort=priority&order=desc").await;
    assert!(by_priority_desc.windows(2).all(|w| rank(&w[0]) >= rank(&w[1])), "{:?}", titles(&by_priority_desc));
    let by_title = alice.list("sort=title").await;
    assert_eq!(
        titles(&by_title),
        [
            "Book dentist",
            "Buy milk",
            "Call mum",
            "Filler 1",
            "Filler 2",
            "Filler 3",
            "Filler 4",
            "Filler 5",
            "Filler 6",
            "Filler 7",
            "Filler 8",
            "Filler 9",
            "Pay rent",
            "Write report"
        ]
    );

    // Ties are broken by id, the same way on every page: walking the pages
    // of every sort gives the full listing, with no duplicate or gap.
    for query in [
        "",
        "order=asc",
        "sort=due_date",
        "sort=due_date&order=desc",
        "sort=priority",
        "sort=priority&order=desc",
        "sort=title",
        "sort=updated_at",
        "completed=false&sort=priority",
        "tag=filler&sort=due_date",
    ] {
        let full = alice.list(query).await;
        for limit in [1, 3, 5] {
            let walked = alice.walk(query, limit).await;
            assert_eq!(ids(&walked), ids(&full), "{query:?} at limit {limit}");
        }
        let unique: HashSet<String> = ids(&full).into_iter().collect();
        assert_eq!(unique.len(), full.len(), "{query:?}");
        assert!(unique.is_subset(&all));
    }
    // Without `limit` all 14 fit one page; a page ending on the last task has no cursor.
    let page = alice.page("").await;
    assert_eq!((page["items"].as_array().unwrap().len(), &page["next_cursor"]), (14, &Value::Null));
    let page = alice.page("limit=14").await;
    assert_eq!(page["next_cursor"], Value::Null, "no cursor when nothing follows");

    // Bad parameters.
    let title_cursor = alice.page("sort=title&limit=2").await["next_cursor"].as_str().unwrap().to_owned();
    let cursor_of_other_sort = format!("sort=priority&cursor={title_cursor}");
    let cursor_of_other_order = format!("sort=title&order=desc&cursor={title_cursor}");
    for (query, param) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=-1", "limit"),
        ("limit=ten", "limit"),
        ("limit=5&limit=6", "limit"),
        ("sort=colour", "sort"),
        ("order=sideways", "order"),
        ("completed=maybe", "completed"),
        ("priority=urgent", "priority"),
        ("cursor=not-a-cursor", "cursor"),
        ("cursor=e30", "cursor"),
        (cursor_of_other_sort.as_str(), "cursor"),
        (cursor_of_other_order.as_str(), "cursor"),
    ] {
        let res = alice.send(Method::GET, &format!("/api/todos?{query}"), None).await;
        let message = expect_error(res, 400, "invalid_query").await;
        assert!(message.starts_with(&format!("{param}:")), "{query}: {message}");
    }
    // The cursor still works with its own sort.
    let next = alice.page(&format!("sort=title&limit=2&cursor={title_cursor}")).await;
    assert_eq!(titles(next["items"].as_array().unwrap()), ["Call mum", "Filler 1"]);
}

#[tokio::test]
async fn idempotency_key_replays_the_first_create() {
    let host = Host::start();
    let (alice, bob) = (Api::new(&host, "alice"), Api::new(&host, "bob"));
    let post = |api: &Api<'_>, key: &str, body: &str| {
        api.request(Method::POST, "/api/todos")
            .header("idempotency-key", key)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
    };
    let body = r#"{"title": "Pay rent", "priority": "high"}"#;

    let first = expect_json(post(&alice, "rent-2026-03", body).await.unwrap(), 201).await;
    let retried = expect_json(post(&alice, "rent-2026-03", body).await.unwrap(), 201).await;
    assert_eq!(retried, first, "a retry returns the first response");
    let res = post(&alice, "rent-2026-03", r#"{"title": "Pay rent", "priority": "low"}"#).await.unwrap();
    expect_error(res, 422, "idempotency_key_reused").await;
    assert_eq!(ids(&alice.list("").await), [id_of(&first)]);

    // The key is Alice's: Bob may use it for his own task.
    let bobs = expect_json(post(&bob, "rent-2026-03", r#"{"title": "Bob's rent"}"#).await.unwrap(), 201).await;
    assert_ne!(id_of(&bobs), id_of(&first));
    assert_eq!(expect_json(post(&bob, "rent-2026-03", r#"{"title": "Bob's rent"}"#).await.unwrap(), 201).await, bobs);
    assert_eq!(ids(&bob.list("").await), [id_of(&bobs)]);

    // Concurrent first uses of one key create one task.
    let racers = futures::future::join_all((0..6).map(|_| post(&alice, "race", r#"{"title": "Raced"}"#))).await;
    let mut raced = HashSet::new();
    for res in racers {
        raced.insert(id_of(&expect_json(res.unwrap(), 201).await));
    }
    assert_eq!(raced.len(), 1, "{raced:?}");
    let raced = raced.into_iter().next().unwrap();
    assert_eq!(alice.list("").await.len(), 2);

    // One task.created each, however often it was requested.
    let (_, deliveries) = settle(&alice).await;
    for (api, id) in [(&alice, id_of(&first)), (&alice, raced), (&bob, id_of(&bobs))] {
        let events = of_task(&deliveries, &id);
        assert_eq!(events.len(), 1, "{id}: {events:?}");
        assert_eq!(api.history(&id, "").await.len(), 1, "{id}");
    }
}

#[tokio::test]
async fn history_lists_every_change_oldest_first() {
    let host = Host::start();
    let (alice, bob) = (Api::new(&host, "alice"), Api::new(&host, "bob"));
    let task = alice.create(json!({"title": "Draft", "priority": "low"})).await;
    let id = id_of(&task);
    alice.update(&id, json!({"title": "Final"})).await;
    alice.update(&id, json!({"priority": "high", "tags": ["work"], "title": "Final"})).await;
    let done = alice.complete(&id, None).await;

    let history = alice.history(&id, "").await;
    let types: Vec<&str> = history.iter().map(|h| h["event_type"].as_str().unwrap()).collect();
    assert_eq!(types, ["task.created", "task.updated", "task.updated", "task.completed"]);
    let changes: Vec<&Value> = history.iter().map(|h| &h["changed_fields"]).collect();
    assert_eq!(
        changes,
        [
            &json!({
                "title": {"old": null, "new": "Draft"},
                "completed": {"old": null, "new": false},
                "priority": {"old": null, "new": "low"},
                "tags": {"old": null, "new": []},
            }),
            &json!({"title": {"old": "Draft", "new": "Final"}}),
            &json!({"priority": {"old": "low", "new": "high"}, "tags": {"old": [], "new": ["work"]}}),
            &json!({"completed": {"old": false, "new": true}}),
        ]
    );
    assert_eq!(history[0]["snapshot"], task);
    assert_eq!(history[3]["snapshot"], done);
    let event_ids: HashSet<&str> = history.iter().map(|h| h["event_id"].as_str().unwrap()).collect();
    assert_eq!(event_ids.len(), 4);
    assert!(event_ids.iter().all(|e| Uuid::parse_str(e).is_ok()));
    for entry in &history {
        assert_recent_utc_micros(&entry["occurred_at"]);
    }
    assert!(history.windows(2).all(|w| w[0]["occurred_at"].as_str() <= w[1]["occurred_at"].as_str()));

    // `limit` keeps the oldest.
    assert_eq!(alice.history(&id, "limit=2").await, history[..2]);
    assert_eq!(alice.history(&id, "limit=1").await, history[..1]);
    assert_eq!(alice.history(&id, "limit=100").await, history);
    for bad in ["limit=0", "limit=101", "limit=x"] {
        expect_error(alice.history_response(&id, bad).await, 400, "invalid_query").await;
    }

    // After deletion the owner still reads it; nobody else does.
    assert_eq!(alice.delete(&id).await.status(), 204);
    let history = alice.history(&id, "").await;
    assert_eq!(history.len(), 5);
    assert_eq!(history[4]["event_type"], "task.deleted");
    assert_eq!(history[4]["changed_fields"]["title"], json!({"old": "Final", "new": null}));
    expect_error(bob.history_response(&id, "").await, 404, "not_found").await;
    expect_error(alice.history_response(&Uuid::new_v4().to_string(), "").await, 404, "not_found").await;
}

#[tokio::test]
async fn each_change_is_delivered_once_on_task_events_in_order() {
    let host = Host::start();
    let alice = Api::new(&host, "alice");
    let id = id_of(&alice.create(json!({"title": "Water plants"})).await);
    alice.update(&id, json!({"description": "the ferns too"})).await;
    alice.complete(&id, None).await;
    assert_eq!(alice.delete(&id).await.status(), 204);
    let history = alice.history(&id, "").await;
    let types: Vec<&str> = history.iter().map(|h| h["event_type"].as_str().unwrap()).collect();
    assert_eq!(types, ["task.created", "task.updated", "task.completed", "task.deleted"]);
    let expected_ids: Vec<&str> = history.iter().map(|h| h["event_id"].as_str().unwrap()).collect();

    let delivered = host
        .eventually(WAIT, || async {
            let events = of_task(&task_events(&host).await, &id);
            (events.len() >= 4).then_some(events)
        })
        .await;
    let delivered_ids: Vec<&str> = delivered.iter().map(|d| d.event_id.as_str()).collect();
    assert_eq!(delivered_ids, expected_ids, "delivered in order, with the history's event ids");
    assert!(delivered.iter().all(|d| d.attempt == 1), "{delivered:?}");

    // Nothing more arrives for it later.
    let (_, all) = settle(&alice).await;
    assert_eq!(of_task(&all, &id), delivered);
}

#[tokio::test]
async fn changes_that_change_nothing_record_and_publish_nothing() {
    let host = Host::start();
    let alice = Api::new(&host, "alice");
    let task = alice
        .create(json!({
            "title": "Same",
            "description": "d",
            "priority": "high",
            "tags": ["a", "b"],
            "due_date": "2026-05-01T12:00:00Z",
        }))
        .await;
    let id = id_of(&task);

    // The same values, written differently, are no change: the task comes
    // back as it was, `updated_at` included.
    let same = json!({
        "title": "  Same ",
        "priority": "high",
        "tags": [" a", "b", "a"],
        "due_date": "2026-05-01T14:00:00+02:00",
        "description": "d",
        "completed": false,
    });
    assert_eq!(alice.update(&id, same).await, task);
    assert_eq!(alice.update(&id, json!({})).await, task);
    assert_eq!(alice.complete(&id, Some(json!({"completed": false}))).await, task);
    assert_eq!(expect_json(alice.get(&id).await, 200).await, task);

    // Completing twice: only the first counts.
    let done = alice.complete(&id, None).await;
    assert_eq!(done["completed"], true);
    assert_eq!(alice.complete(&id, None).await, done);
    assert_eq!(alice.complete(&id, Some(json!({"completed": true}))).await, done);
    assert_eq!(alice.update(&id, json!({"completed": true, "title": "Same"})).await, done);

    let history = alice.history(&id, "").await;
    let types: Vec<&str> = history.iter().map(|h| h["event_type"].as_str().unwrap()).collect();
    assert_eq!(types, ["task.created", "task.completed"]);
    let (_, deliveries) = settle(&alice).await;
    let delivered: Vec<String> = of_task(&deliveries, &id).into_iter().map(|d| d.event_id).collect();
    let recorded: Vec<String> = history.iter().map(|h| h["event_id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(delivered, recorded);
}
