//! The platform as Spin runs it: components composed with
//! components/platform-adapter (`up --compose-dependencies`), which
//! implements `todo:platform` on the host's Spin SQLite interface. The
//! SQLite file is read directly to see what the adapter wrote.

mod common;

use common::{client, Host, Options, TaskApi};
use serde_json::{json, Value};
use std::time::Duration;

fn composed() -> Options {
    Options { compose: true, ..Options::default() }
}

/// The host's SQLite database, opened beside the running host.
fn database(host: &Host) -> rusqlite::Connection {
    rusqlite::Connection::open(host.dir.path().join(".data/app.db")).unwrap()
}

fn count(db: &rusqlite::Connection, sql: &str, param: &str) -> i64 {
    db.query_row(sql, [param], |r| r.get(0)).unwrap()
}

#[tokio::test]
async fn the_task_api_through_the_adapter_migrates_and_queues_its_events_in_the_outbox() {
    // The host applies only its own history: the application's tables come
    // from the adapter, as under Spin.
    let host = Host::start_with(Options { app_migrations: false, ..composed() });
    let alice = TaskApi::new(&host, "alice");
    let task = alice.create(json!({"title": "Repot the ferns", "tags": ["garden"]})).await;
    let id = task["id"].as_str().unwrap();

    let db = database(&host);
    let applied: String =
        db.query_row("SELECT applied_at FROM schema_migration WHERE version = '0001_init'", [], |r| r.get(0)).unwrap();
    chrono::DateTime::parse_from_rfc3339(&applied).expect("applied_at as the host writes it");
    let mut rows = db
        .prepare(
            "SELECT event_id, topic, partition_key, event, created_at FROM outbox WHERE event LIKE ?1 ORDER BY seq",
        )
        .unwrap();
    let rows: Vec<(String, String, String, String, String)> = rows
        .query_map([format!("%{id}%")], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let topics: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(topics, ["task-events", "task-updates"], "{rows:?}");
    for (event_id, _, partition_key, event, created_at) in &rows {
        assert_eq!(partition_key, "alice");
        chrono::DateTime::parse_from_rfc3339(created_at).expect("created_at in RFC 3339");
        let envelope: Value = serde_json::from_str(event).unwrap();
        assert_eq!(envelope["specversion"], "1.0");
        assert_eq!(&envelope["id"], event_id);
        assert_eq!(envelope["partitionkey"], "alice");
        assert_eq!(envelope["datacontenttype"], "application/json");
        let time = envelope["time"].as_str().unwrap();
        assert!(time.ends_with('Z') && time.len() == "2026-12-01T10:00:00.123456Z".len(), "{time}");
        assert!(envelope["data"].is_object(), "JSON data inline: {envelope}");
    }
    let events: Value = serde_json::from_str(&rows[0].3).unwrap();
    assert_eq!(events["type"], "task.created");
    assert_eq!(events["subject"], id);
}

/// `/test/fail` on `host`: the status and body.
async fn fail(host: &Host, how: &str, id: &str) -> (u16, String) {
    let res = client("alice").get(host.url(&format!("/test/fail?how={how}&id={id}"))).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test]
async fn a_failed_transaction_through_the_adapter_leaves_neither_row_nor_event() {
    let host = Host::start_with(composed());
    let (status, violation) = fail(&host, "constraint", "failed-on-a-constraint").await;
    assert_eq!(status, 409, "{violation}");
    let (status, _) = fail(&host, "trap", "failed-by-a-trap").await;
    assert_eq!(status, 500, "a trap is a server error");

    let db = database(&host);
    assert_eq!(count(&db, "SELECT count(*) FROM test_record WHERE kind = ?1", "fail"), 0, "no row");
    for id in ["failed-on-a-constraint", "failed-by-a-trap"] {
        assert_eq!(count(&db, "SELECT count(*) FROM outbox WHERE event_id = ?1", id), 0, "no event {id}");
    }
    // The writer is free again, and a committed publish lands.
    let res = client("alice").post(host.url("/test/publish?id=after-the-failures")).body("{}").send().await.unwrap();
    assert_eq!(res.status(), 202);
    assert_eq!(count(&db, "SELECT count(*) FROM outbox WHERE event_id = ?1", "after-the-failures"), 1);

    // The guest sees the violation exactly as on the native platform (on
    // SQLite, as under Spin).
    let native = Host::start_with(Options { embedded: true, ..Options::default() });
    let (status, native_violation) = fail(&native, "constraint", "failed-on-a-constraint").await;
    assert_eq!(status, 409);
    assert_eq!(violation, native_violation);
    assert!(violation.contains("PrimaryKey") && violation.contains("test_record.n"), "{violation}");
}

/// What a run of `/test/once` and `/test/state` calls answers on `host`:
/// a first set-if-absent wins, the key is set, a second loses, concurrent
/// ones for a fresh key have one winner, and a key with a TTL of 1 s can be
/// set again once it expired (how long that took is returned).
async fn state_behaviour(host: &Host) -> (Vec<String>, Duration) {
    let alice = client("alice");
    let get = |path: String| {
        let alice = alice.clone();
        let url = host.url(&path);
        async move {
            let res = alice.get(url).send().await.unwrap();
            format!("{} {}", res.status().as_u16(), res.text().await.unwrap())
        }
    };
    let started = std::time::Instant::now();
    let mut seen = vec![
        get("/test/once?key=short&ttl=1".into()).await,
        get("/test/state?key=short".into()).await,
        get("/test/once?key=short&ttl=1".into()).await,
    ];
    let racers = (0..8).map(|_| get("/test/once?key=raced".into()));
    let wins = futures::future::join_all(racers).await.iter().filter(|r| *r == "200 true").count();
    seen.push(format!("{wins} winner"));
    let expired = host
        .eventually(Duration::from_secs(10), || async {
            (get("/test/once?key=short&ttl=60".into()).await == "200 true").then(|| started.elapsed())
        })
        .await;
    seen.push(get("/test/state?key=never-set".into()).await);
    (seen, expired)
}

#[tokio::test]
async fn state_through_the_adapter_expires_and_sets_once_as_the_hosts() {
    let host = Host::start_with(composed());
    let (through_adapter, expired) = state_behaviour(&host).await;
    assert_eq!(through_adapter, ["200 true", "200 1", "200 false", "1 winner", "404 absent"]);
    assert!(expired >= Duration::from_secs(1), "the key expired after {expired:?}, before its TTL of 1 s");
    let db = database(&host);
    assert_eq!(count(&db, "SELECT count(*) FROM todo_state WHERE key = ?1 AND expires_at IS NOT NULL", "short"), 1);

    let (native, _) = state_behaviour(&Host::start_with(Options { embedded: true, ..Options::default() })).await;
    assert_eq!(through_adapter, native);
}

/// `todo-host up --compose-dependencies` on a manifest whose task-api
/// depends on `dependency` (a TOML value): its error output once it exits.
fn refused(dependency: &str) -> String {
    common::build_components();
    let dir = tempfile::tempdir().unwrap();
    let manifest = format!(
        "spin_manifest_version = 2\n[application]\nname = \"t\"\n[[trigger.http]]\nroute = \"/...\"\n\
         component = \"task-api\"\n[component.task-api]\nsource = {:?}\n\
         [component.task-api.dependencies]\n\"todo:platform\" = {dependency}\n",
        common::repo().join("target/wasm/wasm32-wasip2/release/task_api.wasm").display().to_string(),
    );
    std::fs::write(dir.path().join("spin.toml"), manifest).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_todo-host"))
        .args(["up", "--compose-dependencies", "--listen", "127.0.0.1:0", "-f"])
        .arg(dir.path().join("spin.toml"))
        .output()
        .unwrap();
    assert!(!out.status.success(), "todo-host started with dependency {dependency}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn compose_errors_name_the_component_and_the_dependency() {
    let missing = refused("{ component = \"platform-adaptor\" }");
    assert!(
        missing.contains(
            "component \"task-api\": dependency \"todo:platform\" names component \"platform-adaptor\", which has no \
             [component.platform-adaptor]"
        ),
        "{missing}"
    );
    let registry = refused("\"0.2.0\"");
    assert!(registry.contains("is a registry version (\"0.2.0\"), which this host does not fetch"), "{registry}");
    let registry = refused("{ version = \"0.2.0\", registry = \"example.com\" }");
    assert!(registry.contains("is a registry dependency"), "{registry}");
    let unmatched = refused(&format!(
        "{{ path = {:?} }}\n\"wasi:keyvalue\" = {{ component = \"task-api\" }}",
        common::repo().join("target/wasm/wasm32-wasip2/release/platform_adapter.wasm").display().to_string()
    ));
    assert!(unmatched.contains("dependency \"wasi:keyvalue\" matches none of its imports"), "{unmatched}");
}

#[tokio::test]
async fn without_inherited_configuration_the_adapter_gets_no_database() {
    let mut host = Host::start_with(composed());
    let open = |host: &Host| {
        let url = host.url("/test/open?sql=default");
        async move {
            let res = client("alice").get(url).send().await.unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    assert_eq!(open(&host).await.0, 200, "inherited: the adapter opens the component's database");

    let manifest = std::fs::read_to_string(host.dir.path().join("spin.toml")).unwrap();
    let manifest =
        manifest.replace("dependencies_inherit_configuration = true", "dependencies_inherit_configuration = false");
    std::fs::write(host.dir.path().join("spin.toml"), manifest).unwrap();
    host.restart();
    let (status, body) = open(&host).await;
    assert_eq!(status, 403);
    assert!(body.contains("AccessDenied"), "{body}");
}
