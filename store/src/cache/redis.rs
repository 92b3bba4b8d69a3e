//! The cache in Redis, shared by api replicas. Entries expire by Redis's
//! own TTL; hit and miss counters are Redis keys too, so every replica
//! reports the same numbers.

use super::{Cache, CacheError, CacheStats, KeyPattern};
use crate::redis::RedisPool;
use async_trait::async_trait;
use bytes::Bytes;
use redis::{self, Script};
use std::sync::LazyLock;
use std::time::Duration;

/// Most keys `stats` and `clear` look at in one call.
const MAX_SCAN: usize = 100_000;

/// GET and count the outcome in one round trip.
static GET_COUNTED: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local v = redis.call('GET', KEYS[1])
          if v then redis.call('INCR', KEYS[2]) else redis.call('INCR', KEYS[3]) end
          return v",
    )
});

pub struct RedisCache {
    redis: RedisPool,
}

impl RedisCache {
    pub fn new(redis: RedisPool) -> RedisCache {
        RedisCache { redis }
    }

    fn entry_key(&self, key: &str) -> String {
        self.redis.key(&format!("cache:{key}"))
    }

    fn counter(&self, name: &str) -> String {
        self.redis.key(&format!("cache-stats:{name}"))
    }
}

#[async_trait]
impl Cache for RedisCache {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        let keys = [
            self.entry_key(key),
            self.counter("hits"),
            self.counter("misses"),
        ];
        let found: Option<Vec<u8>> = self
            .redis
            .run(|mut c| async move {
                GET_COUNTED
                    .key(&keys[0])
                    .key(&keys[1])
                    .key(&keys[2])
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        Ok(found.map(Bytes::from))
    }

    async fn count_hit(&self) -> Result<(), CacheError> {
        let key = self.counter("hits");
        self.redis
            .run(|mut c| async move {
                redis::cmd("INCR")
                    .arg(&key)
                    .query_async::<u64>(&mut c)
                    .await
            })
            .await?;
        Ok(())
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), CacheError> {
        let key = self.entry_key(key);
        let millis = ttl.as_millis().max(1) as u64;
        self.redis
            .run(|mut c| async move {
                redis::cmd("SET")
                    .arg(&key)
                    .arg(value.as_ref())
                    .arg("PX")
                    .arg(millis)
                    .query_async::<()>(&mut c)
                    .await
            })
            .await?;
        Ok(())
    }

    async fn clear(&self, pattern: &KeyPattern) -> Result<u64, CacheError> {
        let keys = self
            .redis
            .scan(&self.entry_key(pattern.as_str()), MAX_SCAN)
            .await?;
        Ok(self.redis.unlink(&keys).await?)
    }

    async fn stats(&self) -> Result<CacheStats, CacheError> {
        let counters = [self.counter("hits"), self.counter("misses")];
        let (hits, misses): (Option<u64>, Option<u64>) = self
            .redis
            .run(|mut c| async move {
                redis::cmd("MGET")
                    .arg(&counters[..])
                    .query_async(&mut c)
                    .await
            })
            .await?;
        let keys = self.redis.scan(&self.entry_key("*"), MAX_SCAN).await?;
        let mut memory = 0u64;
        for chunk in keys.chunks(500) {
            let sizes: Vec<Option<u64>> = self
                .redis
                .run(|mut c| async move {
                    let mut pipe = redis::pipe();
                    for key in chunk {
                        pipe.cmd("MEMORY").arg("USAGE").arg(key);
                    }
                    pipe.query_async(&mut c).await
                })
                .await?;
            memory += sizes.into_iter().flatten().sum::<u64>();
        }
        Ok(CacheStats::new(
            "redis",
            hits.unwrap_or(0),
            misses.unwrap_or(0),
            keys.len() as u64,
            Some(memory),
        ))
    }
}
