//! The alert engine's Prometheus metrics, named in this one place:
//! `alerts_checked_total`, `alerts_triggered_total{rule_name}` (rule names
//! bounded: past the first 500, `_other`), and
//! `notifications_sent_total{channel,outcome}` (one per attempt).

use logflow_metrics::{counter, describe_counter, BoundedLabel};
use logflow_store::meta::Delivery;

const CHECKED: &str = "alerts_checked_total";
const TRIGGERED: &str = "alerts_triggered_total";
const NOTIFICATIONS: &str = "notifications_sent_total";

static RULE_NAMES: BoundedLabel = BoundedLabel::new(500);

/// Installs the recorder and describes the engine's metrics.
pub fn describe() {
    logflow_metrics::install();
    describe_counter!(CHECKED, "Alert rule evaluations");
    describe_counter!(TRIGGERED, "Alerts fired, by rule name");
    describe_counter!(
        NOTIFICATIONS,
        "Notification attempts, by channel and outcome (success, failure)"
    );
}

pub fn checked() {
    counter!(CHECKED).increment(1);
}

pub fn triggered(rule_name: &str) {
    counter!(TRIGGERED, "rule_name" => RULE_NAMES.value(rule_name)).increment(1);
}

pub fn attempted(delivery: &Delivery) {
    let outcome = if delivery.succeeded {
        "success"
    } else {
        "failure"
    };
    counter!(NOTIFICATIONS, "channel" => delivery.channel.as_str(), "outcome" => outcome)
        .increment(1);
}
