//! The SQL of notifications, for the notification handler and the
//! Notification API. Every statement is scoped by user id.

use crate::db::{self, count, opt_text, text, Autocommit, Cells, Db};
use crate::sql::{Transaction, Value};
use crate::StoreError;
use todo_domain::notification::NOTIFICATION_COLUMNS;
use todo_domain::time::{format_utc, parse_utc};
use todo_domain::{Notification, NotificationQuery};
use uuid::Uuid;

pub fn insert(tx: &Transaction, user_id: &str, n: &Notification, source_event_id: &str) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO notification (id, user_id, task_id, type, title, body, read, created_at, source_event_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            text(n.id),
            text(user_id),
            opt_text(n.task_id),
            text(&n.kind),
            text(&n.title),
            text(&n.body),
            Value::Boolean(n.read),
            text(format_utc(n.created_at)),
            text(source_event_id),
        ],
    )?;
    Ok(())
}

/// The rows of `query` (one more than a page; see `NotificationQuery::page`).
pub fn list(user_id: &str, query: &NotificationQuery) -> Result<Vec<Notification>, StoreError> {
    db::select(&Autocommit, query.to_sql(user_id), decode)
}

pub fn find(db: &impl Db, user_id: &str, id: Uuid) -> Result<Option<Notification>, StoreError> {
    let rows = db.query(
        &format!("SELECT {NOTIFICATION_COLUMNS} FROM notification WHERE id = $1 AND user_id = $2"),
        &[text(id), text(user_id)],
    )?;
    rows.rows.first().map(|row| decode(row)).transpose()
}

/// Marks one unread notification read; the number changed (0 or 1).
pub fn mark_read(tx: &Transaction, user_id: &str, id: Uuid) -> Result<u64, StoreError> {
    Ok(tx.execute(
        "UPDATE notification SET read = TRUE WHERE id = $1 AND user_id = $2 AND read = FALSE",
        &[text(id), text(user_id)],
    )?)
}

/// Marks every unread notification of the user read; the number changed.
pub fn mark_all_read(tx: &Transaction, user_id: &str) -> Result<u64, StoreError> {
    Ok(tx.execute("UPDATE notification SET read = TRUE WHERE user_id = $1 AND read = FALSE", &[text(user_id)])?)
}

pub fn unread_count(db: &impl Db, user_id: &str) -> Result<u64, StoreError> {
    let rows = db.query("SELECT COUNT(*) FROM notification WHERE user_id = $1 AND read = FALSE", &[text(user_id)])?;
    count(&rows)
}

/// A row of `NOTIFICATION_COLUMNS`.
fn decode(row: &[Value]) -> Result<Notification, StoreError> {
    let mut cells = Cells::new(row);
    Ok(Notification {
        id: cells.parsed(Uuid::parse_str)?,
        kind: cells.text()?.to_owned(),
        title: cells.text()?.to_owned(),
        body: cells.text()?.to_owned(),
        task_id: cells.opt_parsed(Uuid::parse_str)?,
        read: cells.boolean()?,
        created_at: cells.parsed(parse_utc)?,
    })
}
