//! The HTTP channels: a webhook (our JSON document, signed when the rule
//! has a secret) and Slack (an incoming-webhook message). One POST per
//! attempt, bounded by a timeout, redirects not followed (a receiver that
//! moved must be configured anew, not chased).

use super::message;
use super::retry::Failure;
use hmac::{Hmac, Mac};
use logflow_store::meta::{AlertRule, Channel, TriggeredAlert};
use serde_json::Value;
use sha2::Sha256;
use std::time::Duration;

/// The header carrying `sha256=<hex HMAC-SHA256 of the body>`.
pub const SIGNATURE_HEADER: &str = "X-LogFlow-Signature";
/// How much of a receiver's answer is kept in the delivery record.
const DETAIL_MAX: usize = 300;

/// The client every HTTP notification goes through.
pub fn client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("LogFlow-Alerting/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// `sha256=` and the hex HMAC-SHA256 of `body` under `secret`: what a
/// receiver recomputes to know the alert came from us, unaltered.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A webhook's timeout when its rule names none, and Slack's.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// What an HTTP channel sends for one alert.
pub struct Notification<'a> {
    url: &'a str,
    body: Vec<u8>,
    secret: Option<&'a str>,
    timeout: Duration,
}

impl<'a> Notification<'a> {
    /// The webhook document (signed with the rule's secret, within its
    /// timeout) or the Slack message, to the rule's URL. The api checked
    /// the URL exists; a missing one (a rule edited in the database by
    /// hand) is an empty URL that fails its delivery with a clear error.
    pub fn for_rule(rule: &'a AlertRule, alert: &TriggeredAlert) -> Notification<'a> {
        let config = &rule.spec.channel_config;
        let text = |key: &str| config.get(key).and_then(Value::as_str);
        let (url, body, secret, timeout) = match rule.spec.channel {
            Channel::Slack => (
                text("webhook_url"),
                message::slack_body(rule, alert),
                None,
                DEFAULT_TIMEOUT,
            ),
            _ => (
                text("url"),
                message::webhook_body(rule, alert),
                text("secret"),
                config
                    .get("timeout_seconds")
                    .and_then(Value::as_u64)
                    .map_or(DEFAULT_TIMEOUT, Duration::from_secs),
            ),
        };
        Notification {
            url: url.unwrap_or(""),
            body: serde_json::to_vec(&body).expect("a JSON value serialises"),
            secret,
            timeout,
        }
    }
}

impl Notification<'_> {
    /// One POST of the notification's JSON; 2xx is delivered, a network
    /// error, timeout, 429 or 5xx may pass, anything else will not.
    pub async fn post(&self, client: &reqwest::Client) -> Result<String, Failure> {
        let (url, timeout) = (self.url, self.timeout);
        let mut request = client
            .post(url)
            .timeout(timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("X-LogFlow-Event", "alert.triggered")
            .body(self.body.clone());
        if let Some(secret) = self.secret {
            request = request.header(SIGNATURE_HEADER, signature(secret, &self.body));
        }
        let response = request.send().await.map_err(|e| {
            if e.is_builder() {
                Failure::permanent(format!("invalid request to {url:?}: {}", error_chain(&e)))
            } else if e.is_timeout() {
                Failure::transient(format!("no answer within {} s", timeout.as_secs_f64()))
            } else {
                Failure::transient(format!("could not reach the receiver: {}", error_chain(&e)))
            }
        })?;
        let status = response.status();
        let text = head_of_body(response).await;
        let detail = if text.trim().is_empty() {
            format!("HTTP {}", status.as_u16())
        } else {
            format!("HTTP {}: {}", status.as_u16(), cut(text.trim()))
        };
        if status.is_success() {
            Ok(detail)
        } else if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            Err(Failure::transient(detail))
        } else {
            Err(Failure::permanent(detail))
        }
    }
}

/// The start of the receiver's answer (enough for the record; a huge or
/// endless body is not read to its end).
async fn head_of_body(mut response: reqwest::Response) -> String {
    let mut head = Vec::new();
    while head.len() <= DETAIL_MAX {
        match response.chunk().await {
            Ok(Some(chunk)) => head.extend_from_slice(&chunk),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// The error and its causes, for a record a person reads.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn cut(text: &str) -> String {
    if text.len() <= DETAIL_MAX {
        return text.to_string();
    }
    format!("{}…", &text[..text.floor_char_boundary(DETAIL_MAX)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_hmac_sha256() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
