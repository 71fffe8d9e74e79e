//! The Notification API's operations, scoped to the caller (another user's
//! notification is a 404). Marking read publishes `notification.read` on
//! `task-updates` in the same transaction, so the user's other tabs update
//! their bell.

use super::Caller;
use crate::db::Autocommit;
use crate::events::Event;
use crate::notifications as store;
use crate::sql::Transaction;
use crate::tx;
use todo_domain::events::TASK_UPDATES_TOPIC;
use todo_domain::notification::NOTIFICATION_READ;
use todo_domain::time::now_utc;
use todo_domain::{
    ApiError, Notification, NotificationPage, NotificationQuery, NotificationRead, ReadAll, UnreadCount,
};
use uuid::Uuid;

pub fn list(caller: Caller, query: &NotificationQuery) -> Result<NotificationPage, ApiError> {
    let rows = store::list(caller.user_id, query)?;
    Ok(query.page(rows))
}

/// Marks one read; one already read comes back as it is, and announces nothing.
pub fn read(caller: Caller, id: Uuid) -> Result<Notification, ApiError> {
    let user_id = caller.user_id;
    tx::transaction(|tx| {
        let mut notification = store::find(tx, user_id, id)?.ok_or_else(|| ApiError::not_found_of("notification"))?;
        if store::mark_read(tx, user_id, id)? > 0 {
            notification.read = true;
            let unread = store::unread_count(tx, user_id)?;
            announce(tx, caller, NotificationRead::some(user_id, vec![id], unread), Some(id))?;
        }
        Ok(notification)
    })
}

pub fn read_all(caller: Caller) -> Result<ReadAll, ApiError> {
    let updated = tx::transaction(|tx| {
        let updated = store::mark_all_read(tx, caller.user_id)?;
        if updated > 0 {
            let unread = store::unread_count(tx, caller.user_id)?;
            announce(tx, caller, NotificationRead::all(caller.user_id, unread), None)?;
        }
        Ok::<_, ApiError>(updated)
    })?;
    Ok(ReadAll { updated })
}

pub fn unread_count(caller: Caller) -> Result<UnreadCount, ApiError> {
    Ok(UnreadCount { count: store::unread_count(&Autocommit, caller.user_id)? })
}

/// `notification.read` on `task-updates`, inside `tx`.
fn announce(tx: &Transaction, caller: Caller, data: NotificationRead, subject: Option<Uuid>) -> Result<(), ApiError> {
    Event {
        id: Uuid::new_v4(),
        source: caller.source,
        event_type: NOTIFICATION_READ,
        subject: subject.map(|id| id.to_string()),
        at: now_utc(),
        data: &data,
    }
    .publish_in(tx, TASK_UPDATES_TOPIC, caller.user_id)?;
    Ok(())
}
