//! Typed times: `chrono::DateTime<Utc>` and the platform's `timestamp`
//! (seconds and nanoseconds since 1970-01-01T00:00:00Z).

use crate::types::Timestamp;
use chrono::{DateTime, Utc};

/// `at` as a timestamp; `None` before 1970, which a timestamp cannot hold.
pub fn to_timestamp(at: DateTime<Utc>) -> Option<Timestamp> {
    Some(Timestamp {
        seconds: u64::try_from(at.timestamp()).ok()?,
        // chrono counts a leap second as nanoseconds past 1e9.
        nanoseconds: at.timestamp_subsec_nanos().min(999_999_999),
    })
}

/// The time a timestamp names; `None` for nanoseconds of 1e9 or more, or a
/// time beyond what `DateTime` holds.
pub fn from_timestamp(at: Timestamp) -> Option<DateTime<Utc>> {
    if at.nanoseconds >= 1_000_000_000 {
        return None;
    }
    DateTime::from_timestamp(i64::try_from(at.seconds).ok()?, at.nanoseconds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use todo_domain::time::{format_utc, parse_utc};

    fn ts(seconds: u64, nanoseconds: u32) -> Timestamp {
        Timestamp { seconds, nanoseconds }
    }

    #[test]
    fn round_trips_to_the_nanosecond() {
        let at = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.123456789Z").unwrap().with_timezone(&Utc);
        let t = to_timestamp(at).unwrap();
        assert_eq!((t.seconds, t.nanoseconds), (1_767_323_045, 123_456_789));
        assert_eq!(from_timestamp(t), Some(at));
    }

    #[test]
    fn the_epoch_and_beyond() {
        assert_eq!(format_utc(from_timestamp(ts(0, 0)).unwrap()), "1970-01-01T00:00:00.000000Z");
        assert_eq!(from_timestamp(ts(1_893_553_445, 0)), Some(parse_utc("2030-01-02T03:04:05Z").unwrap()));
        assert!(from_timestamp(ts(0, 1_000_000_000)).is_none());
        assert!(from_timestamp(ts(u64::MAX, 0)).is_none());
        assert!(to_timestamp(parse_utc("1969-12-31T23:59:59Z").unwrap()).is_none());
    }
}
