//! The reminder checker, a scheduled job. At each tick it scans every user's
//! incomplete tasks due within the next hour or already overdue (the tick's
//! scheduled time is "now", never the wall clock) and publishes
//! `reminder.upcoming` / `reminder.overdue` on `reminders`.
//!
//! Each reminder goes out once however often the job runs and however many
//! host replicas run it: only the caller that wins `state.set-if-absent` on
//! the reminder's key publishes (see `todo_domain::reminder` for the keys and
//! how long they live). If publishing fails the key is deleted again, so the
//! next tick retries.

// Only the export is generated here; the imports are todo-guest's bindings.
todo_guest::generate_exports!("todo:platform/scheduled-component");

use chrono::{DateTime, Utc};
use exports::todo::platform::scheduled_job;
use todo_domain::reminder::REMINDERS_TOPIC;
use todo_domain::time::{format_utc, parse_utc};
use todo_domain::{ApiError, DueTask, Reminder, ReminderScan};
use todo_guest::db::{self, Autocommit, Cells};
use todo_guest::events::Event;
use todo_guest::sql::Value;
use todo_guest::{log, state};
use uuid::Uuid;

const NAME: &str = "reminder-checker";
const SOURCE: &str = "/reminder-checker";

struct Checker;

impl scheduled_job::Guest for Checker {
    fn run(scheduled_time: String) -> Result<(), String> {
        log::set_component(NAME);
        let now = parse_utc(&scheduled_time)
            .map_err(|e| format!("scheduled time {scheduled_time:?}: {e}"))?;
        check(now)
    }
}

export!(Checker);

/// One run at `now`: every due reminder not sent yet is sent. A reminder
/// that fails is reported (and retried by the next run); the others still go.
fn check(now: DateTime<Utc>) -> Result<(), String> {
    let scan = ReminderScan::new(now);
    let mut last: Option<DueTask> = None;
    let (mut sent, mut failures) = (0usize, Vec::new());
    loop {
        let page = db::select(&Autocommit, scan.to_sql(last.as_ref()), decode_due_task)
            .map_err(|e| format!("scanning due tasks: {e}"))?;
        let full = scan.is_full(page.len());
        for task in &page {
            let Some(reminder) = Reminder::of_task(task.clone(), now) else {
                continue;
            };
            match send_once(&reminder, now) {
                Ok(true) => sent += 1,
                Ok(false) => {}
                Err(e) => failures.push(format!("task {}: {e}", reminder.task_id)),
            }
        }
        last = page.last().cloned();
        if !full {
            break;
        }
    }
    if sent > 0 {
        log::line(format_args!(
            "{sent} reminder(s) sent for {}",
            format_utc(now)
        ));
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} reminder(s) not sent, retried next run: {}",
            failures.len(),
            failures.join("; ")
        ))
    }
}

/// Publishes `reminder` if this caller is the first to claim its key:
/// `Ok(true)` sent, `Ok(false)` already sent (by an earlier run or another
/// replica).
fn send_once(reminder: &Reminder, now: DateTime<Utc>) -> Result<bool, String> {
    let key = reminder.dedup_key(now);
    let claimed = state::set_if_absent(
        &key,
        format_utc(now).as_bytes(),
        Some(reminder.dedup_ttl_seconds(now)),
    )
    .map_err(|e| format!("claiming {key}: {e:?}"))?;
    if !claimed {
        return Ok(false);
    }
    let event = Event {
        id: Uuid::new_v4(),
        source: SOURCE,
        event_type: reminder.event_type(),
        subject: Some(reminder.task_id.to_string()),
        at: now,
        data: reminder,
    };
    if let Err(err) = event.publish(REMINDERS_TOPIC, &reminder.user_id, None) {
        // Not sent: release the key so that the next run tries again.
        if let Err(e) = state::delete(&key) {
            log::line(format_args!("releasing {key}: {e:?}"));
        }
        return Err(format!("publishing: {err}"));
    }
    Ok(true)
}

/// A row of `todo_domain::reminder::DUE_TASK_COLUMNS`.
fn decode_due_task(row: &[Value]) -> Result<DueTask, ApiError> {
    let mut cells = Cells::new(row);
    Ok(DueTask {
        id: cells.parsed(Uuid::parse_str)?,
        user_id: cells.text()?.to_owned(),
        title: cells.text()?.to_owned(),
        due_date: cells.parsed(parse_utc)?,
    })
}
