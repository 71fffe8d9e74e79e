//! The recurring handler, subscribed to `task-events`. On the
//! `task.completed` of a task with a recurrence pattern it creates the next
//! occurrence (see `todo_domain::recurrence::next_occurrence`) with its own
//! audit row and `task.created` / `sync.task-changed` events, all in one
//! transaction with the event's `processed_event` row.
//!
//! Exactly one next occurrence per completed task: a redelivered event finds
//! its `processed_event` row and does nothing, and a second completion of
//! the same task (another event) runs into the unique index
//! `task_one_next_occurrence` on `task.parent_task_id`: that one violation —
//! by its name, which the host reports on SQLite and PostgreSQL alike — is
//! rolled back and counted as done. Any other failure (another constraint,
//! an unavailable database, a transaction past its deadline, ...) is logged
//! and answered `retry`: the host redelivers the event with backoff, then
//! dead-letters it after the subscription's attempt limit.

// Only the export is generated here; the imports are todo-guest's bindings.
todo_guest::generate_exports!("todo:platform/event-handler-component");

use exports::todo::platform::event_handler::{self, Outcome};
use todo_domain::events::TASK_EVENTS_TOPIC;
use todo_domain::time::now_utc;
use todo_domain::{ChangeKind, TaskEvent};
use todo_guest::types::CloudEvent;
use todo_guest::{log, processed, tasks, tx, StoreError};
use uuid::Uuid;

/// The consumer name in `processed_event`.
const CONSUMER: &str = "recurring-handler";
const SOURCE: &str = "/recurring-handler";

/// The unique index that allows a task one next occurrence
/// (migrations: `task (parent_task_id) WHERE parent_task_id IS NOT NULL`).
const ONE_NEXT_OCCURRENCE: &str = "task_one_next_occurrence";

struct Handler;

impl event_handler::Guest for Handler {
    fn handle(topic: String, event: event_handler::Event, attempt: u32) -> Outcome {
        let event = CloudEvent::from(event);
        log::set_component(CONSUMER);
        if topic != TASK_EVENTS_TOPIC {
            log::dropping(&event.id, format_args!("unexpected topic {topic}"));
            return Outcome::Drop;
        }
        let data = match task_event_of(&event) {
            Ok(data) => data,
            Err(why) => {
                log::dropping(&event.id, why);
                return Outcome::Drop;
            }
        };
        let now = now_utc();
        let Some(next) = data.next_occurrence(Uuid::new_v4(), now) else {
            return Outcome::Success;
        };
        let created = tx::transaction(|tx| {
            if !processed::first_delivery(tx, &event.id, CONSUMER, now)? {
                return Ok(None);
            }
            tasks::create_task(tx, SOURCE, &data.user_id, &next, now)?;
            Ok::<_, StoreError>(Some(next.id))
        });
        match created {
            Ok(Some(id)) => {
                log::line(format_args!("task {} completed: next occurrence {id} (event {})", data.task_id, event.id));
                Outcome::Success
            }
            // A redelivery: handled before.
            Ok(None) => Outcome::Success,
            // The task already has its next occurrence (completed before,
            // reopened, completed again): nothing was committed.
            Err(err) if already_has_next_occurrence(&err) => {
                log::line(format_args!(
                    "task {} already has its next occurrence (event {}): nothing to do",
                    data.task_id, event.id
                ));
                Outcome::Success
            }
            Err(err) => {
                log::retrying(&event.id, attempt, err);
                Outcome::Retry
            }
        }
    }
}

export!(Handler);

/// Whether creating the next occurrence failed only because the task has
/// one already: a unique violation of `task_one_next_occurrence`, and
/// nothing else (not another constraint, not another kind of failure).
fn already_has_next_occurrence(err: &StoreError) -> bool {
    err.is_unique_violation(ONE_NEXT_OCCURRENCE)
}

/// The task event an event carries. Its data decides (`event_type`); an
/// envelope type that names a task event must agree with it.
fn task_event_of(event: &CloudEvent) -> Result<TaskEvent, String> {
    let data: TaskEvent = serde_json::from_slice(&event.data).map_err(|e| format!("not a task event ({e})"))?;
    match ChangeKind::from_event_type(&event.type_) {
        Some(kind) if kind != data.event_type => {
            Err(format!("type {} but data of a {}", event.type_, data.event_type.event_type()))
        }
        _ => Ok(data),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use todo_guest::sql::ConstraintKind;
    use todo_guest::types::Timestamp;
    use todo_guest::Backend;

    fn violation(kind: ConstraintKind, name: &str) -> StoreError {
        StoreError::Constraint {
            kind,
            name: name.into(),
            message: "UNIQUE constraint failed: task.parent_task_id".into(),
        }
    }

    #[test]
    fn only_the_next_occurrence_index_means_already_done() {
        assert!(already_has_next_occurrence(&violation(ConstraintKind::Unique, "task_one_next_occurrence")));
        let not_done = [
            // Another unique key: the audit row's version, the task's id.
            violation(ConstraintKind::Unique, "task_event_task_id_version_key"),
            violation(ConstraintKind::Unique, "task.parent_task_id"),
            violation(ConstraintKind::PrimaryKey, "task_pkey"),
            // The right name on another kind of constraint.
            violation(ConstraintKind::Check, "task_one_next_occurrence"),
            violation(ConstraintKind::NotNull, "task.title"),
            StoreError::Unavailable { backend: Backend::Sql, reason: "busy".into() },
            StoreError::DeadlineExceeded,
            StoreError::Other { backend: Backend::Pubsub, reason: "duplicate event id: e1".into() },
            StoreError::NotFound("task"),
        ];
        for err in not_done {
            assert!(!already_has_next_occurrence(&err), "{err:?}");
        }
    }

    fn event(event_type: &str, data: &str) -> CloudEvent {
        CloudEvent {
            id: "e1".into(),
            source: "/task-api".into(),
            type_: event_type.into(),
            subject: None,
            time: Timestamp { seconds: 0, nanoseconds: 0 },
            datacontenttype: "application/json".into(),
            data: data.as_bytes().to_vec(),
        }
    }

    const DELETED: &str = r#"{"event_type": "task.deleted", "task_id": "00000000-0000-0000-0000-000000000001",
        "user_id": "u", "task": null, "changed_fields": {}}"#;

    #[test]
    fn task_events_are_read_from_the_event_data() {
        let data = task_event_of(&event("task.deleted", DELETED)).unwrap();
        assert_eq!(data.event_type, ChangeKind::Deleted);
        assert_eq!(data.user_id, "u");
        // An envelope type that names no task event: the data decides.
        assert!(task_event_of(&event("other", DELETED)).is_ok());
        assert_eq!(
            task_event_of(&event("task.completed", DELETED)).unwrap_err(),
            "type task.completed but data of a task.deleted"
        );
    }

    #[test]
    fn data_that_is_not_a_task_event_is_refused() {
        assert!(task_event_of(&event("task.completed", "{}")).unwrap_err().starts_with("not a task event"));
        assert!(task_event_of(&event("task.completed", "not json")).unwrap_err().starts_with("not a task event"));
    }
}
