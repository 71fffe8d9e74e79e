//! The todo system's domain rules, free of any transport: task validation,
//! change sets, recurrence arithmetic, event shapes, API errors and the
//! portable SQL of task lists.

pub mod changes;
pub mod cursor;
pub mod error;
pub mod events;
pub mod idempotency;
pub mod json;
pub mod query;
pub mod recurrence;
pub mod task;
pub mod time;

pub use changes::{ChangeSet, FieldChange};
pub use cursor::{Cursor, SortKey};
pub use error::{ApiError, ErrorCode, FieldError};
pub use events::{ChangeKind, SyncEvent, TaskChange, TaskEvent};
pub use query::{HistoryQuery, ListQuery, SortField, SortOrder, SqlFragment, SqlParam, TaskPage};
pub use recurrence::{next_due, Frequency, RecurrencePattern};
pub use task::{NewTask, Priority, Task, TaskPatch};
