//! Sending a triggered alert where its rule says: the console (a
//! structured warn-level line from target `logflow_alert`, for whatever
//! collects the engine's output), a webhook, Slack, or email. Every attempt
//! comes back as a [`Delivery`] for the alert's record.

mod email;
mod http;
pub mod message;
mod retry;

pub use email::{SmtpArgs, SmtpConfigError, SmtpTls};
pub use http::{signature, SIGNATURE_HEADER};
pub use retry::RetryPolicy;

use chrono::Utc;
use clap::Args;
use email::Mailer;
use logflow_store::meta::{AlertRule, Channel, Delivery, TriggeredAlert};
use retry::{deliver_with_retries, Failure};
use serde_json::Value;
use std::time::Duration;

/// How notifications are sent.
#[derive(Debug, Clone, Args)]
pub struct NotifyArgs {
    /// Retries of a webhook, Slack or email notification after a network
    /// error, a timeout or a 5xx/429 answer.
    #[arg(long, env = "ALERT_NOTIFY_RETRIES", default_value_t = 3, value_parser = clap::value_parser!(u8).range(0..=10))]
    pub alert_notify_retries: u8,

    /// The pause before the first retry; it doubles after each.
    #[arg(long, env = "ALERT_NOTIFY_BACKOFF", default_value = "1s", value_parser = humantime::parse_duration)]
    pub alert_notify_backoff: Duration,

    #[command(flatten)]
    pub smtp: SmtpArgs,
}

/// Why notifications cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Smtp(#[from] SmtpConfigError),
    #[error("cannot set up the HTTP client for webhooks: {0}")]
    Http(#[from] reqwest::Error),
}

/// Sends alerts on every channel.
#[derive(Clone)]
pub struct Notifier {
    http: reqwest::Client,
    mailer: Option<Mailer>,
    policy: RetryPolicy,
}

impl Notifier {
    pub fn new(args: &NotifyArgs) -> Result<Notifier, NotifyError> {
        let mailer = Mailer::new(&args.smtp)?;
        if mailer.is_none() {
            tracing::info!("SMTP_HOST is not set: email alerts will record a failed delivery");
        }
        Ok(Notifier {
            http: http::client()?,
            mailer,
            policy: RetryPolicy {
                retries: args.alert_notify_retries.into(),
                first_pause: args.alert_notify_backoff,
            },
        })
    }

    /// Sends `alert` on its rule's channel; every attempt, in order.
    pub async fn deliver(&self, rule: &AlertRule, alert: &TriggeredAlert) -> Vec<Delivery> {
        self.deliver_recording(rule, alert, |_| async {}).await
    }

    /// As [`Notifier::deliver`], handing each attempt to `on_attempt` as
    /// soon as its outcome is known.
    pub async fn deliver_recording<R, RFut>(
        &self,
        rule: &AlertRule,
        alert: &TriggeredAlert,
        on_attempt: R,
    ) -> Vec<Delivery>
    where
        R: Fn(Delivery) -> RFut,
        RFut: std::future::Future<Output = ()>,
    {
        let config = &rule.spec.channel_config;
        let channel = rule.spec.channel;
        let attempts = match channel {
            Channel::Console => {
                console(rule, alert);
                let delivery = Delivery {
                    attempt: 1,
                    channel,
                    attempted_at: Utc::now(),
                    succeeded: true,
                    detail: Some("written to the engine's log".into()),
                };
                on_attempt(delivery.clone()).await;
                return vec![delivery];
            }
            Channel::Webhook | Channel::Slack => {
                let notification = http::Notification::for_rule(rule, alert);
                deliver_with_retries(
                    channel,
                    self.policy,
                    || notification.post(&self.http),
                    on_attempt,
                )
                .await
            }
            Channel::Email => {
                let to: Vec<String> = config
                    .get("to")
                    .and_then(Value::as_array)
                    .map(|to| {
                        to.iter()
                            .filter_map(|a| a.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default();
                let subject = message::email_subject(rule, alert);
                let text = message::email_text(rule, alert);
                let send = || async {
                    match &self.mailer {
                        Some(mailer) => mailer.send(&to, &subject, text.clone()).await,
                        None => Err(Failure::permanent(
                            "no SMTP server configured (set SMTP_HOST for the alert engine)",
                        )),
                    }
                };
                deliver_with_retries(channel, self.policy, send, on_attempt).await
            }
        };
        match attempts.last() {
            Some(last) if last.succeeded => {
                tracing::info!(alert = alert.id, rule = rule.id, %channel, attempts = attempts.len(), "alert notification delivered")
            }
            last => tracing::error!(
                alert = alert.id,
                rule = rule.id,
                %channel,
                attempts = attempts.len(),
                detail = last.and_then(|d| d.detail.as_deref()).unwrap_or(""),
                "alert notification not delivered"
            ),
        }
        attempts
    }
}

fn console(rule: &AlertRule, alert: &TriggeredAlert) {
    tracing::warn!(
        target: "logflow_alert",
        alert = alert.id,
        rule = rule.id,
        name = %rule.spec.name,
        condition = %rule.spec.condition,
        observed = alert.observed_value,
        threshold = alert.threshold,
        window_minutes = alert.window_minutes,
        "ALERT {}",
        message::summary(rule, alert),
    );
}
