//! A task's audit trail as `GET /api/todos/{id}/history` returns it.

use crate::changes::ChangeSet;
use crate::events::{event_type, ChangeKind};
use crate::task::Task;
use crate::time;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One audit row: what a change did, and the task as it left it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct HistoryEntry {
    /// The id of the `task.*` event the change published.
    pub event_id: Uuid,
    #[serde(with = "event_type")]
    #[cfg_attr(feature = "schema", schemars(schema_with = "crate::schema::task_event_type"))]
    pub event_type: ChangeKind,
    pub changed_fields: ChangeSet,
    /// The task after the change; before it, for a deletion.
    pub snapshot: Option<Task>,
    #[serde(with = "time::utc")]
    #[cfg_attr(feature = "schema", schemars(with = "chrono::DateTime<chrono::Utc>"))]
    pub occurred_at: DateTime<Utc>,
}

/// A task's audit rows, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct HistoryPage {
    pub items: Vec<HistoryEntry>,
}
