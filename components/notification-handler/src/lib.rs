//! The notification handler: subscribed to `reminders`, it turns each
//! reminder into one `notification` row and announces it with
//! `notification.created` on `task-updates` (so open dashboards update their
//! bell); and it serves the Notification API (`/api/notifications/...`).
//!
//! Handling an event is one transaction: the `processed_event` row (consumer
//! `notification-handler`), the notification and its event commit together,
//! so a redelivered event finds its row and creates nothing new.

mod api;

// Only the event-handler export is generated here; the imports are
// todo-guest's bindings, and spin-sdk exports `wasi:http/incoming-handler`.
todo_guest::generate_exports!("todo:platform/event-handler-component");

use exports::todo::platform::event_handler::{self, Outcome};
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;
use todo_domain::events::TASK_UPDATES_TOPIC;
use todo_domain::notification::NOTIFICATION_CREATED;
use todo_domain::reminder::REMINDERS_TOPIC;
use todo_domain::time::now_utc;
use todo_domain::{Notification, NotificationCreated, Reminder, ReminderKind};
use todo_guest::events::Event;
use todo_guest::types::CloudEvent;
use todo_guest::{log, notifications, processed, tx, StoreError};
use uuid::Uuid;

/// The component's name: its log prefix and its consumer name in `processed_event`.
const NAME: &str = "notification-handler";
const SOURCE: &str = "/notification-handler";

#[http_component]
fn handle(req: Request) -> Response {
    todo_guest::http::serve(&req, NAME, api::dispatch)
}

struct Handler;

impl event_handler::Guest for Handler {
    fn handle(topic: String, event: event_handler::Event, attempt: u32) -> Outcome {
        let event = CloudEvent::from(event);
        log::set_component(NAME);
        if topic != REMINDERS_TOPIC {
            log::dropping(&event.id, format_args!("unexpected topic {topic}"));
            return Outcome::Drop;
        }
        let reminder = match reminder_of(&event) {
            Ok(reminder) => reminder,
            Err(why) => {
                log::dropping(&event.id, why);
                return Outcome::Drop;
            }
        };
        match notify(&event.id, &reminder) {
            Ok(_) => Outcome::Success,
            Err(err) => {
                log::retrying(&event.id, attempt, err);
                Outcome::Retry
            }
        }
    }
}

export!(Handler);

/// The reminder an event carries. Its data decides; an envelope type that
/// names a reminder must agree with it.
fn reminder_of(event: &CloudEvent) -> Result<Reminder, String> {
    let reminder: Reminder = serde_json::from_slice(&event.data).map_err(|e| format!("not a reminder ({e})"))?;
    if reminder.user_id.trim().is_empty() {
        return Err("the reminder has no user".into());
    }
    match ReminderKind::from_event_type(&event.type_) {
        Some(kind) if kind != reminder.kind => {
            Err(format!("type {} but data of a {:?} reminder", event.type_, reminder.kind))
        }
        _ => Ok(reminder),
    }
}

/// Creates the reminder's notification and its event, once per event id:
/// `Ok(false)` when the event was handled before.
fn notify(event_id: &str, reminder: &Reminder) -> Result<bool, StoreError> {
    let now = now_utc();
    let notification = Notification::of_reminder(reminder, Uuid::new_v4(), now);
    tx::transaction(|tx| {
        if !processed::first_delivery(tx, event_id, NAME, now)? {
            return Ok(false);
        }
        notifications::insert(tx, &reminder.user_id, &notification, event_id)?;
        Event {
            id: Uuid::new_v4(),
            source: SOURCE,
            event_type: NOTIFICATION_CREATED,
            subject: Some(notification.id.to_string()),
            at: now,
            data: &NotificationCreated { user_id: reminder.user_id.clone(), notification: notification.clone() },
        }
        .publish_in(tx, TASK_UPDATES_TOPIC, &reminder.user_id)?;
        Ok(true)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use todo_guest::types::Timestamp;

    fn event(event_type: &str, data: &str) -> CloudEvent {
        CloudEvent {
            id: "e1".into(),
            source: "/reminder-checker".into(),
            type_: event_type.into(),
            subject: None,
            time: Timestamp { seconds: 0, nanoseconds: 0 },
            datacontenttype: "application/json".into(),
            data: data.as_bytes().to_vec(),
        }
    }

    const DATA: &str = r#"{"kind": "overdue", "task_id": "00000000-0000-0000-0000-000000000001",
        "user_id": "alice", "title": "t", "due_date": "2026-01-01T00:00:00Z"}"#;

    #[test]
    fn reminders_are_read_from_the_event_data() {
        let reminder = reminder_of(&event("reminder.overdue", DATA)).unwrap();
        assert_eq!(reminder.kind, ReminderKind::Overdue);
        assert_eq!(reminder.user_id, "alice");
        // An envelope type that is not a reminder's: the data decides.
        assert!(reminder_of(&event("other", DATA)).is_ok());
    }

    #[test]
    fn what_is_not_a_reminder_is_refused() {
        assert!(reminder_of(&event("reminder.upcoming", DATA)).unwrap_err().contains("reminder.upcoming"));
        assert!(reminder_of(&event("reminder.overdue", "not json")).unwrap_err().starts_with("not a reminder"));
        let nobody = DATA.replace("alice", " ");
        assert_eq!(reminder_of(&event("reminder.overdue", &nobody)).unwrap_err(), "the reminder has no user");
    }
}
