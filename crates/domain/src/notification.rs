//! In-app notifications: made from reminders, listed newest first with a
//! keyset cursor, marked read; and the events that keep open dashboards'
//! bells current (`notification.created`, `notification.read` on
//! `task-updates`).

use crate::cursor::CursorError;
use crate::error::ApiError;
use crate::query::{Params, SqlFragment, SqlParam};
use crate::reminder::{Reminder, ReminderKind};
use crate::time::{self, format_utc};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const NOTIFICATION_CREATED: &str = "notification.created";
pub const NOTIFICATION_READ: &str = "notification.read";

/// One notification, as stored and as the API returns it:
/// `{"id", "type", "title", "body", "task_id", "read", "created_at"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Notification {
    pub id: Uuid,
    /// What it is about: the reminder's event type (`reminder.upcoming`, ...).
    #[serde(rename = "type")]
    #[cfg_attr(feature = "schema", schemars(schema_with = "crate::schema::reminder_event_type"))]
    pub kind: String,
    pub title: String,
    pub body: String,
    pub task_id: Option<Uuid>,
    pub read: bool,
    #[serde(with = "time::utc")]
    #[cfg_attr(feature = "schema", schemars(with = "chrono::DateTime<chrono::Utc>"))]
    pub created_at: DateTime<Utc>,
}

impl Notification {
    /// The unread notification a reminder makes.
    pub fn of_reminder(reminder: &Reminder, id: Uuid, now: DateTime<Utc>) -> Self {
        let due = reminder.due_date.format("%Y-%m-%d %H:%M UTC");
        let (title, body) = match reminder.kind {
            ReminderKind::Upcoming => ("Task due soon", format!("\"{}\" is due at {due}.", reminder.title)),
            ReminderKind::Overdue => ("Task overdue", format!("\"{}\" was due at {due}.", reminder.title)),
        };
        Self {
            id,
            kind: reminder.event_type().to_owned(),
            title: title.to_owned(),
            body,
            task_id: Some(reminder.task_id),
            read: false,
            created_at: now,
        }
    }
}

/// The data of `notification.created`: the notification and its user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct NotificationCreated {
    pub user_id: String,
    #[serde(flatten)]
    pub notification: Notification,
}

/// The data of `notification.read`: `{"user_id", "ids": [...], "unread_count"}`
/// when some were marked read, `{"user_id", "all": true, "unread_count"}`
/// when all were.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct NotificationRead {
    pub user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<Uuid>"))]
    pub ids: Option<Vec<Uuid>>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all: bool,
    pub unread_count: u64,
}

impl NotificationRead {
    pub fn some(user_id: &str, ids: Vec<Uuid>, unread_count: u64) -> Self {
        Self { user_id: user_id.to_owned(), ids: Some(ids), all: false, unread_count }
    }

    pub fn all(user_id: &str, unread_count: u64) -> Self {
        Self { user_id: user_id.to_owned(), ids: None, all: true, unread_count }
    }
}

/// Where the previous page of notifications ended: the last one's
/// `created_at` (as stored) and id, as url-safe base64 of JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationCursor {
    #[serde(with = "time::utc")]
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

impl NotificationCursor {
    pub fn encode(&self) -> String {
        // A struct of strings always serializes.
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    pub fn decode(text: &str) -> Result<Self, CursorError> {
        let json = URL_SAFE_NO_PAD.decode(text).map_err(|_| CursorError)?;
        serde_json::from_slice(&json).map_err(|_| CursorError)
    }
}

/// The columns `NotificationQuery::to_sql` and single reads select, in order.
pub const NOTIFICATION_COLUMNS: &str = "id, type, title, body, task_id, read, created_at";

/// A parsed `GET /api/notifications` query: `limit` (1-100, default 20),
/// `cursor`, `unread_only`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationQuery {
    pub unread_only: bool,
    pub limit: u32,
    pub after: Option<NotificationCursor>,
}

/// One page of notifications, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct NotificationPage {
    pub items: Vec<Notification>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    pub next_cursor: Option<String>,
}

/// The parameters of a notification list as typed values (see `ListParams`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct NotificationParams {
    /// Notifications per page, default 20.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 100)))]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Only unread ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unread_only: Option<bool>,
}

impl NotificationParams {
    pub fn to_query(&self) -> String {
        crate::query::query_string(self)
    }
}

/// The answer of `GET /api/notifications/unread-count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct UnreadCount {
    pub count: u64,
}

/// The answer of `POST /api/notifications/read-all`: how many were unread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ReadAll {
    pub updated: u64,
}

impl NotificationQuery {
    /// Unknown parameters and empty values are ignored; a bad value is
    /// `invalid_query`.
    pub fn parse(query: &str) -> Result<Self, ApiError> {
        let params = Params::parse(query, &["limit", "cursor", "unread_only"])?;
        Ok(Self {
            unread_only: params
                .value("unread_only", |v| v.parse().map_err(|_| "must be true or false".to_owned()))?
                .unwrap_or(false),
            limit: params.limit()?,
            after: params.value("cursor", |v| NotificationCursor::decode(v).map_err(|e| e.to_string()))?,
        })
    }

    /// The whole `SELECT` of this user's page, newest first by
    /// (created_at, id), one row more than the page so `page` can tell
    /// whether another follows.
    pub fn to_sql(&self, user_id: &str) -> SqlFragment {
        let mut out = SqlFragment::default();
        let mut conditions = vec![format!("user_id = {}", out.bind(SqlParam::Text(user_id.to_owned())))];
        if self.unread_only {
            conditions.push("read = FALSE".to_owned());
        }
        if let Some(cursor) = &self.after {
            let at = out.bind(SqlParam::Text(format_utc(cursor.created_at)));
            let id = out.bind(SqlParam::Text(cursor.id.to_string()));
            conditions.push(format!("(created_at < {at} OR (created_at = {at} AND id < {id}))"));
        }
        let limit = out.bind(SqlParam::Integer(i64::from(self.limit) + 1));
        out.sql = format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notification WHERE {} \
             ORDER BY created_at DESC, id DESC LIMIT {limit}",
            conditions.join(" AND ")
        );
        out
    }

    /// The page from the rows `to_sql` selected.
    pub fn page(&self, mut rows: Vec<Notification>) -> NotificationPage {
        let limit = self.limit as usize;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = more
            .then(|| rows.last().map(|last| NotificationCursor { created_at: last.created_at, id: last.id }.encode()))
            .flatten();
        NotificationPage { items: rows, next_cursor }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_utc;
    use crate::ErrorCode;
    use serde_json::json;

    fn at(text: &str) -> DateTime<Utc> {
        parse_utc(text).unwrap()
    }

    fn reminder(kind: ReminderKind) -> Reminder {
        Reminder {
            kind,
            task_id: Uuid::from_u128(7),
            user_id: "alice".into(),
            title: "Water the plants".into(),
            due_date: at("2026-03-10T08:30:00Z"),
        }
    }

    fn notification(n: u128, created_at: &str) -> Notification {
        Notification::of_reminder(&reminder(ReminderKind::Upcoming), Uuid::from_u128(n), at(created_at))
    }

    #[test]
    fn reminders_become_unread_notifications() {
        let now = at("2026-03-10T08:00:00.5Z");
        let upcoming = Notification::of_reminder(&reminder(ReminderKind::Upcoming), Uuid::from_u128(1), now);
        assert_eq!(
            serde_json::to_value(&upcoming).unwrap(),
            json!({
                "id": "00000000-0000-0000-0000-000000000001",
                "type": "reminder.upcoming",
                "title": "Task due soon",
                "body": "\"Water the plants\" is due at 2026-03-10 08:30 UTC.",
                "task_id": "00000000-0000-0000-0000-000000000007",
                "read": false,
                "created_at": "2026-03-10T08:00:00.500000Z",
            })
        );
        let overdue = Notification::of_reminder(&reminder(ReminderKind::Overdue), Uuid::from_u128(1), now);
        assert_eq!(overdue.kind, "reminder.overdue");
        assert_eq!(overdue.title, "Task overdue");
        assert_eq!(overdue.body, "\"Water the plants\" was due at 2026-03-10 08:30 UTC.");
    }

    #[test]
    fn event_shapes() {
        let n = notification(1, "2026-03-10T08:00:00Z");
        let created = NotificationCreated { user_id: "alice".into(), notification: n.clone() };
        let data = serde_json::to_value(&created).unwrap();
        assert_eq!(data["user_id"], "alice");
        assert_eq!(data["id"], n.id.to_string());
        assert_eq!(data["type"], "reminder.upcoming");
        assert_eq!(serde_json::from_value::<NotificationCreated>(data).unwrap(), created);

        assert_eq!(
            serde_json::to_value(NotificationRead::some("alice", vec![Uuid::from_u128(1)], 3)).unwrap(),
            json!({"user_id": "alice", "ids": ["00000000-0000-0000-0000-000000000001"], "unread_count": 3})
        );
        assert_eq!(
            serde_json::to_value(NotificationRead::all("alice", 0)).unwrap(),
            json!({"user_id": "alice", "all": true, "unread_count": 0})
        );
    }

    #[test]
    fn query_defaults_and_errors() {
        let q = NotificationQuery::parse("").unwrap();
        assert_eq!((q.unread_only, q.limit, q.after), (false, 20, None));
        let q = NotificationQuery::parse("unread_only=true&limit=100&other=1").unwrap();
        assert_eq!((q.unread_only, q.limit), (true, 100));
        for (query, param) in [
            ("limit=0", "limit: "),
            ("limit=101", "limit: "),
            ("unread_only=yes", "unread_only: "),
            ("cursor=garbage", "cursor: "),
            ("limit=1&limit=2", "limit: "),
        ] {
            let err = NotificationQuery::parse(query).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidQuery, "{query}");
            assert!(err.message.starts_with(param), "{query}: {}", err.message);
        }
    }

    #[test]
    fn sql_and_cursor() {
        let q = NotificationQuery::parse("unread_only=true&limit=2").unwrap();
        let sql = q.to_sql("alice");
        assert_eq!(
            sql.sql,
            "SELECT id, type, title, body, task_id, read, created_at FROM notification \
             WHERE user_id = $1 AND read = FALSE ORDER BY created_at DESC, id DESC LIMIT $2"
        );
        assert_eq!(sql.params, [SqlParam::Text("alice".into()), SqlParam::Integer(3)]);

        let rows = vec![
            notification(3, "2026-03-10T08:00:03Z"),
            notification(2, "2026-03-10T08:00:02Z"),
            notification(1, "2026-03-10T08:00:01Z"),
        ];
        let page = q.page(rows.clone());
        assert_eq!(page.items, rows[..2]);
        let cursor = page.next_cursor.unwrap();
        assert!(cursor.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let next = NotificationQuery::parse(&format!("limit=2&cursor={cursor}")).unwrap();
        assert_eq!(next.after, Some(NotificationCursor { created_at: rows[1].created_at, id: rows[1].id }));
        let sql = next.to_sql("alice");
        assert!(sql.sql.contains("WHERE user_id = $1 AND (created_at < $2 OR (created_at = $2 AND id < $3)) ORDER BY"));
        assert_eq!(sql.params[1], SqlParam::Text("2026-03-10T08:00:02.000000Z".into()));
        assert_eq!(q.page(rows[..2].to_vec()).next_cursor, None);
    }
}
