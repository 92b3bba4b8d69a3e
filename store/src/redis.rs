//! The Redis connection pool (deadpool-redis), configured once from
//! `REDIS_URL`. The api reports its health today; the cache and rate-limit
//! backends share it.

use deadpool_redis::{redis, Config, Pool, PoolConfig, Runtime, Timeouts};
use std::time::Duration;

/// How long getting a connection may take before Redis counts as down.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Why Redis could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    #[error("invalid REDIS_URL: {0}")]
    Config(String),
    #[error("Redis is unreachable: {0}")]
    Unavailable(String),
}

/// A pool of Redis connections. Creating it does not connect: the api
/// starts while Redis is down and reports it degraded.
#[derive(Clone)]
pub struct RedisPool {
    pool: Pool,
}

impl RedisPool {
    pub fn new(url: &str) -> Result<RedisPool, RedisError> {
        // Parse first: deadpool only finds a bad URL on the first connect.
        redis::parse_redis_url(url)
            .ok_or_else(|| RedisError::Config("expected redis://host:port[/db]".into()))?;
        let mut config = Config::from_url(url);
        config.pool = Some(PoolConfig {
            timeouts: Timeouts {
                wait: Some(CONNECT_TIMEOUT),
                create: Some(CONNECT_TIMEOUT),
                recycle: Some(CONNECT_TIMEOUT),
            },
            ..PoolConfig::default()
        });
        let pool = config
            .create_pool(Some(Runtime::Tokio1))
            .map_err(|e| RedisError::Config(e.to_string()))?;
        Ok(RedisPool { pool })
    }

    /// One PING round trip.
    pub async fn ping(&self) -> Result<(), RedisError> {
        let mut conn = self
            .pool
            .get()
            .await
            .map_err(|e| RedisError::Unavailable(e.to_string()))?;
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .map(drop)
            .map_err(|e| RedisError::Unavailable(e.to_string()))
    }
}
