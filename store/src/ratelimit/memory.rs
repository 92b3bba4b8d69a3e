//! Sliding logs in this process.

use super::{Decision, Limit, LimitError, RateLimiter};
use async_trait::async_trait;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often buckets whose requests have all aged out are dropped.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// One bucket: the times of the requests counted in its window.
struct Log {
    window: Duration,
    times: VecDeque<Instant>,
}

impl Log {
    /// Forgets requests that left the window: one made exactly `window`
    /// ago no longer counts (as in the Redis script).
    fn prune(&mut self, now: Instant) {
        while let Some(&oldest) = self.times.front() {
            if now.saturating_duration_since(oldest) >= self.window {
                self.times.pop_front();
            } else {
                break;
            }
        }
    }

    /// Decides a request at `now`, counting it when `consume` and allowed.
    fn decide(&mut self, limit: Limit, now: Instant, consume: bool) -> Decision {
        self.window = limit.window;
        self.prune(now);
        let allowed = self.times.len() < limit.max as usize;
        if allowed && consume {
            self.times.push_back(now);
        }
        let reset = self.times.front().map_or(Duration::ZERO, |&oldest| {
            limit
                .window
                .saturating_sub(now.saturating_duration_since(oldest))
        });
        Decision::new(allowed, limit, self.times.len() as u32, reset)
    }
}

struct Logs {
    buckets: HashMap<String, Log>,
    swept: Instant,
}

/// Rate limits held in this process (one api, or the fallback while Redis
/// is unreachable).
pub struct MemoryLimiter {
    logs: Mutex<Logs>,
}

impl Default for MemoryLimiter {
    fn default() -> Self {
        MemoryLimiter {
            logs: Mutex::new(Logs {
                buckets: HashMap::new(),
                swept: Instant::now(),
            }),
        }
    }
}

impl MemoryLimiter {
    fn decide_at(&self, bucket: &str, limit: Limit, now: Instant, consume: bool) -> Decision {
        let mut logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
        if now.saturating_duration_since(logs.swept) >= SWEEP_EVERY {
            logs.buckets.retain(|_, log| {
                log.prune(now);
                !log.times.is_empty()
            });
            logs.swept = now;
        }
        match logs.buckets.get_mut(bucket) {
            Some(log) => log.decide(limit, now, consume),
            None => {
                let mut log = Log {
                    window: limit.window,
                    times: VecDeque::new(),
                };
                let decision = log.decide(limit, now, consume);
                if !log.times.is_empty() {
                    logs.buckets.insert(bucket.to_string(), log);
                }
                decision
            }
        }
    }
}

#[async_trait]
impl RateLimiter for MemoryLimiter {
    async fn check(&self, bucket: &str, limit: Limit) -> Result<Decision, LimitError> {
        Ok(self.decide_at(bucket, limit, Instant::now(), true))
    }

    async fn peek(&self, bucket: &str, limit: Limit) -> Result<Decision, LimitError> {
        Ok(self.decide_at(bucket, limit, Instant::now(), false))
    }

    async fn buckets(&self, max: usize) -> Result<Vec<String>, LimitError> {
        let logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        Ok(logs
            .buckets
            .iter()
            .filter(|(_, log)| {
                log.times
                    .back()
                    .is_some_and(|&t| now.saturating_duration_since(t) < log.window)
            })
            .map(|(name, _)| name.clone())
            .take(max)
            .collect())
    }

    async fn reset(&self, buckets: &[String]) -> Result<u64, LimitError> {
        let mut logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
        Ok(buckets
            .iter()
            .filter(|b| logs.buckets.remove(b.as_str()).is_some())
            .count() as u64)
    }

    async fn reset_all(&self) -> Result<u64, LimitError> {
        let mut logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
        let n = logs.buckets.len() as u64;
        logs.buckets.clear();
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: Limit = Limit {
        max: 3,
        window: Duration::from_secs(60),
    };

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn allows_max_then_refuses_with_the_time_until_a_slot_frees() {
        let limiter = MemoryLimiter::default();
        let t0 = Instant::now();
        for (i, remaining) in [2, 1, 0].into_iter().enumerate() {
            let d = limiter.decide_at("b", LIMIT, t0 + secs(i as f64), true);
            assert!(d.allowed);
            assert_eq!(d.remaining, remaining);
        }
        let refused = limiter.decide_at("b", LIMIT, t0 + secs(10.0), true);
        assert!(!refused.allowed);
        assert_eq!(refused.remaining, 0);
        assert_eq!(refused.reset, secs(50.0));
    }

    #[test]
    fn exact_at_the_window_edge_and_no_double_burst() {
        let limiter = MemoryLimiter::default();
        let t0 = Instant::now();
        // One request at 0 s, two at 59 s: the limit is spent.
        assert!(limiter.decide_at("b", LIMIT, t0, true).allowed);
        assert!(limiter.decide_at("b", LIMIT, t0 + secs(59.0), true).allowed);
        assert!(limiter.decide_at("b", LIMIT, t0 + secs(59.0), true).allowed);
        // A nanosecond before the first request is a minute old: refused.
        let edge = t0 + LIMIT.window;
        assert!(
            !limiter
                .decide_at("b", LIMIT, edge - Duration::from_nanos(1), true)
                .allowed
        );
        // At exactly one minute, one slot frees — only one, where a fixed
        // window starting at 60 s would allow three more.
        assert!(limiter.decide_at("b", LIMIT, edge, true).allowed);
        assert!(!limiter.decide_at("b", LIMIT, edge, true).allowed);
        assert!(
            !limiter
                .decide_at("b", LIMIT, t0 + secs(118.9), true)
                .allowed
        );
        // The two from 59 s leave at 119 s.
        assert_eq!(
            limiter
                .decide_at("b", LIMIT, t0 + secs(119.0), false)
                .remaining,
            2
        );
    }

    #[test]
    fn buckets_are_counted_apart_and_peek_does_not_count() {
        let limiter = MemoryLimiter::default();
        let now = Instant::now();
        for _ in 0..3 {
            assert!(limiter.decide_at("alice", LIMIT, now, true).allowed);
        }
        assert!(!limiter.decide_at("alice", LIMIT, now, true).allowed);
        assert_eq!(limiter.decide_at("bob", LIMIT, now, false).remaining, 3);
        assert_eq!(limiter.decide_at("bob", LIMIT, now, false).remaining, 3);
        assert!(limiter.decide_at("bob", LIMIT, now, true).allowed);
    }

    #[tokio::test]
    async fn reset_forgets_a_bucket() {
        let limiter = MemoryLimiter::default();
        for _ in 0..3 {
            limiter.check("alice", LIMIT).await.unwrap();
        }
        limiter.check("bob", LIMIT).await.unwrap();
        let mut buckets = limiter.buckets(10).await.unwrap();
        buckets.sort();
        assert_eq!(buckets, ["alice", "bob"]);
        assert_eq!(
            limiter
                .reset(&["alice".into(), "carol".into()])
                .await
                .unwrap(),
            1
        );
        assert!(limiter.check("alice", LIMIT).await.unwrap().allowed);
        assert_eq!(limiter.reset_all().await.unwrap(), 2);
        assert!(limiter.buckets(10).await.unwrap().is_empty());
    }
}
