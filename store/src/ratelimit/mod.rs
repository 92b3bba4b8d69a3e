//! Rate-limit backends: a sliding log per bucket (the exact time of every
//! request counted in the window), so at most `max` requests pass in *any*
//! window of the configured length — there is no fixed-window edge where a
//! client could spend two windows' worth at once.
//!
//! [`MemoryLimiter`] keeps the logs in this process; [`RedisLimiter`] keeps
//! them in Redis sorted sets, checked and updated by one Lua script with
//! Redis's own clock, so replicas enforce one limit together.
//! [`DegradingLimiter`] uses Redis and falls back to in-process logs while
//! Redis is unreachable.

mod degrading;
mod memory;
mod redis;

pub use self::redis::RedisLimiter;
pub use degrading::DegradingLimiter;
pub use memory::MemoryLimiter;

use crate::redis::RedisError;
use async_trait::async_trait;
use std::time::Duration;

/// At most `max` requests in any window of length `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: u32,
    pub window: Duration,
}

/// The answer for one request (or, from `peek`, for a request made now).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    /// Requests left in the window after this one.
    pub remaining: u32,
    /// Until the oldest counted request leaves the window and frees a
    /// slot; zero when nothing is counted.
    pub reset: Duration,
}

impl Decision {
    fn new(allowed: bool, limit: Limit, used: u32, reset: Duration) -> Decision {
        Decision {
            allowed,
            limit: limit.max,
            remaining: limit.max.saturating_sub(used),
            reset,
        }
    }
}

/// What a limiter backend could not do.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LimitError {
    #[error(transparent)]
    Redis(#[from] RedisError),
}

/// A limiter over named buckets (the caller names them, e.g.
/// `search:user:42`).
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Counts a request against `bucket` if it is within `limit`.
    async fn check(&self, bucket: &str, limit: Limit) -> Result<Decision, LimitError>;

    /// What [`check`](RateLimiter::check) would answer, without counting.
    async fn peek(&self, bucket: &str, limit: Limit) -> Result<Decision, LimitError>;

    /// The buckets that have counted requests, at most `max`.
    async fn buckets(&self, max: usize) -> Result<Vec<String>, LimitError>;

    /// Forgets the requests counted in `buckets`; returns how many buckets
    /// had any.
    async fn reset(&self, buckets: &[String]) -> Result<u64, LimitError>;

    /// Forgets every bucket; returns how many there were.
    async fn reset_all(&self) -> Result<u64, LimitError>;
}
