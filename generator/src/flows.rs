//! Realistic request flows across the demo services: one correlation id is
//! shared by every record of a flow, levels follow a production-like mix,
//! and the error ratio can be raised for error-burst scenarios.

use chrono::{DateTime, Duration, Utc};
use logflow_core::{Level, LogRecord};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

/// The services of the demo shop, in the order a checkout visits them.
pub const DEFAULT_SERVICES: [&str; 6] = [
    "gateway",
    "auth-service",
    "order-service",
    "payment-service",
    "inventory-service",
    "notification-service",
];

const HOSTS: [&str; 4] = ["web-1", "web-2", "web-3", "worker-1"];
const PATHS: [&str; 5] = [
    "/api/orders",
    "/api/cart",
    "/api/login",
    "/api/checkout",
    "/api/products",
];

/// Messages per service and level; the errors are few and repeat, as in
/// real systems, so "top errors" has something to rank.
fn message(service: &str, level: Level, rng: &mut StdRng) -> String {
    let pick = |options: &[&str], rng: &mut StdRng| {
        options[rng.random_range(0..options.len())].to_string()
    };
    match (service, level) {
        (_, Level::Error | Level::Critical) => pick(
            match service {
                "payment-service" => &[
                    "card declined by issuer",
                    "payment provider timeout after 5000ms",
                    "fraud check failed",
                ],
                "auth-service" => &["token validation failed", "user store unavailable"],
                "inventory-service" => {
                    &["stock reservation conflict", "database deadlock detected"]
                }
                "order-service" => &["order persistence failed", "downstream payment error"],
                "notification-service" => {
                    &["SMTP connection refused", "push provider rejected message"]
                }
                _ => &["upstream returned 502", "request timed out"],
            },
            rng,
        ),
        (_, Level::Warn) => pick(
            &[
                "slow response from dependency",
                "retrying request",
                "cache miss storm",
                "connection pool at 90%",
            ],
            rng,
        ),
        (_, Level::Debug | Level::Trace) => format!(
            "cache lookup key=item:{} hit={}",
            rng.random_range(1..5000),
            rng.random_bool(0.7)
        ),
        ("gateway", _) => format!(
            "{} {} completed",
            pick(&["GET", "POST", "PUT"], rng),
            pick(&PATHS, rng)
        ),
        ("auth-service", _) => format!("user u-{} authenticated", rng.random_range(1..10_000)),
        ("order-service", _) => format!("order o-{} created", rng.random_range(1..1_000_000)),
        ("payment-service", _) => format!(
            "payment of {}.{:02} EUR authorised",
            rng.random_range(1..500),
            rng.random_range(0..100)
        ),
        ("inventory-service", _) => format!("reserved {} items", rng.random_range(1..6)),
        ("notification-service", _) => "order confirmation email queued".to_string(),
        _ => "request handled".to_string(),
    }
}

/// Produces request flows deterministically from a seed.
pub struct FlowFactory {
    rng: StdRng,
    services: Vec<String>,
    flows: u64,
}

impl FlowFactory {
    pub fn new(seed: u64, services: Vec<String>) -> Self {
        FlowFactory {
            rng: StdRng::seed_from_u64(seed),
            services,
            flows: 0,
        }
    }

    fn level(&mut self, error_ratio: f64) -> Level {
        if self.rng.random_bool(error_ratio.clamp(0.0, 1.0)) {
            return if self.rng.random_bool(0.1) {
                Level::Critical
            } else {
                Level::Error
            };
        }
        match self.rng.random_range(0..100) {
            0..=7 => Level::Warn,
            8..=37 => Level::Debug,
            38..=39 => Level::Trace,
            _ => Level::Info,
        }
    }

    /// One request flow starting at `start`: the first service always logs,
    /// then each next service with some probability; `error_ratio` is the
    /// chance of each record being an error.
    pub fn flow(&mut self, start: DateTime<Utc>, error_ratio: f64) -> Vec<LogRecord> {
        self.flows += 1;
        let correlation_id = format!("{:016x}{:08x}", self.rng.random::<u64>(), self.flows as u32);
        let trace_id = format!("{:032x}", self.rng.random::<u128>());
        let user = format!("u-{}", self.rng.random_range(1..10_000));
        let steps = self.rng.random_range(1..=self.services.len().max(1));
        let mut at = start;
        let mut out = Vec::with_capacity(steps);
        for i in 0..steps {
            let Some(service) = self.services.get(i).cloned() else {
                break;
            };
            let level = self.level(error_ratio);
            let mut record = LogRecord::new(
                at,
                service.clone(),
                level,
                message(&service, level, &mut self.rng),
            );
            record.host = Some(HOSTS[self.rng.random_range(0..HOSTS.len())].to_string());
            record.correlation_id = Some(correlation_id.clone());
            record.trace_id = Some(trace_id.clone());
            let took = self.rng.random_range(1..250);
            let status = if level.is_error() { 500 } else { 200 };
            let fields = json!({"user_id": user, "duration_ms": took, "http.status": status});
            if let serde_json::Value::Object(map) = fields {
                record.fields = map;
            }
            out.push(record);
            at += Duration::milliseconds(took);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn factory() -> FlowFactory {
        FlowFactory::new(7, DEFAULT_SERVICES.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn a_flow_shares_one_correlation_id_across_services_in_order() {
        let mut f = factory();
        let now = Utc::now();
        let flows: Vec<_> = (0..200).map(|_| f.flow(now, 0.02)).collect();
        let long = flows
            .iter()
            .find(|fl| fl.len() >= 3)
            .expect("some flow crosses 3 services");
        assert!(long
            .iter()
            .all(|r| r.correlation_id == long[0].correlation_id));
        assert_eq!(long[0].service, "gateway");
        assert_eq!(long[1].service, "auth-service");
        assert!(long.windows(2).all(|w| w[0].timestamp < w[1].timestamp));
        let ids: std::collections::HashSet<_> = flows
            .iter()
            .map(|fl| fl[0].correlation_id.clone())
            .collect();
        assert_eq!(ids.len(), flows.len(), "every flow has its own id");
    }

    #[test]
    fn level_mix_is_realistic_and_error_ratio_is_honoured() {
        let now = Utc::now();
        let count = |ratio: f64| {
            let mut f = factory();
            let records: Vec<_> = (0..5000).flat_map(|_| f.flow(now, ratio)).collect();
            let errors = records.iter().filter(|r| r.level.is_error()).count();
            let info = records.iter().filter(|r| r.level == Level::Info).count();
            (
                errors as f64 / records.len() as f64,
                info as f64 / records.len() as f64,
            )
        };
        let (normal_errors, normal_info) = count(0.02);
        assert!((0.01..0.04).contains(&normal_errors), "{normal_errors}");
        assert!(normal_info > 0.4, "{normal_info}");
        let (burst_errors, _) = count(0.6);
        assert!(burst_errors > 0.5, "{burst_errors}");
    }

    #[test]
    fn same_seed_same_logs() {
        let now = Utc::now();
        assert_eq!(factory().flow(now, 0.1), factory().flow(now, 0.1));
    }
}
