//! The SQL of tasks, their tags, audit rows and idempotent responses.
//! Every statement is scoped by user id.

use crate::http_util::encode;
use crate::todo::platform::sql::{self, RowSet, Transaction, Value};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value as Json;
use std::fmt::Display;
use todo_domain::time::{format_utc, parse_utc};
use todo_domain::{ApiError, ErrorCode, ListQuery, SqlParam, Task, TaskChange};
use uuid::Uuid;

/// Runs a query inside a transaction, or on its own.
pub trait Db {
    fn query(&self, statement: &str, params: &[Value]) -> Result<RowSet, sql::Error>;
}

impl Db for Transaction {
    fn query(&self, statement: &str, params: &[Value]) -> Result<RowSet, sql::Error> {
        Transaction::query(self, statement, params)
    }
}

/// Reads outside a transaction.
pub struct Autocommit;

impl Db for Autocommit {
    fn query(&self, statement: &str, params: &[Value]) -> Result<RowSet, sql::Error> {
        sql::query(statement, params)
    }
}

impl From<sql::Error> for ApiError {
    fn from(err: sql::Error) -> Self {
        eprintln!("task-api: sql error: {err:?}");
        match err {
            // The unique (task_id, version) or idempotency key of a concurrent request.
            sql::Error::ConstraintViolation(_) => ApiError::new(
                ErrorCode::Conflict,
                "the task was changed by a concurrent request; retry",
            ),
            sql::Error::Unavailable(_) => ApiError::new(
                ErrorCode::Unavailable,
                "the database is unavailable; retry later",
            ),
            _ => ApiError::internal("database error"),
        }
    }
}

impl From<SqlParam> for Value {
    fn from(param: SqlParam) -> Self {
        match param {
            SqlParam::Text(text) => Value::Text(text),
            SqlParam::Integer(n) => Value::Integer(n),
            SqlParam::Boolean(b) => Value::Boolean(b),
        }
    }
}

fn text(value: impl ToString) -> Value {
    Value::Text(value.to_string())
}

fn opt_text(value: Option<impl ToString>) -> Value {
    value.map_or(Value::Null, text)
}

/// Selected in this order by `decode_task`.
const TASK_COLUMNS: &str = "id, title, description, completed, priority, tags, due_date, \
                            recurrence_pattern, parent_task_id, created_at, updated_at";

pub fn find_task(db: &impl Db, user_id: &str, id: Uuid) -> Result<Option<Task>, ApiError> {
    let rows = db.query(
        &format!("SELECT {TASK_COLUMNS} FROM task WHERE id = $1 AND user_id = $2"),
        &[text(id), text(user_id)],
    )?;
    rows.rows.first().map(|row| decode_task(row)).transpose()
}

/// The rows of `query` (one more than a page; see `ListQuery::page`).
pub fn list_tasks(user_id: &str, query: &ListQuery) -> Result<Vec<Task>, ApiError> {
    let fragment = query.to_sql(user_id);
    let params: Vec<Value> = fragment.params.into_iter().map(Value::from).collect();
    let rows = Autocommit.query(
        &format!("SELECT {TASK_COLUMNS} FROM task {}", fragment.sql),
        &params,
    )?;
    rows.rows.iter().map(|row| decode_task(row)).collect()
}

/// `$1..$12` of the task's row, for both insert and update.
fn task_values(user_id: &str, task: &Task) -> Result<Vec<Value>, ApiError> {
    let recurrence = task.recurrence_pattern.map(|p| encode(&p)).transpose()?;
    Ok(vec![
        text(task.id),
        text(user_id),
        text(&task.title),
        opt_text(task.description.as_ref()),
        Value::Boolean(task.completed),
        text(task.priority),
        text(encode(&task.tags)?),
        opt_text(task.due_date.map(format_utc)),
        opt_text(recurrence),
        opt_text(task.parent_task_id),
        text(format_utc(task.created_at)),
        text(format_utc(task.updated_at)),
    ])
}

pub fn insert_task(tx: &Transaction, user_id: &str, task: &Task) -> Result<(), ApiError> {
    tx.execute(
        "INSERT INTO task (id, user_id, title, description, completed, priority, tags, due_date, \
         recurrence_pattern, parent_task_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        &task_values(user_id, task)?,
    )?;
    insert_tags(tx, user_id, task)
}

/// Writes every column of an existing task, and its tag rows if they changed.
pub fn update_task(
    tx: &Transaction,
    user_id: &str,
    task: &Task,
    tags_changed: bool,
) -> Result<(), ApiError> {
    let updated = tx.execute(
        "UPDATE task SET title = $3, description = $4, completed = $5, priority = $6, tags = $7, \
         due_date = $8, recurrence_pattern = $9, parent_task_id = $10, created_at = $11, updated_at = $12 \
         WHERE id = $1 AND user_id = $2",
        &task_values(user_id, task)?,
    )?;
    if updated == 0 {
        return Err(ApiError::not_found());
    }
    if tags_changed {
        delete_tags(tx, task.id)?;
        insert_tags(tx, user_id, task)?;
    }
    Ok(())
}

pub fn delete_task(tx: &Transaction, user_id: &str, id: Uuid) -> Result<(), ApiError> {
    // Explicitly: SQLite enforces ON DELETE CASCADE only with foreign keys on.
    delete_tags(tx, id)?;
    let deleted = tx.execute(
        "DELETE FROM task WHERE id = $1 AND user_id = $2",
        &[text(id), text(user_id)],
    )?;
    if deleted == 0 {
        return Err(ApiError::not_found());
    }
    Ok(())
}

fn delete_tags(tx: &Transaction, task_id: Uuid) -> Result<(), ApiError> {
    tx.execute("DELETE FROM task_tag WHERE task_id = $1", &[text(task_id)])?;
    Ok(())
}

/// One multi-row insert: `($1, $2, $3), ($1, $2, $4), ...`.
fn insert_tags(tx: &Transaction, user_id: &str, task: &Task) -> Result<(), ApiError> {
    if task.tags.is_empty() {
        return Ok(());
    }
    let rows: Vec<String> = (0..task.tags.len())
        .map(|i| format!("($1, $2, ${})", i + 3))
        .collect();
    let params: Vec<Value> = [text(task.id), text(user_id)]
        .into_iter()
        .chain(task.tags.iter().map(text))
        .collect();
    tx.execute(
        &format!(
            "INSERT INTO task_tag (task_id, user_id, tag) VALUES {}",
            rows.join(", ")
        ),
        &params,
    )?;
    Ok(())
}

/// The audit row of `change`, numbered after the task's previous ones.
pub fn insert_audit(
    tx: &Transaction,
    change: &TaskChange,
    event_id: Uuid,
    at: DateTime<Utc>,
) -> Result<(), ApiError> {
    tx.execute(
        "INSERT INTO task_event (event_id, task_id, user_id, version, event_type, changed_fields, snapshot, occurred_at) \
         VALUES ($1, $2, $3, (SELECT COALESCE(MAX(version), 0) + 1 FROM task_event WHERE task_id = $2), $4, $5, $6, $7)",
        &[
            text(event_id),
            text(change.task.id),
            text(&change.user_id),
            text(change.kind.event_type()),
            text(encode(&change.changes)?),
            text(encode(&change.task)?),
            text(format_utc(at)),
        ],
    )?;
    Ok(())
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
pub fn history(user_id: &str, task_id: Uuid, limit: u32) -> Result<Vec<HistoryEntry>, ApiError> {
    let rows = Autocommit.query(
        "SELECT event_id, event_type, changed_fields, snapshot, occurred_at FROM task_event \
         WHERE task_id = $1 AND user_id = $2 ORDER BY version LIMIT $3",
        &[
            text(task_id),
            text(user_id),
            Value::Integer(i64::from(limit)),
        ],
    )?;
    rows.rows
        .iter()
        .map(|row| {
            let mut cells = Cells::new(row);
            Ok(HistoryEntry {
                event_id: cells.text()?.to_owned(),
                event_type: cells.text()?.to_owned(),
                changed_fields: cells.parsed(serde_json::from_str)?,
                snapshot: cells
                    .opt_parsed(serde_json::from_str)?
                    .unwrap_or(Json::Null),
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

pub fn find_response(
    tx: &Transaction,
    user_id: &str,
    key: &str,
) -> Result<Option<StoredResponse>, ApiError> {
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
) -> Result<(), ApiError> {
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

fn decode_task(row: &[Value]) -> Result<Task, ApiError> {
    let mut cells = Cells::new(row);
    // Fields are read in TASK_COLUMNS order (struct expressions evaluate in order).
    Ok(Task {
        id: cells.parsed(Uuid::parse_str)?,
        title: cells.text()?.to_owned(),
        description: cells.opt_text()?.map(str::to_owned),
        completed: cells.boolean()?,
        priority: cells.parsed(str::parse)?,
        tags: cells.parsed(serde_json::from_str)?,
        due_date: cells.opt_parsed(parse_utc)?,
        recurrence_pattern: cells.opt_parsed(serde_json::from_str)?,
        parent_task_id: cells.opt_parsed(Uuid::parse_str)?,
        created_at: cells.parsed(parse_utc)?,
        updated_at: cells.parsed(parse_utc)?,
    })
}

/// Reads a row's values one column after the other.
struct Cells<'a> {
    values: std::slice::Iter<'a, Value>,
}

impl<'a> Cells<'a> {
    fn new(row: &'a [Value]) -> Self {
        Self { values: row.iter() }
    }

    fn next(&mut self) -> Result<&'a Value, ApiError> {
        self.values
            .next()
            .ok_or_else(|| corrupt("a column is missing"))
    }

    fn opt_text(&mut self) -> Result<Option<&'a str>, ApiError> {
        match self.next()? {
            Value::Null => Ok(None),
            Value::Text(text) => Ok(Some(text)),
            other => Err(corrupt(format!("expected text, got {other:?}"))),
        }
    }

    fn text(&mut self) -> Result<&'a str, ApiError> {
        self.opt_text()?.ok_or_else(|| corrupt("unexpected NULL"))
    }

    /// BOOLEAN columns come back as booleans; 0 and 1 are accepted too.
    fn boolean(&mut self) -> Result<bool, ApiError> {
        match self.next()? {
            Value::Boolean(b) => Ok(*b),
            Value::Integer(0) => Ok(false),
            Value::Integer(1) => Ok(true),
            other => Err(corrupt(format!("expected a boolean, got {other:?}"))),
        }
    }

    fn integer(&mut self) -> Result<i64, ApiError> {
        match self.next()? {
            Value::Integer(n) => Ok(*n),
            other => Err(corrupt(format!("expected an integer, got {other:?}"))),
        }
    }

    fn parsed<T, E: Display>(
        &mut self,
        parse: impl FnOnce(&'a str) -> Result<T, E>,
    ) -> Result<T, ApiError> {
        parse(self.text()?).map_err(corrupt)
    }

    fn opt_parsed<T, E: Display>(
        &mut self,
        parse: impl FnOnce(&'a str) -> Result<T, E>,
    ) -> Result<Option<T>, ApiError> {
        self.opt_text()?.map(parse).transpose().map_err(corrupt)
    }
}

fn corrupt(detail: impl Display) -> ApiError {
    eprintln!("task-api: unreadable row: {detail}");
    ApiError::internal("stored data is unreadable")
}

#[cfg(test)]
mod tests {
    use super::*;
    use todo_domain::NewTask;

    fn task() -> Task {
        let body = br#"{"title": "t", "description": "d", "priority": "high", "tags": ["a", "b"],
            "due_date": "2026-03-01T10:00:00Z", "recurrence_pattern": {"frequency": "weekly", "interval": 2}}"#;
        NewTask::from_json(body).unwrap().into_task(
            Uuid::from_u128(5),
            parse_utc("2026-01-01T00:00:00Z").unwrap(),
        )
    }

    /// A row as `SELECT TASK_COLUMNS` returns it: the written values without user_id.
    fn row_of(task: &Task) -> Vec<Value> {
        let mut row = task_values("u1", task).unwrap();
        row.remove(1);
        row
    }

    #[test]
    fn written_values_decode_to_the_same_task() {
        let mut task = task();
        assert_eq!(decode_task(&row_of(&task)).unwrap(), task);
        task.description = None;
        task.due_date = None;
        task.recurrence_pattern = None;
        task.parent_task_id = Some(Uuid::from_u128(6));
        assert_eq!(decode_task(&row_of(&task)).unwrap(), task);
    }

    #[test]
    fn booleans_may_come_back_as_integers() {
        let mut row = row_of(&task());
        row[3] = Value::Integer(1);
        assert!(decode_task(&row).unwrap().completed);
        row[3] = Value::Integer(0);
        assert!(!decode_task(&row).unwrap().completed);
    }

    #[test]
    fn unreadable_rows_are_internal_errors() {
        let good = row_of(&task());
        let broken = [
            (3, Value::Integer(2)),
            (4, text("urgent")),
            (5, text("not json")),
            (1, Value::Null),
            (0, Value::Integer(5)),
        ];
        for (column, value) in broken {
            let mut row = good.clone();
            row[column] = value;
            assert_eq!(
                decode_task(&row).unwrap_err().code,
                ErrorCode::Internal,
                "column {column}"
            );
        }
        assert_eq!(
            decode_task(&good[..10]).unwrap_err().code,
            ErrorCode::Internal
        );
    }
}
