//! The response cache's backends: in-process ([`MemoryCache`]) when Redis
//! is not configured, Redis ([`RedisCache`]) so that api replicas share
//! entries. Callers hold an `Arc<dyn Cache>` chosen once at start-up.
//!
//! Keys are the caller's (the api builds them from the route, every
//! parameter and the caller's visibility); values are opaque bytes.

mod memory;
mod redis;

pub use self::redis::RedisCache;
pub use memory::MemoryCache;

use crate::redis::RedisError;
use async_trait::async_trait;
use bytes::Bytes;
use serde::Serialize;
use std::time::Duration;

/// What a cache backend could not do.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CacheError {
    #[error(transparent)]
    Redis(#[from] RedisError),
}

/// A key pattern for [`Cache::clear`]: `*` matches any run of characters,
/// `?` one character. Redis's other glob syntax (`[…]`, `\`) is refused
/// so that both backends mean the same thing by a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPattern(String);

/// Why a pattern was refused.
#[derive(Debug, thiserror::Error)]
#[error("invalid pattern {pattern:?}: {reason}")]
pub struct PatternError {
    pub pattern: String,
    pub reason: &'static str,
}

/// Longest pattern accepted.
const MAX_PATTERN_LEN: usize = 512;

impl KeyPattern {
    pub fn parse(pattern: &str) -> Result<KeyPattern, PatternError> {
        let refuse = |reason| PatternError {
            pattern: pattern.to_string(),
            reason,
        };
        if pattern.is_empty() {
            return Err(refuse("it is empty"));
        }
        if pattern.len() > MAX_PATTERN_LEN {
            return Err(refuse("it is longer than 512 bytes"));
        }
        if pattern.contains(['[', ']', '\\']) {
            return Err(refuse(
                "only * and ? are wildcards; [ ] and \\ are not allowed",
            ));
        }
        if pattern.chars().any(char::is_control) {
            return Err(refuse("it contains control characters"));
        }
        Ok(KeyPattern(pattern.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn matches(&self, key: &str) -> bool {
        wildmatch::WildMatch::new(&self.0).matches(key)
    }
}

/// Counters and size of a cache.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CacheStats {
    /// `memory` or `redis`.
    pub backend: &'static str,
    /// Lookups answered from the cache (shared by replicas with Redis).
    pub hits: u64,
    /// Lookups that had to compute the answer.
    pub misses: u64,
    /// hits ÷ (hits + misses); 0 before the first lookup.
    pub hit_rate: f64,
    /// Entries stored now.
    pub entries: u64,
    /// Bytes the entries take, where the backend knows it.
    pub memory_bytes: Option<u64>,
}

impl CacheStats {
    fn new(
        backend: &'static str,
        hits: u64,
        misses: u64,
        entries: u64,
        memory: Option<u64>,
    ) -> Self {
        let lookups = hits + misses;
        CacheStats {
            backend,
            hits,
            misses,
            hit_rate: if lookups == 0 {
                0.0
            } else {
                hits as f64 / lookups as f64
            },
            entries,
            memory_bytes: memory,
        }
    }
}

/// A key/value cache with a time to live per entry.
#[async_trait]
pub trait Cache: Send + Sync {
    /// The value under `key`, counting the lookup as a hit or a miss.
    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError>;

    /// Counts a hit for a request that was answered by another request's
    /// lookup (concurrent requests for one key look up once).
    async fn count_hit(&self) -> Result<(), CacheError>;

    /// Stores `value` under `key` for `ttl`.
    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), CacheError>;

    /// Removes every entry whose key matches; returns how many.
    async fn clear(&self, pattern: &KeyPattern) -> Result<u64, CacheError>;

    async fn stats(&self) -> Result<CacheStats, CacheError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_like_redis_globs() {
        let p = KeyPattern::parse("metrics:*").unwrap();
        assert!(p.matches("metrics:overview:user:w=3600"));
        assert!(!p.matches("other:metrics:x"));
        let q = KeyPattern::parse("metrics:service:?:*").unwrap();
        assert!(q.matches("metrics:service:a:w=60"));
        assert!(!q.matches("metrics:service:ab:w=60"));
    }

    #[test]
    fn patterns_with_other_glob_syntax_are_refused() {
        for bad in ["", "a[bc]", "a\\*", "x\u{1}"] {
            assert!(KeyPattern::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(KeyPattern::parse(&"a".repeat(513)).is_err());
    }
}
