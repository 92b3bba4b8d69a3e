//! A rule as clients send it, checked field by field into a
//! [`RuleSpec`]: every refusal is a 422 naming the field and why, so a
//! rule that could never fire (or never be delivered) is not stored.

use crate::error::ApiError;
use logflow_core::Level;
use logflow_store::meta::{Channel, Condition, RuleSpec};
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// Longest window and cooldown: a week.
const MAX_MINUTES: i64 = 7 * 24 * 60;
const MAX_NAME: usize = 200;
const MAX_DESCRIPTION: usize = 2000;
/// As the search API's own limit on query text.
const MAX_QUERY: usize = 2048;

/// The body of `POST /alerts/rules` and `PUT /alerts/rules/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    #[schema(example = "checkout errors")]
    pub name: String,
    pub description: Option<String>,
    /// `greater_than`, `less_than`, `equals`, `greater_than_or_equal`,
    /// `less_than_or_equal`.
    #[schema(example = "greater_than")]
    pub condition: String,
    /// Compared with the number of matching logs in the window.
    #[schema(example = 10)]
    pub threshold: f64,
    #[schema(example = 5)]
    pub window_minutes: i64,
    /// Only these levels count (default: all).
    #[serde(default)]
    pub levels: Vec<String>,
    /// Only these services count (default: all).
    #[serde(default)]
    pub services: Vec<String>,
    /// Only logs matching this search query count.
    pub query: Option<String>,
    /// `console`, `webhook`, `slack` or `email`.
    #[schema(example = "webhook")]
    pub channel: String,
    /// webhook: `{"url", "secret"?, "timeout_seconds"?}`; slack:
    /// `{"webhook_url"}`; email: `{"to": [addresses], "subject_prefix"?}`;
    /// console: `{}`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub channel_config: Value,
    #[serde(default = "active_by_default")]
    pub is_active: bool,
    /// Minutes after firing before the rule may fire again (default 15).
    #[serde(default = "default_cooldown")]
    pub cooldown_minutes: i64,
}

fn active_by_default() -> bool {
    true
}

fn default_cooldown() -> i64 {
    15
}

impl RuleInput {
    /// The checked rule.
    pub fn validate(self) -> Result<RuleSpec, ApiError> {
        let name = self.name.trim().to_string();
        if name.is_empty() || name.chars().count() > MAX_NAME {
            return Err(ApiError::invalid_field(
                "name",
                "the name must have 1 to 200 characters",
            ));
        }
        let description = self.description.filter(|d| !d.trim().is_empty());
        if description
            .as_ref()
            .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION)
        {
            return Err(ApiError::invalid_field(
                "description",
                "the description must have at most 2000 characters",
            ));
        }
        let condition: Condition = self.condition.parse().map_err(|_| {
            ApiError::invalid_field(
                "condition",
                format!(
                    "unknown condition {:?}: expected one of {}",
                    self.condition,
                    names(Condition::ALL.iter().map(|c| c.as_str()))
                ),
            )
        })?;
        if !self.threshold.is_finite() || self.threshold < 0.0 {
            return Err(ApiError::invalid_field(
                "threshold",
                "the threshold must be a number of logs, 0 or more",
            ));
        }
        if !(1..=MAX_MINUTES).contains(&self.window_minutes) {
            return Err(ApiError::invalid_field(
                "window_minutes",
                "the window must be 1 to 10080 minutes (a week)",
            ));
        }
        if !(0..=MAX_MINUTES).contains(&self.cooldown_minutes) {
            return Err(ApiError::invalid_field(
                "cooldown_minutes",
                "the cooldown must be 0 to 10080 minutes (a week)",
            ));
        }
        let levels = self
            .levels
            .iter()
            .map(|l| {
                l.parse::<Level>()
                    .map_err(|e| ApiError::invalid_field("levels", e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if self
            .services
            .iter()
            .any(|s| s.trim().is_empty() || s.len() > 256)
        {
            return Err(ApiError::invalid_field(
                "services",
                "service names must have 1 to 256 bytes",
            ));
        }
        let query = self.query.filter(|q| !q.trim().is_empty());
        if query.as_ref().is_some_and(|q| q.len() > MAX_QUERY) {
            return Err(ApiError::invalid_field(
                "query",
                "the query must have at most 2048 bytes",
            ));
        }
        let channel: Channel = self.channel.parse().map_err(|_| {
            ApiError::invalid_field(
                "channel",
                format!(
                    "unknown channel {:?}: expected one of {}",
                    self.channel,
                    names(Channel::ALL.iter().map(|c| c.as_str()))
                ),
            )
        })?;
        let channel_config = channel_config(channel, self.channel_config)?;
        Ok(RuleSpec {
            name,
            description,
            condition,
            threshold: self.threshold,
            window_minutes: self.window_minutes,
            levels,
            services: self.services,
            query,
            channel,
            channel_config,
            is_active: self.is_active,
            cooldown_minutes: self.cooldown_minutes,
        })
    }
}

fn names<'a>(all: impl Iterator<Item = &'a str>) -> String {
    all.collect::<Vec<_>>().join(", ")
}

/// The channel's settings, checked: exactly the keys the channel uses.
fn channel_config(channel: Channel, config: Value) -> Result<Value, ApiError> {
    let config = match config {
        Value::Null => Map::new(),
        Value::Object(map) => map,
        _ => {
            return Err(ApiError::invalid_field(
                "channel_config",
                "channel_config must be an object",
            ))
        }
    };
    let field = |name: &str| format!("channel_config.{name}");
    let allowed: &[&str] = match channel {
        Channel::Console => &[],
        Channel::Webhook => &["url", "secret", "timeout_seconds"],
        Channel::Slack => &["webhook_url"],
        Channel::Email => &["to", "subject_prefix"],
    };
    if let Some(unknown) = config.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(ApiError::invalid_field(
            &field(unknown),
            format!(
                "the {channel} channel has no setting {unknown:?} (it takes: {})",
                if allowed.is_empty() {
                    "none".to_string()
                } else {
                    allowed.join(", ")
                }
            ),
        ));
    }
    match channel {
        Channel::Console => {}
        Channel::Webhook => {
            http_url(&config, "url", &field("url"))?;
            if config
                .get("secret")
                .is_some_and(|s| s.as_str().is_none_or(str::is_empty))
            {
                return Err(ApiError::invalid_field(
                    &field("secret"),
                    "the secret must be a non-empty string",
                ));
            }
            if let Some(t) = config.get("timeout_seconds") {
                if !t.as_u64().is_some_and(|t| (1..=60).contains(&t)) {
                    return Err(ApiError::invalid_field(
                        &field("timeout_seconds"),
                        "the timeout must be 1 to 60 seconds",
                    ));
                }
            }
        }
        Channel::Slack => http_url(&config, "webhook_url", &field("webhook_url"))?,
        Channel::Email => {
            let to = config.get("to").and_then(Value::as_array);
            let valid = to.is_some_and(|to| {
                !to.is_empty()
                    && to.len() <= 50
                    && to.iter().all(|a| {
                        a.as_str()
                            .is_some_and(|a| a.parse::<email_address::EmailAddress>().is_ok())
                    })
            });
            if !valid {
                return Err(ApiError::invalid_field(
                    &field("to"),
                    "email needs \"to\": a list of 1 to 50 email addresses",
                ));
            }
            if config.get("subject_prefix").is_some_and(|p| !p.is_string()) {
                return Err(ApiError::invalid_field(
                    &field("subject_prefix"),
                    "the subject prefix must be a string",
                ));
            }
        }
    }
    Ok(Value::Object(config))
}

/// `config[key]` must be an absolute http(s) URL with a host.
fn http_url(config: &Map<String, Value>, key: &str, field: &str) -> Result<(), ApiError> {
    let url = config
        .get(key)
        .and_then(Value::as_str)
        .and_then(|u| url::Url::parse(u).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
    match url {
        Some(_) => Ok(()),
        None => Err(ApiError::invalid_field(
            field,
            format!("{key} must be an http:// or https:// URL"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(patch: Value) -> Result<RuleSpec, ApiError> {
        let mut body = json!({
            "name": "checkout errors",
            "condition": "greater_than",
            "threshold": 10,
            "window_minutes": 5,
            "levels": ["ERROR", "critical"],
            "services": ["checkout"],
            "channel": "webhook",
            "channel_config": {"url": "https://hooks.example/x", "secret": "s3"},
        });
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        serde_json::from_value::<RuleInput>(body)
            .unwrap()
            .validate()
    }

    fn field_of(result: Result<RuleSpec, ApiError>) -> String {
        let e = result.unwrap_err();
        assert_eq!(e.status.as_u16(), 422, "{e:?}");
        e.detail.unwrap()["field"].as_str().unwrap().to_string()
    }

    #[test]
    fn a_good_rule_is_normalised_with_defaults() {
        let spec = input(json!({"name": "  checkout errors "})).unwrap();
        assert_eq!(spec.name, "checkout errors");
        assert_eq!(spec.levels, [Level::Error, Level::Critical]);
        assert_eq!((spec.is_active, spec.cooldown_minutes), (true, 15));
        assert_eq!(spec.condition, Condition::GreaterThan);
    }

    #[test]
    fn each_bad_field_is_named() {
        for (patch, field) in [
            (json!({"name": " "}), "name"),
            (json!({"condition": "above"}), "condition"),
            (json!({"threshold": -1}), "threshold"),
            (json!({"window_minutes": -5}), "window_minutes"),
            (json!({"window_minutes": 0}), "window_minutes"),
            (json!({"window_minutes": 20000}), "window_minutes"),
            (json!({"cooldown_minutes": -1}), "cooldown_minutes"),
            (json!({"levels": ["LOUD"]}), "levels"),
            (json!({"services": [""]}), "services"),
            (json!({"query": "x".repeat(3000)}), "query"),
            (json!({"channel": "pager"}), "channel"),
            (
                json!({"channel_config": {"url": "ftp://hooks.example/x"}}),
                "channel_config.url",
            ),
            (
                json!({"channel_config": {"url": "not a url"}}),
                "channel_config.url",
            ),
            (json!({"channel_config": {}}), "channel_config.url"),
            (
                json!({"channel_config": {"url": "https://h/x", "secret": ""}}),
                "channel_config.secret",
            ),
            (
                json!({"channel_config": {"url": "https://h/x", "timeout_seconds": 600}}),
                "channel_config.timeout_seconds",
            ),
            (
                json!({"channel_config": {"url": "https://h/x", "method": "PUT"}}),
                "channel_config.method",
            ),
            (json!({"channel_config": "https://h/x"}), "channel_config"),
            (
                json!({"channel": "slack", "channel_config": {}}),
                "channel_config.webhook_url",
            ),
            (
                json!({"channel": "email", "channel_config": {}}),
                "channel_config.to",
            ),
            (
                json!({"channel": "email", "channel_config": {"to": ["not-an-address"]}}),
                "channel_config.to",
            ),
        ] {
            assert_eq!(field_of(input(patch.clone())), field, "{patch}");
        }
    }

    #[test]
    fn console_and_email_rules_pass() {
        let console = input(json!({"channel": "console", "channel_config": null})).unwrap();
        assert_eq!(console.channel_config, json!({}));
        let email =
            input(json!({"channel": "email", "channel_config": {"to": ["ops@example.com"]}}));
        assert_eq!(email.unwrap().channel, Channel::Email);
    }
}
