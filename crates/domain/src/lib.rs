//! The todo system's domain rules, free of any transport: task validation,
//! change sets, recurrence arithmetic, event shapes, API errors, reminders
//! and notifications, and the portable SQL of lists and scans.

pub mod changes;
pub mod cursor;
pub mod error;
pub mod events;
pub mod history;
pub mod idempotency;
pub mod json;
pub mod notification;
#[cfg(feature = "schema")]
pub mod openapi;
pub mod query;
pub mod recurrence;
pub mod reminder;
#[cfg(feature = "schema")]
mod schema;
pub mod task;
pub mod time;

/// The OpenAPI 3.1 document of the HTTP API, as committed: `openapi::document`
/// (feature `schema`) generates it, and `tests/openapi.rs` fails when the two
/// differ. Served at `GET /api/openapi.json`; the MCP server's tool schemas
/// are taken from its component schemas.
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

pub use changes::{ChangeSet, FieldChange};
pub use cursor::{Cursor, SortKey};
pub use error::{ApiError, ErrorBody, ErrorCode, FieldError};
pub use events::{ChangeKind, SyncEvent, TaskChange, TaskEvent};
pub use history::{HistoryEntry, HistoryPage};
pub use notification::{
    Notification, NotificationCreated, NotificationCursor, NotificationPage, NotificationParams, NotificationQuery,
    NotificationRead, ReadAll, UnreadCount,
};
pub use query::{
    HistoryParams, HistoryQuery, ListParams, ListQuery, SortField, SortOrder, SqlFragment, SqlParam, TaskPage,
};
pub use recurrence::{next_due, next_occurrence, Frequency, RecurrencePattern};
pub use reminder::{DueTask, Reminder, ReminderKind, ReminderScan};
pub use task::{Completion, NewTask, Priority, Task, TaskPatch};
