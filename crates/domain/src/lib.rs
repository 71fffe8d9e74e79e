//! The todo system's domain rules, free of any transport: task validation,
//! change sets, recurrence arithmetic, event shapes, API errors, reminders
//! and notifications, and the portable SQL of lists and scans.

pub mod changes;
pub mod cursor;
pub mod error;
pub mod events;
pub mod idempotency;
pub mod json;
pub mod notification;
pub mod query;
pub mod recurrence;
pub mod reminder;
pub mod task;
pub mod time;

pub use changes::{ChangeSet, FieldChange};
pub use cursor::{Cursor, SortKey};
pub use error::{ApiError, ErrorCode, FieldError};
pub use events::{ChangeKind, SyncEvent, TaskChange, TaskEvent};
pub use notification::{
    Notification, NotificationCreated, NotificationCursor, NotificationPage, NotificationQuery, NotificationRead,
};
pub use query::{HistoryQuery, ListQuery, SortField, SortOrder, SqlFragment, SqlParam, TaskPage};
pub use recurrence::{next_due, next_occurrence, Frequency, RecurrencePattern};
pub use reminder::{DueTask, Reminder, ReminderKind, ReminderScan};
pub use task::{NewTask, Priority, Task, TaskPatch};
