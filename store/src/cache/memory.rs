//! The in-process cache (moka): bounded by bytes, each entry with its own
//! time to live, counters in atomics.

use super::{Cache, CacheError, CacheStats, KeyPattern};
use async_trait::async_trait;
use bytes::Bytes;
use moka::sync::Cache as Moka;
use moka::Expiry;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A value and how long it may live.
#[derive(Clone)]
struct Entry {
    value: Bytes,
    ttl: Duration,
}

/// Expires each entry after its own TTL, counted from when it was stored.
struct PerEntryTtl;

impl Expiry<String, Entry> for PerEntryTtl {
    fn expire_after_create(&self, _: &String, entry: &Entry, _: Instant) -> Option<Duration> {
        Some(entry.ttl)
    }

    fn expire_after_update(
        &self,
        _: &String,
        entry: &Entry,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(entry.ttl)
    }
}

/// Entries in this process only; least recently used ones are evicted
/// once the total size reaches the bound.
pub struct MemoryCache {
    entries: Moka<String, Entry>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl MemoryCache {
    /// A cache holding at most `max_bytes` of keys and values.
    pub fn new(max_bytes: u64) -> MemoryCache {
        let entries = Moka::builder()
            .max_capacity(max_bytes)
            .weigher(|key: &String, entry: &Entry| {
                u32::try_from(key.len() + entry.value.len()).unwrap_or(u32::MAX)
            })
            .expire_after(PerEntryTtl)
            .build();
        MemoryCache {
            entries,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }
}

#[async_trait]
impl Cache for MemoryCache {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        let found = self.entries.get(key).map(|e| e.value);
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        Ok(found)
    }

    async fn count_hit(&self) -> Result<(), CacheError> {
        self.hits.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), CacheError> {
        self.entries.insert(key.to_string(), Entry { value, ttl });
        Ok(())
    }

    async fn clear(&self, pattern: &KeyPattern) -> Result<u64, CacheError> {
        let matching: Vec<_> = self
            .entries
            .iter()
            .filter(|(key, _)| pattern.matches(key))
            .map(|(key, _)| key)
            .collect();
        for key in &matching {
            self.entries.invalidate(key.as_str());
        }
        Ok(matching.len() as u64)
    }

    async fn stats(&self) -> Result<CacheStats, CacheError> {
        // moka's own counts include expired entries not yet evicted;
        // iterating skips them.
        let (entries, bytes) = self
            .entries
            .iter()
            .fold((0, 0), |(n, bytes), (key, entry)| {
                (n + 1, bytes + (key.len() + entry.value.len()) as u64)
            });
        Ok(CacheStats::new(
            "memory",
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
            entries,
            Some(bytes),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn entries_expire_after_their_own_ttl() {
        let cache = MemoryCache::new(1 << 20);
        cache
            .set(
                "short",
                Bytes::from_static(b"1"),
                Duration::from_millis(100),
            )
            .await
            .unwrap();
        cache
            .set("long", Bytes::from_static(b"2"), Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(
            cache.get("short").await.unwrap().as_deref(),
            Some(&b"1"[..])
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(cache.get("short").await.unwrap(), None);
        assert_eq!(cache.get("long").await.unwrap().as_deref(), Some(&b"2"[..]));
        let stats = cache.stats().await.unwrap();
        assert_eq!((stats.hits, stats.misses, stats.entries), (2, 1, 1));
        assert_eq!(stats.memory_bytes, Some(5));
    }

    #[tokio::test]
    async fn clear_removes_only_matching_keys() {
        let cache = MemoryCache::new(1 << 20);
        for key in ["metrics:a", "metrics:b", "other:a"] {
            cache
                .set(key, Bytes::from_static(b"x"), Duration::from_secs(60))
                .await
                .unwrap();
        }
        let pattern = KeyPattern::parse("metrics:*").unwrap();
        assert_eq!(cache.clear(&pattern).await.unwrap(), 2);
        assert_eq!(cache.get("metrics:a").await.unwrap(), None);
        assert!(cache.get("other:a").await.unwrap().is_some());
    }

    #[tokio::test]
    async fn the_size_bound_evicts() {
        let cache = MemoryCache::new(10_000);
        for i in 0..100 {
            let key = format!("k{i}");
            cache
                .set(&key, Bytes::from(vec![0u8; 1000]), Duration::from_secs(60))
                .await
                .unwrap();
        }
        cache.entries.run_pending_tasks();
        let stats = cache.stats().await.unwrap();
        assert!(stats.memory_bytes.unwrap() <= 10_000, "{stats:?}");
    }
}
