//! Timestamps: RFC 3339 with any offset in, UTC with microseconds out.
//!
//! Stored timestamps are text, so one fixed format (`format_utc`) makes text
//! order time order on every backend.

use chrono::{DateTime, Datelike, SecondsFormat, SubsecRound, Utc};

/// The only way a timestamp is written: `2026-11-26T21:48:36.123456Z`.
pub fn format_utc(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Why a timestamp was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("must be an RFC 3339 date-time with an offset, such as 2026-01-31T09:00:00Z")]
    NotRfc3339,
    #[error("must fall between the years 0001 and 9999 in UTC")]
    OutOfRange,
}

/// Parses RFC 3339 with any offset into UTC, truncated to microseconds so that
/// the parsed value is exactly what `format_utc` stores.
pub fn parse_utc(text: &str) -> Result<DateTime<Utc>, TimeError> {
    let at =
        DateTime::parse_from_rfc3339(text).map_err(|_| TimeError::NotRfc3339)?.with_timezone(&Utc).trunc_subsecs(6);
    if (1..=9999).contains(&at.year()) {
        Ok(at)
    } else {
        Err(TimeError::OutOfRange)
    }
}

/// Now, at the stored precision.
pub fn now_utc() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// `#[serde(with = "crate::time::utc")]` for `DateTime<Utc>` fields.
pub mod utc {
    use super::{format_utc, parse_utc};
    use chrono::{DateTime, Utc};
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_utc(*at))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        parse_utc(&text).map_err(D::Error::custom)
    }
}

/// `#[serde(with = "crate::time::utc_option")]` for `Option<DateTime<Utc>>` fields.
pub mod utc_option {
    use super::{format_utc, parse_utc};
    use chrono::{DateTime, Utc};
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => s.serialize_str(&format_utc(*at)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        Option::<String>::deserialize(d)?.map(|text| parse_utc(&text).map_err(D::Error::custom)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn formats_with_microseconds_and_z() {
        let at = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(format_utc(at), "2026-01-02T03:04:05.000000Z");
    }

    #[test]
    fn parses_any_offset_into_utc() {
        let at = parse_utc("2026-03-01T01:30:00+02:00").unwrap();
        assert_eq!(format_utc(at), "2026-02-28T23:30:00.000000Z");
        let at = parse_utc("2026-03-01T01:30:00.5-00:30").unwrap();
        assert_eq!(format_utc(at), "2026-03-01T02:00:00.500000Z");
    }

    #[test]
    fn truncates_below_microseconds() {
        let at = parse_utc("2026-01-01T00:00:00.123456789Z").unwrap();
        assert_eq!(format_utc(at), "2026-01-01T00:00:00.123456Z");
        assert_eq!(parse_utc(&format_utc(at)).unwrap(), at);
    }

    #[test]
    fn refuses_what_is_not_rfc3339() {
        for text in
            ["", "2026-01-01", "2026-01-01T00:00:00", "tomorrow", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z"]
        {
            assert_eq!(parse_utc(text), Err(TimeError::NotRfc3339), "{text:?}");
        }
    }

    #[test]
    fn refuses_years_outside_four_digits_in_utc() {
        assert_eq!(parse_utc("9999-12-31T23:30:00-01:00"), Err(TimeError::OutOfRange));
        assert_eq!(parse_utc("0000-06-01T00:00:00Z"), Err(TimeError::OutOfRange));
        assert!(parse_utc("9999-12-31T23:59:59.999999Z").is_ok());
    }

    #[test]
    fn now_is_at_stored_precision() {
        let now = now_utc();
        assert_eq!(parse_utc(&format_utc(now)).unwrap(), now);
    }
}
