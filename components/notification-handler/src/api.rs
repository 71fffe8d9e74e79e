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
//! transaction, so the user's other tabs update their bell. The operations
//! live in `todo_guest::api::notifications` (the MCP server runs them too).

use crate::SOURCE;
use spin_sdk::http::{Method, Request, Response};
use todo_domain::{ApiError, NotificationQuery};
use todo_guest::api::notifications;
use todo_guest::api::Caller;
use todo_guest::http::{self, json, Context};

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
    let caller = Caller { user_id: &ctx.user_id, source: SOURCE };
    match (&route, req.method()) {
        (Route::List, Method::Get) => {
            let query = NotificationQuery::parse(req.query())?;
            Ok(json(200, &notifications::list(caller, &query)?))
        }
        (Route::ReadAll, Method::Post) => Ok(json(200, &notifications::read_all(caller)?)),
        (Route::UnreadCount, Method::Get) => Ok(json(200, &notifications::unread_count(caller)?)),
        (Route::Read(id), Method::Patch) => {
            let id = http::parse_id(id, "notification")?;
            Ok(json(200, &notifications::read(caller, id)?))
        }
        (_, method) => Ok(http::method_not_allowed(method, route.allowed())),
    }
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
