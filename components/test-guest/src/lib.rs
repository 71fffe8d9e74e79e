//! The host's test component. HTTP (through spin-sdk) under `/test/...`,
//! an event handler and a scheduled job, each recording what it saw in the
//! `test_record` table of the "default" database so tests can check
//! deliveries through the API.
//!
//! Routes (query values are percent-decoded), each needing a valid bearer
//! token, checked here with the `jwt_secret` variable (401 otherwise):
//! - `/test/version` — 200, the version (`TEST_GUEST_VERSION` at build time, else `v1`);
//! - `/test/whoami` — records and answers the user id of the token;
//! - `/test/variable?name=` — 200 with the value of that Spin variable, or 404
//!   with the error's Debug text (such as `Error::Undefined("...")`);
//! - `/test/loop`, `/test/trap`, `/test/alloc?mb=`, `/test/big?kb=` — misbehave on request;
//! - `POST /test/publish?topic=&id=&tx=` — publishes the body as the event's
//!   JSON data: through the outbox in a committed transaction (default),
//!   one rolled back (`tx=rollback`), or on its own (`tx=none`); 202 with
//!   the id, or 409 with the error's Debug text;
//! - `/test/once?key=&ttl=` — `set-if-absent` on the "default" store, expiring
//!   after `ttl` seconds (default 60): `true` or `false`;
//! - `/test/state?key=` — the key's value on the "default" store, or 404;
//! - `/test/records?kind=` — the recorded details of that kind, as JSON;
//! - `/test/outbound?url=` — an outbound GET: 200 `<status> <body>`, or 502
//!   with the error's Debug text (such as `Http(HttpRequestDenied)`);
//! - `/test/open?sql=<label>` or `?state=<label>` — 200 `ok`, or 403 with the
//!   error's Debug text (such as `AccessDenied("...")`);
//! - `POST /test/sql` — runs the body as one statement on "default": 200 with
//!   the number of rows changed, or 400 with the error's Debug text;
//! - `/test/hold?ms=` — a transaction that inserts a `hold` record, waits,
//!   then commits: 200 `committed`, or 409 with the error's Debug text;
//! - `/test/fail?how=constraint|trap&id=` — a transaction that inserts a
//!   `fail` record and publishes the event `id` on `test`, then inserts the
//!   same record again (409 with the primary-key violation's Debug text) or
//!   traps: nothing of it may be committed.

use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::http_component;
use std::sync::OnceLock;

wit_bindgen::generate!({
    inline: r#"
        package test:guest;
        world guest {
            include todo:platform/event-handler-component@0.2.0;
            export todo:platform/scheduled-job@0.2.0;
        }
    "#,
    path: "../../wit",
    world: "test:guest/guest",
    generate_all,
});

use exports::todo::platform::scheduled_job::JobError;
use exports::todo::platform::{event_handler, scheduled_job};
use todo::platform::types::{CloudEvent, Timestamp};
use todo::platform::{outbox, pubsub, sql, state};

/// What `/test/version` reports: hot-swap tests build a second version.
const VERSION: &str = match option_env!("TEST_GUEST_VERSION") {
    Some(version) => version,
    None => "v1",
};

/// The label of the database and the store this component uses.
const DEFAULT: &str = "default";

static DATABASE: OnceLock<sql::Database> = OnceLock::new();
static STORE: OnceLock<state::Store> = OnceLock::new();

/// The "default" database, opened once per instance.
fn db() -> Result<&'static sql::Database, sql::Error> {
    if let Some(db) = DATABASE.get() {
        return Ok(db);
    }
    let db = sql::Database::open(DEFAULT)?;
    Ok(DATABASE.get_or_init(|| db))
}

/// The "default" state store, opened once per instance.
fn store() -> Result<&'static state::Store, state::Error> {
    if let Some(store) = STORE.get() {
        return Ok(store);
    }
    let store = state::Store::open(DEFAULT)?;
    Ok(STORE.get_or_init(|| store))
}

fn text(status: u16, body: impl Into<String>) -> Response {
    Response::builder().status(status).header("content-type", "text/plain").body(body.into()).build()
}

/// `%XX` escapes decoded (invalid ones kept as they are); `+` stays `+`.
fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The first value of `name` in `query`, percent-decoded.
fn param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=')).map(percent_decode)
}

fn query_param(req: &Request, name: &str) -> Option<String> {
    param(req.query(), name)
}

const CREATE_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS test_record (n TEXT PRIMARY KEY, kind TEXT NOT NULL, detail TEXT NOT NULL)";
const INSERT: &str = "INSERT INTO test_record (n, kind, detail) VALUES ($1, $2, $3)";

/// Records are ordered by a key that starts with the time they were written.
fn record_values(kind: &str, detail: &str) -> [sql::Value; 3] {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    let key = format!("{nanos:024}-{}", uuid::Uuid::new_v4().simple());
    [sql::Value::Text(key), sql::Value::Text(kind.into()), sql::Value::Text(detail.into())]
}

/// Portable SQL (SQLite and PostgreSQL). Two first writers may race to
/// create the table: the loser's error is harmless, the insert tells.
fn ensure_table() -> Result<&'static sql::Database, sql::Error> {
    let db = db()?;
    let _ = db.execute(CREATE_TABLE, &[]);
    Ok(db)
}

fn record(kind: &str, detail: &str) -> Result<(), sql::Error> {
    ensure_table()?.execute(INSERT, &record_values(kind, detail))?;
    Ok(())
}

fn records(kind: &str) -> Result<Vec<String>, sql::Error> {
    record("read", kind)?;
    let rows =
        db()?.query("SELECT detail FROM test_record WHERE kind = $1 ORDER BY n", &[sql::Value::Text(kind.into())])?;
    Ok(rows
        .rows
        .into_iter()
        .filter_map(|r| match r.into_iter().next() {
            Some(sql::Value::Text(t)) => Some(t),
            _ => None,
        })
        .collect())
}

fn now() -> Timestamp {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Timestamp { seconds: since.as_secs(), nanoseconds: since.subsec_nanos() }
}

fn event(id: &str, data: &[u8]) -> CloudEvent {
    CloudEvent {
        id: id.into(),
        source: "/test-guest".into(),
        type_: "test.event".into(),
        subject: None,
        time: now(),
        datacontenttype: "application/json".into(),
        data: data.to_vec(),
    }
}

/// RFC 3339 UTC with microseconds and `Z`, as the system stores times:
/// `2026-01-01T00:00:00.000000Z`.
fn format_timestamp(at: Timestamp) -> Option<String> {
    if at.nanoseconds >= 1_000_000_000 {
        return None;
    }
    let at = chrono::DateTime::from_timestamp(i64::try_from(at.seconds).ok()?, at.nanoseconds)?;
    Some(at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
}

fn debug(err: impl std::fmt::Debug) -> anyhow::Error {
    anyhow::anyhow!("{err:?}")
}

/// `/test/publish`: 202 with the id, or 409 with the error's Debug text.
fn publish(req: &Request, user: &str) -> anyhow::Result<Response> {
    let id = query_param(req, "id").unwrap_or_else(|| "e".into());
    let topic = query_param(req, "topic").unwrap_or_else(|| "test".into());
    let event = event(&id, req.body());
    let conflict = |err: &dyn std::fmt::Debug| text(409, format!("{err:?}"));
    match query_param(req, "tx").as_deref() {
        Some("none") => {
            if let Err(err) = pubsub::publish(&topic, user, &event) {
                return Ok(conflict(&err));
            }
        }
        tx_param => {
            let tx = db().and_then(|db| db.begin()).map_err(debug)?;
            if let Err(err) = outbox::publish(&tx, &topic, user, &event) {
                return Ok(conflict(&err));
            }
            let ended = if tx_param == Some("rollback") { tx.rollback() } else { tx.commit() };
            if let Err(err) = ended {
                return Ok(conflict(&err));
            }
        }
    }
    Ok(text(202, id))
}

/// `/test/open`: opens the database or store a label names.
fn open(req: &Request) -> Response {
    let result = match (query_param(req, "sql"), query_param(req, "state")) {
        (Some(label), _) => sql::Database::open(&label).map(drop).map_err(|e| format!("{e:?}")),
        (None, Some(label)) => state::Store::open(&label).map(drop).map_err(|e| format!("{e:?}")),
        (None, None) => return text(400, "give sql=<label> or state=<label>"),
    };
    match result {
        Ok(()) => text(200, "ok"),
        Err(err) => text(403, err),
    }
}

/// `/test/hold`: a transaction held open for `ms` milliseconds.
/// `/test/hold?ms=&key=`: holds a transaction with a written row for `ms`,
/// telling the test it holds it by setting `key` in the state store.
fn hold(req: &Request) -> Response {
    let ms: u64 = query_param(req, "ms").and_then(|v| v.parse().ok()).unwrap_or(0);
    let key = query_param(req, "key");
    let held = || -> Result<(), String> {
        let tx = ensure_table().and_then(|db| db.begin()).map_err(|e| format!("{e:?}"))?;
        tx.execute(INSERT, &record_values("hold", &format!("{ms}ms"))).map_err(|e| format!("{e:?}"))?;
        if let Some(key) = &key {
            store().and_then(|s| s.set(key, b"1", Some(600))).map_err(|e| format!("{e:?}"))?;
        }
        std::thread::sleep(std::time::Duration::from_millis(ms));
        tx.commit().map_err(|e| format!("{e:?}"))
    };
    match held() {
        Ok(()) => text(200, "committed"),
        Err(err) => text(409, err),
    }
}

/// `/test/fail`: a transaction that fails after writing a row and an event.
fn fail(req: &Request, user: &str) -> Response {
    let id = query_param(req, "id").unwrap_or_else(|| "e".into());
    let trap = query_param(req, "how").as_deref() == Some("trap");
    let failed = || -> Result<(), String> {
        let tx = ensure_table().and_then(|db| db.begin()).map_err(|e| format!("{e:?}"))?;
        let values = record_values("fail", &id);
        tx.execute(INSERT, &values).map_err(|e| format!("{e:?}"))?;
        outbox::publish(&tx, "test", user, &event(&id, b"{}")).map_err(|e| format!("{e:?}"))?;
        if trap {
            panic!("trapping inside a transaction");
        }
        tx.execute(INSERT, &values).map(drop).map_err(|e| format!("{e:?}"))
    };
    match failed() {
        Ok(()) => text(200, "committed"),
        Err(err) => text(409, err),
    }
}

/// `/test/outbound`: a GET through `wasi:http/outgoing-handler`.
async fn outbound(req: &Request) -> Response {
    let Some(url) = query_param(req, "url") else {
        return text(400, "give url=<percent-encoded URL>");
    };
    let request = Request::get(url).build();
    match spin_sdk::http::send::<_, Response>(request).await {
        Ok(res) => text(200, format!("{} {}", res.status(), String::from_utf8_lossy(res.body()))),
        Err(err) => text(502, format!("{err:?}")),
    }
}

/// The user id of the request's bearer token, or the 401 (500 without a
/// secret) to answer.
fn caller(req: &Request) -> Result<String, Response> {
    let secret = spin_sdk::variables::get("jwt_secret").map_err(|err| text(500, format!("{err:?}")))?;
    let header = req.header("authorization").and_then(|h| h.as_str());
    todo_token::Key::new(secret.as_bytes()).verify_header(header, todo_token::now()).map_err(|err| {
        let body = serde_json::json!({ "error": { "code": "unauthorized", "message": err.to_string() } });
        Response::builder()
            .status(401)
            .header("content-type", "application/json")
            .header("www-authenticate", "Bearer")
            .body(body.to_string())
            .build()
    })
}

#[http_component]
async fn handle(req: Request) -> anyhow::Result<impl IntoResponse> {
    let user = match caller(&req) {
        Ok(user) => user,
        Err(refused) => return Ok(refused),
    };
    Ok(match req.path() {
        "/test/version" => text(200, VERSION),
        "/test/whoami" => {
            record("whoami", &user).map_err(debug)?;
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
        "/test/publish" => publish(&req, &user)?,
        "/test/once" => {
            let key = query_param(&req, "key").unwrap_or_else(|| "k".into());
            let ttl = query_param(&req, "ttl").and_then(|t| t.parse().ok()).unwrap_or(60);
            let won = store().and_then(|s| s.set_if_absent(&key, b"1", Some(ttl))).map_err(debug)?;
            text(200, won.to_string())
        }
        "/test/state" => {
            let key = query_param(&req, "key").unwrap_or_else(|| "k".into());
            match store().and_then(|s| s.get(&key)).map_err(debug)? {
                Some(value) => text(200, String::from_utf8_lossy(&value)),
                None => text(404, "absent"),
            }
        }
        "/test/records" => {
            let kind = query_param(&req, "kind").unwrap_or_else(|| "event".into());
            let list = records(&kind).map_err(debug)?;
            text(200, serde_json::to_string(&list)?)
        }
        "/test/outbound" => outbound(&req).await,
        "/test/open" => open(&req),
        "/test/sql" => {
            let statement = String::from_utf8_lossy(req.body()).into_owned();
            match db().and_then(|db| db.execute(&statement, &[])) {
                Ok(changed) => text(200, changed.to_string()),
                Err(err) => text(400, format!("{err:?}")),
            }
        }
        "/test/hold" => hold(&req),
        "/test/fail" => fail(&req, &user),
        "/test/variable" => match spin_sdk::variables::get(&query_param(&req, "name").unwrap_or_default()) {
            Ok(value) => text(200, value),
            Err(err) => text(404, format!("{err:?}")),
        },
        _ => text(404, "no such test route"),
    })
}

struct Guest;

impl event_handler::Guest for Guest {
    /// Records every delivery as "topic|event id|attempt|subject", then does what the
    /// event's JSON data asks: "ok", "drop", "trap", or {"fail_until": n} (retry
    /// until attempt n).
    fn handle(topic: String, event: event_handler::Event, attempt: u32) -> event_handler::Outcome {
        let subject = event.subject.as_deref().unwrap_or("");
        if record("event", &format!("{topic}|{}|{attempt}|{subject}", event.id)).is_err() {
            return event_handler::Outcome::Retry;
        }
        let data: serde_json::Value = serde_json::from_slice(&event.data).unwrap_or_default();
        match (data.as_str(), data.get("fail_until").and_then(|v| v.as_u64())) {
            (Some("drop"), _) => event_handler::Outcome::Drop,
            (Some("trap"), _) => panic!("trapping on event {}", event.id),
            (_, Some(n)) if u64::from(attempt) < n => event_handler::Outcome::Retry,
            _ => event_handler::Outcome::Success,
        }
    }
}

impl scheduled_job::Guest for Guest {
    /// Records the tick's scheduled time, as RFC 3339 UTC with microseconds.
    fn run(scheduled_time: Timestamp) -> Result<(), JobError> {
        let at = format_timestamp(scheduled_time).ok_or_else(|| {
            JobError::Failed(format!(
                "scheduled time {}s {}ns is out of range",
                scheduled_time.seconds, scheduled_time.nanoseconds
            ))
        })?;
        record("tick", &at).map_err(|err| match err {
            sql::Error::Unavailable(_) | sql::Error::DeadlineExceeded => JobError::Unavailable(format!("{err:?}")),
            _ => JobError::Failed(format!("{err:?}")),
        })
    }
}

export!(Guest);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_decoded() {
        let query = "url=http%3A%2F%2F127.0.0.1%3A8080%2Fx%3Fa%3D1&ms=20&bad=%zz%4&plus=a+b";
        assert_eq!(param(query, "url").as_deref(), Some("http://127.0.0.1:8080/x?a=1"));
        assert_eq!(param(query, "ms").as_deref(), Some("20"));
        assert_eq!(param(query, "bad").as_deref(), Some("%zz%4"));
        assert_eq!(param(query, "plus").as_deref(), Some("a+b"));
        assert_eq!(param(query, "u"), None);
        assert_eq!(param("id=load-3&topic=test", "id").as_deref(), Some("load-3"));
    }

    #[test]
    fn ticks_are_recorded_in_utc_with_microseconds() {
        let at = |seconds, nanoseconds| format_timestamp(Timestamp { seconds, nanoseconds });
        assert_eq!(at(1_767_225_600, 0).as_deref(), Some("2026-01-01T00:00:00.000000Z"));
        assert_eq!(at(1_893_549_845, 0).as_deref(), Some("2030-01-02T02:04:05.000000Z"));
        assert_eq!(at(0, 123_456_789).as_deref(), Some("1970-01-01T00:00:00.123456Z"));
        assert_eq!(at(0, 1_000_000_000), None);
        assert_eq!(at(u64::MAX, 0), None);
    }
}
