//! The Redis connection pool (deadpool-redis), configured once from
//! `REDIS_URL` and shared by the cache, the rate limiter and `/health`.
//!
//! Redis may go away while the api runs, by refusing connections or by
//! hanging. Every operation is bounded by a timeout, and after a failure
//! the pool answers "unavailable" at once for a pause (1 s, doubling up to
//! 5 s) instead of letting each request wait on a dead server; after the
//! pause one request probes while the others still fail fast, so service
//! resumes by itself, within seconds, when Redis returns.

use deadpool_redis::redis::aio::MultiplexedConnection;
use deadpool_redis::{redis, Config, Pool, PoolConfig, Runtime, Timeouts};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long one operation may take, getting the connection included.
const OP_TIMEOUT: Duration = Duration::from_secs(1);
/// The first pause after a failure; it doubles while Redis stays away, up
/// to [`MAX_PAUSE`].
pub const RETRY_AFTER: Duration = Duration::from_secs(1);
const MAX_PAUSE: Duration = Duration::from_secs(5);

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
///
/// deadpool-redis hands out multiplexed connections, which many tasks can
/// use at once, and checks each one with a PING round trip every time it
/// is taken from the pool. So one connection from the pool is kept and
/// shared (cloning a multiplexed connection shares its socket), and a new
/// one is taken only after it failed: a limiter check or cache lookup is
/// then one round trip, not two.
#[derive(Clone)]
pub struct RedisPool {
    pool: Pool,
    shared: Arc<std::sync::Mutex<Option<MultiplexedConnection>>>,
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
        // The prefix starts SCAN patterns: a glob character in it would
        // reach (and clear) other deployments' keys.
        if prefix.contains(['*', '?', '[', ']', '\\']) {
            return Err(RedisError::Config(format!(
                "REDIS_KEY_PREFIX {prefix:?} must not contain * ? [ ] or \\"
            )));
        }
        let mut config = Config::from_url(url);
        config.pool = Some(PoolConfig {
            timeouts: Timeouts {
                wait: Some(OP_TIMEOUT),
                create: Some(OP_TIMEOUT),
                recycle: Some(OP_TIMEOUT),
            },
            ..PoolConfig::default()
        });
        let pool = config
            .create_pool(Some(Runtime::Tokio1))
            .map_err(|e| RedisError::Config(e.to_string()))?;
        Ok(RedisPool {
            pool,
            shared: Arc::default(),
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

    /// The shared connection, taken from the pool if there is none.
    async fn connection(&self) -> Result<MultiplexedConnection, RedisError> {
        let cached = self
            .shared
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(conn) = cached {
            return Ok(conn);
        }
        let pooled = self
            .pool
            .get()
            .await
            .map_err(|e| RedisError::Unavailable(e.to_string()))?;
        let conn = MultiplexedConnection::clone(&pooled);
        *self.shared.lock().unwrap_or_else(|e| e.into_inner()) = Some(conn.clone());
        Ok(conn)
    }

    /// Runs `op` on the shared connection, the whole (connecting included)
    /// within [`OP_TIMEOUT`]. A connection failure or timeout drops the
    /// connection and pauses Redis use (see the module).
    pub async fn run<T, F, Fut>(&self, op: F) -> Result<T, RedisError>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let probe = self.breaker.admit().map_err(|wait| {
            RedisError::Unavailable(format!(
                "it failed moments ago; next attempt in {} ms",
                wait.as_millis()
            ))
        })?;
        let attempt = async {
            let conn = self.connection().await?;
            op(conn).await.map_err(|e| {
                if is_outage(&e) {
                    RedisError::Unavailable(e.to_string())
                } else {
                    RedisError::Command(e.to_string())
                }
            })
        };
        let outcome = tokio::time::timeout(OP_TIMEOUT, attempt)
            .await
            .unwrap_or_else(|_| {
                Err(RedisError::Unavailable(format!(
                    "no answer within {} ms",
                    OP_TIMEOUT.as_millis()
                )))
            });
        match &outcome {
            Err(RedisError::Unavailable(reason)) => {
                self.shared.lock().unwrap_or_else(|e| e.into_inner()).take();
                self.breaker.trip(reason)
            }
            _ => self.breaker.close(probe),
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
/// server, lets one request probe when the pause is over, and logs the
/// transitions (once each way, not per request).
struct Breaker {
    epoch: Instant,
    /// Milliseconds since `epoch` before which Redis is not tried; 0: closed.
    open_until_ms: AtomicU64,
    /// Failures in a row, for the pause's length.
    failures: AtomicU32,
    /// A request is probing a Redis that was down.
    probing: AtomicBool,
    down: AtomicBool,
}

/// Whether an admitted request is the probe after a pause.
#[derive(Clone, Copy)]
struct Probe(bool);

impl Breaker {
    fn new() -> Breaker {
        Breaker {
            epoch: Instant::now(),
            open_until_ms: AtomicU64::new(0),
            failures: AtomicU32::new(0),
            probing: AtomicBool::new(false),
            down: AtomicBool::new(false),
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Admits a request, or says how long until Redis is tried again.
    fn admit(&self) -> Result<Probe, Duration> {
        let until = self.open_until_ms.load(Ordering::Acquire);
        if until == 0 {
            return Ok(Probe(false));
        }
        let now = self.now_ms();
        if now < until {
            return Err(Duration::from_millis(until - now));
        }
        self.probing
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .map(|_| Probe(true))
            .map_err(|_| Duration::ZERO)
    }

    fn trip(&self, reason: &str) {
        let failures = self.failures.fetch_add(1, Ordering::AcqRel).min(8);
        let pause = (RETRY_AFTER * 2u32.pow(failures)).min(MAX_PAUSE);
        self.open_until_ms
            .store(self.now_ms() + pause.as_millis() as u64, Ordering::Release);
        self.probing.store(false, Ordering::Release);
        if !self.down.swap(true, Ordering::AcqRel) {
            tracing::warn!(%reason, "Redis is unreachable: cache bypassed, rate limits kept in-process until it returns");
        }
    }

    fn close(&self, probe: Probe) {
        if probe.0 || self.open_until_ms.load(Ordering::Acquire) != 0 {
            self.open_until_ms.store(0, Ordering::Release);
            self.failures.store(0, Ordering::Release);
            self.probing.store(false, Ordering::Release);
        }
        if self.down.swap(false, Ordering::AcqRel) {
            tracing::info!("Redis is reachable again: cache and shared rate limits resumed");
        }
    }
}
