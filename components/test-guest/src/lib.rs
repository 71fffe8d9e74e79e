//! The host's test component. HTTP (through spin-sdk) under `/test/...`,
//! an event handler and a scheduled job, each recording what it saw in the
//! `test_record` table so tests can check deliveries through the API.

use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::http_component;

wit_bindgen::generate!({
    inline: r#"
        package test:guest;
        world guest {
            include todo:platform/event-handler-component@0.1.0;
            export todo:platform/scheduled-job@0.1.0;
        }
    "#,
    path: "../../wit",
    world: "test:guest/guest",
    generate_all,
});

use exports::todo::platform::{event_handler, scheduled_job};
use todo::platform::{pubsub, sql, state, types::CloudEvent};

/// What `/test/version` reports: hot-swap tests build a second version.
const VERSION: &str = match option_env!("TEST_GUEST_VERSION") {
    Some(version) => version,
    None => "v1",
};

fn text(status: u16, body: impl Into<String>) -> Response {
    Response::builder().status(status).header("content-type", "text/plain").body(body.into()).build()
}

fn query_param<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.query().split('&').find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

/// Portable SQL (SQLite and PostgreSQL): records are ordered by a key that
/// starts with the time they were written.
fn record(kind: &str, detail: &str) -> Result<(), sql::Error> {
    // Two first writers may race to create the table: the loser's error is
    // harmless, the insert below tells.
    let _ = sql::execute("CREATE TABLE IF NOT EXISTS test_record (n TEXT PRIMARY KEY, kind TEXT NOT NULL, detail TEXT NOT NULL)", &[]);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    let key = format!("{nanos:024}-{}", uuid::Uuid::new_v4().simple());
    sql::execute(
        "INSERT INTO test_record (n, kind, detail) VALUES ($1, $2, $3)",
        &[sql::Value::Text(key), sql::Value::Text(kind.into()), sql::Value::Text(detail.into())],
    )?;
    Ok(())
}

fn records(kind: &str) -> Result<Vec<String>, sql::Error> {
    record("read", kind)?;
    let rows = sql::query(
        "SELECT detail FROM test_record WHERE kind = $1 ORDER BY n",
        &[sql::Value::Text(kind.into())],
    )?;
    Ok(rows
        .rows
        .into_iter()
        .filter_map(|r| match r.into_iter().next() {
            Some(sql::Value::Text(t)) => Some(t),
            _ => None,
        })
        .collect())
}

fn event(id: &str, data: &str) -> CloudEvent {
    CloudEvent {
        id: id.into(),
        source: "/test-guest".into(),
        type_: "test.event".into(),
        subject: None,
        time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        data: data.into(),
    }
}

#[http_component]
fn handle(req: Request) -> anyhow::Result<impl IntoResponse> {
    let user = req.header("todo-user-id").and_then(|h| h.as_str()).unwrap_or("").to_owned();
    Ok(match req.path() {
        "/test/version" => text(200, VERSION),
        "/test/whoami" => {
            record("whoami", &user).map_err(|e| anyhow::anyhow!("{e:?}"))?;
            text(200, user)
        }
        "/test/loop" => loop {
            std::hint::black_box(());
        },
        "/test/trap" => panic!("trapping on request"),
        "/test/alloc" => {
            let mb: usize = query_param(&req, "mb").and_then(|v| v.parse().ok()).unwrap_or(1);
            let block = vec![1u8; mb << 20];
            text(200, format!("allocated {}", std::hint::black_box(block).len()))
        }
        "/test/big" => {
            let kb: usize = query_param(&req, "kb").and_then(|v| v.parse().ok()).unwrap_or(64);
            text(200, "x".repeat(kb << 10))
        }
        "/test/publish" => {
            // Body: the event data; `id` names the event; `tx=rollback` publishes
            // inside a transaction that is rolled back.
            let id = query_param(&req, "id").unwrap_or("e").to_owned();
            let topic = query_param(&req, "topic").unwrap_or("test").to_owned();
            let data = String::from_utf8_lossy(req.body()).into_owned();
            let tx = sql::begin().map_err(|e| anyhow::anyhow!("{e:?}"))?;
            pubsub::publish(&topic, &user, &event(&id, &data), Some(&tx)).map_err(|e| anyhow::anyhow!("{e:?}"))?;
            if query_param(&req, "tx") == Some("rollback") {
                tx.rollback().map_err(|e| anyhow::anyhow!("{e:?}"))?;
            } else {
                tx.commit().map_err(|e| anyhow::anyhow!("{e:?}"))?;
            }
            text(202, id)
        }
        "/test/once" => {
            let key = query_param(&req, "key").unwrap_or("k");
            let won = state::set_if_absent(key, b"1", Some(60)).map_err(|e| anyhow::anyhow!("{e:?}"))?;
            text(200, won.to_string())
        }
        "/test/records" => {
            let kind = query_param(&req, "kind").unwrap_or("event");
            let list = records(kind).map_err(|e| anyhow::anyhow!("{e:?}"))?;
            text(200, serde_json::to_string(&list)?)
        }
        _ => text(404, "no such test route"),
    })
}

struct Guest;

impl event_handler::Guest for Guest {
    /// Records every delivery as "topic|event id|attempt|subject", then does what the
    /// event's data asks: "ok", "drop", "trap", or {"fail_until": n} (retry
    /// until attempt n).
    fn handle(topic: String, event: CloudEvent, attempt: u32) -> event_handler::Outcome {
        let subject = event.subject.as_deref().unwrap_or("");
        if record("event", &format!("{topic}|{}|{attempt}|{subject}", event.id)).is_err() {
            return event_handler::Outcome::Retry;
        }
        let data: serde_json::Value = serde_json::from_str(&event.data).unwrap_or_default();
        match (data.as_str(), data.get("fail_until").and_then(|v| v.as_u64())) {
            (Some("drop"), _) => event_handler::Outcome::Drop,
            (Some("trap"), _) => panic!("trapping on event {}", event.id),
            (_, Some(n)) if u64::from(attempt) < n => event_handler::Outcome::Retry,
            _ => event_handler::Outcome::Success,
        }
    }
}

impl scheduled_job::Guest for Guest {
    fn run(scheduled_time: String) -> Result<(), String> {
        record("tick", &scheduled_time).map_err(|e| format!("{e:?}"))
    }
}

export!(Guest);
