//! The native baseline: the same domain code (todo-domain) and the same
//! transaction — task row, audit row, two outbox events — on the same HTTP
//! stack (axum/hyper) and SQLite settings, with no WebAssembly in between.
//! What it lacks (and the host does): the outbox relay, routing to a
//! component and a fresh instance per request.

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::{get, post},
    Router,
};
use rusqlite::{params, Connection};
use std::sync::{Arc, Mutex};
use todo_domain::time::format_utc;
use todo_domain::{NewTask, TaskChange};

struct Native {
    db: Mutex<Connection>,
    key: jsonwebtoken::DecodingKey,
}

/// Starts the baseline on a loopback port with a fresh database; returns its base URL.
pub async fn start(dir: &std::path::Path) -> anyhow::Result<String> {
    let db = Connection::open(dir.join("native.db"))?;
    // The host's SQLite settings, background checkpoints included.
    db.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 0;")?;
    let checkpointer = Connection::open(dir.join("native.db"))?;
    std::thread::spawn(move || loop {
        std::thread::sleep(std::time::Duration::from_millis(250));
        let _ = checkpointer.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
    });
    // The host's own tables (the outbox), then the application's schema.
    let host_migrations = crate::host::repo().join("host/migrations/sqlite");
    let migrations = crate::host::repo().join("migrations/sqlite");
    let mut files: Vec<_> = std::fs::read_dir(migrations)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    files.sort();
    let mut host_files: Vec<_> =
        std::fs::read_dir(host_migrations)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    host_files.sort();
    files.splice(0..0, host_files);
    for file in files {
        db.execute_batch(&std::fs::read_to_string(file)?)?;
    }
    let native = Arc::new(Native {
        db: Mutex::new(db),
        key: jsonwebtoken::DecodingKey::from_secret(crate::host::SECRET.as_bytes()),
    });
    let app = Router::new()
        .route("/api/todos", post(create))
        .route("/version", get(|| async { "native" }))
        .with_state(native);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(base)
}

#[derive(serde::Deserialize)]
struct Claims {
    sub: String,
}

async fn create(State(native): State<Arc<Native>>, headers: HeaderMap, body: Bytes) -> (StatusCode, String) {
    let token = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or("");
    let Ok(claims) = jsonwebtoken::decode::<Claims>(token, &native.key, &jsonwebtoken::Validation::default()) else {
        return (StatusCode::UNAUTHORIZED, String::new());
    };
    let user = claims.claims.sub;
    let task = match NewTask::from_json(&body) {
        Ok(new) => new.into_task(uuid::Uuid::new_v4(), chrono::Utc::now()),
        Err(e) => return (StatusCode::from_u16(e.status()).unwrap(), e.to_json().to_string()),
    };
    let change = TaskChange::created(&user, task.clone());
    let native = native.clone();
    tokio::task::spawn_blocking(move || {
        let mut db = native.db.lock().unwrap();
        let tx = db.transaction()?;
        let json = serde_json::to_string(&task).expect("a task serializes");
        let now = format_utc(chrono::Utc::now());
        tx.prepare_cached(
            "INSERT INTO task (id, user_id, title, description, completed, priority, tags, due_date, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
        )?
        .execute(params![
            task.id.to_string(), user, task.title, task.description, task.completed, task.priority.as_str(),
            serde_json::to_string(&task.tags).unwrap(), task.due_date.map(format_utc), now
        ])?;
        let event_id = uuid::Uuid::new_v4().to_string();
        tx.prepare_cached(
            "INSERT INTO task_event (event_id, task_id, user_id, version, event_type, changed_fields, snapshot, occurred_at) \
             VALUES (?1, ?2, ?3, 1, 'task.created', ?4, ?5, ?6)",
        )?
        .execute(params![event_id, task.id.to_string(), user, serde_json::to_string(&change.changes).unwrap(), json, now])?;
        for (id, topic, data) in [
            (event_id, "task-events", serde_json::to_string(&change.task_event()).unwrap()),
            (uuid::Uuid::new_v4().to_string(), "task-updates", serde_json::to_string(&change.sync_event(chrono::Utc::now())).unwrap()),
        ] {
            tx.prepare_cached("INSERT INTO outbox (event_id, topic, partition_key, event, created_at) VALUES (?1, ?2, ?3, ?4, ?5)")?
                .execute(params![id, topic, user, data, now])?;
        }
        tx.commit()?;
        anyhow::Ok(json)
    })
    .await
    .map_or_else(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()), |r| match r {
        Ok(json) => (StatusCode::CREATED, json),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    })
}
