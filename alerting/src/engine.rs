//! The evaluation loop: hold the lease, count each active rule's logs over
//! its window, fire when the condition holds, notify.

use crate::notify::Notifier;
use chrono::{DateTime, Utc};
use logflow_store::meta::{AlertRepository, AlertRule, MetaError, Observation, TriggeredAlert};
use logflow_store::LogStore;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// The lease every engine competes for.
const LEASE: &str = "alert-engine";
/// Shortest lease: a leader that stops renewing is replaced after this.
const MIN_LEASE: Duration = Duration::from_secs(5);
/// How many never-notified alerts one round picks up.
const REDELIVERY_BATCH: u32 = 100;
/// How long deliveries in hand may still run at shutdown; one cut short
/// has its attempts so far recorded, and one not yet attempted is sent by
/// the next engine.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// One engine process.
pub struct Engine {
    store: Arc<dyn LogStore>,
    alerts: Arc<dyn AlertRepository>,
    notifier: Notifier,
    interval: Duration,
    holder: String,
    /// Notifications being sent, each in a task of its own so a slow
    /// receiver holds up neither the other alerts nor the next round.
    sending: Mutex<JoinSet<()>>,
    /// The alerts those tasks are sending (not to be picked up again).
    in_flight: Arc<Mutex<HashSet<i64>>>,
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
            sending: Mutex::new(JoinSet::new()),
            in_flight: Arc::default(),
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
                () = shutdown.cancelled() => {
                    if tokio::time::timeout(SHUTDOWN_GRACE, self.settle()).await.is_err() {
                        tracing::warn!("notifications still being sent at shutdown were cut short");
                    }
                    return;
                }
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
    /// so a leader that dies is replaced within three), evaluate every
    /// active rule, and start sending what fired, together with alerts that
    /// were recorded but never sent (an engine died in between). Returns
    /// what fired; the sending goes on in the background ([`Engine::settle`]
    /// waits for it).
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<Tick, MetaError> {
        let ttl = (self.interval * 3).max(MIN_LEASE);
        let ttl = chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::minutes(3));
        if !self.alerts.acquire_lease(LEASE, &self.holder, ttl).await? {
            return Ok(Tick::NotLeader);
        }
        self.reap();
        let rules = self.alerts.rules(true).await?;
        let mut fired = Vec::new();
        for rule in &rules {
            crate::metrics::checked();
            if let Some(alert) = self.evaluate(rule, now).await? {
                crate::metrics::triggered(&rule.spec.name);
                self.send(rule, alert.clone());
                fired.push(alert);
            }
        }
        for alert in self.alerts.never_notified(REDELIVERY_BATCH).await? {
            let Some(rule) = rules.iter().find(|r| r.id == alert.rule_id) else {
                continue;
            };
            if self.is_in_flight(alert.id) {
                continue;
            }
            tracing::warn!(
                alert = alert.id,
                rule = rule.id,
                "alert recorded but never notified; sending it now"
            );
            self.send(rule, alert);
        }
        Ok(Tick::Evaluated {
            rules: rules.len(),
            fired,
        })
    }

    /// Waits until every notification started so far has been sent (or
    /// given up) and recorded.
    pub async fn settle(&self) {
        let mut tasks = std::mem::take(&mut *lock(&self.sending));
        while tasks.join_next().await.is_some() {}
    }

    /// Forgets finished sending tasks.
    fn reap(&self) {
        let mut tasks = lock(&self.sending);
        while tasks.try_join_next().is_some() {}
    }

    fn is_in_flight(&self, alert_id: i64) -> bool {
        lock(&self.in_flight).contains(&alert_id)
    }

    /// Sends `alert` in a task of its own, recording each attempt as soon
    /// as it is known.
    fn send(&self, rule: &AlertRule, alert: TriggeredAlert) {
        lock(&self.in_flight).insert(alert.id);
        let (notifier, alerts, in_flight) = (
            self.notifier.clone(),
            self.alerts.clone(),
            self.in_flight.clone(),
        );
        let rule = rule.clone();
        lock(&self.sending).spawn(async move {
            let record = |delivery: logflow_store::meta::Delivery| {
                let alerts = alerts.clone();
                crate::metrics::attempted(&delivery);
                async move {
                    if let Err(e) = alerts.record_delivery(alert.id, &delivery).await {
                        tracing::error!(alert = alert.id, error = %e, "cannot record a notification attempt");
                    }
                }
            };
            notifier.deliver_recording(&rule, &alert, record).await;
            lock(&in_flight).remove(&alert.id);
        });
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

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
