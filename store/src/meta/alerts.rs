//! Alert rules, the alerts they trigger, each notification attempt, and
//! the leases that let one alert engine of several evaluate: the
//! `alert_rules`, `triggered_alerts`, `alert_deliveries` and `leases`
//! tables.

use super::rows::{self, query_error, Fields};
use super::MetaError;
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use logflow_core::Level;
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::AnyPool;
use std::fmt;
use std::str::FromStr;

/// How the observed count is compared with the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    GreaterThan,
    LessThan,
    Equals,
    GreaterThanOrEqual,
    LessThanOrEqual,
}

impl Condition {
    pub const ALL: [Condition; 5] = [
        Condition::GreaterThan,
        Condition::LessThan,
        Condition::Equals,
        Condition::GreaterThanOrEqual,
        Condition::LessThanOrEqual,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Condition::GreaterThan => "greater_than",
            Condition::LessThan => "less_than",
            Condition::Equals => "equals",
            Condition::GreaterThanOrEqual => "greater_than_or_equal",
            Condition::LessThanOrEqual => "less_than_or_equal",
        }
    }

    /// Whether `observed` meets the condition against `threshold`.
    pub fn holds(self, observed: f64, threshold: f64) -> bool {
        match self {
            Condition::GreaterThan => observed > threshold,
            Condition::LessThan => observed < threshold,
            Condition::Equals => observed == threshold,
            Condition::GreaterThanOrEqual => observed >= threshold,
            Condition::LessThanOrEqual => observed <= threshold,
        }
    }
}

/// Where a triggered alert is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Console,
    Webhook,
    Slack,
    Email,
}

impl Channel {
    pub const ALL: [Channel; 4] = [
        Channel::Console,
        Channel::Webhook,
        Channel::Slack,
        Channel::Email,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Console => "console",
            Channel::Webhook => "webhook",
            Channel::Slack => "slack",
            Channel::Email => "email",
        }
    }
}

/// Where a triggered alert stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    Open,
    Acknowledged,
    Resolved,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Open => "open",
            AlertStatus::Acknowledged => "acknowledged",
            AlertStatus::Resolved => "resolved",
        }
    }
}

/// A stored spelling this code does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?}")]
pub struct UnknownName {
    pub what: &'static str,
    pub value: String,
}

macro_rules! from_str_by_name {
    ($type:ty, $what:literal, $all:expr) => {
        impl FromStr for $type {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<Self, UnknownName> {
                $all.into_iter()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| UnknownName {
                        what: $what,
                        value: s.to_string(),
                    })
            }
        }
        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

from_str_by_name!(Condition, "condition", Condition::ALL);
from_str_by_name!(Channel, "channel", Channel::ALL);
from_str_by_name!(
    AlertStatus,
    "alert status",
    [
        AlertStatus::Open,
        AlertStatus::Acknowledged,
        AlertStatus::Resolved
    ]
);

/// What a rule says; validated by the api before it is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RuleSpec {
    pub name: String,
    pub description: Option<String>,
    pub condition: Condition,
    pub threshold: f64,
    pub window_minutes: i64,
    /// Only records of these levels count; empty: all.
    pub levels: Vec<Level>,
    /// Only records of these services count; empty: all.
    pub services: Vec<String>,
    /// Only records matching this search query count.
    pub query: Option<String>,
    pub channel: Channel,
    /// The channel's settings (URL, secret, recipients…).
    #[schema(value_type = Object)]
    pub channel_config: serde_json::Value,
    pub is_active: bool,
    pub cooldown_minutes: i64,
}

impl RuleSpec {
    /// The logs the rule counts over the window ending at `now`.
    pub fn filter(&self, now: DateTime<Utc>) -> logflow_core::LogFilter {
        logflow_core::LogFilter {
            text: self.query.clone(),
            services: self.services.clone(),
            levels: self.levels.clone(),
            from: Some(now - Duration::minutes(self.window_minutes)),
            to: Some(now),
            ..Default::default()
        }
    }
}

/// A stored rule with its owner and statistics.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AlertRule {
    pub id: i64,
    #[serde(flatten)]
    pub spec: RuleSpec,
    pub owner_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_checked_at: Option<DateTime<Utc>>,
    pub last_triggered_at: Option<DateTime<Utc>>,
    pub trigger_count: i64,
}

/// One notification attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    pub attempt: i64,
    pub channel: Channel,
    pub attempted_at: DateTime<Utc>,
    pub succeeded: bool,
    /// The receiver's answer or the error.
    pub detail: Option<String>,
}

/// A rule that fired, and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TriggeredAlert {
    pub id: i64,
    pub rule_id: i64,
    pub rule_name: String,
    pub triggered_at: DateTime<Utc>,
    pub observed_value: f64,
    pub threshold: f64,
    pub window_minutes: i64,
    pub status: AlertStatus,
    pub acknowledged_by: Option<i64>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<i64>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub deliveries: Vec<Delivery>,
}

/// Which triggered alerts to list.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    pub status: Option<AlertStatus>,
    pub rule_id: Option<i64>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub limit: u32,
}

/// What one evaluation observed, for [`AlertRepository::fire`].
#[derive(Debug, Clone, Copy)]
pub struct Observation {
    pub at: DateTime<Utc>,
    pub observed_value: f64,
}

#[async_trait]
pub trait AlertRepository: Send + Sync {
    async fn create_rule(&self, spec: RuleSpec, owner_id: i64) -> Result<AlertRule, MetaError>;
    async fn rule(&self, id: i64) -> Result<Option<AlertRule>, MetaError>;
    /// Every rule (only the active ones when `active_only`), by id.
    async fn rules(&self, active_only: bool) -> Result<Vec<AlertRule>, MetaError>;
    /// Replaces the rule's spec; `MetaError::NotFound` for an unknown id.
    async fn update_rule(&self, id: i64, spec: RuleSpec) -> Result<AlertRule, MetaError>;
    /// Deletes the rule and its alerts; `false` when there was none.
    async fn delete_rule(&self, id: i64) -> Result<bool, MetaError>;

    /// Stamps `last_checked_at`.
    async fn record_check(&self, rule_id: i64, at: DateTime<Utc>) -> Result<(), MetaError>;

    /// Records a triggered alert and bumps the rule's statistics, unless an
    /// alert of the rule is unresolved or the rule's cooldown since its
    /// last trigger has not passed: then `None`. Atomic, and the database
    /// itself refuses a second unresolved alert per rule.
    async fn fire(
        &self,
        rule: &AlertRule,
        observation: Observation,
    ) -> Result<Option<TriggeredAlert>, MetaError>;

    async fn alert(&self, id: i64) -> Result<Option<TriggeredAlert>, MetaError>;
    /// Newest first.
    async fn alerts(&self, filter: &AlertFilter) -> Result<Vec<TriggeredAlert>, MetaError>;
    /// Unresolved alerts of active rules with no delivery attempt recorded
    /// (an engine fired them and stopped before sending), oldest first.
    async fn never_notified(&self, limit: u32) -> Result<Vec<TriggeredAlert>, MetaError>;
    /// Open → acknowledged; `None` if the alert is not open.
    async fn acknowledge(
        &self,
        id: i64,
        by: i64,
        at: DateTime<Utc>,
    ) -> Result<Option<TriggeredAlert>, MetaError>;
    /// Open or acknowledged → resolved (the rule may fire again); `None` if
    /// it was already resolved.
    async fn resolve(
        &self,
        id: i64,
        by: i64,
        at: DateTime<Utc>,
    ) -> Result<Option<TriggeredAlert>, MetaError>;

    async fn record_delivery(&self, alert_id: i64, delivery: &Delivery) -> Result<(), MetaError>;

    /// Takes or renews the lease `name` for `holder` until `now + ttl`;
    /// `false` while another holder's lease has not expired.
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, MetaError>;
}

const RULE_COLUMNS: &str = "id, name, description, condition, threshold, window_minutes, \
     levels, services, query, channel, channel_config, is_active, cooldown_minutes, owner_id, \
     created_at, updated_at, last_checked_at, last_triggered_at, trigger_count";

const ALERT_COLUMNS: &str = "a.id, a.rule_id, r.name AS rule_name, a.triggered_at, \
     a.observed_value, a.threshold, a.window_minutes, a.status, a.acknowledged_by, \
     a.acknowledged_at, a.resolved_by, a.resolved_at";

/// [`AlertRepository`] over either backend.
#[derive(Debug)]
pub(super) struct SqlAlertRepository {
    pool: AnyPool,
}

impl SqlAlertRepository {
    pub(super) fn new(pool: AnyPool) -> Self {
        SqlAlertRepository { pool }
    }

    async fn deliveries(&self, alert_id: i64) -> Result<Vec<Delivery>, MetaError> {
        sqlx::query(
            "SELECT attempt, channel, attempted_at, succeeded, detail FROM alert_deliveries \
             WHERE alert_id = $1 ORDER BY attempted_at, id",
        )
        .bind(alert_id)
        .fetch_all(&self.pool)
        .await
        .map_err(query_error("list deliveries"))?
        .iter()
        .map(delivery_from_row)
        .collect()
    }

    /// Rows of `triggered_alerts` with their deliveries.
    async fn with_deliveries(&self, rows: Vec<AnyRow>) -> Result<Vec<TriggeredAlert>, MetaError> {
        let mut alerts = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut alert = alert_from_row(row)?;
            alert.deliveries = self.deliveries(alert.id).await?;
            alerts.push(alert);
        }
        Ok(alerts)
    }

    /// Moves alert `id` from one of `from` to `to`, stamping `who`/`when`
    /// in the columns named `{column}_by`/`{column}_at`.
    async fn transition(
        &self,
        id: i64,
        from: &[AlertStatus],
        to: AlertStatus,
        column: &str,
        by: i64,
        at: DateTime<Utc>,
    ) -> Result<Option<TriggeredAlert>, MetaError> {
        let allowed: Vec<String> = from.iter().map(|s| format!("'{}'", s.as_str())).collect();
        let sql = format!(
            "UPDATE triggered_alerts SET status = $1, {column}_by = $2, {column}_at = $3 \
             WHERE id = $4 AND status IN ({})",
            allowed.join(", ")
        );
        let changed = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(to.as_str())
            .bind(by)
            .bind(at.timestamp_micros())
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(query_error("change alert status"))?
            .rows_affected();
        if changed == 0 {
            return Ok(None);
        }
        self.alert(id).await
    }
}

fn json_text<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_string())
}

fn rule_from_row(row: &AnyRow) -> Result<AlertRule, MetaError> {
    let fields = Fields::new("alert_rules", row);
    let parse_json = |column: &str| -> Result<serde_json::Value, MetaError> {
        let text: String = fields.get(column)?;
        serde_json::from_str(&text).map_err(|e| fields.corrupt(column, e))
    };
    let named = |column: &str| -> Result<String, MetaError> { fields.get(column) };
    let levels: Vec<Level> =
        serde_json::from_value(parse_json("levels")?).map_err(|e| fields.corrupt("levels", e))?;
    let services: Vec<String> = serde_json::from_value(parse_json("services")?)
        .map_err(|e| fields.corrupt("services", e))?;
    Ok(AlertRule {
        id: fields.get("id")?,
        spec: RuleSpec {
            name: fields.get("name")?,
            description: fields.get("description")?,
            condition: named("condition")?
                .parse()
                .map_err(|e| fields.corrupt("condition", e))?,
            threshold: fields.get("threshold")?,
            window_minutes: fields.get("window_minutes")?,
            levels,
            services,
            query: fields.get("query")?,
            channel: named("channel")?
                .parse()
                .map_err(|e| fields.corrupt("channel", e))?,
            channel_config: parse_json("channel_config")?,
            is_active: fields.flag("is_active")?,
            cooldown_minutes: fields.get("cooldown_minutes")?,
        },
        owner_id: fields.get("owner_id")?,
        created_at: fields.timestamp("created_at")?,
        updated_at: fields.timestamp("updated_at")?,
        last_checked_at: fields.optional_timestamp("last_checked_at")?,
        last_triggered_at: fields.optional_timestamp("last_triggered_at")?,
        trigger_count: fields.get("trigger_count")?,
    })
}

fn alert_from_row(row: &AnyRow) -> Result<TriggeredAlert, MetaError> {
    let fields = Fields::new("triggered_alerts", row);
    let status: String = fields.get("status")?;
    Ok(TriggeredAlert {
        id: fields.get("id")?,
        rule_id: fields.get("rule_id")?,
        rule_name: fields.get("rule_name")?,
        triggered_at: fields.timestamp("triggered_at")?,
        observed_value: fields.get("observed_value")?,
        threshold: fields.get("threshold")?,
        window_minutes: fields.get("window_minutes")?,
        status: status.parse().map_err(|e| fields.corrupt("status", e))?,
        acknowledged_by: fields.get("acknowledged_by")?,
        acknowledged_at: fields.optional_timestamp("acknowledged_at")?,
        resolved_by: fields.get("resolved_by")?,
        resolved_at: fields.optional_timestamp("resolved_at")?,
        deliveries: Vec::new(),
    })
}

fn delivery_from_row(row: &AnyRow) -> Result<Delivery, MetaError> {
    let fields = Fields::new("alert_deliveries", row);
    let channel: String = fields.get("channel")?;
    Ok(Delivery {
        attempt: fields.get("attempt")?,
        channel: channel.parse().map_err(|e| fields.corrupt("channel", e))?,
        attempted_at: fields.timestamp("attempted_at")?,
        succeeded: fields.flag("succeeded")?,
        detail: fields.get("detail")?,
    })
}

/// Binds a spec's columns, in `RULE_COLUMNS` order from `name` to
/// `cooldown_minutes`.
fn bind_spec<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    spec: &RuleSpec,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    query
        .bind(spec.name.clone())
        .bind(spec.description.clone())
        .bind(spec.condition.as_str())
        .bind(spec.threshold)
        .bind(spec.window_minutes)
        .bind(json_text(&spec.levels))
        .bind(json_text(&spec.services))
        .bind(spec.query.clone())
        .bind(spec.channel.as_str())
        .bind(spec.channel_config.to_string())
        .bind(spec.is_active)
        .bind(spec.cooldown_minutes)
}

#[async_trait]
impl AlertRepository for SqlAlertRepository {
    async fn create_rule(&self, spec: RuleSpec, owner_id: i64) -> Result<AlertRule, MetaError> {
        let now = rows::now().timestamp_micros();
        let query = sqlx::query(
            "INSERT INTO alert_rules (name, description, condition, threshold, window_minutes, \
             levels, services, query, channel, channel_config, is_active, cooldown_minutes, \
             owner_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
             RETURNING id",
        );
        let row = bind_spec(query, &spec)
            .bind(owner_id)
            .bind(now)
            .bind(now)
            .fetch_one(&self.pool)
            .await
            .map_err(query_error("create alert rule"))?;
        let id: i64 = Fields::new("alert_rules", &row).get("id")?;
        self.rule(id).await?.ok_or(MetaError::NotFound)
    }

    async fn rule(&self, id: i64) -> Result<Option<AlertRule>, MetaError> {
        let sql = format!("SELECT {RULE_COLUMNS} FROM alert_rules WHERE id = $1");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_error("alert rule by id"))?
            .as_ref()
            .map(rule_from_row)
            .transpose()
    }

    async fn rules(&self, active_only: bool) -> Result<Vec<AlertRule>, MetaError> {
        let filter = if active_only {
            " WHERE is_active = $1"
        } else {
            ""
        };
        let sql = format!("SELECT {RULE_COLUMNS} FROM alert_rules{filter} ORDER BY id");
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        if active_only {
            query = query.bind(true);
        }
        query
            .fetch_all(&self.pool)
            .await
            .map_err(query_error("list alert rules"))?
            .iter()
            .map(rule_from_row)
            .collect()
    }

    async fn update_rule(&self, id: i64, spec: RuleSpec) -> Result<AlertRule, MetaError> {
        let query = sqlx::query(
            "UPDATE alert_rules SET name = $1, description = $2, condition = $3, \
             threshold = $4, window_minutes = $5, levels = $6, services = $7, query = $8, \
             channel = $9, channel_config = $10, is_active = $11, cooldown_minutes = $12, \
             updated_at = $13 WHERE id = $14",
        );
        let changed = bind_spec(query, &spec)
            .bind(rows::now().timestamp_micros())
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(query_error("update alert rule"))?
            .rows_affected();
        if changed == 0 {
            return Err(MetaError::NotFound);
        }
        self.rule(id).await?.ok_or(MetaError::NotFound)
    }

    async fn delete_rule(&self, id: i64) -> Result<bool, MetaError> {
        let deleted = sqlx::query("DELETE FROM alert_rules WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(query_error("delete alert rule"))?
            .rows_affected();
        Ok(deleted > 0)
    }

    async fn record_check(&self, rule_id: i64, at: DateTime<Utc>) -> Result<(), MetaError> {
        sqlx::query("UPDATE alert_rules SET last_checked_at = $1 WHERE id = $2")
            .bind(at.timestamp_micros())
            .bind(rule_id)
            .execute(&self.pool)
            .await
            .map_err(query_error("record alert check"))?;
        Ok(())
    }

    async fn fire(
        &self,
        rule: &AlertRule,
        observation: Observation,
    ) -> Result<Option<TriggeredAlert>, MetaError> {
        let at = observation.at.timestamp_micros();
        let cooled_since =
            (observation.at - Duration::minutes(rule.spec.cooldown_minutes)).timestamp_micros();
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(query_error("begin firing"))?;
        let inserted = sqlx::query(
            "INSERT INTO triggered_alerts \
             (rule_id, triggered_at, observed_value, threshold, window_minutes, status) \
             SELECT id, $1, $2, threshold, window_minutes, 'open' FROM alert_rules \
             WHERE id = $3 \
             AND (last_triggered_at IS NULL OR last_triggered_at <= $4) \
             AND NOT EXISTS (SELECT 1 FROM triggered_alerts \
                             WHERE rule_id = $3 AND status IN ('open', 'acknowledged')) \
             RETURNING id",
        )
        .bind(at)
        .bind(observation.observed_value)
        .bind(rule.id)
        .bind(cooled_since)
        .fetch_optional(&mut *tx)
        .await;
        let id = match inserted {
            Ok(Some(row)) => Fields::new("triggered_alerts", &row).get::<i64>("id")?,
            Ok(None) => return Ok(None),
            // Another writer's unresolved alert won the race.
            Err(e)
                if e.as_database_error()
                    .is_some_and(|d| d.is_unique_violation()) =>
            {
                return Ok(None)
            }
            Err(e) => return Err(query_error("fire alert")(e)),
        };
        sqlx::query(
            "UPDATE alert_rules SET last_triggered_at = $1, last_checked_at = $1, \
             trigger_count = trigger_count + 1 WHERE id = $2",
        )
        .bind(at)
        .bind(rule.id)
        .execute(&mut *tx)
        .await
        .map_err(query_error("count alert trigger"))?;
        tx.commit().await.map_err(query_error("commit firing"))?;
        self.alert(id).await
    }

    async fn alert(&self, id: i64) -> Result<Option<TriggeredAlert>, MetaError> {
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM triggered_alerts a \
             JOIN alert_rules r ON r.id = a.rule_id WHERE a.id = $1"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_error("alert by id"))?;
        Ok(self.with_deliveries(row.into_iter().collect()).await?.pop())
    }

    async fn never_notified(&self, limit: u32) -> Result<Vec<TriggeredAlert>, MetaError> {
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM triggered_alerts a JOIN alert_rules r ON r.id = a.rule_id \
             WHERE a.status IN ('open', 'acknowledged') AND r.is_active = $1 \
             AND NOT EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.alert_id = a.id) \
             ORDER BY a.id LIMIT $2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(true)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(query_error("list never-notified alerts"))?;
        Ok(rows
            .iter()
            .map(alert_from_row)
            .collect::<Result<Vec<_>, _>>()?)
    }

    async fn alerts(&self, filter: &AlertFilter) -> Result<Vec<TriggeredAlert>, MetaError> {
        // Placeholders are numbered as conditions are added.
        let mut conditions = Vec::new();
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        if filter.status.is_some() {
            conditions.push(format!("a.status = {}", next()));
        }
        if filter.rule_id.is_some() {
            conditions.push(format!("a.rule_id = {}", next()));
        }
        if filter.from.is_some() {
            conditions.push(format!("a.triggered_at >= {}", next()));
        }
        if filter.to.is_some() {
            conditions.push(format!("a.triggered_at < {}", next()));
        }
        let limit = next();
        let filter_sql = if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        };
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM triggered_alerts a JOIN alert_rules r ON r.id = a.rule_id\
             {filter_sql} ORDER BY a.triggered_at DESC, a.id DESC LIMIT {limit}"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        if let Some(status) = filter.status {
            query = query.bind(status.as_str());
        }
        if let Some(rule_id) = filter.rule_id {
            query = query.bind(rule_id);
        }
        if let Some(from) = filter.from {
            query = query.bind(from.timestamp_micros());
        }
        if let Some(to) = filter.to {
            query = query.bind(to.timestamp_micros());
        }
        let rows = query
            .bind(i64::from(filter.limit))
            .fetch_all(&self.pool)
            .await
            .map_err(query_error("list alerts"))?;
        self.with_deliveries(rows).await
    }

    async fn acknowledge(
        &self,
        id: i64,
        by: i64,
        at: DateTime<Utc>,
    ) -> Result<Option<TriggeredAlert>, MetaError> {
        self.transition(
            id,
            &[AlertStatus::Open],
            AlertStatus::Acknowledged,
            "acknowledged",
            by,
            at,
        )
        .await
    }

    async fn resolve(
        &self,
        id: i64,
        by: i64,
        at: DateTime<Utc>,
    ) -> Result<Option<TriggeredAlert>, MetaError> {
        self.transition(
            id,
            &[AlertStatus::Open, AlertStatus::Acknowledged],
            AlertStatus::Resolved,
            "resolved",
            by,
            at,
        )
        .await
    }

    async fn record_delivery(&self, alert_id: i64, delivery: &Delivery) -> Result<(), MetaError> {
        sqlx::query(
            "INSERT INTO alert_deliveries \
             (alert_id, attempt, channel, attempted_at, succeeded, detail) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(alert_id)
        .bind(delivery.attempt)
        .bind(delivery.channel.as_str())
        .bind(delivery.attempted_at.timestamp_micros())
        .bind(delivery.succeeded)
        .bind(delivery.detail.clone())
        .execute(&self.pool)
        .await
        .map_err(query_error("record delivery"))?;
        Ok(())
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, MetaError> {
        let now = rows::now();
        let row = sqlx::query(
            "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
             expires_at = excluded.expires_at \
             WHERE leases.holder = excluded.holder OR leases.expires_at <= $4 \
             RETURNING holder",
        )
        .bind(name.to_string())
        .bind(holder.to_string())
        .bind((now + ttl).timestamp_micros())
        .bind(now.timestamp_micros())
        .fetch_optional(&self.pool)
        .await
        .map_err(query_error("acquire lease"))?;
        Ok(row.is_some())
    }
}
