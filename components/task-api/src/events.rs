//! Publishing a change's two events through the transactional outbox.

use crate::http_util::encode;
use crate::todo::platform::pubsub;
use crate::todo::platform::sql::Transaction;
use crate::todo::platform::types::CloudEvent;
use chrono::{DateTime, Utc};
use serde::Serialize;
use todo_domain::events::{SYNC_TASK_CHANGED, TASK_EVENTS_TOPIC, TASK_UPDATES_TOPIC};
use todo_domain::time::format_utc;
use todo_domain::{ApiError, ErrorCode, TaskChange};
use uuid::Uuid;

const SOURCE: &str = "/task-api";

impl From<pubsub::Error> for ApiError {
    fn from(err: pubsub::Error) -> Self {
        eprintln!("task-api: publish error: {err:?}");
        match err {
            pubsub::Error::Unavailable(_) => ApiError::new(
                ErrorCode::Unavailable,
                "events cannot be queued now; retry later",
            ),
            _ => ApiError::internal("could not publish the change"),
        }
    }
}

/// Publishes `task.*` (with id `event_id`, that of the audit row) on
/// `task-events` and `sync.task-changed` on `task-updates`, inside `tx`.
/// Both are keyed by user, so one user's events stay in order.
pub fn publish(
    tx: &Transaction,
    change: &TaskChange,
    event_id: Uuid,
    at: DateTime<Utc>,
) -> Result<(), ApiError> {
    let event_type = change.kind.event_type();
    send(
        tx,
        TASK_EVENTS_TOPIC,
        change,
        event_id,
        event_type,
        &change.task_event(),
        at,
    )?;
    send(
        tx,
        TASK_UPDATES_TOPIC,
        change,
        Uuid::new_v4(),
        SYNC_TASK_CHANGED,
        &change.sync_event(at),
        at,
    )
}

fn send(
    tx: &Transaction,
    topic: &str,
    change: &TaskChange,
    id: Uuid,
    event_type: &str,
    data: &impl Serialize,
    at: DateTime<Utc>,
) -> Result<(), ApiError> {
    let event = CloudEvent {
        id: id.to_string(),
        source: SOURCE.to_owned(),
        type_: event_type.to_owned(),
        subject: Some(change.task.id.to_string()),
        time: format_utc(at),
        data: encode(data)?,
    };
    pubsub::publish(topic, &change.user_id, &event, Some(tx))?;
    Ok(())
}
