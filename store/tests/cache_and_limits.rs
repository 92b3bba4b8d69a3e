//! The cache and rate-limit backends behave the same in-process and in a
//! real Redis (each test under a key prefix of its own).

use bytes::Bytes;
use logflow_store::cache::{Cache, KeyPattern, MemoryCache, RedisCache};
use logflow_store::ratelimit::{DegradingLimiter, Limit, MemoryLimiter, RateLimiter, RedisLimiter};
use logflow_store::redis::RedisPool;
use logflow_testkit::{redis_url, RedisPrefix, RedisServer};
use std::sync::Arc;
use std::time::Duration;

fn pool(prefix: &RedisPrefix) -> RedisPool {
    RedisPool::new(&redis_url(), &prefix.prefix).unwrap()
}

/// Both cache backends; the prefix guard must outlive them.
fn caches() -> (Vec<Box<dyn Cache>>, RedisPrefix) {
    let prefix = RedisPrefix::new("cache");
    let redis = RedisCache::new(pool(&prefix));
    (
        vec![Box::new(MemoryCache::new(1 << 20)), Box::new(redis)],
        prefix,
    )
}

fn limiters() -> (Vec<Arc<dyn RateLimiter>>, RedisPrefix) {
    let prefix = RedisPrefix::new("limits");
    let redis = RedisLimiter::new(pool(&prefix));
    (
        vec![Arc::new(MemoryLimiter::default()), Arc::new(redis)],
        prefix,
    )
}

const MINUTE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn cache_hits_misses_and_ttl() {
    let (caches, _prefix) = caches();
    for cache in caches {
        assert_eq!(cache.get("metrics:a").await.unwrap(), None);
        cache
            .set(
                "metrics:a",
                Bytes::from_static(b"{\"n\":1}"),
                Duration::from_millis(300),
            )
            .await
            .unwrap();
        cache
            .set("metrics:b", Bytes::from_static(b"{\"n\":2}"), MINUTE)
            .await
            .unwrap();
        assert_eq!(
            cache.get("metrics:a").await.unwrap().as_deref(),
            Some(&b"{\"n\":1}"[..])
        );
        assert_eq!(
            cache.get("metrics:b").await.unwrap().as_deref(),
            Some(&b"{\"n\":2}"[..])
        );
        cache.count_hit().await.unwrap();
        let stats = cache.stats().await.unwrap();
        assert_eq!(
            (stats.hits, stats.misses, stats.entries),
            (3, 1, 2),
            "{stats:?}"
        );
        assert_eq!(stats.hit_rate, 0.75);
        assert!(stats.memory_bytes.unwrap() > 0);
        tokio::time::sleep(Duration::from_millis(450)).await;
        assert_eq!(
            cache.get("metrics:a").await.unwrap(),
            None,
            "{}",
            stats.backend
        );
        assert!(cache.get("metrics:b").await.unwrap().is_some());
    }
}

#[tokio::test]
async fn cache_clear_by_pattern() {
    let (caches, _prefix) = caches();
    for cache in caches {
        for key in ["metrics:overview:a", "metrics:service:x", "other:a"] {
            cache
                .set(key, Bytes::from_static(b"1"), MINUTE)
                .await
                .unwrap();
        }
        let overview = KeyPattern::parse("metrics:overview:*").unwrap();
        assert_eq!(cache.clear(&overview).await.unwrap(), 1);
        assert_eq!(cache.get("metrics:overview:a").await.unwrap(), None);
        assert!(cache.get("metrics:service:x").await.unwrap().is_some());
        let all = KeyPattern::parse("*").unwrap();
        assert_eq!(cache.clear(&all).await.unwrap(), 2);
        assert_eq!(cache.stats().await.unwrap().entries, 0);
    }
}

#[tokio::test]
async fn limits_allow_exactly_max_and_say_when_a_slot_frees() {
    let (limiters, _prefix) = limiters();
    let limit = Limit {
        max: 5,
        window: MINUTE,
    };
    for limiter in limiters {
        for remaining in (0..5).rev() {
            let d = limiter.check("search:user:1", limit).await.unwrap();
            assert!(d.allowed);
            assert_eq!((d.limit, d.remaining), (5, remaining));
        }
        let refused = limiter.check("search:user:1", limit).await.unwrap();
        assert!(!refused.allowed);
        assert_eq!(refused.remaining, 0);
        assert!(
            refused.reset > Duration::from_secs(55) && refused.reset <= MINUTE,
            "{refused:?}"
        );
        // Refused requests are not counted; other buckets are apart.
        assert!(!limiter.peek("search:user:1", limit).await.unwrap().allowed);
        let other = limiter.check("search:user:2", limit).await.unwrap();
        assert_eq!(other.remaining, 4);
        assert_eq!(
            limiter
                .peek("search:user:3", limit)
                .await
                .unwrap()
                .remaining,
            5
        );
    }
}

#[tokio::test]
async fn sliding_window_frees_one_slot_per_aged_request_not_a_new_burst() {
    let (limiters, _prefix) = limiters();
    let limit = Limit {
        max: 3,
        window: Duration::from_millis(1500),
    };
    for limiter in limiters {
        assert!(limiter.check("b", limit).await.unwrap().allowed);
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert!(limiter.check("b", limit).await.unwrap().allowed);
        let last = limiter.check("b", limit).await.unwrap();
        assert!(last.allowed && last.remaining == 0);
        let refused = limiter.check("b", limit).await.unwrap();
        assert!(!refused.allowed);
        // The first request leaves the window first: one slot, not three.
        tokio::time::sleep(refused.reset + Duration::from_millis(30)).await;
        assert!(limiter.check("b", limit).await.unwrap().allowed);
        assert!(!limiter.check("b", limit).await.unwrap().allowed);
    }
}

#[tokio::test]
async fn concurrent_checks_never_exceed_the_limit() {
    let (limiters, _prefix) = limiters();
    let limit = Limit {
        max: 10,
        window: MINUTE,
    };
    for limiter in limiters {
        let checks = (0..60).map(|_| {
            let limiter = limiter.clone();
            tokio::spawn(async move { limiter.check("burst", limit).await.unwrap().allowed })
        });
        let mut allowed = 0;
        for check in checks {
            allowed += usize::from(check.await.unwrap());
        }
        assert_eq!(allowed, 10);
    }
}

#[tokio::test]
async fn buckets_are_listed_and_reset() {
    let (limiters, _prefix) = limiters();
    let limit = Limit {
        max: 2,
        window: MINUTE,
    };
    for limiter in limiters {
        for bucket in ["login:ip:10.0.0.1", "login:ip:10.0.0.1", "search:user:7"] {
            limiter.check(bucket, limit).await.unwrap();
        }
        let mut buckets = limiter.buckets(100).await.unwrap();
        buckets.sort();
        assert_eq!(buckets, ["login:ip:10.0.0.1", "search:user:7"]);
        assert!(
            !limiter
                .check("login:ip:10.0.0.1", limit)
                .await
                .unwrap()
                .allowed
        );
        let reset = limiter
            .reset(&["login:ip:10.0.0.1".to_string(), "never:seen".to_string()])
            .await
            .unwrap();
        assert_eq!(reset, 1);
        assert!(
            limiter
                .check("login:ip:10.0.0.1", limit)
                .await
                .unwrap()
                .allowed
        );
        assert_eq!(limiter.reset_all().await.unwrap(), 2);
        assert!(limiter.buckets(100).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn degrading_limiter_limits_in_process_while_redis_is_down_and_resumes() {
    let mut server = RedisServer::start();
    let pool = RedisPool::new(&server.url(), "logflow:").unwrap();
    let limiter = DegradingLimiter::new(RedisLimiter::new(pool.clone()));
    let limit = Limit {
        max: 3,
        window: MINUTE,
    };
    assert_eq!(limiter.check("b", limit).await.unwrap().remaining, 2);

    server.stop();
    // Redis is gone: the process keeps its own count from zero.
    for remaining in [2, 1, 0] {
        let d = limiter.check("b", limit).await.unwrap();
        assert!(d.allowed && d.remaining == remaining, "{d:?}");
    }
    assert!(!limiter.check("b", limit).await.unwrap().allowed);
    assert!(limiter.buckets(10).await.is_err(), "admin views need Redis");

    server.resume();
    // After the pause the breaker allows, Redis counts again (from zero:
    // the new server kept nothing).
    tokio::time::sleep(logflow_store::redis::RETRY_AFTER + Duration::from_millis(100)).await;
    let d = limiter.check("b", limit).await.unwrap();
    assert!(d.allowed && d.remaining == 2, "{d:?}");
    assert_eq!(limiter.buckets(10).await.unwrap(), ["b"]);
}

#[tokio::test]
async fn after_a_failure_redis_is_left_alone_for_a_moment_then_tried_again() {
    let mut server = RedisServer::start();
    let pool = RedisPool::new(&server.url(), "logflow:").unwrap();
    pool.ping().await.unwrap();
    server.stop();
    let first = pool.ping().await.unwrap_err().to_string();
    assert!(first.contains("unreachable"), "{first}");
    // Requests meanwhile do not each wait on the dead server.
    let next = pool.ping().await.unwrap_err().to_string();
    assert!(next.contains("next attempt in"), "{next}");
    server.resume();
    tokio::time::sleep(logflow_store::redis::RETRY_AFTER + Duration::from_millis(100)).await;
    pool.ping().await.unwrap();
}

#[test]
fn a_key_prefix_with_glob_characters_is_refused() {
    for prefix in ["a*", "a?", "[a]", "a\\"] {
        let err = RedisPool::new(&redis_url(), prefix)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("REDIS_KEY_PREFIX"), "{prefix}: {err}");
    }
    assert!(RedisPool::new(&redis_url(), "team-a:logflow:").is_ok());
}
