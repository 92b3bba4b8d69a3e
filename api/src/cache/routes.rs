//! `/api/v1/cache`: what the cache holds, and clearing it (admin).

use crate::auth::AdminUser;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Query;
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use logflow_store::cache::{CacheError, CacheStats, KeyPattern};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(stats))
        .routes(routes!(clear))
}

impl From<CacheError> for ApiError {
    fn from(e: CacheError) -> Self {
        ApiError::unavailable("the cache backend", e)
    }
}

/// Hits, misses, hit rate, entries and their size (admin: with Redis it
/// scans the keyspace, not something every user should be able to start).
#[utoipa::path(get, path = "/stats", tag = "cache", security(("bearer" = [])),
    responses(
        (status = 200, description = "Cache statistics (shared by replicas with Redis)", body = CacheStats),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 503, description = "Redis is unreachable", body = ErrorBody),
    ))]
async fn stats(
    State(state): State<AppState>,
    _admin: AdminUser,
) -> Result<Json<CacheStats>, ApiError> {
    Ok(Json(state.cache.backend().stats().await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClearParams {
    /// Keys to remove: `*` matches any run of characters, `?` one
    /// (default `*`, everything). Keys look like
    /// `metrics:overview:user:window_ms=3600000`.
    #[param(example = "metrics:*")]
    pub pattern: Option<String>,
}

/// How many entries were removed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Cleared {
    pub pattern: String,
    pub cleared: u64,
}

/// Removes the entries whose keys match a pattern (admin).
#[utoipa::path(delete, path = "/clear", tag = "cache", security(("bearer" = [])),
    params(ClearParams),
    responses(
        (status = 200, description = "Entries removed", body = Cleared),
        (status = 400, description = "Invalid pattern", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 503, description = "Redis is unreachable", body = ErrorBody),
    ))]
async fn clear(
    State(state): State<AppState>,
    _admin: AdminUser,
    Query(params): Query<ClearParams>,
) -> Result<Json<Cleared>, ApiError> {
    let pattern = KeyPattern::parse(params.pattern.as_deref().unwrap_or("*"))
        .map_err(|e| ApiError::bad_param("pattern", e.to_string()))?;
    let cleared = state.cache.backend().clear(&pattern).await?;
    tracing::info!(pattern = pattern.as_str(), cleared, "cache cleared");
    Ok(Json(Cleared {
        pattern: pattern.as_str().to_string(),
        cleared,
    }))
}
