//! Sliding logs in Redis sorted sets (score = request time in
//! microseconds). One Lua script prunes, counts, adds and reads the
//! oldest entry atomically, with Redis's clock, so replicas with skewed
//! clocks still share one exact limit.

use super::{Decision, Limit, LimitError, RateLimiter};
use crate::redis::RedisPool;
use async_trait::async_trait;
use redis::Script;
use std::sync::LazyLock;
use std::time::Duration;

/// KEYS[1] the bucket; ARGV: max, window (µs), consume (0/1), a unique
/// member suffix. Returns {allowed, counted, µs until the oldest leaves}.
static SLIDING_LOG: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local t = redis.call('TIME')
          local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
          local max = tonumber(ARGV[1])
          local window = tonumber(ARGV[2])
          redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now - window))
          local count = redis.call('ZCARD', KEYS[1])
          local allowed = 0
          if count < max then
            allowed = 1
            if ARGV[3] == '1' then
              redis.call('ZADD', KEYS[1], string.format('%.0f', now), t[1] .. '.' .. t[2] .. '-' .. ARGV[4])
              redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
              count = count + 1
            end
          end
          local reset = 0
          local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
          if oldest[2] then reset = tonumber(oldest[2]) + window - now end
          return {allowed, count, reset}",
    )
});

pub struct RedisLimiter {
    redis: RedisPool,
}

impl RedisLimiter {
    pub fn new(redis: RedisPool) -> RedisLimiter {
        RedisLimiter { redis }
    }

    fn key(&self, bucket: &str) -> String {
        self.redis.key(&format!("rl:{bucket}"))
    }

    async fn decide(
        &self,
        bucket: &str,
        limit: Limit,
        consume: bool,
    ) -> Result<Decision, LimitError> {
        let key = self.key(bucket);
        let window_us = limit.window.as_micros().max(1) as u64;
        let member: u64 = rand::random();
        let (allowed, count, reset_us): (u8, u32, i64) = self
            .redis
            .run(|mut c| async move {
                SLIDING_LOG
                    .key(&key)
                    .arg(limit.max)
                    .arg(window_us)
                    .arg(if consume { "1" } else { "0" })
                    .arg(format!("{member:016x}"))
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        Ok(Decision::new(
            allowed == 1,
            limit,
            count,
            Duration::from_micros(reset_us.max(0) as u64),
        ))
    }
}

#[async_trait]
impl RateLimiter for RedisLimiter {
    async fn check(&self, bucket: &str, limit: Limit) -> Result<Decision, LimitError> {
        self.decide(bucket, limit, true).await
    }

    async fn peek(&self, bucket: &str, limit: Limit) -> Result<Decision, LimitError> {
        self.decide(bucket, limit, false).await
    }

    async fn buckets(&self, max: usize) -> Result<Vec<String>, LimitError> {
        let prefix = self.key("");
        let keys = self.redis.scan(&format!("{prefix}*"), max).await?;
        Ok(keys
            .into_iter()
            .filter_map(|k| k.strip_prefix(&prefix).map(str::to_string))
            .collect())
    }

    async fn reset(&self, buckets: &[String]) -> Result<u64, LimitError> {
        let keys: Vec<String> = buckets.iter().map(|b| self.key(b)).collect();
        Ok(self.redis.unlink(&keys).await?)
    }

    async fn reset_all(&self) -> Result<u64, LimitError> {
        let keys = self.redis.scan(&self.key("*"), usize::MAX).await?;
        Ok(self.redis.unlink(&keys).await?)
    }
}
