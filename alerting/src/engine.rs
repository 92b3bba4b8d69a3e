//! The evaluation loop: hold the lease, count each active rule's logs over
//! its window, fire when the condition holds, notify.

use crate::notify::Notifier;
use chrono::{DateTime, Utc};
use logflow_store::meta::{
    AlertFilter, AlertRepository, AlertRule, AlertStatus, MetaError, Observation, TriggeredAlert,
};
use logflow_store::LogStore;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The lease every engine competes for.
const LEASE: &str = "alert-engine";
/// Shortest lease: a leader that stops renewing is replaced after this.
const MIN_LEASE: Duration = Duration::from_secs(5);
/// How many open alerts a round looks through for ones never notified.
const REDELIVERY_SCAN: u32 = 1000;

/// One engine process.
pub struct Engine {
    store: Arc<dyn LogStore>,
    alerts: Arc<dyn AlertRepository>,
    notifier: Notifier,
    interval: Duration,
    holder: String,
}

/// What one round did.
#[derive(Debug)]
pub enum Tick {
    /// Another engine holds the lease; nothing was evaluated.
    NotLeader,
    Evaluated {
        rules: usize,
        fired: Vec<TriggeredAlert>,
    },
}

impl Engine {
    pub fn new(
        store: Arc<dyn LogStore>,
        alerts: Arc<dyn AlertRepository>,
        notifier: Notifier,
        interval: Duration,
    ) -> Engine {
        let holder = format!(
            "{}-{}-{:08x}",
            gethostname::gethostname().to_string_lossy(),
            std::process::id(),
            rand::random::<u32>()
        );
        Engine {
            store,
            alerts,
            notifier,
            interval,
            holder,
        }
    }

    /// This engine's name in the lease.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Rounds every interval until `shutdown`; a failed round is logged
    /// and the next one tries again.
    pub async fn run(&self, shutdown: CancellationToken) {
        let mut ticker = tokio::time::interval(self.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = ticker.tick() => {}
            }
            match self.tick(Utc::now()).await {
                Ok(Tick::NotLeader) => tracing::debug!("another engine holds the lease"),
                Ok(Tick::Evaluated { rules, fired }) => {
                    tracing::debug!(rules, fired = fired.len(), "alert rules evaluated")
                }
                Err(e) => tracing::warn!(error = %e, "alert round failed; retrying next interval"),
            }
        }
    }

    /// One round at `now`: take or renew the lease (three intervals long,
    /// so a leader that dies is replaced within three), notify open alerts
    /// that were recorded but never sent (the engine died in between),
    /// evaluate every active rule, then send what fired, all channels at
    /// once (one slow receiver does not hold up the others).
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<Tick, MetaError> {
        let ttl = (self.interval * 3).max(MIN_LEASE);
        let ttl = chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::minutes(3));
        if !self.alerts.acquire_lease(LEASE, &self.holder, ttl).await? {
            return Ok(Tick::NotLeader);
        }
        let rules = self.alerts.rules(true).await?;
        let mut to_send = self.never_notified(&rules).await?;
        let mut fired = Vec::new();
        for rule in &rules {
            if let Some(alert) = self.evaluate(rule, now).await? {
                fired.push(alert.id);
                to_send.push((rule, alert));
            }
        }
        let sent = futures::future::join_all(
            to_send
                .into_iter()
                .map(|(rule, alert)| self.notify(rule, alert)),
        )
        .await;
        let mut notified = Vec::new();
        for alert in sent {
            notified.push(alert?);
        }
        let fired = notified
            .into_iter()
            .filter(|a| fired.contains(&a.id))
            .collect();
        Ok(Tick::Evaluated {
            rules: rules.len(),
            fired,
        })
    }

    /// Sends `alert` and records every attempt on it.
    async fn notify(
        &self,
        rule: &AlertRule,
        mut alert: TriggeredAlert,
    ) -> Result<TriggeredAlert, MetaError> {
        for delivery in self.notifier.deliver(rule, &alert).await {
            self.alerts.record_delivery(alert.id, &delivery).await?;
            alert.deliveries.push(delivery);
        }
        Ok(alert)
    }

    /// Open alerts of active rules with no delivery attempt at all.
    async fn never_notified<'r>(
        &self,
        rules: &'r [AlertRule],
    ) -> Result<Vec<(&'r AlertRule, TriggeredAlert)>, MetaError> {
        let open = self
            .alerts
            .alerts(&AlertFilter {
                status: Some(AlertStatus::Open),
                limit: REDELIVERY_SCAN,
                ..Default::default()
            })
            .await?;
        Ok(open
            .into_iter()
            .filter(|a| a.deliveries.is_empty())
            .filter_map(|a| {
                let rule = rules.iter().find(|r| r.id == a.rule_id)?;
                tracing::warn!(
                    alert = a.id,
                    rule = rule.id,
                    "alert recorded but never notified; sending it now"
                );
                Some((rule, a))
            })
            .collect())
    }

    /// One count query over the rule's window; records the alert when the
    /// condition holds and the rule is neither open nor cooling down.
    async fn evaluate(
        &self,
        rule: &AlertRule,
        now: DateTime<Utc>,
    ) -> Result<Option<TriggeredAlert>, MetaError> {
        let count = match self.store.count(&rule.spec.filter(now)).await {
            Ok(count) => count,
            Err(e) => {
                tracing::warn!(rule = rule.id, name = %rule.spec.name, error = %e, "alert rule not evaluated");
                return Ok(None);
            }
        };
        let observed = count as f64;
        if !rule.spec.condition.holds(observed, rule.spec.threshold) {
            self.alerts.record_check(rule.id, now).await?;
            return Ok(None);
        }
        let observation = Observation {
            at: now,
            observed_value: observed,
        };
        let alert = self.alerts.fire(rule, observation).await?;
        if alert.is_none() {
            // Unresolved or cooling down: checked, not fired.
            self.alerts.record_check(rule.id, now).await?;
        }
        Ok(alert)
    }
}
