//! Syslog, RFC 3164 (BSD) and RFC 5424, through the `syslog_loose` crate.
//!
//! ```text
//! <34>Nov 22 10:00:00 web-3 sshd[812]: Failed password for root
//! <165>1 2026-11-22T10:00:00.003Z web-3 checkout 812 ID47 [origin ip="10.0.0.1"] order placed
//! ```

use super::{timestamp, Draft};
use crate::Level;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use syslog_loose::{ProcId, Variant};

/// Returns `None` when the text is neither syslog variant.
pub(super) fn parse(text: &str, now: DateTime<Utc>) -> Option<Draft> {
    // RFC 3164 timestamps carry no year (nor zone: read as UTC).
    let year = move |(month, ..): syslog_loose::IncompleteDate| timestamp::year_for(month, now);
    let message =
        syslog_loose::parse_message_with_year_exact_tz(text, year, Some(Utc), Variant::Either)
            .ok()?;

    let mut draft = Draft::new(message.msg);
    draft.timestamp = message.timestamp.map(|ts| ts.to_utc());
    draft.level = message
        .severity
        .map(|s| Level::from_syslog_severity(s as u8));
    draft.host = message.hostname.map(str::to_string);
    draft.service = message.appname.map(str::to_string);
    if let Some(facility) = message.facility {
        draft
            .fields
            .insert("facility".into(), facility.as_str().into());
    }
    match message.procid {
        Some(ProcId::PID(pid)) => {
            draft.fields.insert("procid".into(), pid.into());
        }
        Some(ProcId::Name(name)) => {
            draft.fields.insert("procid".into(), name.into());
        }
        None => {}
    }
    if let Some(msgid) = message.msgid {
        draft.fields.insert("msgid".into(), msgid.into());
    }
    // `{"origin": {"ip": "10.0.0.1"}}`: one object per SD-ID, values unescaped.
    let structured: Map<String, Value> = message
        .structured_data
        .iter()
        .map(|element| {
            let params = element
                .params()
                .map(|(name, value)| (name.to_string(), Value::String(value)))
                .collect();
            (element.id.to_string(), Value::Object(params))
        })
        .collect();
    if !structured.is_empty() {
        draft
            .fields
            .insert("structured_data".into(), Value::Object(structured));
    }
    Some(draft)
}

#[cfg(test)]
mod tests {
    use super::super::{
        parse_record,
        tests::{ctx, parse_as},
        Format, ParseContext,
    };
    use crate::{Level, LogRecord};
    use serde_json::json;

    fn parse(line: &str) -> LogRecord {
        parse_as(Format::Syslog, line)
    }

    #[test]
    fn rfc3164_line() {
        let rec =
            parse("<34>Nov 22 10:00:00 web-3 sshd[812]: Failed password for root from 10.0.0.9");
        assert_eq!(rec.level, Level::Critical);
        assert_eq!(rec.timestamp.to_rfc3339(), "2026-11-22T10:00:00+00:00");
        assert_eq!(rec.host.as_deref(), Some("web-3"));
        assert_eq!(rec.service, "sshd");
        assert_eq!(rec.message, "Failed password for root from 10.0.0.9");
        assert_eq!(rec.fields["facility"], "auth");
        assert_eq!(rec.fields["procid"], 812);
    }

    #[test]
    fn rfc5424_line_with_structured_data() {
        let rec = parse(
            r#"<165>1 2026-11-22T10:00:00.003Z web-3 checkout 812 ID47 [origin ip="10.0.0.1" note="a \"b\""][meta seq="7"] order placed"#,
        );
        assert_eq!(rec.level, Level::Info);
        assert_eq!(rec.timestamp.to_rfc3339(), "2026-11-22T10:00:00.003+00:00");
        assert_eq!(
            (rec.service.as_str(), rec.host.as_deref()),
            ("checkout", Some("web-3"))
        );
        assert_eq!(rec.message, "order placed");
        assert_eq!(rec.fields["facility"], "local4");
        assert_eq!(rec.fields["msgid"], "ID47");
        assert_eq!(
            rec.fields["structured_data"],
            json!({"origin": {"ip": "10.0.0.1", "note": "a \"b\""}, "meta": {"seq": "7"}})
        );
    }

    #[test]
    fn december_lines_read_in_january_belong_to_last_year() {
        let c = ParseContext {
            format: Format::Syslog,
            now: "2027-01-01T00:00:10Z".parse().unwrap(),
            ..ctx()
        };
        let rec = parse_record(b"<14>Dec 31 23:59:58 host app: tick", &c).unwrap();
        assert_eq!(rec.timestamp.to_rfc3339(), "2026-12-31T23:59:58+00:00");
    }

    #[test]
    fn missing_parts_fall_back_to_the_context() {
        let c = ParseContext {
            format: Format::Syslog,
            service: Some("from-key"),
            ..ctx()
        };
        let rec = parse_record(b"<13>1 - - - - - - hello", &c).unwrap();
        assert_eq!(rec.timestamp, c.now);
        assert_eq!(rec.service, "from-key");
        assert_eq!(rec.host, None);
        assert_eq!(rec.message, "hello");
    }
}
