//! Removes secrets from records before they are stored, so a password that a
//! service logged by mistake never becomes searchable.
//!
//! Built-in rules cover credentials by the name they are logged under
//! (`password=…`, `"api_key": "…"`, `?token=…`, `Authorization: …`) and by
//! their shape (`Bearer …`, `scheme://user:password@host`, `curl -u
//! user:password`). Operators add their own regexes for anything else.
//!
//! The processor runs this on every record, so the common case — a line with
//! no secret in it — must be cheap: one case-insensitive multi-literal scan
//! (Aho-Corasick) decides whether the full regex runs at all.

use crate::LogRecord;
use aho_corasick::AhoCorasick;
use regex::{Captures, Regex, RegexSet};
use serde_json::Value;
use std::borrow::Cow;
use std::sync::LazyLock;

/// What every secret is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Names that mark a value as secret when a key ends with one of them, so
/// `db_password` and `github_token` are caught but `tokenizer`,
/// `max_tokens` and `password_reset_requested` are not.
const SECRET_NAMES: &str =
    r"(?:api[-_]?key|secret[-_]?key|private[-_]?key|access[-_]?key|passw(?:or)?d|pwd|token|secret)";

/// Characters a key is made of; a key is any run of them ending in a name.
const KEY_CHARS: &str = r"[A-Za-z0-9_.\-]*";

/// An optional closing quote after the key (JSON, possibly escaped inside
/// another string), then `=`, `:` or Ruby's `=>`.
const KEY_END: &str = r#"\\?["']?[\x20\t]*(?:=>|[:=])[\x20\t]*"#;

/// Every substring the built-in pattern cannot match without. Lines with
/// none of them skip the regex entirely.
const TRIGGERS: &[&str] = &[
    "key", "pass", "pwd", "token", "secret", "auth", "bearer", "://", "-u",
];

/// The built-in rules as one regex. Each alternative has exactly one capture
/// group: the secret to replace. The rest of the match (key, separator,
/// opening quote) is kept, so the line stays readable.
static BUILTIN: LazyLock<Regex> = LazyLock::new(|| {
    let key = format!("{KEY_CHARS}{SECRET_NAMES}{KEY_END}");
    let auth = format!("{KEY_CHARS}authorization{KEY_END}");
    let alternatives = [
        // Authorization header: the whole value including its scheme.
        format!(r#"{auth}\\?["']([^"'\\\r\n]*)"#),
        format!(r#"{auth}(\[REDACTED\]|(?:[A-Za-z][A-Za-z0-9_-]*[\x20\t]+)?[^\s"',;&]+)"#),
        // key: "value" (JSON), key: \"value\" (JSON inside a string), key: 'value'.
        format!(r#"{key}"((?:[^"\\]|\\.)*)"#),
        format!(r#"{key}\\"((?:[^"\\]|\\[^"])*)"#),
        format!(r#"{key}'([^']*)"#),
        // key=value up to the next delimiter (`&` keeps the rest of a query string).
        format!(r#"{key}(\[REDACTED\]|(?:(?:bearer|basic|token)[\x20\t]+)?[^\s"'&,;)\]}}>{{]+)"#),
        r"(?-u:\b)bearer[\x20\t]+([A-Za-z0-9\-._~+/]+=*)".to_string(),
        r"[a-z][a-z0-9+.\-]*://[^/\s:@]+:([^/\s@]+)@".to_string(),
        r#"(?:^|[\x20\t])(?:-u|--user)[\x20\t]+["']?[^\s:"']+:([^\s"']+)"#.to_string(),
    ];
    Regex::new(&format!("(?i){}", alternatives.join("|"))).expect("static regex")
});

/// A field whose key is a secret name has its whole value replaced.
static SECRET_KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        "(?i)^{KEY_CHARS}(?:{SECRET_NAMES}|authorization)$"
    ))
    .expect("static regex")
});

static TRIGGER_SCAN: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build(TRIGGERS)
        .expect("static literals")
});

/// A redaction pattern from configuration that is not a valid regex.
#[derive(Debug, thiserror::Error)]
pub enum RedactError {
    #[error("invalid redaction pattern {pattern:?}: {source}")]
    InvalidPattern {
        pattern: String,
        #[source]
        source: regex::Error,
    },
    #[error("redaction patterns are too large to combine: {0}")]
    TooLarge(#[source] regex::Error),
}

/// Configured patterns: a set to find which (if any) match in one pass, and
/// each pattern alone to replace its matches.
#[derive(Debug)]
struct Extra {
    set: RegexSet,
    each: Vec<Regex>,
}

/// Replaces secrets with [`REDACTED`]. Cheap to share: build once, use from
/// every thread.
#[derive(Debug)]
pub struct Redactor {
    extra: Option<Extra>,
}

impl Redactor {
    /// The built-in rules plus `extra_patterns`, regexes whose whole match is
    /// replaced (for example `AKIA[0-9A-Z]{16}` for AWS access key ids).
    pub fn new(extra_patterns: &[String]) -> Result<Self, RedactError> {
        if extra_patterns.is_empty() {
            return Ok(Redactor { extra: None });
        }
        let each = extra_patterns
            .iter()
            .map(|pattern| {
                Regex::new(pattern).map_err(|source| RedactError::InvalidPattern {
                    pattern: pattern.clone(),
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let set = RegexSet::new(extra_patterns).map_err(RedactError::TooLarge)?;
        Ok(Redactor {
            extra: Some(Extra { set, each }),
        })
    }

    /// `text` with every secret replaced; borrowed (no allocation) when there
    /// is nothing to replace, which is the common case.
    pub fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut out = Cow::Borrowed(text);
        if TRIGGER_SCAN.is_match(text) {
            out = replace(out, &BUILTIN, keep_key_replace_value);
        }
        if let Some(extra) = &self.extra {
            for index in extra.set.matches(&out).into_iter() {
                if let Some(re) = extra.each.get(index) {
                    out = replace(out, re, |caps: &Captures| whole_match(caps));
                }
            }
        }
        out
    }

    /// Redacts the message and every string in `fields`, at any depth. A
    /// field whose key is a secret name (`password`, `api_key`,
    /// `Authorization`, …) has its whole value replaced, unless it is null or
    /// a boolean, which reveal nothing.
    pub fn redact_record(&self, record: &mut LogRecord) {
        self.redact_in_place(&mut record.message);
        for (key, value) in record.fields.iter_mut() {
            self.redact_value(Some(key), value);
        }
    }

    fn redact_value(&self, key: Option<&str>, value: &mut Value) {
        if key.is_some_and(|k| SECRET_KEY.is_match(k))
            && !matches!(value, Value::Null | Value::Bool(_))
        {
            *value = Value::String(REDACTED.to_string());
            return;
        }
        match value {
            Value::String(text) => self.redact_in_place(text),
            Value::Array(items) => items
                .iter_mut()
                .for_each(|item| self.redact_value(None, item)),
            Value::Object(map) => map
                .iter_mut()
                .for_each(|(k, v)| self.redact_value(Some(k), v)),
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    fn redact_in_place(&self, text: &mut String) {
        let redacted = match self.redact(text) {
            Cow::Owned(redacted) => Some(redacted),
            Cow::Borrowed(_) => None,
        };
        if let Some(redacted) = redacted {
            *text = redacted;
        }
    }
}

/// Applies one regex, keeping the borrow when nothing matched.
fn replace<'t>(
    text: Cow<'t, str>,
    re: &Regex,
    replacer: impl FnMut(&Captures) -> String,
) -> Cow<'t, str> {
    let replaced = match re.replace_all(&text, replacer) {
        Cow::Owned(replaced) => Some(replaced),
        Cow::Borrowed(_) => None,
    };
    replaced.map_or(text, Cow::Owned)
}

/// For the built-in rules: the match with its one captured group (the
/// secret) replaced. Empty values and JSON literals are left alone: they
/// are no secret, and keeping them keeps embedded JSON valid.
fn keep_key_replace_value(caps: &Captures) -> String {
    let whole = caps.get(0).map_or("", |m| m.as_str());
    let (Some(all), Some(secret)) = (caps.get(0), caps.iter().skip(1).flatten().next()) else {
        return whole.to_string();
    };
    let value = secret.as_str();
    if value.is_empty()
        || ["null", "true", "false"]
            .iter()
            .any(|l| value.eq_ignore_ascii_case(l))
    {
        return whole.to_string();
    }
    let before = whole
        .get(..secret.start() - all.start())
        .unwrap_or_default();
    let after = whole.get(secret.end() - all.start()..).unwrap_or_default();
    format!("{before}{REDACTED}{after}")
}

/// For configured patterns: the whole match, except that empty matches (a
/// pattern like `x*`) replace nothing rather than inserting markers
/// everywhere.
fn whole_match(caps: &Captures) -> String {
    match caps.get(0) {
        Some(m) if !m.is_empty() => REDACTED.to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Level;
    use proptest::prelude::*;
    use serde_json::json;

    fn redact(text: &str) -> String {
        Redactor::new(&[]).unwrap().redact(text).into_owned()
    }

    #[test]
    fn key_value_forms() {
        let cases = [
            (
                "login user=bob password=hunter2 ok",
                "login user=bob password=[REDACTED] ok",
            ),
            (
                "db_password = s3cr3t, retries=3",
                "db_password = [REDACTED], retries=3",
            ),
            ("PASSWD: hunter2", "PASSWD: [REDACTED]"),
            ("pwd=abc", "pwd=[REDACTED]"),
            (
                "client_secret=xyz; scope=read",
                "client_secret=[REDACTED]; scope=read",
            ),
            (
                "User{name=bob, password=hunter2}",
                "User{name=bob, password=[REDACTED]}",
            ),
            (":api_key => 'abc123'", ":api_key => '[REDACTED]'"),
            ("X-Api-Key: 0123456789abcdef", "X-Api-Key: [REDACTED]"),
            (
                "apikey=k1 api-key=k2",
                "apikey=[REDACTED] api-key=[REDACTED]",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(redact(input), want, "{input}");
        }
    }

    #[test]
    fn nginx_query_strings_keep_other_parameters() {
        let line = r#"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] "GET /cb?code=1&access_token=eyJhbGciOi.x.y&refresh_token=r1&state=9 HTTP/1.1" 302 0"#;
        assert_eq!(
            redact(line),
            r#"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] "GET /cb?code=1&access_token=[REDACTED]&refresh_token=[REDACTED]&state=9 HTTP/1.1" 302 0"#
        );
        assert_eq!(
            redact("/reset?token=abc&x=1"),
            "/reset?token=[REDACTED]&x=1"
        );
    }

    #[test]
    fn json_bodies_plain_and_escaped() {
        assert_eq!(
            redact(
                r#"request body {"user":"bob","password":"p\"w","api_key": "k", "remember": true, "token": null}"#
            ),
            r#"request body {"user":"bob","password":"[REDACTED]","api_key": "[REDACTED]", "remember": true, "token": null}"#
        );
        assert_eq!(
            redact(r#"{"log":"{\"password\":\"hunter2\",\"user\":\"bob\"}"}"#),
            r#"{"log":"{\"password\":\"[REDACTED]\",\"user\":\"bob\"}"}"#
        );
    }

    #[test]
    fn authorization_headers_and_bearer_tokens() {
        assert_eq!(
            redact("Authorization: Basic dXNlcjpwYXNz"),
            "Authorization: [REDACTED]"
        );
        assert_eq!(
            redact(r#"curl -H "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig" https://api"#),
            r#"curl -H "Authorization: [REDACTED]" https://api"#
        );
        assert_eq!(
            redact(r#"{"authorization":"Digest abc"}"#),
            r#"{"authorization":"[REDACTED]"}"#
        );
        assert_eq!(
            redact("sent with bearer xyz to upstream"),
            "sent with bearer [REDACTED] to upstream"
        );
        assert_eq!(redact("token: Bearer abc def"), "token: [REDACTED] def");
    }

    #[test]
    fn urls_and_curl_credentials() {
        assert_eq!(
            redact("connecting to postgres://app:s3cr3t@db:5432/orders"),
            "connecting to postgres://app:[REDACTED]@db:5432/orders"
        );
        assert_eq!(
            redact("curl -u admin:hunter2 https://x"),
            "curl -u admin:[REDACTED] https://x"
        );
        assert_eq!(
            redact("see https://example.com:8443/path"),
            "see https://example.com:8443/path"
        );
    }

    #[test]
    fn java_log_lines() {
        let line = "2026-11-22 10:00:00,123 ERROR [main] c.l.AuthService - login failed for user=bob password=hunter2\n\tat com.logflow.TokenService.verify(TokenService.java:42)";
        assert_eq!(
            redact(line),
            "2026-11-22 10:00:00,123 ERROR [main] c.l.AuthService - login failed for user=bob password=[REDACTED]\n\tat com.logflow.TokenService.verify(TokenService.java:42)"
        );
    }

    #[test]
    fn clean_lines_and_near_misses_are_untouched() {
        for text in [
            "tokenizer=bert max_tokens=512 token_count=7",
            "password_reset_requested user=42",
            "password_reset_requested=true",
            "GET /api/v1/keys HTTP/1.1 200",
            "the secret sauce is love",
            "monkey=banana",
            "Invalid token:\n\tat com.x.Y",
        ] {
            assert_eq!(redact(text), text);
        }
        assert!(matches!(
            Redactor::new(&[]).unwrap().redact("plain line"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn extra_patterns_replace_whole_matches() {
        let r = Redactor::new(&[
            "AKIA[0-9A-Z]{16}".into(),
            r"\b\d{4}-\d{4}-\d{4}-\d{4}\b".into(),
            "x*".into(),
        ])
        .unwrap();
        assert_eq!(
            r.redact("key AKIAIOSFODNN7EXAMPLE card 4111-1111-1111-1111 ok"),
            "key [REDACTED] card [REDACTED] ok"
        );
        let err = Redactor::new(&["ok".into(), "(unclosed".into()]).unwrap_err();
        assert!(err.to_string().contains("(unclosed"), "{err}");
    }

    #[test]
    fn records_are_redacted_by_value_and_by_key() {
        let r = Redactor::new(&[]).unwrap();
        let mut rec = LogRecord::new(
            chrono::Utc::now(),
            "api",
            Level::Info,
            "login password=hunter2",
        );
        rec.fields.insert("password".into(), json!("hunter2"));
        rec.fields.insert("has_password".into(), json!(true));
        rec.fields
            .insert("password_reset_requested".into(), json!("yes"));
        rec.fields.insert(
            "request".into(),
            json!({"headers": {"Authorization": "Basic abc", "Accept": "*/*"}, "api_key": 12345,
                   "urls": ["https://u:p@h/x", "https://h/y"]}),
        );
        r.redact_record(&mut rec);
        assert_eq!(rec.message, "login password=[REDACTED]");
        assert_eq!(
            serde_json::Value::Object(rec.fields),
            json!({
                "password": "[REDACTED]", "has_password": true, "password_reset_requested": "yes",
                "request": {"headers": {"Authorization": "[REDACTED]", "Accept": "*/*"}, "api_key": "[REDACTED]",
                            "urls": ["https://u:[REDACTED]@h/x", "https://h/y"]}
            })
        );
    }

    /// Text made of the pieces the rules react to, so the properties explore
    /// their interactions rather than mostly-clean random strings.
    fn secretish_text() -> impl Strategy<Value = String> {
        let piece = prop::sample::select(vec![
            "password",
            "token",
            "api_key",
            "Authorization",
            "Bearer",
            "secret",
            "=",
            ": ",
            "=>",
            "\"",
            "\\\"",
            "'",
            "&",
            " ",
            "\t",
            "\n",
            "abc",
            "[REDACTED]",
            "[",
            "]",
            "://",
            "@",
            "u:p",
            "-u ",
            "null",
            "{",
            "}",
            ",",
            "é",
            "ſ",
        ]);
        prop::collection::vec(
            prop_oneof![piece.prop_map(String::from), "\\PC{0,3}"],
            0..24,
        )
        .prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #[test]
        fn redaction_is_idempotent(text in secretish_text()) {
            let once = redact(&text);
            prop_assert_eq!(redact(&once), once.clone());
        }

        #[test]
        fn redaction_never_panics(text in "\\PC{0,200}") {
            let r = Redactor::new(&["[0-9]{3,}".into()]).unwrap();
            let mut rec = LogRecord::new(chrono::Utc::now(), "s", Level::Info, text.clone());
            rec.fields.insert("nested".into(), json!({"token": text, "list": [text]}));
            r.redact_record(&mut rec);
        }
    }
}
