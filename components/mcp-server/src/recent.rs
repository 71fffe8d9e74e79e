//! Each user's recent task events, the resource `todo://events/recent`: the
//! last 20 `task-events` deliveries that name the user, newest first, kept in
//! the state store under a key of the user's own for an hour after the last
//! one.
//!
//! Deliveries are at least once and may run at once (replicas, redeliveries):
//! an event already in the list is not added again (by event id), and one
//! user's list is rewritten by one delivery at a time, under a lock key taken
//! with `set-if-absent` (it expires by itself if its holder dies); a delivery
//! that finds the lock taken is retried by the host later.

use crate::jsonrpc::{Error, RESOURCE_NOT_FOUND};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use todo_domain::time::format_utc;
use todo_domain::TaskEvent;
use todo_guest::api::Caller;
use todo_guest::time::from_timestamp;
use todo_guest::types::CloudEvent;
use todo_guest::{encode, kv, StoreError};

pub const URI: &str = "todo://events/recent";
pub const KEEP: usize = 20;
const TTL_SECONDS: u32 = 60 * 60;
/// Longer than any update of a list takes; short enough that a lost lock
/// delays the user's next event by one retry or two.
const LOCK_TTL_SECONDS: u32 = 5;

/// One delivered event, as the resource shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecentEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    /// When it happened (RFC 3339, UTC): the list's order.
    pub time: String,
    pub data: TaskEvent,
}

fn key(user_id: &str) -> String {
    format!("mcp-server:recent-events:{user_id}")
}

fn lock_key(user_id: &str) -> String {
    format!("mcp-server:recent-events-lock:{user_id}")
}

/// What became of a delivery.
pub enum Recorded {
    /// In the list (now, or already).
    Done,
    /// Another delivery is rewriting the user's list.
    Busy,
}

/// Adds a delivered `task-events` event to its user's list.
pub fn record(event: &CloudEvent, data: TaskEvent) -> Result<Recorded, StoreError> {
    let time = from_timestamp(event.time).map(format_utc).ok_or_else(|| StoreError::corrupt("an event time"))?;
    let user_id = data.user_id.clone();
    let recent = RecentEvent { id: event.id.clone(), event_type: event.type_.clone(), time, data };
    let store = kv::store()?;
    let lock = lock_key(&user_id);
    if !store.set_if_absent(&lock, b"1", Some(LOCK_TTL_SECONDS))? {
        return Ok(Recorded::Busy);
    }
    let result = read_list(&user_id).and_then(|list| write_list(&user_id, &insert(list, recent)));
    // Released even when the update failed; expiry covers a failed release.
    let released = store.delete(&lock);
    result?;
    released?;
    Ok(Recorded::Done)
}

/// `event` in its place by time (newest first; after events of the same
/// time already there), unless the list has it; at most `KEEP` kept.
pub fn insert(mut list: Vec<RecentEvent>, event: RecentEvent) -> Vec<RecentEvent> {
    if list.iter().any(|e| e.id == event.id) {
        return list;
    }
    let at = list.iter().position(|e| e.time < event.time).unwrap_or(list.len());
    list.insert(at, event);
    list.truncate(KEEP);
    list
}

fn read_list(user_id: &str) -> Result<Vec<RecentEvent>, StoreError> {
    match kv::store()?.get(&key(user_id))? {
        None => Ok(Vec::new()),
        Some(bytes) => serde_json::from_slice(&bytes).map_err(StoreError::corrupt),
    }
}

fn write_list(user_id: &str, list: &[RecentEvent]) -> Result<(), StoreError> {
    kv::store()?.set(&key(user_id), encode(&list)?.as_bytes(), Some(TTL_SECONDS))?;
    Ok(())
}

/// The entry of `resources/list`.
pub fn resource() -> Value {
    json!({
        "uri": URI,
        "name": "recent-task-events",
        "title": "Your recent task events",
        "description": "Your last 20 task events (created, updated, completed, deleted), newest first, each with \
                        the task and the fields it changed; kept for an hour after the last one.",
        "mimeType": "application/json",
    })
}

/// `resources/read`.
pub fn read(caller: Caller, params: &Map<String, Value>) -> Result<Value, Error> {
    let uri = params.get("uri").and_then(Value::as_str).ok_or_else(|| Error::invalid_params("uri: is required"))?;
    if uri != URI {
        return Err(Error::new(RESOURCE_NOT_FOUND, format!("no resource {uri}")).with_data(json!({ "uri": uri })));
    }
    let events = read_list(caller.user_id).map_err(|err| {
        todo_guest::log::line(format_args!("reading recent events: {err}"));
        Error::new(crate::jsonrpc::INTERNAL_ERROR, todo_guest::http::api_error(&err).message)
    })?;
    let text = json!({ "events": events }).to_string();
    Ok(json!({ "contents": [{ "uri": URI, "mimeType": "application/json", "text": text }] }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use todo_domain::{ChangeKind, ChangeSet};
    use uuid::Uuid;

    fn event(id: &str, time: &str) -> RecentEvent {
        RecentEvent {
            id: id.into(),
            event_type: "task.created".into(),
            time: time.into(),
            data: TaskEvent {
                event_type: ChangeKind::Created,
                task_id: Uuid::nil(),
                user_id: "alice".into(),
                task: None,
                changed_fields: ChangeSet::default(),
            },
        }
    }

    fn ids(list: &[RecentEvent]) -> Vec<&str> {
        list.iter().map(|e| e.id.as_str()).collect()
    }

    #[test]
    fn newest_first_once_each() {
        let list = insert(Vec::new(), event("a", "2026-01-01T00:00:01.000000Z"));
        let list = insert(list, event("c", "2026-01-01T00:00:03.000000Z"));
        let list = insert(list, event("b", "2026-01-01T00:00:02.000000Z"));
        let list = insert(list, event("b", "2026-01-01T00:00:02.000000Z"));
        let list = insert(list, event("b2", "2026-01-01T00:00:02.000000Z"));
        assert_eq!(ids(&list), ["c", "b", "b2", "a"]);
    }

    #[test]
    fn keeps_the_newest_twenty() {
        let list = (0..25).fold(Vec::new(), |list, n| insert(list, event(&n.to_string(), &format!("t{n:02}"))));
        assert_eq!(list.len(), KEEP);
        assert_eq!((list[0].id.as_str(), list[19].id.as_str()), ("24", "5"));
        // An old event redelivered after it fell off stays off.
        assert_eq!(insert(list.clone(), event("1", "t01")), list);
    }
}
