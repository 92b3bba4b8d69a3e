//! `GET /health`: each dependency's state and the overall verdict, for load
//! balancers (status code) and people (body).

use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Longest one check may take before its dependency counts as down.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an answer is reused. `/health` is open to anyone: without this,
/// a flood of probes would each scan the indexes, ping the database and
/// hold a thread on a broker round trip.
const CACHE_FOR: Duration = Duration::from_secs(1);

/// The last answer and when it was computed. The lock is held while checks
/// run, so concurrent probes wait for one round of checks instead of each
/// starting their own.
#[derive(Default)]
pub struct HealthCache(tokio::sync::Mutex<Option<(Instant, StatusCode, Health)>>);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Healthy,
    Degraded,
    Down,
}

/// One dependency.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Check {
    pub status: Status,
    pub latency_ms: u64,
    /// Why it is not healthy.
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Health {
    /// `down` when the api cannot answer searches or logins (store or
    /// database down); `degraded` when something else is (the broker:
    /// searches work, new logs do not arrive; Redis, when configured).
    pub status: Status,
    pub version: String,
    pub uptime_seconds: u64,
    /// store, database, broker, and redis when `REDIS_URL` is set.
    pub checks: BTreeMap<String, Check>,
}

/// Dependency health: 200 when healthy or degraded, 503 when down.
#[utoipa::path(get, path = "/health", tag = "health",
    responses(
        (status = 200, description = "Healthy or degraded", body = Health),
        (status = 503, description = "Down: the store or the database is unavailable", body = Health),
    ))]
async fn health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let mut cached = state.health.0.lock().await;
    if let Some((at, code, health)) = cached.as_ref() {
        if at.elapsed() < CACHE_FOR {
            return (*code, Json(health.clone()));
        }
    }
    let (code, health) = check_all(&state).await;
    *cached = Some((Instant::now(), code, health.clone()));
    (code, Json(health))
}

async fn check_all(state: &AppState) -> (StatusCode, Health) {
    let (store, database, broker, redis) = tokio::join!(
        check(Status::Down, async {
            state
                .store
                .stats()
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        }),
        check(Status::Down, async {
            state.db.ping().await.map_err(|e| e.to_string())
        }),
        check(Status::Degraded, state.broker.check()),
        async {
            match &state.redis {
                Some(redis) => Some(
                    check(Status::Degraded, async {
                        redis.ping().await.map_err(|e| e.to_string())
                    })
                    .await,
                ),
                None => None,
            }
        },
    );
    let mut checks = BTreeMap::from([
        ("store".to_string(), store),
        ("database".to_string(), database),
        ("broker".to_string(), broker),
    ]);
    if let Some(redis) = redis {
        checks.insert("redis".to_string(), redis);
    }
    let status = checks
        .values()
        .map(|c| c.status)
        .max()
        .unwrap_or(Status::Healthy);
    let code = if status == Status::Down {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (
        code,
        Health {
            status,
            version: env!("CARGO_PKG_VERSION").to_string(),
            uptime_seconds: state.started.elapsed().as_secs(),
            checks,
        },
    )
}

/// Runs one probe with a deadline; a failure counts as `on_failure`.
async fn check(on_failure: Status, probe: impl Future<Output = Result<(), String>>) -> Check {
    let started = Instant::now();
    let outcome = tokio::time::timeout(CHECK_TIMEOUT, probe)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {}s", CHECK_TIMEOUT.as_secs())));
    let latency_ms = started.elapsed().as_millis() as u64;
    match outcome {
        Ok(()) => Check {
            status: Status::Healthy,
            latency_ms,
            detail: None,
        },
        Err(detail) => Check {
            status: on_failure,
            latency_ms,
            detail: Some(detail),
        },
    }
}
