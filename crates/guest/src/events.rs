//! Publishing CloudEvents through the host's transactional outbox, and the
//! two events of every task change.

use crate::log;
use crate::pubsub;
use crate::sql::Transaction;
use crate::types::CloudEvent;
use chrono::{DateTime, Utc};
use serde::Serialize;
use todo_domain::events::{SYNC_TASK_CHANGED, TASK_EVENTS_TOPIC, TASK_UPDATES_TOPIC};
use todo_domain::time::format_utc;
use todo_domain::{ApiError, ErrorCode, TaskChange};
use uuid::Uuid;

impl From<pubsub::Error> for ApiError {
    fn from(err: pubsub::Error) -> Self {
        log::line(format_args!("publish error: {err:?}"));
        match err {
            pubsub::Error::Unavailable(_) => ApiError::new(
                ErrorCode::Unavailable,
                "events cannot be queued now; retry later",
            ),
            _ => ApiError::internal("could not publish the change"),
        }
    }
}

/// An event to publish: who sends it (a URI reference such as
/// `/task-api`), its type, what it is about, when it happened, its JSON data.
pub struct Event<'a, D: Serialize> {
    pub id: Uuid,
    pub source: &'a str,
    pub event_type: &'a str,
    pub subject: Option<String>,
    pub at: DateTime<Utc>,
    pub data: &'a D,
}

impl<D: Serialize> Event<'_, D> {
    pub fn to_cloud_event(&self) -> Result<CloudEvent, ApiError> {
        Ok(CloudEvent {
            id: self.id.to_string(),
            source: self.source.to_owned(),
            type_: self.event_type.to_owned(),
            subject: self.subject.clone(),
            time: format_utc(self.at),
            data: crate::encode(self.data)?,
        })
    }

    /// Publishes on `topic`, ordered by `partition_key` (the user id). With
    /// `tx` the event commits with the transaction; without, it is durably
    /// queued when this returns.
    pub fn publish(
        &self,
        topic: &str,
        partition_key: &str,
        tx: Option<&Transaction>,
    ) -> Result<(), ApiError> {
        pubsub::publish(topic, partition_key, &self.to_cloud_event()?, tx)?;
        Ok(())
    }
}

/// Publishes a task change inside `tx`: `task.*` (with id `event_id`, that
/// of its audit row) on `task-events` and `sync.task-changed` on
/// `task-updates`. Both are keyed by user, so one user's events stay in order.
pub fn publish_task_change(
    tx: &Transaction,
    source: &str,
    change: &TaskChange,
    event_id: Uuid,
    at: DateTime<Utc>,
) -> Result<(), ApiError> {
    let subject = Some(change.task.id.to_string());
    Event {
        id: event_id,
        source,
        event_type: change.kind.event_type(),
        subject: subject.clone(),
        at,
        data: &change.task_event(),
    }
    .publish(TASK_EVENTS_TOPIC, &change.user_id, Some(tx))?;
    Event {
        id: Uuid::new_v4(),
        source,
        event_type: SYNC_TASK_CHANGED,
        subject,
        at,
        data: &change.sync_event(at),
    }
    .publish(TASK_UPDATES_TOPIC, &change.user_id, Some(tx))
}
