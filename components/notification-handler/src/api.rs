//! The Notification API, scoped to the authenticated user (another user's
//! notification is a 404), with the Task API's error format:
//!
//! - `GET /api/notifications?limit=&cursor=&unread_only=true` — newest first,
//!   `{"items": [...], "next_cursor": ...}`;
//! - `PATCH /api/notifications/{id}/read` — the notification, read (again: unchanged);
//! - `POST /api/notifications/read-all` — `{"updated": n}`;
//! - `GET /api/notifications/unread-count` — `{"count": n}`.
//!
//! Marking read publishes `notification.read` on `task-updates` in the same
//! transaction, so the user's other tabs update their bell.

use crate::{store, SOURCE};
use serde_json::json;
use spin_sdk::http::{Method, Request, Response};
use todo_domain::events::TASK_UPDATES_TOPIC;
use todo_domain::notification::NOTIFICATION_READ;
use todo_domain::time::now_utc;
use todo_domain::{ApiError, NotificationQuery, NotificationRead};
use todo_guest::db::Autocommit;
use todo_guest::events::Event;
use todo_guest::http::{self, json, Context};
use todo_guest::sql::Transaction;
use todo_guest::tx;
use uuid::Uuid;

/// The paths this component serves.
#[derive(Debug, PartialEq, Eq)]
enum Route<'a> {
    List,
    ReadAll,
    UnreadCount,
    Read(&'a str),
}

impl<'a> Route<'a> {
    fn of(path: &'a str) -> Option<Self> {
        match http::segments(path, "/api/notifications")?.as_slice() {
            [] => Some(Self::List),
            ["read-all"] => Some(Self::ReadAll),
            ["unread-count"] => Some(Self::UnreadCount),
            [id, "read"] => Some(Self::Read(id)),
            _ => None,
        }
    }

    /// The `Allow` header of a 405.
    fn allowed(&self) -> &'static str {
        match self {
            Self::List | Self::UnreadCount => "GET",
            Self::ReadAll => "POST",
            Self::Read(_) => "PATCH",
        }
    }
}

pub fn dispatch(ctx: &Context, req: &Request) -> Result<Response, ApiError> {
    let route = Route::of(req.path()).ok_or_else(ApiError::route_not_found)?;
    match (&route, req.method()) {
        (Route::List, Method::Get) => list(ctx, req),
        (Route::ReadAll, Method::Post) => read_all(ctx),
        (Route::UnreadCount, Method::Get) => unread_count(ctx),
        (Route::Read(id), Method::Patch) => read(ctx, id),
        (_, method) => Ok(http::method_not_allowed(method, route.allowed())),
    }
}

fn list(ctx: &Context, req: &Request) -> Result<Response, ApiError> {
    let query = NotificationQuery::parse(req.query())?;
    let rows = store::list(&ctx.user_id, &query)?;
    Ok(json(200, &query.page(rows)))
}

/// Marks one read; one already read comes back as it is, and announces nothing.
fn read(ctx: &Context, id: &str) -> Result<Response, ApiError> {
    let id = http::parse_id(id, "notification")?;
    let notification = tx::transaction(|tx| {
        let mut notification =
            store::find(tx, &ctx.user_id, id)?.ok_or_else(|| ApiError::not_found_of("notification"))?;
        if store::mark_read(tx, &ctx.user_id, id)? > 0 {
            notification.read = true;
            let unread = store::unread_count(tx, &ctx.user_id)?;
            announce(tx, ctx, NotificationRead::some(&ctx.user_id, vec![id], unread), Some(id))?;
        }
        Ok::<_, ApiError>(notification)
    })?;
    Ok(json(200, &notification))
}

fn read_all(ctx: &Context) -> Result<Response, ApiError> {
    let updated = tx::transaction(|tx| {
        let updated = store::mark_all_read(tx, &ctx.user_id)?;
        if updated > 0 {
            let unread = store::unread_count(tx, &ctx.user_id)?;
            announce(tx, ctx, NotificationRead::all(&ctx.user_id, unread), None)?;
        }
        Ok::<_, ApiError>(updated)
    })?;
    Ok(json(200, &json!({ "updated": updated })))
}

fn unread_count(ctx: &Context) -> Result<Response, ApiError> {
    let count = store::unread_count(&Autocommit, &ctx.user_id)?;
    Ok(json(200, &json!({ "count": count })))
}

/// `notification.read` on `task-updates`, inside `tx`.
fn announce(tx: &Transaction, ctx: &Context, data: NotificationRead, subject: Option<Uuid>) -> Result<(), ApiError> {
    Event {
        id: Uuid::new_v4(),
        source: SOURCE,
        event_type: NOTIFICATION_READ,
        subject: subject.map(|id| id.to_string()),
        at: now_utc(),
        data: &data,
    }
    .publish_in(tx, TASK_UPDATES_TOPIC, &ctx.user_id)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Route;

    #[test]
    fn routes() {
        assert_eq!(Route::of("/api/notifications"), Some(Route::List));
        assert_eq!(Route::of("/api/notifications/"), Some(Route::List));
        assert_eq!(Route::of("/api/notifications/read-all"), Some(Route::ReadAll));
        assert_eq!(Route::of("/api/notifications/unread-count/"), Some(Route::UnreadCount));
        assert_eq!(Route::of("/api/notifications/abc/read"), Some(Route::Read("abc")));
        for path in [
            "/api/notificationsx",
            "/api/notifications/abc",
            "/api/notifications/abc/read/x",
            "/api/notifications//read",
        ] {
            assert_eq!(Route::of(path), None, "{path}");
        }
    }
}
