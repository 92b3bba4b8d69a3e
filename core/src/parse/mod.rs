//! Turns one raw Kafka message into a [`LogRecord`].
//!
//! Producers send whatever their services write: JSON objects, plain text
//! lines, web-server access logs or syslog. [`parse_record`] detects which
//! (or obeys [`ParseContext::format`]), normalises the known keys and keeps
//! everything else under `fields`, so nothing a service logged is lost.
//!
//! A record is only rejected ([`ParseError`]) when it cannot be represented
//! faithfully — invalid UTF-8, broken JSON, an empty message — so that the
//! processor can send the original bytes to the dead-letter topic. Smaller
//! problems (an unreadable timestamp, a level of the wrong type, an oversized
//! message) are repaired and flagged in `fields` instead.

mod access;
mod json;
mod plain;
mod syslog;
mod timestamp;

use crate::{Level, LogRecord};
use chrono::{DateTime, Utc};
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

/// Default cap on a message's size: big enough for any stack trace a human
/// reads, small enough that one runaway line cannot bloat the index.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// Service name used when neither the record nor the context names one, so
/// that every record stays filterable by service.
const UNKNOWN_SERVICE: &str = "unknown";

/// How many characters of the input a [`ParseError`] quotes: enough to
/// recognise the record in a dead-letter report, not enough to flood logs.
const EXCERPT_CHARS: usize = 80;

/// Which format a raw record is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Detect per record: `{…}` is JSON, `<PRI>…` is syslog, a line shaped
    /// like nginx/Apache combined or common format is an access log, anything
    /// else is plain text.
    #[default]
    Auto,
    Json,
    Plain,
    Access,
    Syslog,
}

impl Format {
    pub const ALL: [Format; 5] = [
        Format::Auto,
        Format::Json,
        Format::Plain,
        Format::Access,
        Format::Syslog,
    ];

    /// The lower-case name used in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Auto => "auto",
            Format::Json => "json",
            Format::Plain => "plain",
            Format::Access => "access",
            Format::Syslog => "syslog",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A format name that is none of `auto`, `json`, `plain`, `access`, `syslog`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown log format {0:?}: expected one of auto, json, plain, access, syslog")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|format| format.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownFormat(s.to_string()))
    }
}

/// What the caller knows about a record besides its bytes.
#[derive(Debug, Clone)]
pub struct ParseContext<'a> {
    pub format: Format,
    /// Fallback service (from the Kafka key or a header) when the record
    /// names none.
    pub service: Option<&'a str>,
    /// Fallback host when the record names none.
    pub host: Option<&'a str>,
    /// Ingest time, used when no timestamp is readable.
    pub now: DateTime<Utc>,
    /// Messages longer than this are cut (at a character boundary) and
    /// flagged with `fields.message_truncated`.
    pub max_message_bytes: usize,
}

impl ParseContext<'_> {
    /// Auto-detection, no fallbacks and the default message limit.
    pub fn new(now: DateTime<Utc>) -> Self {
        ParseContext {
            format: Format::Auto,
            service: None,
            host: None,
            now,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        }
    }
}

/// Why a record could not be parsed. The processor sends the original bytes
/// to the dead-letter topic with [`ParseError::reason`] in a header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("record is empty or only whitespace")]
    Empty,
    #[error("record is not valid UTF-8 (first bad byte at {valid_up_to}): {excerpt}")]
    InvalidUtf8 { valid_up_to: usize, excerpt: String },
    #[error("record is not valid JSON ({detail}): {excerpt}")]
    InvalidJson { detail: String, excerpt: String },
    #[error("record is JSON but a {kind}, not an object: {excerpt}")]
    NotAnObject { kind: &'static str, excerpt: String },
    #[error("record is not an nginx/Apache access log line: {excerpt}")]
    InvalidAccessLog { excerpt: String },
    #[error("record is not an RFC 3164 or RFC 5424 syslog message: {excerpt}")]
    InvalidSyslog { excerpt: String },
}

impl ParseError {
    /// A short stable code for the dead-letter header and metrics labels.
    /// Never change an existing code: dashboards and alerts match on them.
    pub fn reason(&self) -> &'static str {
        match self {
            ParseError::Empty => "empty",
            ParseError::InvalidUtf8 { .. } => "invalid_utf8",
            ParseError::InvalidJson { .. } => "invalid_json",
            ParseError::NotAnObject { .. } => "not_an_object",
            ParseError::InvalidAccessLog { .. } => "invalid_access_log",
            ParseError::InvalidSyslog { .. } => "invalid_syslog",
        }
    }
}

/// The start of the input, quoted and escaped, for error messages.
fn excerpt(text: &str) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(EXCERPT_CHARS).collect();
    if chars.next().is_some() {
        format!("{head:?}…")
    } else {
        format!("{head:?}")
    }
}

/// `<PRI>` at the start of a line is the one unambiguous mark of syslog.
static SYSLOG_PRI: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^<\d{1,3}>").expect("static regex"));

/// Parses one raw record according to `ctx`.
///
/// Invalid UTF-8 is an error rather than being replaced lossily, so the
/// processor can dead-letter the exact original bytes.
pub fn parse_record(raw: &[u8], ctx: &ParseContext) -> Result<LogRecord, ParseError> {
    let text = std::str::from_utf8(raw).map_err(|e| ParseError::InvalidUtf8 {
        valid_up_to: e.valid_up_to(),
        excerpt: excerpt(&String::from_utf8_lossy(raw)),
    })?;
    let text = text.trim_start_matches('\u{feff}').trim();
    if text.is_empty() {
        return Err(ParseError::Empty);
    }
    let draft = match ctx.format {
        Format::Json => json::parse(text)?,
        Format::Plain => plain::parse(text, ctx.now),
        Format::Access => access::parse(text).ok_or_else(|| ParseError::InvalidAccessLog {
            excerpt: excerpt(text),
        })?,
        Format::Syslog => {
            syslog::parse(text, ctx.now).ok_or_else(|| ParseError::InvalidSyslog {
                excerpt: excerpt(text),
            })?
        }
        Format::Auto => detect(text, ctx.now)?,
    };
    Ok(draft.finish(ctx))
}

/// Auto-detection. A record that looks like JSON must parse as JSON: falling
/// back to plain text would hide a broken producer behind a garbled message.
/// Syslog and access-log detection are heuristics, so a line that fails them
/// is still kept, as plain text.
fn detect(text: &str, now: DateTime<Utc>) -> Result<Draft, ParseError> {
    if text.starts_with('{') {
        return json::parse(text);
    }
    if SYSLOG_PRI.is_match(text) {
        if let Some(draft) = syslog::parse(text, now) {
            return Ok(draft);
        }
    }
    Ok(access::parse(text).unwrap_or_else(|| plain::parse(text, now)))
}

/// What a format parser read from one record, before the context's
/// fallbacks and limits are applied in one place ([`Draft::finish`]).
#[derive(Debug, Default)]
struct Draft {
    /// `None` when the record had no readable timestamp.
    timestamp: Option<DateTime<Utc>>,
    level: Option<Level>,
    message: String,
    service: Option<String>,
    host: Option<String>,
    correlation_id: Option<String>,
    trace_id: Option<String>,
    fields: Map<String, Value>,
}

impl Draft {
    fn new(message: impl Into<String>) -> Self {
        Draft {
            message: message.into(),
            ..Draft::default()
        }
    }

    /// Records that a timestamp was present but unreadable: the record gets
    /// the ingest time, and the flag plus the raw value let operators find
    /// and fix the producer.
    fn timestamp_unreadable(&mut self, raw: Value) {
        self.timestamp = None;
        self.fields
            .insert("timestamp_parse_error".into(), Value::Bool(true));
        self.fields.insert("timestamp_raw".into(), raw);
    }

    fn finish(self, ctx: &ParseContext) -> LogRecord {
        let fallback = |own: Option<String>, ctx_value: Option<&str>| {
            own.or_else(|| non_blank(ctx_value).map(str::to_string))
        };
        let mut record = LogRecord {
            timestamp: self.timestamp.unwrap_or(ctx.now),
            service: fallback(self.service, ctx.service)
                .unwrap_or_else(|| UNKNOWN_SERVICE.to_string()),
            level: self.level.unwrap_or(Level::Info),
            message: self.message,
            host: fallback(self.host, ctx.host),
            correlation_id: self.correlation_id,
            trace_id: self.trace_id,
            fields: self.fields,
        };
        truncate_message(&mut record, ctx.max_message_bytes);
        record
    }
}

/// `Some` only for a string with something in it besides whitespace.
fn non_blank(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.trim().is_empty())
}

/// Cuts an oversized message at a character boundary and says so in
/// `fields`, so a truncated message is never mistaken for a complete one.
fn truncate_message(record: &mut LogRecord, max_bytes: usize) {
    let original = record.message.len();
    if original <= max_bytes {
        return;
    }
    let mut cut = max_bytes;
    while !record.message.is_char_boundary(cut) {
        cut -= 1;
    }
    record.message.truncate(cut);
    record
        .fields
        .insert("message_truncated".into(), Value::Bool(true));
    record
        .fields
        .insert("message_original_bytes".into(), Value::from(original));
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(super) fn ctx() -> ParseContext<'static> {
        ParseContext::new("2026-11-22T12:00:00Z".parse().unwrap())
    }

    /// Parses `line` with one explicit format, as the per-format tests do.
    pub(super) fn parse_as(format: Format, line: &str) -> LogRecord {
        let c = ParseContext { format, ..ctx() };
        parse_record(line.as_bytes(), &c).unwrap()
    }

    #[test]
    fn format_round_trips_through_its_name() {
        for format in Format::ALL {
            assert_eq!(format.to_string().parse::<Format>().unwrap(), format);
        }
        assert_eq!(" JSON ".parse::<Format>().unwrap(), Format::Json);
        assert_eq!(Format::default(), Format::Auto);
        let err = "xml".parse::<Format>().unwrap_err();
        assert!(err.to_string().contains("xml"));
    }

    #[test]
    fn invalid_utf8_is_rejected_with_its_reason() {
        let err = parse_record(b"hello \xff\xfe world", &ctx()).unwrap_err();
        assert_eq!(err.reason(), "invalid_utf8");
        assert!(err.to_string().contains("hello"), "{err}");
    }

    #[test]
    fn empty_and_blank_records_are_rejected() {
        for raw in [&b""[..], b"   \n\t", b"\xef\xbb\xbf "] {
            assert_eq!(parse_record(raw, &ctx()).unwrap_err(), ParseError::Empty);
        }
    }

    #[test]
    fn auto_detects_each_format() {
        let c = ctx();
        let json = parse_record(br#"{"msg":"hi","level":"warn"}"#, &c).unwrap();
        assert_eq!((json.level, json.message.as_str()), (Level::Warn, "hi"));

        let syslog = parse_record(
            b"<11>Nov 22 10:00:00 web-3 nginx[42]: upstream timed out",
            &c,
        )
        .unwrap();
        assert_eq!(syslog.level, Level::Error);
        assert_eq!(syslog.service, "nginx");

        let access = parse_record(
            br#"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] "GET /health HTTP/1.1" 200 2 "-" "kube-probe/1.29""#,
            &c,
        )
        .unwrap();
        assert_eq!(access.message, "GET /health 200");

        let plain = parse_record(b"2026-11-22 10:00:00,123 ERROR boom", &c).unwrap();
        assert_eq!(
            (plain.level, plain.message.as_str()),
            (Level::Error, "boom")
        );
    }

    #[test]
    fn broken_json_is_an_error_not_plain_text() {
        let err = parse_record(br#"{"msg": "unterminated"#, &ctx()).unwrap_err();
        assert_eq!(err.reason(), "invalid_json");
        assert!(err.to_string().contains("unterminated"), "{err}");
    }

    #[test]
    fn a_failed_syslog_guess_falls_back_to_plain_text() {
        let rec = parse_record(b"<3> not really syslog", &ctx()).unwrap();
        assert_eq!(rec.message, "<3> not really syslog");
    }

    #[test]
    fn explicit_formats_reject_what_they_cannot_read() {
        let mut c = ctx();
        c.format = Format::Access;
        assert_eq!(
            parse_record(b"hello", &c).unwrap_err().reason(),
            "invalid_access_log"
        );
        c.format = Format::Syslog;
        assert_eq!(
            parse_record(b"hello", &c).unwrap_err().reason(),
            "invalid_syslog"
        );
        c.format = Format::Json;
        assert_eq!(
            parse_record(b"[1, 2]", &c).unwrap_err().reason(),
            "not_an_object"
        );
        assert_eq!(
            parse_record(b"hello", &c).unwrap_err().reason(),
            "invalid_json"
        );
        c.format = Format::Plain;
        assert_eq!(
            parse_record(br#"{"a":1}"#, &c).unwrap().message,
            r#"{"a":1}"#
        );
    }

    #[test]
    fn service_and_host_fall_back_to_the_context_then_unknown() {
        let mut c = ctx();
        let rec = parse_record(b"hello", &c).unwrap();
        assert_eq!(
            (rec.service.as_str(), rec.host.as_deref()),
            ("unknown", None)
        );

        c.service = Some("checkout");
        c.host = Some("web-1");
        let rec = parse_record(b"hello", &c).unwrap();
        assert_eq!(
            (rec.service.as_str(), rec.host.as_deref()),
            ("checkout", Some("web-1"))
        );

        let rec = parse_record(
            br#"{"msg":"x","service":"payments","hostname":"web-9"}"#,
            &c,
        )
        .unwrap();
        assert_eq!(
            (rec.service.as_str(), rec.host.as_deref()),
            ("payments", Some("web-9"))
        );

        c.service = Some("  ");
        assert_eq!(parse_record(b"hello", &c).unwrap().service, "unknown");
    }

    #[test]
    fn oversized_messages_are_cut_at_a_char_boundary_and_flagged() {
        let mut c = ctx();
        c.max_message_bytes = 5;
        let rec = parse_record("héllo wörld".as_bytes(), &c).unwrap();
        assert_eq!(rec.message, "héll");
        assert_eq!(rec.fields["message_truncated"], true);
        assert_eq!(rec.fields["message_original_bytes"], 13);

        let rec = parse_record(b"short", &c).unwrap();
        assert!(!rec.fields.contains_key("message_truncated"));
    }

    /// Inputs that start like each format, so the property tests reach deep
    /// into every parser rather than stopping at detection.
    fn near_miss_input() -> impl Strategy<Value = Vec<u8>> {
        let prefix = prop::sample::select(vec![
            "",
            "{",
            r#"{"level":"#,
            r#"{"timestamp":"#,
            "<13>",
            "<165>1 ",
            "<34>Nov 22 10:00:00 ",
            r#"1.2.3.4 - - [22/Nov/2026:10:00:00 +0000] ""#,
            "2026-11-22 10:00:00,123 ",
            "Nov 22 10:00:00 ",
            "[ERROR] ",
        ]);
        (prefix, prop::collection::vec(any::<u8>(), 0..200)).prop_map(|(p, tail)| {
            let mut bytes = p.as_bytes().to_vec();
            bytes.extend(tail);
            bytes
        })
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(raw in prop::collection::vec(any::<u8>(), 0..300), max in 0usize..64) {
            for format in Format::ALL {
                let c = ParseContext { format, max_message_bytes: max, ..ctx() };
                let _ = parse_record(&raw, &c);
            }
        }

        #[test]
        fn never_panics_on_near_misses(raw in near_miss_input(), max in 0usize..64) {
            for format in Format::ALL {
                let c = ParseContext { format, max_message_bytes: max, ..ctx() };
                if let Ok(rec) = parse_record(&raw, &c) {
                    prop_assert!(rec.message.len() <= max);
                }
            }
        }

        #[test]
        fn never_panics_on_arbitrary_text(text in "\\PC{0,200}") {
            for format in Format::ALL {
                let c = ParseContext { format, ..ctx() };
                if let Ok(rec) = parse_record(text.as_bytes(), &c) {
                    prop_assert!(!rec.service.is_empty());
                }
            }
        }
    }
}
