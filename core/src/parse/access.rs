//! Web-server access logs: nginx/Apache "combined" and "common" formats,
//! optionally followed by nginx's `$request_time`.
//!
//! ```text
//! 10.0.0.1 - alice [22/Nov/2026:10:00:00 +0000] "GET /cart HTTP/1.1" 200 512 "https://shop/" "Mozilla/5.0" 0.042
//! ```

use super::Draft;
use crate::Level;
use chrono::DateTime;
use regex::Regex;
use serde_json::{Map, Value};
use std::sync::LazyLock;

/// Quoted parts allow backslash escapes (Apache writes `\"` inside them).
static ACCESS_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?x)^
        (?P<client_ip>[^\s]+)\s[^\s]+\s(?P<user>[^\s]+)\s
        \[(?P<time>[^\]]+)\]\s
        "(?P<request>(?:[^"\\]|\\.)*)"\s
        (?P<status>[0-9]{3})\s(?P<bytes>[0-9]+|-)
        (?:\s"(?P<referrer>(?:[^"\\]|\\.)*)"\s"(?P<user_agent>(?:[^"\\]|\\.)*)")?
        (?P<rest>.*)$"#,
    )
    .expect("static regex")
});

/// Returns `None` when the line is not an access log line, so auto-detection
/// can try plain text instead.
pub(super) fn parse(text: &str) -> Option<Draft> {
    let caps = ACCESS_LINE.captures(text)?;
    let text_of = |name: &str| caps.name(name).map_or("", |m| m.as_str());
    let status: u16 = text_of("status").parse().ok()?;
    let mut fields = Map::new();
    fields.insert("client_ip".into(), text_of("client_ip").into());
    insert_unless_dash(&mut fields, "remote_user", text_of("user"));

    let request = text_of("request");
    let message = match split_request(request) {
        Some((method, path, protocol)) => {
            fields.insert("method".into(), method.into());
            fields.insert("path".into(), path.into());
            if let Some(protocol) = protocol {
                fields.insert("protocol".into(), protocol.into());
            }
            format!("{method} {path} {status}")
        }
        // Scanners and TLS-on-plain-port probes send garbage request lines.
        None => {
            fields.insert("request".into(), request.into());
            format!("{request} {status}")
        }
    };
    fields.insert("status".into(), status.into());
    // `-` means no body was sent.
    fields.insert(
        "bytes".into(),
        text_of("bytes").parse::<u64>().unwrap_or(0).into(),
    );
    insert_unless_dash(&mut fields, "referrer", text_of("referrer"));
    insert_unless_dash(&mut fields, "user_agent", text_of("user_agent"));
    read_trailer(&mut fields, text_of("rest"));

    let mut draft = Draft::new(message);
    draft.level = Some(match status {
        500.. => Level::Error,
        400..=499 => Level::Warn,
        _ => Level::Info,
    });
    let time = text_of("time");
    match DateTime::parse_from_str(time, "%d/%b/%Y:%H:%M:%S %z") {
        Ok(ts) => draft.timestamp = Some(ts.to_utc()),
        Err(_) => draft.timestamp_unreadable(time.into()),
    }
    draft.fields.extend(fields);
    Some(draft)
}

/// `METHOD PATH [PROTOCOL]`, or `None` when the request line is not one.
fn split_request(request: &str) -> Option<(&str, &str, Option<&str>)> {
    let mut parts = request.split(' ');
    let method = parts
        .next()
        .filter(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_uppercase()))?;
    let path = parts.next().filter(|p| !p.is_empty())?;
    let protocol = parts.next();
    parts.next().is_none().then_some((method, path, protocol))
}

/// What follows the standard fields: nginx's `$request_time` as the last
/// number, anything else kept verbatim as `extra` so custom formats lose
/// nothing.
fn read_trailer(fields: &mut Map<String, Value>, rest: &str) {
    let rest = rest.trim();
    let (before, last) = rest.rsplit_once(char::is_whitespace).unwrap_or(("", rest));
    let request_time = last.parse::<f64>().ok().filter(|t| {
        t.is_finite() && *t >= 0.0 && last.bytes().all(|b| b.is_ascii_digit() || b == b'.')
    });
    let extra = match request_time {
        Some(seconds) => {
            fields.insert("request_time".into(), seconds.into());
            before.trim()
        }
        None => rest,
    };
    if !extra.is_empty() {
        fields.insert("extra".into(), extra.into());
    }
}

fn insert_unless_dash(fields: &mut Map<String, Value>, key: &str, value: &str) {
    if !value.is_empty() && value != "-" {
        fields.insert(key.into(), value.into());
    }
}

#[cfg(test)]
mod tests {
    use super::super::{
        tests::{ctx, parse_as},
        Format,
    };
    use crate::{Level, LogRecord};
    use serde_json::json;

    fn parse(line: &str) -> LogRecord {
        parse_as(Format::Access, line)
    }

    #[test]
    fn nginx_combined_with_request_time() {
        let rec = parse(
            r#"203.0.113.9 - alice [22/Nov/2026:10:00:00 +0100] "POST /api/v1/orders?id=7 HTTP/2.0" 502 157 "https://shop.example/cart" "Mozilla/5.0 (X11; Linux x86_64)" 1.503"#,
        );
        assert_eq!(rec.level, Level::Error);
        assert_eq!(rec.message, "POST /api/v1/orders?id=7 502");
        assert_eq!(rec.timestamp.to_rfc3339(), "2026-11-22T09:00:00+00:00");
        assert_eq!(
            serde_json::Value::Object(rec.fields),
            json!({
                "client_ip": "203.0.113.9", "remote_user": "alice", "method": "POST",
                "path": "/api/v1/orders?id=7", "protocol": "HTTP/2.0", "status": 502, "bytes": 157,
                "referrer": "https://shop.example/cart", "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
                "request_time": 1.503
            })
        );
    }

    #[test]
    fn apache_common_format() {
        let rec =
            parse(r#"127.0.0.1 - - [22/Nov/2026:10:00:00 +0000] "GET /missing HTTP/1.0" 404 -"#);
        assert_eq!(rec.level, Level::Warn);
        assert_eq!(rec.message, "GET /missing 404");
        assert_eq!(rec.fields["bytes"], 0);
        assert!(!rec.fields.contains_key("referrer"));
        assert!(!rec.fields.contains_key("remote_user"));
    }

    #[test]
    fn escaped_quotes_and_garbage_request_lines() {
        let rec = parse(
            r#"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] "GET /q?x=\"y\" HTTP/1.1" 200 5 "-" "curl/8.5.0""#,
        );
        assert_eq!(rec.fields["path"], r#"/q?x=\"y\""#);
        assert_eq!(rec.fields["user_agent"], "curl/8.5.0");

        let rec = parse(
            r#"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] "\x16\x03\x01\x02\x00" 400 150 "-" "-""#,
        );
        assert_eq!(rec.level, Level::Warn);
        assert_eq!(rec.fields["request"], r#"\x16\x03\x01\x02\x00"#);
        assert_eq!(rec.message, r#"\x16\x03\x01\x02\x00 400"#);
    }

    #[test]
    fn custom_trailers_are_kept() {
        let rec = parse(
            r#"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "-" "198.51.100.1" 0.010"#,
        );
        assert_eq!(rec.fields["request_time"], 0.01);
        assert_eq!(rec.fields["extra"], "\"198.51.100.1\"");
        assert_eq!(rec.level, Level::Info);
    }

    #[test]
    fn unreadable_time_is_flagged() {
        let rec = parse(r#"10.0.0.1 - - [yesterday] "GET / HTTP/1.1" 200 5"#);
        assert_eq!(rec.timestamp, ctx().now);
        assert_eq!(rec.fields["timestamp_raw"], "yesterday");
    }
}
