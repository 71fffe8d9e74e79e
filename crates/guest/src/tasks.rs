//! The persistence of tasks: their rows, tag rows and audit rows, and the
//! change that writes a task's audit row and publishes its events. Shared
//! by the Task API and the recurring handler, so a task is written one way.
//! Every statement is scoped by user id.

use crate::db::{self, opt_text, text, Cells, Db};
use crate::events::publish_task_change;
use crate::sql::{Transaction, Value};
use crate::{encode, StoreError};
use chrono::{DateTime, Utc};
use todo_domain::time::{format_utc, parse_utc};
use todo_domain::{HistoryEntry, ListQuery, Task, TaskChange};
use uuid::Uuid;

/// Selected in this order by `decode_task`.
pub const TASK_COLUMNS: &str = "id, title, description, completed, priority, tags, due_date, \
                                recurrence_pattern, parent_task_id, created_at, updated_at";

pub fn find_task(db: &impl Db, user_id: &str, id: Uuid) -> Result<Option<Task>, StoreError> {
    let rows = db.query(
        &format!("SELECT {TASK_COLUMNS} FROM task WHERE id = $1 AND user_id = $2"),
        &[text(id), text(user_id)],
    )?;
    rows.rows.first().map(|row| decode_task(row)).transpose()
}

/// The rows of `query` (one more than a page; see `ListQuery::page`).
pub fn list_tasks(db: &impl Db, user_id: &str, query: &ListQuery) -> Result<Vec<Task>, StoreError> {
    let mut fragment = query.to_sql(user_id);
    fragment.sql = format!("SELECT {TASK_COLUMNS} FROM task {}", fragment.sql);
    db::select(db, fragment, decode_task)
}

/// The task's audit rows, oldest first; readable after the task's deletion.
pub fn history(db: &impl Db, user_id: &str, task_id: Uuid, limit: u32) -> Result<Vec<HistoryEntry>, StoreError> {
    let rows = db.query(
        "SELECT event_id, event_type, changed_fields, snapshot, occurred_at FROM task_event \
         WHERE task_id = $1 AND user_id = $2 ORDER BY version LIMIT $3",
        &[text(task_id), text(user_id), Value::Integer(i64::from(limit))],
    )?;
    rows.rows.iter().map(|row| decode_history(row)).collect()
}

fn decode_history(row: &[Value]) -> Result<HistoryEntry, StoreError> {
    let mut cells = Cells::new(row);
    Ok(HistoryEntry {
        event_id: cells.parsed(Uuid::parse_str)?,
        event_type: cells.parsed(|t| todo_domain::ChangeKind::from_event_type(t).ok_or("an unknown event type"))?,
        changed_fields: cells.parsed(serde_json::from_str)?,
        snapshot: cells.opt_parsed(serde_json::from_str)?,
        occurred_at: cells.parsed(parse_utc)?,
    })
}

/// `$1..$12` of the task's row, for both insert and update.
fn task_values(user_id: &str, task: &Task) -> Result<Vec<Value>, StoreError> {
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

/// Inserts the task and its tag rows. A second next occurrence of one task
/// is refused by the unique index `task_one_next_occurrence` (on
/// `parent_task_id`): a `StoreError::Constraint` of that name.
pub fn insert_task(tx: &Transaction, user_id: &str, task: &Task) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO task (id, user_id, title, description, completed, priority, tags, due_date, \
         recurrence_pattern, parent_task_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        &task_values(user_id, task)?,
    )?;
    insert_tags(tx, user_id, task)
}

/// Writes every column of an existing task, and its tag rows if they
/// changed; `NotFound("task")` when the user has no such task.
pub fn update_task(tx: &Transaction, user_id: &str, task: &Task, tags_changed: bool) -> Result<(), StoreError> {
    let updated = tx.execute(
        "UPDATE task SET title = $3, description = $4, completed = $5, priority = $6, tags = $7, \
         due_date = $8, recurrence_pattern = $9, parent_task_id = $10, created_at = $11, updated_at = $12 \
         WHERE id = $1 AND user_id = $2",
        &task_values(user_id, task)?,
    )?;
    if updated == 0 {
        return Err(StoreError::NotFound("task"));
    }
    if tags_changed {
        delete_tags(tx, task.id)?;
        insert_tags(tx, user_id, task)?;
    }
    Ok(())
}

/// Deletes the task and its tag rows; `NotFound("task")` when the user has
/// no such task.
pub fn delete_task(tx: &Transaction, user_id: &str, id: Uuid) -> Result<(), StoreError> {
    // Explicitly: SQLite enforces ON DELETE CASCADE only with foreign keys on.
    delete_tags(tx, id)?;
    let deleted = tx.execute("DELETE FROM task WHERE id = $1 AND user_id = $2", &[text(id), text(user_id)])?;
    if deleted == 0 {
        return Err(StoreError::NotFound("task"));
    }
    Ok(())
}

fn delete_tags(tx: &Transaction, task_id: Uuid) -> Result<(), StoreError> {
    tx.execute("DELETE FROM task_tag WHERE task_id = $1", &[text(task_id)])?;
    Ok(())
}

/// One multi-row insert: `($1, $2, $3), ($1, $2, $4), ...`.
fn insert_tags(tx: &Transaction, user_id: &str, task: &Task) -> Result<(), StoreError> {
    if task.tags.is_empty() {
        return Ok(());
    }
    let rows: Vec<String> = (0..task.tags.len()).map(|i| format!("($1, $2, ${})", i + 3)).collect();
    let params: Vec<Value> = [text(task.id), text(user_id)].into_iter().chain(task.tags.iter().map(text)).collect();
    tx.execute(&format!("INSERT INTO task_tag (task_id, user_id, tag) VALUES {}", rows.join(", ")), &params)?;
    Ok(())
}

/// The audit row of `change`, numbered after the task's previous ones.
pub fn insert_audit(
    tx: &Transaction,
    change: &TaskChange,
    event_id: Uuid,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
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

/// Records a change already written to the task's rows: its audit row and
/// both events (`task.*` with the audit row's event id, and
/// `sync.task-changed`), all inside `tx`. `source` names the component
/// (`/task-api`). Returns the event id.
pub fn record(tx: &Transaction, source: &str, change: &TaskChange, at: DateTime<Utc>) -> Result<Uuid, StoreError> {
    let event_id = Uuid::new_v4();
    insert_audit(tx, change, event_id, at)?;
    publish_task_change(tx, source, change, event_id, at)?;
    Ok(event_id)
}

/// Inserts a new task with its tags, its audit row and its `task.created`
/// and `sync.task-changed` events, inside `tx`.
pub fn create_task(
    tx: &Transaction,
    source: &str,
    user_id: &str,
    task: &Task,
    at: DateTime<Utc>,
) -> Result<Uuid, StoreError> {
    insert_task(tx, user_id, task)?;
    record(tx, source, &TaskChange::created(user_id, task.clone()), at)
}

/// A row of `TASK_COLUMNS`.
pub fn decode_task(row: &[Value]) -> Result<Task, StoreError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use todo_domain::NewTask;

    fn task() -> Task {
        let body = br#"{"title": "t", "description": "d", "priority": "high", "tags": ["a", "b"],
            "due_date": "2026-03-01T10:00:00Z", "recurrence_pattern": {"frequency": "weekly", "interval": 2}}"#;
        NewTask::from_json(body).unwrap().into_task(Uuid::from_u128(5), parse_utc("2026-01-01T00:00:00Z").unwrap())
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
    fn unreadable_rows_are_corrupt() {
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
            assert!(matches!(decode_task(&row), Err(StoreError::Corrupt(_))), "column {column}");
        }
        assert_eq!(decode_task(&good[..10]), Err(StoreError::Corrupt("a column is missing".into())));
    }
}
