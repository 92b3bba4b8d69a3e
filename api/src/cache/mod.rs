//! The response cache for the metrics routes: dashboards ask the same
//! aggregations every few seconds, and an answer a few seconds old is as
//! good as a fresh one.
//!
//! A key names the route, the caller's visibility and every parameter
//! that changes the answer, so two different questions never share an
//! entry. Concurrent requests for one key look it up (and, on a miss,
//! compute it) once; the others wait for that answer. If the backend
//! fails (Redis unreachable) the cache is bypassed, never an error.

pub mod routes;

use crate::error::ApiError;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use clap::Args;
use futures::future::{BoxFuture, FutureExt, Shared};
use logflow_store::cache::Cache;
use logflow_store::meta::User;
use serde::Serialize;
use std::collections::HashMap;
use std::fmt::Display;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long each metrics route's answers are kept (`0s` turns caching of
/// that route off).
#[derive(Debug, Clone, Args)]
pub struct CacheArgs {
    /// `/api/v1/metrics/overview`.
    #[arg(long, env = "CACHE_TTL_OVERVIEW", default_value = "30s", value_parser = parse_ttl)]
    pub cache_ttl_overview: Duration,

    /// `/api/v1/metrics/service/{name}`.
    #[arg(long, env = "CACHE_TTL_SERVICE", default_value = "60s", value_parser = parse_ttl)]
    pub cache_ttl_service: Duration,

    /// `/api/v1/metrics/system`.
    #[arg(long, env = "CACHE_TTL_SYSTEM", default_value = "45s", value_parser = parse_ttl)]
    pub cache_ttl_system: Duration,

    /// `/api/v1/metrics/timeseries`.
    #[arg(long, env = "CACHE_TTL_TIMESERIES", default_value = "120s", value_parser = parse_ttl)]
    pub cache_ttl_timeseries: Duration,

    /// Bound of the in-process cache (used when `REDIS_URL` is unset), MiB.
    #[arg(long, env = "CACHE_MAX_MB", default_value_t = 64,
          value_parser = clap::value_parser!(u64).range(1..=65_536))]
    pub cache_max_mb: u64,
}

/// A TTL such as `30s`, `2m`, `0s` (off), at most a day.
fn parse_ttl(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s)
        .ok()
        .filter(|d| *d <= Duration::from_secs(24 * 3600))
        .ok_or_else(|| format!("invalid TTL {s:?}: expected a duration of at most a day such as 30s, 2m or 0s (off)"))
}

/// A cached route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Overview,
    Service,
    System,
    Timeseries,
}

impl Route {
    fn name(self) -> &'static str {
        match self {
            Route::Overview => "overview",
            Route::Service => "service",
            Route::System => "system",
            Route::Timeseries => "timeseries",
        }
    }

    fn ttl(self, args: &CacheArgs) -> Duration {
        match self {
            Route::Overview => args.cache_ttl_overview,
            Route::Service => args.cache_ttl_service,
            Route::System => args.cache_ttl_system,
            Route::Timeseries => args.cache_ttl_timeseries,
        }
    }
}

/// A cache key: `metrics:<route>:<visibility>` and then `:<name>=<value>`
/// per parameter, values percent-encoded so a value cannot forge another
/// parameter (or a glob character) in the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey {
    route: Route,
    key: String,
}

impl CacheKey {
    /// The key for `route` as `user` sees it. Every user sees every log
    /// today, so visibility is the role; it keeps admin-only answers, if
    /// one is ever added, from reaching users.
    pub fn new(route: Route, user: &User) -> CacheKey {
        CacheKey {
            route,
            key: format!("metrics:{}:{}", route.name(), user.role.as_str()),
        }
    }

    pub fn param(mut self, name: &str, value: impl Display) -> CacheKey {
        let value = value.to_string();
        let encoded: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
        self.key
            .push_str(&format!(":{name}={}", encoded.replace('*', "%2A")));
        self
    }

    pub fn as_str(&self) -> &str {
        &self.key
    }
}

/// Where an answer came from, sent as `X-Cache`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Hit,
    Miss,
    /// Not cached: the route's TTL is 0 or the backend is unreachable.
    Bypass,
}

impl Outcome {
    fn header(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Outcome::Hit => "HIT",
            Outcome::Miss => "MISS",
            Outcome::Bypass => "BYPASS",
        })
    }
}

/// A JSON body, cached or just computed.
pub struct CachedJson {
    body: Bytes,
    outcome: Outcome,
}

impl IntoResponse for CachedJson {
    fn into_response(self) -> Response {
        crate::prometheus::cache_outcome(self.outcome);
        (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                ),
                (
                    header::HeaderName::from_static("x-cache"),
                    self.outcome.header(),
                ),
            ],
            self.body,
        )
            .into_response()
    }
}

type Flight = Shared<BoxFuture<'static, Result<(Bytes, Outcome), ApiError>>>;

/// The api's cache: a backend and the lookups in flight.
pub struct ResponseCache {
    backend: Arc<dyn Cache>,
    ttls: CacheArgs,
    flights: Arc<Mutex<HashMap<String, Flight>>>,
}

impl ResponseCache {
    pub fn new(backend: Arc<dyn Cache>, ttls: CacheArgs) -> ResponseCache {
        ResponseCache {
            backend,
            ttls,
            flights: Arc::default(),
        }
    }

    pub fn backend(&self) -> &dyn Cache {
        self.backend.as_ref()
    }

    /// The answer under `key`, or `compute`'s (stored for the route's
    /// TTL). Errors are never cached.
    pub async fn json<T, F>(&self, key: CacheKey, compute: F) -> Result<CachedJson, ApiError>
    where
        T: Serialize,
        F: Future<Output = Result<T, ApiError>> + Send + 'static,
    {
        let ttl = key.route.ttl(&self.ttls);
        if ttl.is_zero() {
            let body = to_json(&compute.await?)?;
            return Ok(CachedJson {
                body,
                outcome: Outcome::Bypass,
            });
        }
        let (flight, leader) = {
            let mut flights = self.flights.lock().unwrap_or_else(|e| e.into_inner());
            match flights.get(&key.key) {
                Some(flight) => (flight.clone(), false),
                None => {
                    let flight = self.lookup(key.key.clone(), ttl, compute);
                    flights.insert(key.key, flight.clone());
                    (flight, true)
                }
            }
        };
        let (body, outcome) = flight.await?;
        if leader || outcome == Outcome::Bypass {
            return Ok(CachedJson { body, outcome });
        }
        // Answered by another request's lookup: a hit for this one.
        if let Err(e) = self.backend.count_hit().await {
            tracing::debug!(error = %e, "cache hit not counted");
        }
        Ok(CachedJson {
            body,
            outcome: Outcome::Hit,
        })
    }

    /// One lookup (and on a miss one computation) that every concurrent
    /// request for `key` awaits. It runs as a task of its own, so it
    /// finishes (and is cached) even if every request waiting for it goes
    /// away, and it leaves the flights when it ends, also by panicking.
    fn lookup<T, F>(&self, key: String, ttl: Duration, compute: F) -> Flight
    where
        T: Serialize,
        F: Future<Output = Result<T, ApiError>> + Send + 'static,
    {
        let backend = self.backend.clone();
        let landing = Landing {
            flights: self.flights.clone(),
            key: key.clone(),
        };
        let task = tokio::spawn(async move {
            let _landing = landing;
            match backend.get(&key).await {
                Ok(Some(body)) => Ok((body, Outcome::Hit)),
                Ok(None) => {
                    let body = to_json(&compute.await?)?;
                    if let Err(e) = backend.set(&key, body.clone(), ttl).await {
                        tracing::debug!(error = %e, %key, "answer not cached");
                    }
                    Ok((body, Outcome::Miss))
                }
                Err(e) => {
                    tracing::debug!(error = %e, %key, "cache bypassed");
                    Ok((to_json(&compute.await?)?, Outcome::Bypass))
                }
            }
        });
        async move {
            task.await
                .unwrap_or_else(|e| Err(ApiError::internal("computing a cached answer", e)))
        }
        .boxed()
        .shared()
    }
}

/// Removes a finished flight, however its task ended.
struct Landing {
    flights: Arc<Mutex<HashMap<String, Flight>>>,
    key: String,
}

impl Drop for Landing {
    fn drop(&mut self) {
        self.flights
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.key);
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<Bytes, ApiError> {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(|e| ApiError::internal("serialising the answer", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use logflow_store::cache::MemoryCache;
    use logflow_store::meta::Role;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn user(role: Role) -> User {
        User {
            id: 1,
            username: "u".into(),
            email: "u@example.com".into(),
            full_name: None,
            role,
            is_active: true,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
            last_login_at: None,
        }
    }

    fn ttls(overview: Duration) -> CacheArgs {
        CacheArgs {
            cache_ttl_overview: overview,
            cache_ttl_service: Duration::from_secs(60),
            cache_ttl_system: Duration::from_secs(45),
            cache_ttl_timeseries: Duration::from_secs(120),
            cache_max_mb: 1,
        }
    }

    #[test]
    fn keys_name_route_visibility_and_every_parameter() {
        let key = CacheKey::new(Route::Service, &user(Role::User))
            .param("name", "a:b=c*?")
            .param("window", 3600);
        assert_eq!(
            key.as_str(),
            "metrics:service:user:name=a%3Ab%3Dc%2A%3F:window=3600"
        );
        let admin = CacheKey::new(Route::Service, &user(Role::Admin)).param("name", "a");
        assert_ne!(
            admin.as_str(),
            CacheKey::new(Route::Service, &user(Role::User))
                .param("name", "a")
                .as_str()
        );
    }

    #[tokio::test]
    async fn concurrent_misses_compute_once() {
        let cache = Arc::new(ResponseCache::new(
            Arc::new(MemoryCache::new(1 << 20)),
            ttls(Duration::from_secs(30)),
        ));
        let computed = Arc::new(AtomicU32::new(0));
        let requests = (0..20).map(|_| {
            let cache = cache.clone();
            let computed = computed.clone();
            tokio::spawn(async move {
                let key = CacheKey::new(Route::Overview, &user(Role::User)).param("window", 60);
                let answer = cache
                    .json(key, async move {
                        computed.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        Ok(serde_json::json!({"n": 1}))
                    })
                    .await
                    .unwrap();
                answer.outcome
            })
        });
        let mut outcomes = Vec::new();
        for r in requests {
            outcomes.push(r.await.unwrap());
        }
        assert_eq!(computed.load(Ordering::SeqCst), 1);
        assert_eq!(outcomes.iter().filter(|o| **o == Outcome::Miss).count(), 1);
        let stats = cache.backend().stats().await.unwrap();
        assert_eq!((stats.misses, stats.hits), (1, 19));
    }

    #[tokio::test]
    async fn a_flight_outlives_its_callers_and_survives_a_panic() {
        let cache = ResponseCache::new(
            Arc::new(MemoryCache::new(1 << 20)),
            ttls(Duration::from_secs(30)),
        );
        let key = || CacheKey::new(Route::Overview, &user(Role::User));
        // The only caller gives up; the computation still lands in the cache.
        let slow = cache.json(key(), async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            Ok(7)
        });
        assert!(tokio::time::timeout(Duration::from_millis(10), slow)
            .await
            .is_err());
        tokio::time::sleep(Duration::from_millis(200)).await;
        let later = cache.json(key(), async { Ok(8) }).await.unwrap();
        assert_eq!((later.outcome, &later.body[..]), (Outcome::Hit, &b"7"[..]));

        let other = || CacheKey::new(Route::System, &user(Role::User));
        let panicked = cache
            .json::<u8, _>(other(), async { panic!("a bug in a computation") })
            .await;
        assert_eq!(panicked.err().map(|e| e.status.as_u16()), Some(500));
        let next = cache.json(other(), async { Ok(1) }).await.unwrap();
        assert_eq!(next.outcome, Outcome::Miss, "the failed flight is gone");
    }

    #[tokio::test]
    async fn errors_are_not_cached_and_a_zero_ttl_bypasses() {
        let cache = ResponseCache::new(Arc::new(MemoryCache::new(1 << 20)), ttls(Duration::ZERO));
        let key = || CacheKey::new(Route::Service, &user(Role::User)).param("name", "x");
        let failed = cache
            .json::<(), _>(key(), async { Err(ApiError::not_found("no such service")) })
            .await;
        assert!(failed.is_err());
        let ok = cache.json(key(), async { Ok(1) }).await.unwrap();
        assert_eq!(ok.outcome, Outcome::Miss);
        let off = CacheKey::new(Route::Overview, &user(Role::User));
        let bypassed = cache.json(off, async { Ok(1) }).await.unwrap();
        assert_eq!(bypassed.outcome, Outcome::Bypass);
    }
}
