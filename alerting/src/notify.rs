//! Sending a triggered alert where its rule says. The console channel is a
//! structured log line at warn level (picked up by whatever collects the
//! engine's output).

use chrono::Utc;
use logflow_store::meta::{AlertRule, Channel, Delivery, TriggeredAlert};

/// Sends `alert` on the rule's channel; the outcome, to be recorded.
pub async fn deliver(rule: &AlertRule, alert: &TriggeredAlert) -> Delivery {
    let (succeeded, detail) = match rule.spec.channel {
        Channel::Console => {
            tracing::warn!(
                target: "logflow_alert",
                alert = alert.id,
                rule = rule.id,
                name = %rule.spec.name,
                condition = %rule.spec.condition,
                observed = alert.observed_value,
                threshold = alert.threshold,
                window_minutes = alert.window_minutes,
                "ALERT {}: {} logs in {} min ({} {})",
                rule.spec.name,
                alert.observed_value,
                alert.window_minutes,
                rule.spec.condition,
                alert.threshold,
            );
            (true, "written to the engine's log".to_string())
        }
        other => {
            tracing::error!(alert = alert.id, rule = rule.id, channel = %other, "this notification channel is not built yet");
            (false, format!("the {other} channel is not built yet"))
        }
    };
    Delivery {
        attempt: 1,
        channel: rule.spec.channel,
        attempted_at: Utc::now(),
        succeeded,
        detail: Some(detail),
    }
}
