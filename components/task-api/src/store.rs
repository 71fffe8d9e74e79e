//! The Task API's own SQL: task lists, the history of a task and the
//! responses stored under `Idempotency-Key`s. Task rows, tags and audit rows
//! are written by `todo_guest::tasks`. Every statement is scoped by user id.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value as Json;
use todo_domain::time::format_utc;
use todo_domain::{ListQuery, Task};
use todo_guest::db::{self, corrupt, text, Autocommit, Cells, Db};
use todo_guest::sql::{Transaction, Value};
use todo_guest::tasks::{decode_task, TASK_COLUMNS};
use todo_guest::StoreError;
use uuid::Uuid;

/// The rows of `query` (one more than a page; see `ListQuery::page`).
pub fn list_tasks(user_id: &str, query: &ListQuery) -> Result<Vec<Task>, StoreError> {
    let mut fragment = query.to_sql(user_id);
    fragment.sql = format!("SELECT {TASK_COLUMNS} FROM task {}", fragment.sql);
    db::select(&Autocommit, fragment, decode_task)
}

/// One audit row as `GET /api/todos/{id}/history` shows it.
#[derive(Serialize)]
pub struct HistoryEntry {
    event_id: String,
    event_type: String,
    changed_fields: Json,
    snapshot: Json,
    occurred_at: String,
}

/// The task's audit rows, oldest first; readable after the task's deletion.
pub fn history(user_id: &str, task_id: Uuid, limit: u32) -> Result<Vec<HistoryEntry>, StoreError> {
    let rows = Autocommit.query(
        "SELECT event_id, event_type, changed_fields, snapshot, occurred_at FROM task_event \
         WHERE task_id = $1 AND user_id = $2 ORDER BY version LIMIT $3",
        &[text(task_id), text(user_id), Value::Integer(i64::from(limit))],
    )?;
    rows.rows
        .iter()
        .map(|row| {
            let mut cells = Cells::new(row);
            Ok(HistoryEntry {
                event_id: cells.text()?.to_owned(),
                event_type: cells.text()?.to_owned(),
                changed_fields: cells.parsed(serde_json::from_str)?,
                snapshot: cells.opt_parsed(serde_json::from_str)?.unwrap_or(Json::Null),
                occurred_at: cells.text()?.to_owned(),
            })
        })
        .collect()
}

/// The first response to an `Idempotency-Key`.
pub struct StoredResponse {
    pub request_hash: String,
    pub status: u16,
    pub body: String,
}

pub fn find_response(tx: &Transaction, user_id: &str, key: &str) -> Result<Option<StoredResponse>, StoreError> {
    let rows = tx.query(
        "SELECT request_hash, status, response_body FROM idempotency_key WHERE user_id = $1 AND key = $2",
        &[text(user_id), text(key)],
    )?;
    let Some(row) = rows.rows.first() else {
        return Ok(None);
    };
    let mut cells = Cells::new(row);
    Ok(Some(StoredResponse {
        request_hash: cells.text()?.to_owned(),
        status: u16::try_from(cells.integer()?).map_err(corrupt)?,
        body: cells.text()?.to_owned(),
    }))
}

pub fn save_response(
    tx: &Transaction,
    user_id: &str,
    key: &str,
    response: &StoredResponse,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO idempotency_key (user_id, key, request_hash, status, response_body, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            text(user_id),
            text(key),
            text(&response.request_hash),
            Value::Integer(i64::from(response.status)),
            text(&response.body),
            text(format_utc(at)),
        ],
    )?;
    Ok(())
}
