//! Reminders of due tasks: which tasks are due soon or overdue at a given
//! "now", the keys that make each reminder go out once, the data of the
//! `reminder.*` events on `reminders`, and the portable SQL of the scan.

use crate::query::{SqlFragment, SqlParam};
use crate::time::{self, format_utc};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const REMINDERS_TOPIC: &str = "reminders";
pub const REMINDER_UPCOMING: &str = "reminder.upcoming";
pub const REMINDER_OVERDUE: &str = "reminder.overdue";

/// A task is due soon when its due date falls within this after "now".
pub const UPCOMING_WINDOW: TimeDelta = TimeDelta::hours(1);
/// An upcoming reminder's key outlives the due date by this much, so it
/// cannot expire while the reminder could still be sent.
pub const UPCOMING_KEY_GRACE: TimeDelta = TimeDelta::days(1);
/// An overdue reminder's key is per UTC day; it outlives that day.
pub const OVERDUE_KEY_TTL_SECONDS: u32 = 2 * 24 * 60 * 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReminderKind {
    /// Due within the next hour.
    Upcoming,
    /// Due now or earlier, and not completed.
    Overdue,
}

impl ReminderKind {
    pub const fn event_type(self) -> &'static str {
        match self {
            Self::Upcoming => REMINDER_UPCOMING,
            Self::Overdue => REMINDER_OVERDUE,
        }
    }

    pub fn from_event_type(event_type: &str) -> Option<Self> {
        [Self::Upcoming, Self::Overdue].into_iter().find(|kind| kind.event_type() == event_type)
    }

    /// The reminder an incomplete task due at `due` gets at `now`, if any:
    /// overdue when `due <= now`, upcoming when `now < due <= now + 1 h`.
    pub fn at(due: DateTime<Utc>, now: DateTime<Utc>) -> Option<Self> {
        if due <= now {
            Some(Self::Overdue)
        } else if due <= now + UPCOMING_WINDOW {
            Some(Self::Upcoming)
        } else {
            None
        }
    }
}

/// The data of `reminder.upcoming` / `reminder.overdue`:
/// `{"kind", "task_id", "user_id", "title", "due_date"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reminder {
    pub kind: ReminderKind,
    pub task_id: Uuid,
    pub user_id: String,
    pub title: String,
    #[serde(with = "time::utc")]
    pub due_date: DateTime<Utc>,
}

impl Reminder {
    /// The reminder an incomplete task gets at `now`, if any.
    pub fn of_task(task: DueTask, now: DateTime<Utc>) -> Option<Self> {
        Some(Self {
            kind: ReminderKind::at(task.due_date, now)?,
            task_id: task.id,
            user_id: task.user_id,
            title: task.title,
            due_date: task.due_date,
        })
    }

    pub fn event_type(&self) -> &'static str {
        self.kind.event_type()
    }

    /// The state key that lets this reminder go out once: per task and due
    /// date when upcoming (a new due date is a new reminder), per task and
    /// UTC day of `now` when overdue.
    pub fn dedup_key(&self, now: DateTime<Utc>) -> String {
        match self.kind {
            ReminderKind::Upcoming => format!("reminder:upcoming:{}:{}", self.task_id, format_utc(self.due_date)),
            ReminderKind::Overdue => format!("reminder:overdue:{}:{}", self.task_id, now.format("%Y-%m-%d")),
        }
    }

    /// How long the key must live, in seconds from `now`: until a day after
    /// the due date for an upcoming reminder (after that the task is overdue
    /// and keyed by day), two days for an overdue one.
    pub fn dedup_ttl_seconds(&self, now: DateTime<Utc>) -> u32 {
        match self.kind {
            ReminderKind::Upcoming => {
                let seconds = (self.due_date + UPCOMING_KEY_GRACE - now).num_seconds();
                u32::try_from(seconds.max(1)).unwrap_or(u32::MAX)
            }
            ReminderKind::Overdue => OVERDUE_KEY_TTL_SECONDS,
        }
    }
}

/// An incomplete task with a due date, as the scan reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueTask {
    pub id: Uuid,
    pub user_id: String,
    pub title: String,
    pub due_date: DateTime<Utc>,
}

/// The columns `ReminderScan::to_sql` selects, in order.
pub const DUE_TASK_COLUMNS: &str = "id, user_id, title, due_date";

/// The checker's scan at `now`: every user's incomplete tasks due at or
/// before `now + 1 h` (the overdue and the due soon), in pages ordered by
/// (due date, id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReminderScan {
    pub now: DateTime<Utc>,
    pub page_size: u32,
}

impl ReminderScan {
    pub const DEFAULT_PAGE_SIZE: u32 = 200;

    pub fn new(now: DateTime<Utc>) -> Self {
        Self { now, page_size: Self::DEFAULT_PAGE_SIZE }
    }

    /// A whole `SELECT` of the page after `after` (the last task of the
    /// previous page), `page_size` rows at most. Stored timestamps are UTC
    /// text in one fixed format, so text order is time order.
    pub fn to_sql(&self, after: Option<&DueTask>) -> SqlFragment {
        let mut out = SqlFragment::default();
        let horizon = out.bind(SqlParam::Text(format_utc(self.now + UPCOMING_WINDOW)));
        // A literal FALSE, so SQLite can use the partial index `task_due_open`.
        let mut conditions =
            vec!["completed = FALSE".to_owned(), "due_date IS NOT NULL".to_owned(), format!("due_date <= {horizon}")];
        if let Some(last) = after {
            let due = out.bind(SqlParam::Text(format_utc(last.due_date)));
            let id = out.bind(SqlParam::Text(last.id.to_string()));
            conditions.push(format!("(due_date > {due} OR (due_date = {due} AND id > {id}))"));
        }
        let limit = out.bind(SqlParam::Integer(i64::from(self.page_size)));
        out.sql = format!(
            "SELECT {DUE_TASK_COLUMNS} FROM task WHERE {} ORDER BY due_date, id LIMIT {limit}",
            conditions.join(" AND ")
        );
        out
    }

    /// Whether a page of `rows` rows may be followed by another.
    pub fn is_full(&self, rows: usize) -> bool {
        rows >= self.page_size as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_utc;
    use serde_json::json;

    fn at(text: &str) -> DateTime<Utc> {
        parse_utc(text).unwrap()
    }

    fn due(text: &str) -> DueTask {
        DueTask {
            id: Uuid::from_u128(7),
            user_id: "alice".into(),
            title: "Water the plants".into(),
            due_date: at(text),
        }
    }

    const NOW: &str = "2026-03-10T08:00:00Z";

    #[test]
    fn due_soon_is_the_next_hour_and_overdue_is_up_to_now() {
        let now = at(NOW);
        let kind = |text: &str| ReminderKind::at(at(text), now);
        assert_eq!(kind("2026-03-10T07:00:00Z"), Some(ReminderKind::Overdue));
        assert_eq!(kind("2025-01-01T00:00:00Z"), Some(ReminderKind::Overdue));
        assert_eq!(kind(NOW), Some(ReminderKind::Overdue));
        assert_eq!(kind("2026-03-10T08:00:00.000001Z"), Some(ReminderKind::Upcoming));
        assert_eq!(kind("2026-03-10T08:30:00Z"), Some(ReminderKind::Upcoming));
        assert_eq!(kind("2026-03-10T09:00:00Z"), Some(ReminderKind::Upcoming));
        assert_eq!(kind("2026-03-10T09:00:00.000001Z"), None);
        assert_eq!(kind("2026-04-01T00:00:00Z"), None);
    }

    #[test]
    fn event_types() {
        assert_eq!(ReminderKind::Upcoming.event_type(), "reminder.upcoming");
        assert_eq!(ReminderKind::Overdue.event_type(), "reminder.overdue");
        for kind in [ReminderKind::Upcoming, ReminderKind::Overdue] {
            assert_eq!(ReminderKind::from_event_type(kind.event_type()), Some(kind));
        }
        assert_eq!(ReminderKind::from_event_type("reminder.later"), None);
    }

    #[test]
    fn upcoming_reminders_are_keyed_by_due_date() {
        let now = at(NOW);
        let r = Reminder::of_task(due("2026-03-10T08:30:00Z"), now).unwrap();
        assert_eq!(r.kind, ReminderKind::Upcoming);
        let key = "reminder:upcoming:00000000-0000-0000-0000-000000000007:2026-03-10T08:30:00.000000Z";
        assert_eq!(r.dedup_key(now), key);
        // The same at every later run before the due date...
        assert_eq!(r.dedup_key(at("2026-03-10T08:29:00Z")), key);
        // ...but not for another due date.
        let moved = Reminder::of_task(due("2026-03-10T08:45:00Z"), now).unwrap();
        assert_ne!(moved.dedup_key(now), key);
        // Lives until a day after the due date.
        assert_eq!(r.dedup_ttl_seconds(now), 30 * 60 + 24 * 3600);
    }

    #[test]
    fn overdue_reminders_are_keyed_by_utc_day() {
        let r = Reminder::of_task(due("2026-03-09T12:00:00Z"), at(NOW)).unwrap();
        assert_eq!(r.kind, ReminderKind::Overdue);
        let key = |now: &str| r.dedup_key(at(now));
        assert_eq!(key(NOW), "reminder:overdue:00000000-0000-0000-0000-000000000007:2026-03-10");
        assert_eq!(key("2026-03-10T23:59:59Z"), key("2026-03-10T00:00:00Z"));
        assert_ne!(key("2026-03-11T00:00:00Z"), key(NOW));
        assert_eq!(r.dedup_ttl_seconds(at(NOW)), 172_800);
    }

    #[test]
    fn tasks_due_later_get_no_reminder() {
        assert_eq!(Reminder::of_task(due("2026-03-10T10:00:00Z"), at(NOW)), None);
    }

    #[test]
    fn event_data_shape() {
        let r = Reminder::of_task(due("2026-03-10T08:30:00+01:00"), at(NOW)).unwrap();
        let data = serde_json::to_value(&r).unwrap();
        assert_eq!(
            data,
            json!({
                "kind": "overdue",
                "task_id": "00000000-0000-0000-0000-000000000007",
                "user_id": "alice",
                "title": "Water the plants",
                "due_date": "2026-03-10T07:30:00.000000Z",
            })
        );
        assert_eq!(serde_json::from_value::<Reminder>(data).unwrap(), r);
        for bad in [
            json!({"kind": "later", "task_id": Uuid::nil(), "user_id": "u", "title": "t", "due_date": NOW}),
            json!({"kind": "overdue", "task_id": "x", "user_id": "u", "title": "t", "due_date": NOW}),
            json!({"kind": "overdue", "task_id": Uuid::nil(), "user_id": "u", "title": "t"}),
            json!("overdue"),
        ] {
            assert!(serde_json::from_value::<Reminder>(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn scan_sql() {
        let scan = ReminderScan::new(at(NOW));
        let first = scan.to_sql(None);
        assert_eq!(
            first.sql,
            "SELECT id, user_id, title, due_date FROM task WHERE completed = FALSE AND due_date IS NOT NULL \
             AND due_date <= $1 ORDER BY due_date, id LIMIT $2"
        );
        assert_eq!(first.params, [SqlParam::Text("2026-03-10T09:00:00.000000Z".into()), SqlParam::Integer(200)]);
        let next = scan.to_sql(Some(&due("2026-03-10T08:30:00Z")));
        assert!(next.sql.contains("AND (due_date > $2 OR (due_date = $2 AND id > $3)) ORDER BY due_date, id LIMIT $4"));
        assert_eq!(next.params[1], SqlParam::Text("2026-03-10T08:30:00.000000Z".into()));
        assert_eq!(next.params[2], SqlParam::Text("00000000-0000-0000-0000-000000000007".into()));
        assert!(scan.is_full(200) && !scan.is_full(199));
    }
}
