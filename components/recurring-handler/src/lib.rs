//! The recurring handler, subscribed to `task-events`. On the
//! `task.completed` of a task with a recurrence pattern it creates the next
//! occurrence (see `todo_domain::recurrence::next_occurrence`) with its own
//! audit row and `task.created` / `sync.task-changed` events, all in one
//! transaction with the event's `processed_event` row.
//!
//! Exactly one next occurrence per completed task: a redelivered event finds
//! its `processed_event` row and does nothing, and a second completion of
//! the same task (another event) runs into the unique index on
//! `task.parent_task_id`, which is rolled back and counted as done.

// Only the export is generated here; the imports are todo-guest's bindings.
todo_guest::generate_exports!("todo:platform/event-handler-component");

use exports::todo::platform::event_handler::{self, Outcome};
use todo_domain::events::TASK_EVENTS_TOPIC;
use todo_domain::time::now_utc;
use todo_domain::{ApiError, ChangeKind, ErrorCode, TaskEvent};
use todo_guest::types::CloudEvent;
use todo_guest::{log, processed, tasks, tx};
use uuid::Uuid;

/// The consumer name in `processed_event`.
const CONSUMER: &str = "recurring-handler";
const SOURCE: &str = "/recurring-handler";

struct Handler;

impl event_handler::Guest for Handler {
    fn handle(topic: String, event: CloudEvent, attempt: u32) -> Outcome {
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
            Ok::<_, ApiError>(Some(next.id))
        });
        match created {
            Ok(Some(id)) => {
                log::line(format_args!(
                    "task {} completed: next occurrence {id} (event {})",
                    data.task_id, event.id
                ));
                Outcome::Success
            }
            // A redelivery: handled before.
            Ok(None) => Outcome::Success,
            // The task already has its next occurrence (completed before,
            // reopened, completed again): nothing was committed.
            Err(err) if err.code == ErrorCode::Conflict => {
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

/// The task event an event carries. Its data decides (`event_type`); an
/// envelope type that names a task event must agree with it.
fn task_event_of(event: &CloudEvent) -> Result<TaskEvent, String> {
    let data: TaskEvent =
        serde_json::from_str(&event.data).map_err(|e| format!("not a task event ({e})"))?;
    match ChangeKind::from_event_type(&event.type_) {
        Some(kind) if kind != data.event_type => Err(format!(
            "type {} but data of a {}",
            event.type_,
            data.event_type.event_type()
        )),
        _ => Ok(data),
    }
}
