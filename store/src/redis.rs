//! The Redis connection pool (deadpool-redis), configured once from
//! `REDIS_URL` and shared by the cache, the rate limiter and `/health`.
//!
//! Redis may go away while the api runs. Every command is bounded by a
//! timeout, and after a failure the pool answers "unavailable" at once for
//! [`RETRY_AFTER`] instead of letting each request wait on a dead server;
//! the first command after that pause tries again, so service resumes by
//! itself when Redis returns.

use deadpool_redis::{redis, Config, Connection, Pool, PoolConfig, Runtime, Timeouts};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long getting a connection may take before Redis counts as down.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one command (or pipeline, or script) may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(1);
/// How long Redis is left alone after a failure before it is tried again.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Why Redis could not be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RedisError {
    #[error("invalid REDIS_URL: {0}")]
    Config(String),
    #[error("Redis is unreachable: {0}")]
    Unavailable(String),
    /// Redis answered, but with an error (a bug of ours, not an outage).
    #[error("Redis refused the command: {0}")]
    Command(String),
}

/// A pool of Redis connections with a key prefix. Creating it does not
/// connect: the api starts while Redis is down and reports it degraded.
#[derive(Clone)]
pub struct RedisPool {
    pool: Pool,
    prefix: Arc<str>,
    breaker: Arc<Breaker>,
}

impl RedisPool {
    /// A pool for `url` whose keys all start with `prefix` (so several
    /// deployments, or tests, can share one Redis).
    pub fn new(url: &str, prefix: &str) -> Result<RedisPool, RedisError> {
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
        Ok(RedisPool {
            pool,
            prefix: prefix.into(),
            breaker: Arc::new(Breaker::new()),
        })
    }

    /// `name` under this pool's prefix.
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The prefix every key of this pool starts with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Runs `op` on a pooled connection within the command timeout. A
    /// connection failure or timeout marks Redis down for [`RETRY_AFTER`].
    /// `op` owns the connection; it goes back to the pool when `op` ends.
    pub async fn run<T, F, Fut>(&self, op: F) -> Result<T, RedisError>
    where
        F: FnOnce(Connection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        if let Some(wait) = self.breaker.open_for() {
            return Err(RedisError::Unavailable(format!(
                "it failed moments ago; next attempt in {} ms",
                wait.as_millis()
            )));
        }
        let outcome = match self.pool.get().await {
            Err(e) => Err(RedisError::Unavailable(e.to_string())),
            Ok(conn) => match tokio::time::timeout(COMMAND_TIMEOUT, op(conn)).await {
                Err(_) => Err(RedisError::Unavailable(format!(
                    "no answer within {} ms",
                    COMMAND_TIMEOUT.as_millis()
                ))),
                Ok(Err(e)) if is_outage(&e) => Err(RedisError::Unavailable(e.to_string())),
                Ok(Err(e)) => Err(RedisError::Command(e.to_string())),
                Ok(Ok(value)) => Ok(value),
            },
        };
        match &outcome {
            Err(RedisError::Unavailable(reason)) => self.breaker.trip(reason),
            _ => self.breaker.close(),
        }
        outcome
    }

    /// One PING round trip.
    pub async fn ping(&self) -> Result<(), RedisError> {
        self.run(|mut c| async move { redis::cmd("PING").query_async::<String>(&mut c).await })
            .await
            .map(drop)
    }

    /// Every key matching `pattern` (a Redis glob, prefix included), at
    /// most `max`, found with SCAN so Redis is never blocked by a KEYS.
    pub async fn scan(&self, pattern: &str, max: usize) -> Result<Vec<String>, RedisError> {
        let mut keys = Vec::new();
        let mut cursor = 0u64;
        loop {
            let (next, batch): (u64, Vec<String>) = self
                .run(|mut c| async move {
                    redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(pattern)
                        .arg("COUNT")
                        .arg(1000)
                        .query_async(&mut c)
                        .await
                })
                .await?;
            keys.extend(batch);
            if next == 0 || keys.len() >= max {
                keys.truncate(max);
                return Ok(keys);
            }
            cursor = next;
        }
    }

    /// Deletes `keys` (UNLINK: freed in the background); returns how many
    /// existed.
    pub async fn unlink(&self, keys: &[String]) -> Result<u64, RedisError> {
        let mut removed = 0;
        for chunk in keys.chunks(500) {
            removed += self
                .run(|mut c| async move {
                    redis::cmd("UNLINK")
                        .arg(chunk)
                        .query_async::<u64>(&mut c)
                        .await
                })
                .await?;
        }
        Ok(removed)
    }
}

/// Whether an error means Redis is unreachable rather than that it
/// refused one command.
fn is_outage(e: &redis::RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() || e.is_timeout()
}

/// Remembers a recent failure so requests do not each wait on a dead
/// server, and logs the transitions (once each way, not per request).
struct Breaker {
    epoch: Instant,
    /// Milliseconds since `epoch` before which Redis is not tried; 0: closed.
    open_until_ms: AtomicU64,
    down: AtomicBool,
}

impl Breaker {
    fn new() -> Breaker {
        Breaker {
            epoch: Instant::now(),
            open_until_ms: AtomicU64::new(0),
            down: AtomicBool::new(false),
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn open_for(&self) -> Option<Duration> {
        let until = self.open_until_ms.load(Ordering::Relaxed);
        let now = self.now_ms();
        (until > now).then(|| Duration::from_millis(until - now))
    }

    fn trip(&self, reason: &str) {
        let until = self.now_ms() + RETRY_AFTER.as_millis() as u64;
        self.open_until_ms.store(until, Ordering::Relaxed);
        if !self.down.swap(true, Ordering::Relaxed) {
            tracing::warn!(%reason, "Redis is unreachable: cache bypassed, rate limits kept in-process until it returns");
        }
    }

    fn close(&self) {
        if self.down.swap(false, Ordering::Relaxed) {
            tracing::info!("Redis is reachable again: cache and shared rate limits resumed");
        }
    }
}
