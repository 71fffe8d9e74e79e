//! The reminder checker, a scheduled job. At each tick it scans every user's
//! incomplete tasks due within the next hour or already overdue (the tick's
//! scheduled time is "now", never the wall clock) and publishes
//! `reminder.upcoming` / `reminder.overdue` on `reminders`.
//!
//! Each reminder goes out once however often the job runs and however many
//! host replicas run it: only the caller that wins `set-if-absent` on the
//! reminder's key in the "default" state store publishes (see
//! `todo_domain::reminder` for the keys and how long they live). If
//! publishing fails the key is deleted again, so the next tick retries.
//!
//! A run that could not do everything fails with `job-error.unavailable`
//! when only unavailable dependencies stood in the way (the next tick picks
//! the work up), and with `job-error.failed` otherwise.

// Only the export is generated here; the imports are todo-guest's bindings.
todo_guest::generate_exports!("todo:platform/scheduled-component");

use chrono::{DateTime, Datelike, SubsecRound, Utc};
use exports::todo::platform::scheduled_job::{self, JobError};
use todo_domain::reminder::REMINDERS_TOPIC;
use todo_domain::time::{format_utc, parse_utc};
use todo_domain::{DueTask, Reminder, ReminderScan};
use todo_guest::db::{self, Autocommit, Cells};
use todo_guest::events::Event;
use todo_guest::sql::Value;
use todo_guest::time::from_timestamp;
use todo_guest::types::Timestamp;
use todo_guest::{kv, log, StoreError};
use uuid::Uuid;

const NAME: &str = "reminder-checker";
const SOURCE: &str = "/reminder-checker";

struct Checker;

impl scheduled_job::Guest for Checker {
    fn run(scheduled_time: Timestamp) -> Result<(), JobError> {
        log::set_component(NAME);
        let now = scheduled_now(scheduled_time).map_err(JobError::Failed)?;
        check(now)
    }
}

export!(Checker);

/// "Now" for the tick scheduled at `at`, at the stored precision
/// (microseconds) and within the years every stored timestamp has.
fn scheduled_now(at: Timestamp) -> Result<DateTime<Utc>, String> {
    from_timestamp(at)
        .map(|now| now.trunc_subsecs(6))
        .filter(|now| (1..=9999).contains(&now.year()))
        .ok_or_else(|| format!("scheduled time {}s {}ns is out of range", at.seconds, at.nanoseconds))
}

/// Something a run could not do, and why.
#[derive(Debug)]
struct Failure {
    /// Only a dependency was unavailable: a later run may succeed.
    transient: bool,
    message: String,
}

impl Failure {
    fn of(what: impl std::fmt::Display, err: &StoreError) -> Self {
        Self { transient: err.is_transient(), message: format!("{what}: {err}") }
    }
}

/// The job's error for what it could not do: `unavailable` when every
/// failure was an unavailable dependency, else `failed`.
fn job_error(failures: &[Failure], message: String) -> JobError {
    if failures.iter().all(|f| f.transient) {
        JobError::Unavailable(message)
    } else {
        JobError::Failed(message)
    }
}

/// One run at `now`: every due reminder not sent yet is sent. A reminder
/// that fails is reported (and retried by the next run); the others still go.
fn check(now: DateTime<Utc>) -> Result<(), JobError> {
    let scan = ReminderScan::new(now);
    let mut last: Option<DueTask> = None;
    let (mut sent, mut failures) = (0usize, Vec::new());
    loop {
        let page = db::select(&Autocommit, scan.to_sql(last.as_ref()), decode_due_task).map_err(|e| {
            let failure = Failure::of("scanning due tasks", &e);
            job_error(std::slice::from_ref(&failure), failure.message.clone())
        })?;
        let full = scan.is_full(page.len());
        for task in &page {
            let Some(reminder) = Reminder::of_task(task.clone(), now) else {
                continue;
            };
            match send_once(&reminder, now) {
                Ok(true) => sent += 1,
                Ok(false) => {}
                Err(failure) => failures
                    .push(Failure { message: format!("task {}: {}", reminder.task_id, failure.message), ..failure }),
            }
        }
        last = page.last().cloned();
        if !full {
            break;
        }
    }
    if sent > 0 {
        log::line(format_args!("{sent} reminder(s) sent for {}", format_utc(now)));
    }
    if failures.is_empty() {
        return Ok(());
    }
    let messages: Vec<&str> = failures.iter().map(|f| f.message.as_str()).collect();
    let message = format!("{} reminder(s) not sent, retried next run: {}", failures.len(), messages.join("; "));
    Err(job_error(&failures, message))
}

/// Publishes `reminder` if this caller is the first to claim its key:
/// `Ok(true)` sent, `Ok(false)` already sent (by an earlier run or another
/// replica).
fn send_once(reminder: &Reminder, now: DateTime<Utc>) -> Result<bool, Failure> {
    let key = reminder.dedup_key(now);
    let store = kv::store().map_err(|e| Failure::of("opening the state store", &e))?;
    let claimed = store
        .set_if_absent(&key, format_utc(now).as_bytes(), Some(reminder.dedup_ttl_seconds(now)))
        .map_err(|e| Failure::of(format_args!("claiming {key}"), &e.into()))?;
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
    if let Err(err) = event.publish(REMINDERS_TOPIC, &reminder.user_id) {
        // Not sent: release the key so that the next run tries again.
        if let Err(e) = store.delete(&key) {
            log::line(format_args!("releasing {key}: {}", StoreError::from(e)));
        }
        return Err(Failure::of("publishing", &err));
    }
    Ok(true)
}

/// A row of `todo_domain::reminder::DUE_TASK_COLUMNS`.
fn decode_due_task(row: &[Value]) -> Result<DueTask, StoreError> {
    let mut cells = Cells::new(row);
    Ok(DueTask {
        id: cells.parsed(Uuid::parse_str)?,
        user_id: cells.text()?.to_owned(),
        title: cells.text()?.to_owned(),
        due_date: cells.parsed(parse_utc)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use todo_guest::{sql, Backend};

    #[test]
    fn now_is_the_scheduled_time_at_stored_precision() {
        let at = Timestamp { seconds: 1_893_553_445, nanoseconds: 123_456_789 };
        assert_eq!(format_utc(scheduled_now(at).unwrap()), "2030-01-02T03:04:05.123456Z");
        for bad in [
            Timestamp { seconds: 0, nanoseconds: 1_000_000_000 },
            // Year 10000.
            Timestamp { seconds: 253_402_300_800, nanoseconds: 0 },
            Timestamp { seconds: u64::MAX, nanoseconds: 0 },
        ] {
            assert!(scheduled_now(bad).is_err(), "{}", bad.seconds);
        }
    }

    fn failure(err: StoreError) -> Failure {
        Failure::of("task x", &err)
    }

    #[test]
    fn only_unavailable_dependencies_make_a_run_unavailable() {
        let unavailable = || failure(StoreError::Unavailable { backend: Backend::State, reason: "down".into() });
        let deadline = || failure(sql::Error::DeadlineExceeded.into());
        let bug = || failure(StoreError::corrupt("expected text"));
        let denied = || failure(StoreError::from(todo_guest::pubsub::Error::AccessDenied("reminders".into())));
        assert!(matches!(
            job_error(&[unavailable(), deadline()], "m".into()),
            JobError::Unavailable(m) if m == "m"
        ));
        assert!(matches!(job_error(&[unavailable(), bug()], "m".into()), JobError::Failed(_)));
        assert!(matches!(job_error(&[denied()], "m".into()), JobError::Failed(_)));
        assert_eq!(unavailable().message, "task x: state store unavailable: down");
    }

    #[test]
    fn due_task_rows_decode() {
        let row = [
            Value::Text("00000000-0000-0000-0000-000000000001".into()),
            Value::Text("alice".into()),
            Value::Text("t".into()),
            Value::Text("2026-01-01T00:00:00.000000Z".into()),
        ];
        let task = decode_due_task(&row).unwrap();
        assert_eq!(task.user_id, "alice");
        assert!(matches!(decode_due_task(&row[..3]), Err(StoreError::Corrupt(_))));
    }
}
