//! The evaluation loop: hold the lease, count each active rule's logs over
//! its window, fire when the condition holds, notify.

use crate::notify;
use chrono::{DateTime, Utc};
use logflow_store::meta::{AlertRepository, AlertRule, MetaError, Observation, TriggeredAlert};
use logflow_store::LogStore;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The lease every engine competes for.
const LEASE: &str = "alert-engine";
/// Shortest lease: a leader that stops renewing is replaced after this.
const MIN_LEASE: Duration = Duration::from_secs(5);

/// One engine process.
pub struct Engine {
    store: Arc<dyn LogStore>,
    alerts: Arc<dyn AlertRepository>,
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
    /// so a leader that dies is replaced within three), then evaluate
    /// every active rule.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<Tick, MetaError> {
        let ttl = (self.interval * 3).max(MIN_LEASE);
        let ttl = chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::minutes(3));
        if !self.alerts.acquire_lease(LEASE, &self.holder, ttl).await? {
            return Ok(Tick::NotLeader);
        }
        let rules = self.alerts.rules(true).await?;
        let mut fired = Vec::new();
        for rule in &rules {
            if let Some(alert) = self.evaluate(rule, now).await? {
                fired.push(alert);
            }
        }
        Ok(Tick::Evaluated {
            rules: rules.len(),
            fired,
        })
    }

    /// One count query over the rule's window; fires (and notifies) when
    /// the condition holds and the rule is neither open nor cooling down.
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
        let Some(alert) = self.alerts.fire(rule, observation).await? else {
            // Unresolved or cooling down: checked, not fired.
            self.alerts.record_check(rule.id, now).await?;
            return Ok(None);
        };
        let delivery = notify::deliver(rule, &alert).await;
        self.alerts.record_delivery(alert.id, &delivery).await?;
        let alert = self.alerts.alert(alert.id).await?.unwrap_or(alert);
        Ok(Some(alert))
    }
}
