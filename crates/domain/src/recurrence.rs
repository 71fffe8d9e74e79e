//! Recurring tasks: the pattern and the arithmetic of the next due date.

use crate::task::Task;
use chrono::{DateTime, Days, Months, Utc};
use serde::de::{Error as _, Unexpected};
use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

/// The largest `interval` a pattern accepts.
pub const MAX_INTERVAL: u32 = 365;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Frequency {
    Daily,
    Weekly,
    Monthly,
}

/// `{"frequency": "weekly", "interval": 2}`: every `interval` units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(try_from = "RawPattern")]
pub struct RecurrencePattern {
    frequency: Frequency,
    interval: u32,
}

/// The wire shape, checked by `TryFrom`. `interval` defaults to 1.
#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(rename = "RecurrencePattern", description = "Every `interval` days, weeks or months.")
)]
#[serde(deny_unknown_fields)]
struct RawPattern {
    frequency: Frequency,
    #[serde(default = "one", deserialize_with = "integer")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 365)))]
    interval: i64,
}

fn one() -> i64 {
    1
}

/// JSON has one kind of number: `7.0` is the integer 7 (as JSON Schema
/// counts it), not a type error; `7.5` is not an integer.
fn integer<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let number = serde_json::Number::deserialize(d)?;
    let integral = |f: f64| (f.fract() == 0.0 && f.abs() < 9.2e18).then_some(f as i64);
    number
        .as_i64()
        .or_else(|| number.as_f64().and_then(integral))
        .ok_or_else(|| D::Error::invalid_value(Unexpected::Other(&number.to_string()), &"an integer"))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("interval must be between 1 and {MAX_INTERVAL}, got {0}")]
pub struct IntervalError(pub i64);

impl TryFrom<RawPattern> for RecurrencePattern {
    type Error = IntervalError;

    fn try_from(raw: RawPattern) -> Result<Self, Self::Error> {
        Self::new(raw.frequency, raw.interval)
    }
}

impl RecurrencePattern {
    pub fn new(frequency: Frequency, interval: i64) -> Result<Self, IntervalError> {
        match u32::try_from(interval) {
            Ok(n) if (1..=MAX_INTERVAL).contains(&n) => Ok(Self { frequency, interval: n }),
            _ => Err(IntervalError(interval)),
        }
    }

    pub fn frequency(&self) -> Frequency {
        self.frequency
    }

    pub fn interval(&self) -> u32 {
        self.interval
    }
}

/// The due date of the occurrence after one due at `from`: `interval` days,
/// weeks or months later, at the same time of day (UTC). Months keep the day
/// of the month, clamped to the last day of a shorter month (Jan 31 + 1 month
/// = Feb 28, or 29 in a leap year). Saturates at chrono's maximum date,
/// which dates with four-digit years never reach.
pub fn next_due(pattern: &RecurrencePattern, from: DateTime<Utc>) -> DateTime<Utc> {
    let n = u64::from(pattern.interval);
    let next = match pattern.frequency {
        Frequency::Daily => from.checked_add_days(Days::new(n)),
        Frequency::Weekly => from.checked_add_days(Days::new(7 * n)),
        // chrono clamps to the month's last day, exactly our rule.
        Frequency::Monthly => from.checked_add_months(Months::new(pattern.interval)),
    };
    next.unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The task that follows `done`, a recurring task completed at
/// `completed_at`: the same title, description, tags, priority and pattern,
/// not completed, child of `done` (`parent_task_id`), due one step of the
/// pattern after `done`'s due date — or, when `done` had none, one step after
/// its completion. `None` when `done` does not recur.
pub fn next_occurrence(done: &Task, completed_at: DateTime<Utc>, id: Uuid, now: DateTime<Utc>) -> Option<Task> {
    let pattern = done.recurrence_pattern?;
    let from = done.due_date.unwrap_or(completed_at);
    Some(Task {
        id,
        title: done.title.clone(),
        description: done.description.clone(),
        completed: false,
        priority: done.priority,
        tags: done.tags.clone(),
        due_date: Some(next_due(&pattern, from)),
        recurrence_pattern: Some(pattern),
        parent_task_id: Some(done.id),
        created_at: now,
        updated_at: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{format_utc, parse_utc};
    use serde_json::json;

    fn pattern(frequency: Frequency, interval: i64) -> RecurrencePattern {
        RecurrencePattern::new(frequency, interval).unwrap()
    }

    fn next(frequency: Frequency, interval: i64, from: &str) -> String {
        format_utc(next_due(&pattern(frequency, interval), parse_utc(from).unwrap()))
    }

    #[test]
    fn daily_adds_days_keeping_the_time() {
        assert_eq!(next(Frequency::Daily, 1, "2026-01-31T09:15:00Z"), "2026-02-01T09:15:00.000000Z");
        assert_eq!(next(Frequency::Daily, 3, "2026-12-30T23:59:59.5Z"), "2027-01-02T23:59:59.500000Z");
    }

    #[test]
    fn daily_crosses_leap_days() {
        assert_eq!(next(Frequency::Daily, 1, "2028-02-28T08:00:00Z"), "2028-02-29T08:00:00.000000Z");
        assert_eq!(next(Frequency::Daily, 1, "2027-02-28T08:00:00Z"), "2027-03-01T08:00:00.000000Z");
        assert_eq!(next(Frequency::Daily, 365, "2028-01-01T00:00:00Z"), "2028-12-31T00:00:00.000000Z");
    }

    #[test]
    fn weekly_adds_seven_days_per_interval() {
        assert_eq!(next(Frequency::Weekly, 1, "2026-12-28T10:00:00Z"), "2027-01-04T10:00:00.000000Z");
        assert_eq!(next(Frequency::Weekly, 2, "2028-02-20T10:00:00Z"), "2028-03-05T10:00:00.000000Z");
    }

    #[test]
    fn monthly_keeps_the_day_of_month() {
        assert_eq!(next(Frequency::Monthly, 1, "2026-01-15T07:30:00Z"), "2026-02-15T07:30:00.000000Z");
        assert_eq!(next(Frequency::Monthly, 3, "2026-05-10T07:30:00Z"), "2026-08-10T07:30:00.000000Z");
    }

    #[test]
    fn monthly_clamps_to_the_last_day() {
        assert_eq!(next(Frequency::Monthly, 1, "2026-01-31T12:00:00Z"), "2026-02-28T12:00:00.000000Z");
        assert_eq!(next(Frequency::Monthly, 1, "2028-01-31T12:00:00Z"), "2028-02-29T12:00:00.000000Z");
        assert_eq!(next(Frequency::Monthly, 1, "2026-03-31T12:00:00Z"), "2026-04-30T12:00:00.000000Z");
        assert_eq!(next(Frequency::Monthly, 12, "2028-02-29T12:00:00Z"), "2029-02-28T12:00:00.000000Z");
        assert_eq!(next(Frequency::Monthly, 48, "2028-02-29T12:00:00Z"), "2032-02-29T12:00:00.000000Z");
    }

    #[test]
    fn monthly_does_not_carry_a_clamp_forward() {
        // Each step starts from the previous due date, so after clamping to
        // Feb 28 the series continues on the 28th.
        let p = pattern(Frequency::Monthly, 1);
        let feb = next_due(&p, parse_utc("2026-01-31T00:00:00Z").unwrap());
        assert_eq!(format_utc(next_due(&p, feb)), "2026-03-28T00:00:00.000000Z");
    }

    #[test]
    fn monthly_crosses_the_year() {
        assert_eq!(next(Frequency::Monthly, 1, "2026-12-31T23:00:00Z"), "2027-01-31T23:00:00.000000Z");
        assert_eq!(next(Frequency::Monthly, 12, "2026-12-05T00:00:00Z"), "2027-12-05T00:00:00.000000Z");
        assert_eq!(next(Frequency::Monthly, 13, "2026-11-30T00:00:00Z"), "2027-12-30T00:00:00.000000Z");
    }

    #[test]
    fn saturates_instead_of_overflowing() {
        assert_eq!(next_due(&pattern(Frequency::Monthly, 365), DateTime::<Utc>::MAX_UTC), DateTime::<Utc>::MAX_UTC);
    }

    fn recurring(body: serde_json::Value) -> Task {
        let mut task = crate::NewTask::from_json(body.to_string().as_bytes())
            .unwrap()
            .into_task(Uuid::from_u128(1), parse_utc("2026-01-01T00:00:00Z").unwrap());
        task.completed = true;
        task.updated_at = parse_utc("2026-01-05T10:00:00Z").unwrap();
        task
    }

    #[test]
    fn next_occurrence_copies_the_task_and_advances_the_due_date() {
        let done = recurring(json!({
            "title": "Water plants", "description": "the ferns too", "priority": "high",
            "tags": ["home", "garden"], "due_date": "2026-01-04T08:00:00Z",
            "recurrence_pattern": {"frequency": "weekly", "interval": 2},
        }));
        let now = parse_utc("2026-01-05T10:00:01Z").unwrap();
        let next = next_occurrence(&done, done.updated_at, Uuid::from_u128(2), now).unwrap();
        assert_eq!(
            next,
            Task {
                id: Uuid::from_u128(2),
                completed: false,
                due_date: Some(parse_utc("2026-01-18T08:00:00Z").unwrap()),
                parent_task_id: Some(done.id),
                created_at: now,
                updated_at: now,
                ..done.clone()
            }
        );
    }

    #[test]
    fn next_occurrence_of_an_undated_task_counts_from_its_completion() {
        let done = recurring(json!({"title": "t", "recurrence_pattern": {"frequency": "daily", "interval": 3}}));
        let next = next_occurrence(&done, done.updated_at, Uuid::from_u128(2), done.updated_at).unwrap();
        assert_eq!(next.due_date, Some(parse_utc("2026-01-08T10:00:00Z").unwrap()));

        let done = recurring(json!({"title": "t", "recurrence_pattern": {"frequency": "monthly"}}));
        let completed_at = parse_utc("2026-01-31T23:00:00Z").unwrap();
        let next = next_occurrence(&done, completed_at, Uuid::from_u128(2), completed_at).unwrap();
        assert_eq!(next.due_date, Some(parse_utc("2026-02-28T23:00:00Z").unwrap()));
    }

    #[test]
    fn a_task_without_a_pattern_has_no_next_occurrence() {
        let done = recurring(json!({"title": "t", "due_date": "2026-01-04T08:00:00Z"}));
        assert_eq!(next_occurrence(&done, done.updated_at, Uuid::from_u128(2), done.updated_at), None);
    }

    #[test]
    fn interval_bounds() {
        assert!(RecurrencePattern::new(Frequency::Daily, 1).is_ok());
        assert!(RecurrencePattern::new(Frequency::Daily, 365).is_ok());
        for bad in [0, -1, 366, i64::MAX] {
            assert_eq!(RecurrencePattern::new(Frequency::Daily, bad), Err(IntervalError(bad)));
        }
    }

    #[test]
    fn serializes_as_frequency_and_interval() {
        assert_eq!(
            serde_json::to_value(pattern(Frequency::Weekly, 2)).unwrap(),
            json!({"frequency": "weekly", "interval": 2})
        );
    }

    #[test]
    fn deserializes_with_checks() {
        let p: RecurrencePattern = serde_json::from_value(json!({"frequency": "monthly", "interval": 12})).unwrap();
        assert_eq!((p.frequency(), p.interval()), (Frequency::Monthly, 12));
        let p: RecurrencePattern = serde_json::from_value(json!({"frequency": "daily"})).unwrap();
        assert_eq!(p.interval(), 1);
        for bad in [
            json!({"frequency": "yearly", "interval": 1}),
            json!({"frequency": "daily", "interval": 0}),
            json!({"frequency": "daily", "interval": 366}),
            json!({"frequency": "daily", "interval": 1.5}),
            json!({"frequency": "daily", "interval": "2"}),
            json!({"interval": 2}),
            json!({"frequency": "daily", "interval": 1, "until": "x"}),
        ] {
            assert!(serde_json::from_value::<RecurrencePattern>(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn intervals_are_integers_however_written() {
        let parse = |json: &str| serde_json::from_str::<RecurrencePattern>(json);
        assert_eq!(parse(r#"{"frequency": "daily", "interval": 7.0}"#).unwrap().interval(), 7);
        assert_eq!(parse(r#"{"frequency": "daily", "interval": 7}"#).unwrap().interval(), 7);
        assert!(parse(r#"{"frequency": "daily", "interval": 7.5}"#).unwrap_err().to_string().contains("an integer"));
        assert!(parse(r#"{"frequency": "daily", "interval": "7"}"#).is_err());
        assert!(parse(r#"{"frequency": "daily", "interval": 366.0}"#).is_err());
        assert!(parse(r#"{"frequency": "daily", "interval": 1e300}"#).is_err());
    }
}
