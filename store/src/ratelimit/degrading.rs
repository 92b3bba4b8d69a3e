//! Redis first, this process while Redis is unreachable: requests are
//! still limited (per replica) during an outage, and shared limits resume
//! by themselves when Redis answers again.

use super::{Decision, Limit, LimitError, MemoryLimiter, RateLimiter, RedisLimiter};
use crate::redis::RedisError;
use async_trait::async_trait;
use std::sync::atomic::{AtomicBool, Ordering};

pub struct DegradingLimiter {
    redis: RedisLimiter,
    local: MemoryLimiter,
    /// A refusal by Redis (not an outage) was reported.
    refusal_reported: AtomicBool,
}

impl DegradingLimiter {
    pub fn new(redis: RedisLimiter) -> DegradingLimiter {
        DegradingLimiter {
            redis,
            local: MemoryLimiter::default(),
            refusal_reported: AtomicBool::new(false),
        }
    }
}

#[async_trait]
impl RateLimiter for DegradingLimiter {
    async fn check(&self, bucket: &str, limit: Limit) -> Result<Decision, LimitError> {
        match self.redis.check(bucket, limit).await {
            Ok(decision) => Ok(decision),
            Err(e) => {
                // An outage is logged by the pool; Redis refusing the
                // script (ACL, OOM) would silently make every limit
                // per-replica, so say it once, loudly.
                let refused = matches!(e, LimitError::Redis(RedisError::Command(_)));
                if refused && !self.refusal_reported.swap(true, Ordering::Relaxed) {
                    tracing::error!(error = %e, "Redis refused the rate-limit script: limits are counted per replica");
                } else {
                    tracing::debug!(error = %e, bucket, "rate limit checked in-process");
                }
                self.local.check(bucket, limit).await
            }
        }
    }

    async fn peek(&self, bucket: &str, limit: Limit) -> Result<Decision, LimitError> {
        self.redis.peek(bucket, limit).await
    }

    /// Administration talks to Redis only: answering from the fallback
    /// would show one replica's view as if it were everyone's.
    async fn buckets(&self, max: usize) -> Result<Vec<String>, LimitError> {
        self.redis.buckets(max).await
    }

    async fn reset(&self, buckets: &[String]) -> Result<u64, LimitError> {
        self.local.reset(buckets).await?;
        self.redis.reset(buckets).await
    }

    async fn reset_all(&self) -> Result<u64, LimitError> {
        self.local.reset_all().await?;
        self.redis.reset_all().await
    }
}
