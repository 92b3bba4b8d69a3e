//! `/api/v1/rate-limits` (admin): who is being counted, and forgiving
//! them.

use super::client_ip::client_key;
use super::{bucket, reset_seconds, LimitClass};
use crate::auth::AdminUser;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Path, Query};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use ipnet::IpNet;
use logflow_store::ratelimit::LimitError;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Most buckets one status answer lists.
const MAX_LISTED: usize = 1000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(status))
        .routes(routes!(reset))
        .routes(routes!(reset_all))
}

impl From<LimitError> for ApiError {
    fn from(e: LimitError) -> Self {
        ApiError::unavailable("the rate-limit backend", e)
    }
}

/// One class's configured limit.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClassLimit {
    pub class: LimitClass,
    pub limit: u32,
    pub window_seconds: u64,
}

/// One client's use of one class.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientUsage {
    /// `user:<id>` or `ip:<address>`.
    pub identity: String,
    pub class: LimitClass,
    pub used: u32,
    pub remaining: u32,
    /// Seconds until the oldest counted request stops counting.
    pub reset_seconds: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RateLimitStatus {
    pub enabled: bool,
    /// `redis` (shared by replicas) or `memory` (this process).
    pub backend: &'static str,
    pub limits: Vec<ClassLimit>,
    /// Clients with requests counted now, most used first.
    pub clients: Vec<ClientUsage>,
    /// More clients are counted than listed.
    pub truncated: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatusParams {
    /// Only this client (`user:<id>` or `ip:<address>`).
    pub identity: Option<String>,
}

/// The limits and every client counted now (admin).
#[utoipa::path(get, path = "/status", tag = "rate-limits", security(("bearer" = [])),
    params(StatusParams),
    responses(
        (status = 200, description = "Limits and usage", body = RateLimitStatus),
        (status = 400, description = "Invalid identity", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 503, description = "Redis is unreachable", body = ErrorBody),
    ))]
async fn status(
    State(state): State<AppState>,
    _admin: AdminUser,
    Query(params): Query<StatusParams>,
) -> Result<Json<RateLimitStatus>, ApiError> {
    let only = params
        .identity
        .as_deref()
        .map(|id| parse_identity("identity", id))
        .transpose()?;
    let limits = &state.limits;
    let buckets = limits.limiter.buckets(MAX_LISTED + 1).await?;
    let truncated = buckets.len() > MAX_LISTED;
    let mut clients = Vec::new();
    for name in buckets.into_iter().take(MAX_LISTED) {
        let Some((class, identity)) = name
            .split_once(':')
            .and_then(|(c, id)| Some((LimitClass::parse(c)?, id)))
        else {
            continue;
        };
        if only.as_deref().is_some_and(|o| o != identity) {
            continue;
        }
        let limit = limits.limit(class);
        let now = limits.limiter.peek(&name, limit).await?;
        let used = limit.max - now.remaining;
        if used > 0 {
            clients.push(ClientUsage {
                identity: identity.to_string(),
                class,
                used,
                remaining: now.remaining,
                reset_seconds: reset_seconds(&now),
            });
        }
    }
    clients.sort_by(|a, b| b.used.cmp(&a.used).then(a.identity.cmp(&b.identity)));
    Ok(Json(RateLimitStatus {
        enabled: limits.enabled(),
        backend: limits.backend,
        limits: LimitClass::ALL
            .into_iter()
            .map(|class| {
                let limit = limits.limit(class);
                ClassLimit {
                    class,
                    limit: limit.max,
                    window_seconds: limit.window.as_secs(),
                }
            })
            .collect(),
        clients,
        truncated,
    }))
}

/// How many of a client's (or all clients') counters were cleared.
#[derive(Debug, Serialize, ToSchema)]
pub struct Reset {
    /// The client, or absent for everyone.
    pub identity: Option<String>,
    /// Counters (one per client and class) that had requests.
    pub reset: u64,
}

/// Forgets one client's counted requests in every class (admin).
#[utoipa::path(delete, path = "/reset/{id}", tag = "rate-limits", security(("bearer" = [])),
    params(("id" = String, Path, description = "The client: `user:<id>` or `ip:<address>`", example = "user:42")),
    responses(
        (status = 200, description = "Counters cleared", body = Reset),
        (status = 400, description = "Invalid identity", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 503, description = "Redis is unreachable", body = ErrorBody),
    ))]
async fn reset(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<String>,
) -> Result<Json<Reset>, ApiError> {
    let identity = parse_identity("id", &id)?;
    let buckets: Vec<String> = LimitClass::ALL
        .into_iter()
        .map(|class| bucket(class, &identity))
        .collect();
    let reset = state.limits.limiter.reset(&buckets).await?;
    tracing::info!(%identity, reset, by = %admin.username, "rate limits reset");
    Ok(Json(Reset {
        identity: Some(identity),
        reset,
    }))
}

/// Forgets every client's counted requests (admin).
#[utoipa::path(delete, path = "/reset-all", tag = "rate-limits", security(("bearer" = [])),
    responses(
        (status = 200, description = "Counters cleared", body = Reset),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 503, description = "Redis is unreachable", body = ErrorBody),
    ))]
async fn reset_all(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
) -> Result<Json<Reset>, ApiError> {
    let reset = state.limits.limiter.reset_all().await?;
    tracing::info!(reset, by = %admin.username, "all rate limits reset");
    Ok(Json(Reset {
        identity: None,
        reset,
    }))
}

/// `user:<id>` or `ip:<address>`, normalised as the limiter counts (so
/// `ip:::FFFF:1.2.3.4` finds `ip:1.2.3.4`, and any address of an IPv6 /64,
/// or the network itself, finds that network).
fn parse_identity(param: &str, id: &str) -> Result<String, ApiError> {
    let parsed = match id.split_once(':') {
        Some(("user", n)) => n.parse::<i64>().ok().map(|n| format!("user:{n}")),
        Some(("ip", addr)) => addr
            .parse::<IpAddr>()
            .or_else(|_| addr.parse::<IpNet>().map(|net| net.network()))
            .ok()
            .map(client_key),
        _ => None,
    };
    parsed.ok_or_else(|| {
        ApiError::bad_param(
            param,
            format!("invalid client {id:?}: expected user:<id> or ip:<address>"),
        )
    })
}
