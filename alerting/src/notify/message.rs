//! What a notification says, per channel: the webhook's JSON document, the
//! Slack incoming-webhook body, the email's subject and text. Pure
//! functions of the rule and the alert, so every channel tells the same
//! story and the tests can check each shape exactly.

use logflow_store::meta::{AlertRule, TriggeredAlert};
use serde_json::{json, Value};

/// Slack's limit on a header block's text.
const SLACK_HEADER_MAX: usize = 150;
/// Slack's limit on a section field's text.
const SLACK_FIELD_MAX: usize = 2000;

/// One line for humans: "checkout errors: 412 logs in 5 min (greater_than 100)".
pub fn summary(rule: &AlertRule, alert: &TriggeredAlert) -> String {
    format!(
        "{}: {} logs in {} min ({} {})",
        rule.spec.name,
        number(alert.observed_value),
        alert.window_minutes,
        rule.spec.condition,
        number(alert.threshold),
    )
}

/// The webhook's body: the event, the alert and the rule that fired it
/// (without its channel settings, which may hold the secret).
pub fn webhook_body(rule: &AlertRule, alert: &TriggeredAlert) -> Value {
    json!({
        "event": "alert.triggered",
        "summary": summary(rule, alert),
        "alert": {
            "id": alert.id,
            "rule_id": alert.rule_id,
            "rule_name": alert.rule_name,
            "status": alert.status,
            "triggered_at": alert.triggered_at,
            "observed_value": alert.observed_value,
            "threshold": alert.threshold,
            "window_minutes": alert.window_minutes,
        },
        "rule": {
            "id": rule.id,
            "name": rule.spec.name,
            "description": rule.spec.description,
            "condition": rule.spec.condition,
            "threshold": rule.spec.threshold,
            "window_minutes": rule.spec.window_minutes,
            "levels": rule.spec.levels,
            "services": rule.spec.services,
            "query": rule.spec.query,
        },
    })
}

/// An incoming-webhook message: `text` (the fallback Slack shows in
/// notifications) and Block Kit `blocks` — a header, the description when
/// there is one, and the numbers as fields. Text from the rule is escaped
/// for mrkdwn, so a description cannot `<!channel>` or forge a link.
pub fn slack_body(rule: &AlertRule, alert: &TriggeredAlert) -> Value {
    let header = cut(
        &format!(":rotating_light: {}", rule.spec.name),
        SLACK_HEADER_MAX,
    );
    let mut fields = vec![
        field("Observed", &number(alert.observed_value)),
        field(
            "Condition",
            &format!("{} {}", rule.spec.condition, number(alert.threshold)),
        ),
        field("Window", &format!("{} min", alert.window_minutes)),
        field("Triggered", &alert.triggered_at.to_rfc3339()),
    ];
    if !rule.spec.services.is_empty() {
        fields.push(field("Services", &escape(&rule.spec.services.join(", "))));
    }
    if !rule.spec.levels.is_empty() {
        let levels: Vec<&str> = rule.spec.levels.iter().map(|l| l.as_str()).collect();
        fields.push(field("Levels", &levels.join(", ")));
    }
    if let Some(query) = &rule.spec.query {
        fields.push(field("Query", &escape(query)));
    }
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": header, "emoji": true},
    })];
    if let Some(description) = &rule.spec.description {
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": cut(&escape(description), 3000)},
        }));
    }
    blocks.push(json!({"type": "section", "fields": fields}));
    blocks.push(json!({
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": format!("LogFlow alert #{} · rule #{}", alert.id, rule.id)}],
    }));
    json!({"text": format!("LogFlow alert — {}", escape(&summary(rule, alert))), "blocks": blocks})
}

/// The email's subject: the rule's prefix (default `[LogFlow]`) and the summary.
pub fn email_subject(rule: &AlertRule, alert: &TriggeredAlert) -> String {
    let prefix = rule
        .spec
        .channel_config
        .get("subject_prefix")
        .and_then(Value::as_str)
        .unwrap_or("[LogFlow]");
    format!("{prefix} {}", summary(rule, alert))
        .trim()
        .to_string()
}

/// The email's plain-text body.
pub fn email_text(rule: &AlertRule, alert: &TriggeredAlert) -> String {
    let mut text = format!(
        "Alert rule \"{}\" fired.\n\n\
         Observed:   {} logs\n\
         Condition:  {} {}\n\
         Window:     {} minutes\n\
         Triggered:  {}\n",
        rule.spec.name,
        number(alert.observed_value),
        rule.spec.condition,
        number(alert.threshold),
        alert.window_minutes,
        alert.triggered_at.to_rfc3339(),
    );
    if !rule.spec.services.is_empty() {
        text.push_str(&format!("Services:   {}\n", rule.spec.services.join(", ")));
    }
    if !rule.spec.levels.is_empty() {
        let levels: Vec<&str> = rule.spec.levels.iter().map(|l| l.as_str()).collect();
        text.push_str(&format!("Levels:     {}\n", levels.join(", ")));
    }
    if let Some(query) = &rule.spec.query {
        text.push_str(&format!("Query:      {query}\n"));
    }
    if let Some(description) = &rule.spec.description {
        text.push_str(&format!("\n{description}\n"));
    }
    text.push_str(&format!(
        "\nAlert #{} of rule #{}: acknowledge or resolve it with\n\
         POST /api/v1/alerts/triggered/{}/acknowledge or /resolve.\n",
        alert.id, rule.id, alert.id
    ));
    text
}

/// Slack's mrkdwn escaping: `&`, `<` and `>` are its control characters.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn field(label: &str, value: &str) -> Value {
    json!({"type": "mrkdwn", "text": cut(&format!("*{label}*\n{value}"), SLACK_FIELD_MAX)})
}

/// Counts print as integers ("412", not "412.0").
fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        value.to_string()
    }
}

/// At most `max` characters, with an ellipsis when cut.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_print_as_integers_and_long_text_is_cut_to_slack_limits() {
        assert_eq!(number(412.0), "412");
        assert_eq!(number(2.5), "2.5");
        let long = "x".repeat(400);
        let cut_text = cut(&long, SLACK_HEADER_MAX);
        assert_eq!(cut_text.chars().count(), SLACK_HEADER_MAX);
        assert!(cut_text.ends_with('…'));
        assert_eq!(cut("short", 10), "short");
    }

    #[test]
    fn slack_control_characters_are_escaped() {
        assert_eq!(
            escape("<!channel> & <https://x|y>"),
            "&lt;!channel&gt; &amp; &lt;https://x|y&gt;"
        );
    }
}
