//! The query model shared by the store backends, the CLI and the API:
//! filters, time specifications, limits and opaque paging cursors.

use crate::Level;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};

/// The most records one page may hold, whatever the caller asks for.
pub const MAX_LIMIT: usize = 1000;
/// The page size when the caller does not say.
pub const DEFAULT_LIMIT: usize = 100;

/// A query parameter that could not be understood; names the parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("invalid time {value:?} for {param}: expected RFC 3339 (2026-11-22T10:00:00Z) or a relative time such as 15m, 1h, 7d")]
    Time { param: &'static str, value: String },
    #[error("invalid cursor: it must be a value returned as next_cursor by a previous search")]
    Cursor,
    #[error("invalid limit {0}: must be between 1 and {MAX_LIMIT}")]
    Limit(usize),
    #[error("invalid interval {0:?}: expected a duration such as 30s, 5m, 1h, 1d")]
    Interval(String),
    #[error("invalid time range: from ({from}) is after to ({to})")]
    Range {
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    },
    #[error("invalid query: {0}")]
    Text(String),
}

/// Longest query text accepted.
pub const MAX_QUERY_BYTES: usize = 2048;
/// Most nested groups and prefix operators (`NOT`, `+`, `-`) a query may
/// have. The query parser recurses once for each, so without a bound a
/// crafted query could exhaust a thread's stack and abort the process.
pub const MAX_QUERY_NESTING: usize = 32;

/// Refuses query text too long or too deeply nested to parse safely.
fn check_text(text: &str) -> Result<(), QueryError> {
    if text.len() > MAX_QUERY_BYTES {
        return Err(QueryError::Text(format!(
            "the query is {} bytes long; at most {MAX_QUERY_BYTES} are accepted",
            text.len()
        )));
    }
    let (mut depth, mut deepest, mut prefix_ops) = (0usize, 0usize, 0usize);
    let mut prev: Option<char> = None;
    for c in text.chars() {
        match c {
            '(' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ')' => depth = depth.saturating_sub(1),
            '+' | '-' if prev.is_none_or(|p| p.is_whitespace() || p == '(') => prefix_ops += 1,
            _ => {}
        }
        prev = Some(c);
    }
    prefix_ops += text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| *w == "NOT")
        .count();
    if deepest + prefix_ops > MAX_QUERY_NESTING {
        return Err(QueryError::Text(format!(
            "the query nests groups or NOT/+/- operators more than {MAX_QUERY_NESTING} deep"
        )));
    }
    Ok(())
}

/// Which records a query or aggregation covers. Empty lists and `None`
/// mean "no restriction".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogFilter {
    /// Full-text query over the message (tantivy / Lucene query syntax:
    /// words, `"phrases"`, `AND`/`OR`/`NOT`, `field:value`).
    pub text: Option<String>,
    pub services: Vec<String>,
    pub levels: Vec<Level>,
    pub host: Option<String>,
    pub correlation_id: Option<String>,
    /// Inclusive lower bound.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive upper bound.
    pub to: Option<DateTime<Utc>>,
}

impl LogFilter {
    /// Checks that the time range is not inverted.
    pub fn validate(&self) -> Result<(), QueryError> {
        if let Some(text) = &self.text {
            check_text(text)?;
        }
        match (self.from, self.to) {
            (Some(from), Some(to)) if from > to => Err(QueryError::Range { from, to }),
            _ => Ok(()),
        }
    }
}

/// A search: a filter, a page size and where to continue from.
#[derive(Debug, Clone, PartialEq)]
pub struct LogQuery {
    pub filter: LogFilter,
    pub limit: usize,
    pub cursor: Option<Cursor>,
}

impl Default for LogQuery {
    fn default() -> Self {
        LogQuery {
            filter: LogFilter::default(),
            limit: DEFAULT_LIMIT,
            cursor: None,
        }
    }
}

impl LogQuery {
    /// A query whose limit is checked against [`MAX_LIMIT`].
    pub fn new(
        filter: LogFilter,
        limit: usize,
        cursor: Option<Cursor>,
    ) -> Result<Self, QueryError> {
        if limit == 0 || limit > MAX_LIMIT {
            return Err(QueryError::Limit(limit));
        }
        filter.validate()?;
        Ok(LogQuery {
            filter,
            limit,
            cursor,
        })
    }
}

/// The position after the last record of a page. Results are ordered by
/// (timestamp, seq) descending, where `seq` is [`crate::RecordId::seq`], so
/// the order is total and pages never overlap or skip records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor {
    pub timestamp_micros: i64,
    pub seq: u64,
}

impl Cursor {
    /// The opaque string handed to clients.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}:{}", self.timestamp_micros, self.seq))
    }

    pub fn decode(s: &str) -> Result<Self, QueryError> {
        let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| QueryError::Cursor)?;
        let text = String::from_utf8(bytes).map_err(|_| QueryError::Cursor)?;
        let (ts, seq) = text.split_once(':').ok_or(QueryError::Cursor)?;
        Ok(Cursor {
            timestamp_micros: ts.parse().map_err(|_| QueryError::Cursor)?,
            seq: seq.parse().map_err(|_| QueryError::Cursor)?,
        })
    }
}

/// A point in time given either absolutely or relative to now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSpec {
    Absolute(DateTime<Utc>),
    /// This long before now.
    Ago(std::time::Duration),
}

impl TimeSpec {
    /// Parses RFC 3339 (`2026-11-22T10:00:00Z`) or a relative duration
    /// (`15m`, `1h`, `7d`, `90s`); `param` names the parameter in errors.
    pub fn parse(param: &'static str, value: &str) -> Result<Self, QueryError> {
        let v = value.trim();
        if let Ok(t) = DateTime::parse_from_rfc3339(v) {
            return Ok(TimeSpec::Absolute(t.with_timezone(&Utc)));
        }
        humantime::parse_duration(v)
            .map(TimeSpec::Ago)
            .map_err(|_| QueryError::Time {
                param,
                value: value.to_string(),
            })
    }

    /// The absolute time this spec names, relative to `now`.
    pub fn resolve(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            TimeSpec::Absolute(t) => *t,
            TimeSpec::Ago(d) => chrono::Duration::from_std(*d)
                .ok()
                .and_then(|d| now.checked_sub_signed(d))
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
        }
    }
}

/// Parses a histogram interval such as `30s`, `5m`, `1h`, `1d`; must be at
/// least one second.
pub fn parse_interval(value: &str) -> Result<std::time::Duration, QueryError> {
    match humantime::parse_duration(value.trim()) {
        Ok(d) if d.as_secs() >= 1 => Ok(d),
        _ => Err(QueryError::Interval(value.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_and_absolute_times_parse() {
        let now: DateTime<Utc> = "2026-11-22T10:00:00Z".parse().unwrap();
        let t = TimeSpec::parse("from", "15m").unwrap().resolve(now);
        assert_eq!(t, "2026-11-22T09:45:00Z".parse::<DateTime<Utc>>().unwrap());
        let t = TimeSpec::parse("from", "7d").unwrap().resolve(now);
        assert_eq!(t, "2026-11-15T10:00:00Z".parse::<DateTime<Utc>>().unwrap());
        let t = TimeSpec::parse("to", "2026-11-22T08:00:00+01:00")
            .unwrap()
            .resolve(now);
        assert_eq!(t, "2026-11-22T07:00:00Z".parse::<DateTime<Utc>>().unwrap());
        let err = TimeSpec::parse("since", "yesterday-ish").unwrap_err();
        assert!(err.to_string().contains("since"), "{err}");
    }

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let c = Cursor {
            timestamp_micros: 1_764_000_000_000_000,
            seq: 99,
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        assert_eq!(Cursor::decode("!!!"), Err(QueryError::Cursor));
        assert_eq!(
            Cursor::decode(&URL_SAFE_NO_PAD.encode("x:y")),
            Err(QueryError::Cursor)
        );
    }

    #[test]
    fn limits_and_ranges_are_checked() {
        assert_eq!(
            LogQuery::new(LogFilter::default(), 0, None),
            Err(QueryError::Limit(0))
        );
        assert_eq!(
            LogQuery::new(LogFilter::default(), 1001, None),
            Err(QueryError::Limit(1001))
        );
        let f = LogFilter {
            from: Some("2026-11-22T10:00:00Z".parse().unwrap()),
            to: Some("2026-11-22T09:00:00Z".parse().unwrap()),
            ..Default::default()
        };
        assert!(matches!(
            LogQuery::new(f, 10, None),
            Err(QueryError::Range { .. })
        ));
        assert!(parse_interval("5m").is_ok());
        assert!(parse_interval("0s").is_err());
    }

    #[test]
    fn long_or_deeply_nested_query_text_is_refused() {
        let with = |text: String| LogFilter {
            text: Some(text),
            ..Default::default()
        };
        for ok in [
            "payment-service AND (timeout OR -declined)",
            "NOT a AND NOT b",
        ] {
            assert_eq!(with(ok.into()).validate(), Ok(()), "{ok}");
        }
        let bad = [
            "(".repeat(50_000),
            format!("{}x{}", "(".repeat(33), ")".repeat(33)),
            "NOT ".repeat(40) + "x",
            "-(".repeat(20) + "x",
            "x ".repeat(1500),
        ];
        for text in bad {
            let err = with(text.clone()).validate().unwrap_err();
            assert!(matches!(err, QueryError::Text(_)), "{}: {err}", &text[..20]);
        }
    }
}
