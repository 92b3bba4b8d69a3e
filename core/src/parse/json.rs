//! JSON records: one object per line, as written by structured loggers
//! (logback's JSON encoders, structlog, pino, zap, serilog, …).
//!
//! Each known key has several common spellings; the first one present (in
//! the order listed) is used and any other spelling stays in `fields`. A
//! known key holding a value of the wrong type never rejects the record: the
//! value is kept in `fields` as `<name>_raw` and a default is used.

use super::{excerpt, timestamp, Draft, ParseError};
use crate::Level;
use serde_json::{Map, Value};

const TIMESTAMP_KEYS: &[&str] = &["timestamp", "time", "@timestamp", "ts", "datetime"];
const LEVEL_KEYS: &[&str] = &["level", "severity", "lvl", "loglevel"];
const MESSAGE_KEYS: &[&str] = &["message", "msg", "log"];
const SERVICE_KEYS: &[&str] = &["service", "app", "application", "service_name"];
const HOST_KEYS: &[&str] = &["host", "hostname"];
const CORRELATION_KEYS: &[&str] = &["correlation_id", "correlationId", "request_id"];
const TRACE_KEYS: &[&str] = &["trace_id", "traceId"];

/// The key whose object value is merged into `fields` rather than nested.
const FIELDS_KEY: &str = "fields";

/// The parsed known keys of one record, taken out of the object before the
/// rest becomes `fields`.
struct Known {
    timestamp: Option<Value>,
    level: Option<Value>,
    message: Option<Value>,
    service: Option<Value>,
    host: Option<Value>,
    correlation_id: Option<Value>,
    trace_id: Option<Value>,
}

pub(super) fn parse(text: &str) -> Result<Draft, ParseError> {
    let mut object = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => object,
        Ok(other) => {
            return Err(ParseError::NotAnObject {
                kind: kind_of(&other),
                excerpt: excerpt(text),
            })
        }
        Err(e) => {
            return Err(ParseError::InvalidJson {
                detail: e.to_string(),
                excerpt: excerpt(text),
            })
        }
    };
    let known = Known {
        timestamp: take_first(&mut object, TIMESTAMP_KEYS),
        level: take_first(&mut object, LEVEL_KEYS),
        message: take_first(&mut object, MESSAGE_KEYS),
        service: take_first(&mut object, SERVICE_KEYS),
        host: take_first(&mut object, HOST_KEYS),
        correlation_id: take_first(&mut object, CORRELATION_KEYS),
        trace_id: take_first(&mut object, TRACE_KEYS),
    };

    let mut draft = Draft::default();
    // User fields first, so the parser's own flags below win any name clash.
    match object.remove(FIELDS_KEY) {
        Some(Value::Object(nested)) => draft.fields = nested,
        Some(other) => {
            draft.fields.insert(FIELDS_KEY.into(), other);
        }
        None => {}
    }
    draft.fields.extend(object);

    if let Some(raw) = known.timestamp {
        match timestamp::from_json(&raw) {
            Some(ts) => draft.timestamp = Some(ts),
            None => draft.timestamp_unreadable(raw),
        }
    }
    if let Some(raw) = known.level {
        draft.level = level(&raw);
        if draft.level.is_none() {
            draft.fields.insert("level_raw".into(), raw);
        }
    }
    draft.message = match known.message {
        Some(Value::String(s)) => s,
        Some(other) => other.to_string(),
        None => String::new(),
    };
    draft.service = text_field(&mut draft.fields, "service", known.service);
    draft.host = text_field(&mut draft.fields, "host", known.host);
    draft.correlation_id = text_field(&mut draft.fields, "correlation_id", known.correlation_id);
    draft.trace_id = text_field(&mut draft.fields, "trace_id", known.trace_id);
    Ok(draft)
}

/// Removes and returns the first of `keys` present with a non-null value.
/// Later spellings stay in the object, so nothing is lost when a record
/// carries both `time` and `timestamp`.
fn take_first(object: &mut Map<String, Value>, keys: &[&str]) -> Option<Value> {
    let key = keys
        .iter()
        .find(|k| object.get(**k).is_some_and(|v| !v.is_null()))?;
    object.remove(*key)
}

/// A level name or alias, a syslog severity (0–7), or a pino/bunyan level
/// (10 = trace … 60 = fatal).
fn level(raw: &Value) -> Option<Level> {
    match raw {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => match n.as_u64()? {
            severity @ 0..=7 => u8::try_from(severity).ok().map(Level::from_syslog_severity),
            10 => Some(Level::Trace),
            20 => Some(Level::Debug),
            30 => Some(Level::Info),
            40 => Some(Level::Warn),
            50 => Some(Level::Error),
            60 => Some(Level::Critical),
            _ => None,
        },
        _ => None,
    }
}

/// A text-valued known key. Numbers and booleans are written out as text
/// (request ids are often numeric); objects and arrays cannot be, so they go
/// to `fields.<name>_raw`. Blank strings count as absent.
fn text_field(fields: &mut Map<String, Value>, name: &str, raw: Option<Value>) -> Option<String> {
    match raw? {
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        other => {
            fields.insert(format!("{name}_raw"), other);
            None
        }
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::super::{parse_record, tests::ctx};
    use crate::{Level, LogRecord};
    use serde_json::json;

    fn parse(line: &str) -> LogRecord {
        parse_record(line.as_bytes(), &ctx()).unwrap()
    }

    #[test]
    fn logback_style_record_is_normalised() {
        let rec = parse(
            r#"{"@timestamp":"2026-11-22T10:00:00.123+00:00","level":"ERROR","message":"card declined",
                "service":"payment-service","host":"web-3","correlation_id":"c0ffee","trace_id":"abc123",
                "logger_name":"c.l.PaymentService","http.status":502}"#,
        );
        assert_eq!(
            rec.timestamp,
            "2026-11-22T10:00:00.123Z"
                .parse::<chrono::DateTime<chrono::Utc>>()
                .unwrap()
        );
        assert_eq!(rec.level, Level::Error);
        assert_eq!(rec.message, "card declined");
        assert_eq!(rec.service, "payment-service");
        assert_eq!(rec.host.as_deref(), Some("web-3"));
        assert_eq!(rec.correlation_id.as_deref(), Some("c0ffee"));
        assert_eq!(rec.trace_id.as_deref(), Some("abc123"));
        assert_eq!(
            serde_json::Value::Object(rec.fields),
            json!({"logger_name":"c.l.PaymentService","http.status":502})
        );
    }

    #[test]
    fn pino_style_record_uses_aliases_and_numeric_levels() {
        let rec = parse(
            r#"{"level":50,"time":1795341600123,"pid":7,"hostname":"api-1","msg":"db down","requestId":"r1"}"#,
        );
        assert_eq!(rec.level, Level::Error);
        assert_eq!(rec.timestamp.timestamp_millis(), 1_795_341_600_123);
        assert_eq!(rec.host.as_deref(), Some("api-1"));
        assert_eq!(rec.message, "db down");
        assert_eq!(rec.fields["pid"], 7);
        assert_eq!(rec.fields["requestId"], "r1");
    }

    #[test]
    fn syslog_severity_numbers_and_aliases_are_levels() {
        assert_eq!(parse(r#"{"severity":3,"msg":"x"}"#).level, Level::Error);
        assert_eq!(parse(r#"{"lvl":"warning","msg":"x"}"#).level, Level::Warn);
        assert_eq!(
            parse(r#"{"loglevel":"fatal","msg":"x"}"#).level,
            Level::Critical
        );
        assert_eq!(parse(r#"{"msg":"x"}"#).level, Level::Info);
    }

    #[test]
    fn nested_fields_are_merged_and_other_keys_kept() {
        let rec = parse(r#"{"msg":"x","fields":{"user_id":"u-17","cart":3},"region":"eu"}"#);
        assert_eq!(
            serde_json::Value::Object(rec.fields),
            json!({"user_id":"u-17","cart":3,"region":"eu"})
        );
        let rec = parse(r#"{"msg":"x","fields":"not an object"}"#);
        assert_eq!(rec.fields["fields"], "not an object");
    }

    #[test]
    fn the_first_alias_wins_and_the_others_are_kept() {
        let rec =
            parse(r#"{"msg":"short","message":"long","time":"2026-11-22T10:00:00Z","ts":"junk"}"#);
        assert_eq!(rec.message, "long");
        assert_eq!(rec.fields["msg"], "short");
        assert_eq!(rec.fields["ts"], "junk");
        assert!(!rec.fields.contains_key("timestamp_parse_error"));
    }

    #[test]
    fn wrong_types_are_repaired_and_kept_raw() {
        let rec = parse(
            r#"{"level":{"name":"error"},"message":{"text":"hi"},"service":["a"],"request_id":12345,"host":""}"#,
        );
        assert_eq!(rec.level, Level::Info);
        assert_eq!(rec.fields["level_raw"], json!({"name":"error"}));
        assert_eq!(rec.message, r#"{"text":"hi"}"#);
        assert_eq!(rec.service, "unknown");
        assert_eq!(rec.fields["service_raw"], json!(["a"]));
        assert_eq!(rec.correlation_id.as_deref(), Some("12345"));
        assert_eq!(rec.host, None);

        let rec = parse(r#"{"level":"loud","msg":"x"}"#);
        assert_eq!(
            (rec.level, &rec.fields["level_raw"]),
            (Level::Info, &json!("loud"))
        );
        let rec = parse(r#"{"level":99,"msg":"x"}"#);
        assert_eq!(rec.fields["level_raw"], 99);
    }

    #[test]
    fn unreadable_timestamp_becomes_ingest_time_and_is_flagged() {
        let rec = parse(r#"{"timestamp":"last tuesday","msg":"x"}"#);
        assert_eq!(rec.timestamp, ctx().now);
        assert_eq!(rec.fields["timestamp_parse_error"], true);
        assert_eq!(rec.fields["timestamp_raw"], "last tuesday");

        let rec = parse(r#"{"timestamp":null,"msg":"x"}"#);
        assert_eq!(rec.timestamp, ctx().now);
        assert!(!rec.fields.contains_key("timestamp_parse_error"));
    }

    #[test]
    fn python_style_timestamp_is_read_as_utc() {
        let rec = parse(
            r#"{"asctime":"x","timestamp":"2026-11-22 10:00:00,123","levelname":"INFO","msg":"x"}"#,
        );
        assert_eq!(rec.timestamp.to_rfc3339(), "2026-11-22T10:00:00.123+00:00");
    }

    #[test]
    fn non_object_json_is_rejected() {
        for line in ["[1,2]", "\"text\"", "42", "null"] {
            let mut c = ctx();
            c.format = super::super::Format::Json;
            let err = parse_record(line.as_bytes(), &c).unwrap_err();
            assert_eq!(err.reason(), "not_an_object", "{line}");
        }
    }
}
