//! The events a task change publishes: their topics, types and data payloads
//! (the `data` of CloudEvents 1.0 envelopes).

use crate::changes::ChangeSet;
use crate::task::Task;
use crate::time;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Full task changes, for services (audit, recurrence, notifications).
pub const TASK_EVENTS_TOPIC: &str = "task-events";
/// Light change notices, for clients to resynchronise.
pub const TASK_UPDATES_TOPIC: &str = "task-updates";

pub const TASK_CREATED: &str = "task.created";
pub const TASK_UPDATED: &str = "task.updated";
pub const TASK_DELETED: &str = "task.deleted";
pub const TASK_COMPLETED: &str = "task.completed";
pub const SYNC_TASK_CHANGED: &str = "sync.task-changed";

/// What happened to a task. Serializes as `created`, `updated`, ... (the
/// sync `change_type`); `event_type()` gives the `task.*` event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Created,
    Updated,
    Deleted,
    Completed,
}

impl ChangeKind {
    pub const ALL: [Self; 4] = [Self::Created, Self::Updated, Self::Deleted, Self::Completed];

    pub const fn event_type(self) -> &'static str {
        match self {
            Self::Created => TASK_CREATED,
            Self::Updated => TASK_UPDATED,
            Self::Deleted => TASK_DELETED,
            Self::Completed => TASK_COMPLETED,
        }
    }

    pub fn from_event_type(event_type: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.event_type() == event_type)
    }

    /// An update that marks the task completed is a completion (whatever else
    /// it changed); any other update, un-completing included, is an update.
    pub fn of_update(changes: &ChangeSet, after: &Task) -> Self {
        if after.completed && changes.get("completed").is_some() {
            Self::Completed
        } else {
            Self::Updated
        }
    }
}

/// `#[serde(with = "event_type")]`: a `ChangeKind` as `task.created`, ...
pub(crate) mod event_type {
    use super::ChangeKind;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(kind: &ChangeKind, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(kind.event_type())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ChangeKind, D::Error> {
        let text = String::deserialize(d)?;
        ChangeKind::from_event_type(&text).ok_or_else(|| D::Error::custom(format!("unknown task event type `{text}`")))
    }
}

/// One committed change of a task, from which its audit row and events are made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskChange {
    pub kind: ChangeKind,
    pub user_id: String,
    /// The task after the change; before it, for a deletion.
    pub task: Task,
    pub changes: ChangeSet,
}

impl TaskChange {
    pub fn created(user_id: &str, task: Task) -> Self {
        let changes = ChangeSet::between(None, Some(&task));
        Self::new(ChangeKind::Created, user_id, task, changes)
    }

    /// `changes` as returned by `Task::apply`, which gave `after`.
    pub fn updated(user_id: &str, after: Task, changes: ChangeSet) -> Self {
        Self::new(ChangeKind::of_update(&changes, &after), user_id, after, changes)
    }

    pub fn deleted(user_id: &str, task: Task) -> Self {
        let changes = ChangeSet::between(Some(&task), None);
        Self::new(ChangeKind::Deleted, user_id, task, changes)
    }

    fn new(kind: ChangeKind, user_id: &str, task: Task, changes: ChangeSet) -> Self {
        Self { kind, user_id: user_id.to_owned(), task, changes }
    }

    /// The data of the `task.*` event on `task-events`.
    pub fn task_event(&self) -> TaskEvent {
        TaskEvent {
            event_type: self.kind,
            task_id: self.task.id,
            user_id: self.user_id.clone(),
            task: (self.kind != ChangeKind::Deleted).then(|| self.task.clone()),
            changed_fields: self.changes.clone(),
        }
    }

    /// The data of the `sync.task-changed` event on `task-updates`.
    pub fn sync_event(&self, timestamp: DateTime<Utc>) -> SyncEvent {
        SyncEvent {
            change_type: self.kind,
            task_id: self.task.id,
            user_id: self.user_id.clone(),
            changed_fields: self.changes.fields(),
            timestamp,
        }
    }
}

/// Data of `task.created|updated|deleted|completed` on `task-events`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TaskEvent {
    #[serde(with = "event_type")]
    #[cfg_attr(feature = "schema", schemars(schema_with = "crate::schema::task_event_type"))]
    pub event_type: ChangeKind,
    pub task_id: Uuid,
    pub user_id: String,
    /// The task after the change; `null` for deletions.
    pub task: Option<Task>,
    pub changed_fields: ChangeSet,
}

impl TaskEvent {
    /// The task this event calls for, if any: only the `task.completed` of a
    /// recurring task has a next occurrence, counted from the completed task
    /// (whose `updated_at` is its completion time). See
    /// [`next_occurrence`](crate::recurrence::next_occurrence).
    pub fn next_occurrence(&self, id: Uuid, now: DateTime<Utc>) -> Option<Task> {
        if self.event_type != ChangeKind::Completed {
            return None;
        }
        let done = self.task.as_ref()?;
        crate::recurrence::next_occurrence(done, done.updated_at, id, now)
    }
}

/// Data of `sync.task-changed` on `task-updates`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SyncEvent {
    pub change_type: ChangeKind,
    pub task_id: Uuid,
    pub user_id: String,
    pub changed_fields: Vec<String>,
    #[serde(with = "time::utc")]
    #[cfg_attr(feature = "schema", schemars(with = "chrono::DateTime<chrono::Utc>"))]
    pub timestamp: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::{NewTask, TaskPatch};
    use crate::time::parse_utc;
    use serde_json::json;

    const USER: &str = "user-1";

    fn task() -> Task {
        NewTask::from_json(br#"{"title": "a"}"#)
            .unwrap()
            .into_task(Uuid::from_u128(1), parse_utc("2026-01-01T00:00:00Z").unwrap())
    }

    fn update(task: &Task, body: &str) -> TaskChange {
        let (after, changes) =
            task.apply(TaskPatch::from_json(body.as_bytes()).unwrap(), parse_utc("2026-01-02T00:00:00Z").unwrap());
        TaskChange::updated(USER, after, changes)
    }

    #[test]
    fn event_types() {
        assert_eq!(ChangeKind::Created.event_type(), "task.created");
        assert_eq!(ChangeKind::Updated.event_type(), "task.updated");
        assert_eq!(ChangeKind::Deleted.event_type(), "task.deleted");
        assert_eq!(ChangeKind::Completed.event_type(), "task.completed");
        for kind in ChangeKind::ALL {
            assert_eq!(ChangeKind::from_event_type(kind.event_type()), Some(kind));
        }
        assert_eq!(ChangeKind::from_event_type("task.exploded"), None);
    }

    #[test]
    fn completing_through_an_update_is_a_completion() {
        assert_eq!(update(&task(), r#"{"completed": true, "title": "b"}"#).kind, ChangeKind::Completed);
        assert_eq!(update(&task(), r#"{"title": "b"}"#).kind, ChangeKind::Updated);
        let mut done = task();
        done.completed = true;
        assert_eq!(update(&done, r#"{"completed": false}"#).kind, ChangeKind::Updated);
        // Already completed: changing something else is an update.
        assert_eq!(update(&done, r#"{"completed": true, "title": "b"}"#).kind, ChangeKind::Updated);
    }

    #[test]
    fn created_event_shapes() {
        let change = TaskChange::created(USER, task());
        let data = serde_json::to_value(change.task_event()).unwrap();
        assert_eq!(data["event_type"], "task.created");
        assert_eq!(data["task_id"], "00000000-0000-0000-0000-000000000001");
        assert_eq!(data["user_id"], USER);
        assert_eq!(data["task"], serde_json::to_value(task()).unwrap());
        assert_eq!(data["changed_fields"]["title"], json!({"old": null, "new": "a"}));

        let at = parse_utc("2026-01-01T00:00:00.5Z").unwrap();
        assert_eq!(
            serde_json::to_value(change.sync_event(at)).unwrap(),
            json!({
                "change_type": "created",
                "task_id": "00000000-0000-0000-0000-000000000001",
                "user_id": USER,
                "changed_fields": ["completed", "priority", "tags", "title"],
                "timestamp": "2026-01-01T00:00:00.500000Z",
            })
        );
    }

    #[test]
    fn updated_event_shapes() {
        let change = update(&task(), r#"{"title": "b"}"#);
        let data = serde_json::to_value(change.task_event()).unwrap();
        assert_eq!(data["event_type"], "task.updated");
        assert_eq!(data["task"]["title"], "b");
        assert_eq!(data["changed_fields"], json!({"title": {"old": "a", "new": "b"}}));
        assert_eq!(change.sync_event(task().created_at).changed_fields, ["title"]);
    }

    #[test]
    fn deleted_event_has_no_task_but_keeps_the_snapshot() {
        let change = TaskChange::deleted(USER, task());
        assert_eq!(change.task, task());
        let data = serde_json::to_value(change.task_event()).unwrap();
        assert_eq!(data["event_type"], "task.deleted");
        assert_eq!(data["task"], serde_json::Value::Null);
        assert_eq!(data["changed_fields"]["title"], json!({"old": "a", "new": null}));
        assert_eq!(serde_json::to_value(change.sync_event(task().created_at)).unwrap()["change_type"], "deleted");
    }

    #[test]
    fn only_completions_of_recurring_tasks_have_a_next_occurrence() {
        let mut recurring = task();
        recurring.recurrence_pattern = Some(crate::RecurrencePattern::new(crate::Frequency::Daily, 1).unwrap());
        let now = parse_utc("2026-01-03T00:00:00Z").unwrap();
        let completion = update(&recurring, r#"{"completed": true}"#).task_event();
        let next = completion.next_occurrence(Uuid::from_u128(2), now).unwrap();
        assert_eq!(next.parent_task_id, Some(recurring.id));
        // No due date: a day after the completion (the snapshot's updated_at).
        assert_eq!(next.due_date, Some(parse_utc("2026-01-03T00:00:00Z").unwrap()));
        assert_eq!(next.created_at, now);

        let edit = update(&recurring, r#"{"title": "b"}"#).task_event();
        assert_eq!(edit.next_occurrence(Uuid::from_u128(2), now), None);
        let plain = update(&task(), r#"{"completed": true}"#).task_event();
        assert_eq!(plain.next_occurrence(Uuid::from_u128(2), now), None);
        let mut deleted = TaskChange::deleted(USER, recurring).task_event();
        deleted.event_type = ChangeKind::Completed;
        assert_eq!(deleted.next_occurrence(Uuid::from_u128(2), now), None);
    }

    #[test]
    fn events_round_trip_for_consumers() {
        let change = update(&task(), r#"{"completed": true}"#);
        let event = change.task_event();
        let back: TaskEvent = serde_json::from_str(&serde_json::to_string(&event).unwrap()).unwrap();
        assert_eq!(back, event);
        let sync = change.sync_event(task().created_at);
        let back: SyncEvent = serde_json::from_str(&serde_json::to_string(&sync).unwrap()).unwrap();
        assert_eq!(back, sync);
        assert!(serde_json::from_value::<TaskEvent>(json!({
            "event_type": "task.nope", "task_id": Uuid::nil(), "user_id": "u", "task": null, "changed_fields": {}
        }))
        .is_err());
    }
}
