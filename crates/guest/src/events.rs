//! Publishing CloudEvents — on their own through `pubsub`, or inside a
//! transaction through the host's transactional outbox (`outbox`) — and the
//! two events of every task change.

use crate::sql::Transaction;
use crate::time::to_timestamp;
use crate::types::CloudEvent;
use crate::{outbox, pubsub, StoreError};
use chrono::{DateTime, Utc};
use serde::Serialize;
use todo_domain::events::{SYNC_TASK_CHANGED, TASK_EVENTS_TOPIC, TASK_UPDATES_TOPIC};
use todo_domain::TaskChange;
use uuid::Uuid;

/// The content type of every event this system publishes.
pub const JSON: &str = "application/json";

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
    pub fn to_cloud_event(&self) -> Result<CloudEvent, StoreError> {
        let time = to_timestamp(self.at)
            .ok_or_else(|| StoreError::Encode(format!("event time {} is before 1970", self.at)))?;
        Ok(CloudEvent {
            id: self.id.to_string(),
            source: self.source.to_owned(),
            type_: self.event_type.to_owned(),
            subject: self.subject.clone(),
            time,
            datacontenttype: JSON.to_owned(),
            data: crate::encode(self.data)?.into_bytes(),
        })
    }

    /// Publishes on `topic` on its own, ordered by `partition_key` (the
    /// user id): durably queued when this returns.
    pub fn publish(&self, topic: &str, partition_key: &str) -> Result<(), StoreError> {
        pubsub::publish(topic, partition_key, &self.to_cloud_event()?)?;
        Ok(())
    }

    /// Publishes on `topic` inside `tx` (the outbox): the event goes out if
    /// and only if `tx` commits.
    pub fn publish_in(&self, tx: &Transaction, topic: &str, partition_key: &str) -> Result<(), StoreError> {
        outbox::publish(tx, topic, partition_key, &self.to_cloud_event()?)?;
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
) -> Result<(), StoreError> {
    let subject = Some(change.task.id.to_string());
    Event {
        id: event_id,
        source,
        event_type: change.kind.event_type(),
        subject: subject.clone(),
        at,
        data: &change.task_event(),
    }
    .publish_in(tx, TASK_EVENTS_TOPIC, &change.user_id)?;
    Event { id: Uuid::new_v4(), source, event_type: SYNC_TASK_CHANGED, subject, at, data: &change.sync_event(at) }
        .publish_in(tx, TASK_UPDATES_TOPIC, &change.user_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use todo_domain::time::parse_utc;

    #[test]
    fn events_carry_json_bytes_and_a_typed_time() {
        let event = Event {
            id: Uuid::from_u128(1),
            source: "/test",
            event_type: "test.happened",
            subject: Some("s".into()),
            at: parse_utc("2026-01-02T03:04:05.25Z").unwrap(),
            data: &serde_json::json!({"a": 1}),
        }
        .to_cloud_event()
        .unwrap();
        assert_eq!(event.id, "00000000-0000-0000-0000-000000000001");
        assert_eq!(event.type_, "test.happened");
        assert_eq!(event.datacontenttype, "application/json");
        assert_eq!(event.data, br#"{"a":1}"#);
        assert_eq!((event.time.seconds, event.time.nanoseconds), (1_767_323_045, 250_000_000));
    }
}
