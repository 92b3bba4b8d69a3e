//! Timestamp spellings shared by the parsers.
//!
//! Services write time in many ways; these helpers accept the common ones and
//! return `None` for the rest, so the caller can fall back to the ingest time
//! and flag the record instead of rejecting it.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Utc};
use serde_json::{Number, Value};
use std::borrow::Cow;

/// Formats with an explicit offset (`+0100` or `+01:00`), tried after RFC 3339.
const OFFSET_FORMATS: [&str; 2] = ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z"];

/// Formats without an offset, read as UTC: the convention of Python's and
/// Java's default log formats when shipped from servers that run in UTC.
const NAIVE_FORMATS: [&str; 2] = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"];

/// Epoch values are told apart by magnitude: below 1e11 is seconds (until
/// the year 5138), below 1e14 milliseconds, below 1e17 microseconds, above
/// that nanoseconds. Each limit with its unit's ticks per second.
const UNITS: [(f64, i128); 4] = [
    (1e11, 1),
    (1e14, 1_000),
    (1e17, 1_000_000),
    (f64::INFINITY, 1_000_000_000),
];

/// A JSON timestamp: a string in any accepted spelling or an epoch number.
pub(super) fn from_json(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::String(s) => from_str(s),
        Value::Number(n) => from_number(n),
        _ => None,
    }
}

/// RFC 3339, `YYYY-MM-DD HH:MM:SS[.,]fff` with or without an offset, or a
/// decimal epoch number written as a string.
pub(super) fn from_str(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(ts) = DateTime::parse_from_rfc3339(text) {
        return Some(ts.to_utc());
    }
    // Only plain decimals: `f64::from_str` would also accept "inf" and "NaN".
    if text
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        let epoch = match text.parse::<i64>() {
            Ok(n) => from_epoch_int(n.into()),
            Err(_) => text.parse::<f64>().ok().and_then(from_epoch_float),
        };
        if epoch.is_some() {
            return epoch;
        }
    }
    // log4j and Python write a comma before the milliseconds; chrono wants a dot.
    let text = match text.as_bytes().get(19) {
        Some(b',') => Cow::Owned(text.replacen(',', ".", 1)),
        _ => Cow::Borrowed(text),
    };
    OFFSET_FORMATS
        .iter()
        .find_map(|f| DateTime::parse_from_str(&text, f).ok())
        .map(|ts| ts.to_utc())
        .or_else(|| {
            NAIVE_FORMATS
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(&text, f).ok())
                .map(|ts| ts.and_utc())
        })
}

/// `Nov 22 10:00:00` (BSD syslog style, no year): the year is the one that
/// puts the time closest to `now`.
pub(super) fn from_bsd(text: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    // 2000 is a leap year, so `Feb 29` parses whatever year it turns out to be.
    let with_year = format!(
        "2000 {}",
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    );
    let ts = NaiveDateTime::parse_from_str(&with_year, "%Y %b %d %H:%M:%S").ok()?;
    let year = year_for(ts.month(), now);
    NaiveDate::from_ymd_opt(year, ts.month(), ts.day())
        .map(|date| date.and_time(ts.time()).and_utc())
}

/// The year for a timestamp that carries only a month: this year, except that
/// a month far ahead of `now` (a December line read in January) is last year's.
pub(super) fn year_for(month: u32, now: DateTime<Utc>) -> i32 {
    if month > now.month() + 1 {
        now.year() - 1
    } else {
        now.year()
    }
}

fn from_number(n: &Number) -> Option<DateTime<Utc>> {
    if let Some(i) = n.as_i64() {
        from_epoch_int(i.into())
    } else if let Some(u) = n.as_u64() {
        from_epoch_int(u.into())
    } else {
        n.as_f64().and_then(from_epoch_float)
    }
}

/// Integer epochs are converted exactly, so nanosecond timestamps keep every
/// digit (an `f64` would round them).
fn from_epoch_int(value: i128) -> Option<DateTime<Utc>> {
    let magnitude = value.unsigned_abs() as f64;
    let (_, per_second) = UNITS.iter().find(|(limit, _)| magnitude < *limit)?;
    let seconds = i64::try_from(value.div_euclid(*per_second)).ok()?;
    let nanos = u32::try_from(value.rem_euclid(*per_second) * (1_000_000_000 / per_second)).ok()?;
    DateTime::from_timestamp(seconds, nanos)
}

fn from_epoch_float(value: f64) -> Option<DateTime<Utc>> {
    if !value.is_finite() {
        return None;
    }
    let (_, per_second) = UNITS.iter().find(|(limit, _)| value.abs() < *limit)?;
    let seconds = value / *per_second as f64;
    let whole = seconds.floor();
    // Rounding can reach a full second; clamp rather than roll over.
    let nanos = (((seconds - whole) * 1e9).round() as u32).min(999_999_999);
    // `as` saturates, and out-of-range seconds make `from_timestamp` return None.
    DateTime::from_timestamp(whole as i64, nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn reads_rfc3339_and_log_framework_spellings() {
        let want = utc("2026-11-22T10:00:00.123Z");
        for text in [
            "2026-11-22T10:00:00.123Z",
            "2026-11-22T11:00:00.123+01:00",
            "2026-11-22T11:00:00.123+0100",
            "2026-11-22 10:00:00.123Z",
            "2026-11-22 10:00:00,123",
            "2026-11-22 10:00:00.123",
            "2026-11-22T10:00:00.123",
            " 2026-11-22 10:00:00.123000 ",
        ] {
            assert_eq!(from_str(text), Some(want), "{text}");
        }
        assert_eq!(
            from_str("2026-11-22 10:00:00"),
            Some(utc("2026-11-22T10:00:00Z"))
        );
    }

    #[test]
    fn reads_epochs_by_magnitude() {
        let want = utc("2026-11-22T10:00:00Z");
        let secs = want.timestamp();
        for value in [
            Value::from(secs),
            Value::from(secs * 1_000),
            Value::from(secs * 1_000_000),
            Value::from(secs * 1_000_000_000),
            Value::from(secs as f64),
            Value::from(secs.to_string()),
        ] {
            assert_eq!(from_json(&value), Some(want), "{value}");
        }
        assert_eq!(
            from_json(&Value::from(secs as f64 + 0.25)),
            Some(utc("2026-11-22T10:00:00.25Z"))
        );
        assert_eq!(
            from_json(&Value::from(1_795_341_600_123_456_789_i64)),
            DateTime::from_timestamp(1_795_341_600, 123_456_789)
        );
    }

    #[test]
    fn rejects_what_it_cannot_read() {
        for value in [
            Value::from("yesterday"),
            Value::from("2026-13-45 10:00:00"),
            Value::from(""),
            Value::from("-"),
            Value::from(f64::MAX),
            Value::Bool(true),
            serde_json::json!({"t": 1}),
        ] {
            assert_eq!(from_json(&value), None, "{value}");
        }
    }

    #[test]
    fn bsd_timestamps_take_the_nearest_year() {
        let now = utc("2026-11-22T12:00:00Z");
        assert_eq!(
            from_bsd("Nov 22 10:00:00", now),
            Some(utc("2026-11-22T10:00:00Z"))
        );
        assert_eq!(
            from_bsd("Nov  2 10:00:00", now),
            Some(utc("2026-11-02T10:00:00Z"))
        );
        let january = utc("2027-01-01T00:00:05Z");
        assert_eq!(
            from_bsd("Dec 31 23:59:59", january),
            Some(utc("2026-12-31T23:59:59Z"))
        );
        assert_eq!(from_bsd("Feb 30 10:00:00", now), None);
    }
}
