//! Plain text lines: `[timestamp] [level] message`, the shape of most
//! framework default formats (log4j/logback patterns, Python `logging`,
//! Go's `log`, Rails) and of anything a script echoes.
//!
//! Both the timestamp and the level are optional and only recognised near
//! the start of the line, so words deeper in a message are never mistaken
//! for metadata.

use super::{timestamp, Draft};
use crate::Level;
use chrono::{DateTime, Utc};
use regex::{Captures, Regex};
use serde_json::Value;
use std::sync::LazyLock;

/// A timestamp at the very start, optionally in brackets: ISO-like
/// (`2026-11-22T10:00:00.123Z`, `2026-11-22 10:00:00,123`) or BSD syslog
/// style (`Nov 22 10:00:00`).
static LEADING_TIMESTAMP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)^\[?(?:
            (?P<iso>[0-9]{4}-[0-9]{2}-[0-9]{2}[T\x20][0-9]{2}:[0-9]{2}:[0-9]{2}(?:[.,][0-9]{1,9})?(?:Z|[+-][0-9]{2}:?[0-9]{2})?)
          | (?P<bsd>(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\x20[\x200-9][0-9]\x20[0-9]{2}:[0-9]{2}:[0-9]{2})
        )\]?[\x20\t|]*",
    )
    .expect("static regex")
});

/// A level word as the first token (`ERROR boom`, `[warn] x`, `INFO: y`,
/// zap's `error\t…`), with the separator that follows it.
static FIRST_TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?P<open>\[?)(?P<word>[A-Za-z]{3,8})\]?(?:[\x20\t]*[:|\-][\x20\t]*|[\x20\t]+|$)")
        .expect("static regex")
});

/// A level a little further in: after a thread name (`[main] ERROR c.f.Bar`),
/// in brackets, or as `level=error`. Bare words must be upper case so that
/// "no error occurred" stays INFO.
static NEAR_START: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)
            \[(?P<bracket>[A-Za-z]{3,8})\]
          | (?i:level|lvl|severity)[=:]\x22?(?P<kv>[A-Za-z0-9]{1,11})
          | (?-u:\b)(?P<word>TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|FATAL|CRITICAL|SEVERE)(?-u:\b)",
    )
    .expect("static regex")
});

/// How far into the line (in bytes) [`NEAR_START`] looks for a level.
const LEVEL_SEARCH_BYTES: usize = 100;

pub(super) fn parse(text: &str, now: DateTime<Utc>) -> Draft {
    let mut draft = Draft::default();
    let mut rest = text;
    if let Some(caps) = LEADING_TIMESTAMP.captures(text) {
        read_timestamp(&mut draft, &caps, now);
        rest = text
            .get(caps.get(0).map_or(0, |m| m.end())..)
            .unwrap_or_default();
    }
    if let Some((level, after)) = first_token_level(rest) {
        draft.level = Some(level);
        rest = after;
    } else {
        draft.level = near_start_level(rest);
    }
    draft.message = rest.to_string();
    draft
}

fn read_timestamp(draft: &mut Draft, caps: &Captures, now: DateTime<Utc>) {
    let (raw, parsed) = if let Some(iso) = caps.name("iso") {
        (iso.as_str(), timestamp::from_str(iso.as_str()))
    } else if let Some(bsd) = caps.name("bsd") {
        (bsd.as_str(), timestamp::from_bsd(bsd.as_str(), now))
    } else {
        return;
    };
    match parsed {
        Some(ts) => draft.timestamp = Some(ts),
        None => draft.timestamp_unreadable(Value::String(raw.to_string())),
    }
}

/// The level named by the first token, and the text after it. The token is
/// removed from the message only when it is unmistakably a level marker
/// (upper case or bracketed): "Error connecting to db" keeps its first word.
fn first_token_level(text: &str) -> Option<(Level, &str)> {
    let caps = FIRST_TOKEN.captures(text)?;
    let word = caps.name("word")?.as_str();
    let level = level_word(word)?;
    let bracketed = caps.name("open").is_some_and(|m| !m.is_empty());
    let marker = bracketed || word.bytes().all(|b| b.is_ascii_uppercase());
    let end = caps.get(0).map_or(0, |m| m.end());
    let rest = if marker {
        text.get(end..).unwrap_or(text)
    } else {
        text
    };
    Some((level, rest))
}

fn near_start_level(text: &str) -> Option<Level> {
    let mut end = text.len().min(LEVEL_SEARCH_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let head = text.get(..end)?;
    NEAR_START.captures_iter(head).find_map(|caps| {
        if let Some(kv) = caps.name("kv") {
            kv.as_str().parse().ok()
        } else {
            caps.name("bracket")
                .or_else(|| caps.name("word"))
                .and_then(|m| level_word(m.as_str()))
        }
    })
}

/// Level words accepted in free text. Narrower than [`Level`]'s `FromStr`,
/// whose aliases (`log`, `alert`, `fine`, …) are ordinary English words.
fn level_word(word: &str) -> Option<Level> {
    const WORDS: &[&str] = &[
        "trace", "debug", "info", "notice", "warn", "warning", "error", "err", "fatal", "critical",
        "crit", "severe",
    ];
    WORDS
        .iter()
        .any(|w| w.eq_ignore_ascii_case(word))
        .then(|| word.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::super::{
        tests::{ctx, parse_as},
        Format,
    };
    use crate::{Level, LogRecord};

    fn parse(line: &str) -> LogRecord {
        parse_as(Format::Plain, line)
    }

    #[test]
    fn logback_default_pattern() {
        let rec = parse("2026-11-22 10:00:00.123 [http-nio-8080-exec-1] ERROR c.l.PaymentService - card declined");
        assert_eq!(rec.timestamp.to_rfc3339(), "2026-11-22T10:00:00.123+00:00");
        assert_eq!(rec.level, Level::Error);
        assert_eq!(
            rec.message,
            "[http-nio-8080-exec-1] ERROR c.l.PaymentService - card declined"
        );
    }

    #[test]
    fn python_logging_default_formats() {
        let rec = parse("2026-11-22 10:00:00,123 WARNING disk at 91%");
        assert_eq!(
            (rec.level, rec.message.as_str()),
            (Level::Warn, "disk at 91%")
        );
        assert_eq!(rec.timestamp.timestamp_subsec_millis(), 123);

        let rec = parse("ERROR:root:payment failed");
        assert_eq!(
            (rec.level, rec.message.as_str()),
            (Level::Error, "root:payment failed")
        );
    }

    #[test]
    fn bracketed_and_key_value_levels() {
        let rec = parse("[2026-11-22T10:00:00Z] [warn] retrying upstream");
        assert_eq!(
            (rec.level, rec.message.as_str()),
            (Level::Warn, "retrying upstream")
        );
        assert_eq!(rec.timestamp.to_rfc3339(), "2026-11-22T10:00:00+00:00");

        let rec = parse(r#"time=2026-11-22T10:00:00Z level=error msg="db down""#);
        assert_eq!(rec.level, Level::Error);
        assert_eq!(
            rec.message,
            r#"time=2026-11-22T10:00:00Z level=error msg="db down""#
        );
    }

    #[test]
    fn zap_console_format() {
        let rec = parse("2026-11-22T10:00:00.000+0100\terror\thandler.go:42\tcard declined");
        assert_eq!(rec.level, Level::Error);
        assert_eq!(rec.timestamp.to_rfc3339(), "2026-11-22T09:00:00+00:00");
        assert_eq!(rec.message, "error\thandler.go:42\tcard declined");
    }

    #[test]
    fn bsd_timestamp_uses_the_context_year() {
        let rec = parse("Nov 22 10:00:00 cron started");
        assert_eq!(rec.timestamp.to_rfc3339(), "2026-11-22T10:00:00+00:00");
        assert_eq!(rec.message, "cron started");
    }

    #[test]
    fn ordinary_words_are_not_levels() {
        let rec = parse("no error occurred while processing order 42");
        assert_eq!(rec.level, Level::Info);
        let rec = parse("Log rotated; alert sent");
        assert_eq!(
            (rec.level, rec.message.as_str()),
            (Level::Info, "Log rotated; alert sent")
        );
        let rec = parse("Error connecting to db");
        assert_eq!(
            (rec.level, rec.message.as_str()),
            (Level::Error, "Error connecting to db")
        );
    }

    #[test]
    fn no_timestamp_means_ingest_time_without_a_flag() {
        let rec = parse("just some text");
        assert_eq!(rec.timestamp, ctx().now);
        assert!(rec.fields.is_empty());
    }

    #[test]
    fn impossible_leading_timestamp_is_flagged() {
        let rec = parse("2026-13-45 10:00:00 INFO x");
        assert_eq!(rec.timestamp, ctx().now);
        assert_eq!(rec.fields["timestamp_parse_error"], true);
        assert_eq!(rec.fields["timestamp_raw"], "2026-13-45 10:00:00");
        assert_eq!(rec.message, "x");
    }

    #[test]
    fn multiline_stack_trace_stays_in_the_message() {
        let text = "2026-11-22 10:00:00,123 ERROR request failed\njava.lang.IllegalStateException: boom\n\tat com.x.Y.z(Y.java:10)";
        let rec = parse(text);
        assert_eq!(rec.level, Level::Error);
        assert!(rec.message.starts_with("request failed\njava.lang"));
        assert!(rec.message.ends_with("(Y.java:10)"));
    }
}
