//! Rate limiting: every api route but `/health` belongs to a class with
//! its own limit, counted per authenticated user (a valid bearer token)
//! or else per client address. Over the limit a request gets 429 with
//! `Retry-After`; every limited response carries `RateLimit-Limit`,
//! `RateLimit-Remaining`, `RateLimit-Reset` and `RateLimit-Policy`.
//!
//! The counting is the store's [`RateLimiter`] (Redis shared by replicas,
//! or in-process), chosen once at start-up.

mod client_ip;
mod rate;
pub mod routes;

pub use client_ip::TrustedProxies;
pub use rate::Rate;

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::headers::authorization::Bearer;
use axum_extra::headers::{Authorization, HeaderMapExt};
use clap::Args;
use logflow_store::ratelimit::{Decision, Limit, RateLimiter};
use serde::Serialize;
use serde_json::json;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use utoipa::ToSchema;

/// Limits per route class, and whose forwarding headers to believe.
#[derive(Debug, Clone, Args)]
pub struct RateLimitArgs {
    /// Turn rate limiting off (`false`), e.g. behind a gateway that limits.
    #[arg(long, env = "RATE_LIMIT_ENABLED", default_value_t = true, action = clap::ArgAction::Set)]
    pub rate_limit_enabled: bool,

    /// Routes of no other class.
    #[arg(long, env = "RATE_LIMIT_DEFAULT", default_value = "100/minute")]
    pub rate_limit_default: Rate,

    /// `/logs/search`, `/logs/export`, `/correlation/trace/{id}`.
    #[arg(long, env = "RATE_LIMIT_SEARCH", default_value = "50/minute")]
    pub rate_limit_search: Rate,

    /// `/logs/recent`.
    #[arg(long, env = "RATE_LIMIT_RECENT", default_value = "100/minute")]
    pub rate_limit_recent: Rate,

    /// `/logs/{id}`.
    #[arg(long, env = "RATE_LIMIT_LOOKUP", default_value = "200/minute")]
    pub rate_limit_lookup: Rate,

    /// `/auth/login` (per client address: it has no user yet).
    #[arg(long, env = "RATE_LIMIT_LOGIN", default_value = "20/hour")]
    pub rate_limit_login: Rate,

    /// `/auth/register`.
    #[arg(long, env = "RATE_LIMIT_REGISTER", default_value = "10/hour")]
    pub rate_limit_register: Rate,

    /// `/metrics/*`.
    #[arg(long, env = "RATE_LIMIT_METRICS", default_value = "100/minute")]
    pub rate_limit_metrics: Rate,

    /// Proxies (addresses or networks, comma-separated) whose
    /// `X-Forwarded-For`/`X-Real-IP` name the client. Empty: the peer
    /// address is the client.
    #[arg(long, env = "TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: TrustedProxies,
}

/// Route classes, each with its own limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LimitClass {
    Default,
    Search,
    Recent,
    Lookup,
    Login,
    Register,
    Metrics,
}

impl LimitClass {
    pub const ALL: [LimitClass; 7] = [
        LimitClass::Default,
        LimitClass::Search,
        LimitClass::Recent,
        LimitClass::Lookup,
        LimitClass::Login,
        LimitClass::Register,
        LimitClass::Metrics,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LimitClass::Default => "default",
            LimitClass::Search => "search",
            LimitClass::Recent => "recent",
            LimitClass::Lookup => "lookup",
            LimitClass::Login => "login",
            LimitClass::Register => "register",
            LimitClass::Metrics => "metrics",
        }
    }

    fn parse(name: &str) -> Option<LimitClass> {
        LimitClass::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// The class of a route template; `None`: not limited.
    fn of_route(template: &str) -> Option<LimitClass> {
        Some(match template {
            "/health" | "/metrics" => return None,
            "/api/v1/auth/login" => LimitClass::Login,
            "/api/v1/auth/register" => LimitClass::Register,
            "/api/v1/logs/search" | "/api/v1/logs/export" => LimitClass::Search,
            "/api/v1/correlation/trace/{correlation_id}" => LimitClass::Search,
            "/api/v1/logs/recent" => LimitClass::Recent,
            "/api/v1/logs/{id}" => LimitClass::Lookup,
            t if t.starts_with("/api/v1/metrics/") => LimitClass::Metrics,
            _ => LimitClass::Default,
        })
    }
}

/// The limiter and the configured limits.
pub struct RateLimits {
    pub limiter: Arc<dyn RateLimiter>,
    pub backend: &'static str,
    args: RateLimitArgs,
}

impl RateLimits {
    pub fn new(limiter: Arc<dyn RateLimiter>, backend: &'static str, args: RateLimitArgs) -> Self {
        RateLimits {
            limiter,
            backend,
            args,
        }
    }

    pub fn enabled(&self) -> bool {
        self.args.rate_limit_enabled
    }

    pub fn limit(&self, class: LimitClass) -> Limit {
        let Rate(limit) = match class {
            LimitClass::Default => self.args.rate_limit_default,
            LimitClass::Search => self.args.rate_limit_search,
            LimitClass::Recent => self.args.rate_limit_recent,
            LimitClass::Lookup => self.args.rate_limit_lookup,
            LimitClass::Login => self.args.rate_limit_login,
            LimitClass::Register => self.args.rate_limit_register,
            LimitClass::Metrics => self.args.rate_limit_metrics,
        };
        limit
    }
}

/// Whom a request is counted against: `user:<id>` for a valid bearer
/// token, else the client's address (see [`client_ip::client_key`]).
/// Logins and registrations always count by address: a token of one's own
/// account must not buy a fresh budget of password guesses.
fn identity(state: &AppState, class: LimitClass, req: &Request) -> String {
    let by_address = matches!(class, LimitClass::Login | LimitClass::Register);
    let user = req
        .headers()
        .typed_get::<Authorization<Bearer>>()
        .filter(|_| !by_address)
        .and_then(|bearer| state.tokens.verify(bearer.token()).ok())
        .and_then(|claims| claims.sub.parse::<i64>().ok());
    if let Some(id) = user {
        return format!("user:{id}");
    }
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    client_ip::client_key(client_ip::client_ip(
        peer,
        req.headers(),
        &state.limits.args.trusted_proxies,
    ))
}

/// The bucket of one identity in one class.
fn bucket(class: LimitClass, identity: &str) -> String {
    format!("{}:{identity}", class.as_str())
}

/// The middleware: counts the request, refuses it over the limit, and
/// adds the `RateLimit-*` headers either way.
pub async fn enforce(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let class = req
        .extensions()
        .get::<MatchedPath>()
        .and_then(|p| LimitClass::of_route(p.as_str()));
    let Some(class) = class.filter(|_| state.limits.enabled()) else {
        return next.run(req).await;
    };
    let limit = state.limits.limit(class);
    let who = identity(&state, class, &req);
    let decision = match state
        .limits
        .limiter
        .check(&bucket(class, &who), limit)
        .await
    {
        Ok(decision) => decision,
        Err(e) => {
            // Only a backend without a fallback can fail; let the request
            // through rather than refuse everyone.
            tracing::warn!(error = %e, "rate limit not checked");
            return next.run(req).await;
        }
    };
    let mut response = if decision.allowed {
        next.run(req).await
    } else {
        tracing::info!(class = class.as_str(), identity = %who, "rate limit exceeded");
        crate::prometheus::rate_limited(&req);
        let retry_after = reset_seconds(&decision);
        let mut refused = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded")
            .with_detail(json!({
                "class": class.as_str(),
                "limit": limit.max,
                "window_seconds": limit.window.as_secs(),
                "retry_after_seconds": retry_after,
            }))
            .into_response();
        refused
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        refused
    };
    add_headers(response.headers_mut(), limit, &decision);
    response
}

/// Whole seconds until a slot frees, rounded up so that retrying after
/// that long succeeds; at least 1 on a refusal.
fn reset_seconds(decision: &Decision) -> u64 {
    let secs = decision.reset.as_secs() + u64::from(decision.reset.subsec_nanos() > 0);
    if decision.allowed {
        secs
    } else {
        secs.max(1)
    }
}

fn add_headers(headers: &mut HeaderMap, limit: Limit, decision: &Decision) {
    let policy = format!("{};w={}", limit.max, limit.window.as_secs());
    for (name, value) in [
        ("ratelimit-limit", HeaderValue::from(decision.limit)),
        ("ratelimit-remaining", HeaderValue::from(decision.remaining)),
        (
            "ratelimit-reset",
            HeaderValue::from(reset_seconds(decision)),
        ),
        (
            "ratelimit-policy",
            HeaderValue::from_str(&policy).unwrap_or(HeaderValue::from_static("")),
        ),
    ] {
        headers.insert(HeaderName::from_static(name), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_map_to_their_classes() {
        for (route, class) in [
            ("/api/v1/auth/login", Some(LimitClass::Login)),
            ("/api/v1/auth/register", Some(LimitClass::Register)),
            ("/api/v1/logs/search", Some(LimitClass::Search)),
            ("/api/v1/logs/export", Some(LimitClass::Search)),
            ("/api/v1/logs/recent", Some(LimitClass::Recent)),
            ("/api/v1/logs/{id}", Some(LimitClass::Lookup)),
            ("/api/v1/metrics/overview", Some(LimitClass::Metrics)),
            ("/api/v1/auth/me", Some(LimitClass::Default)),
            ("/health", None),
            ("/metrics", None),
        ] {
            assert_eq!(LimitClass::of_route(route), class, "{route}");
        }
        for class in LimitClass::ALL {
            assert_eq!(LimitClass::parse(class.as_str()), Some(class));
        }
    }

    #[test]
    fn reset_rounds_up_and_is_never_zero_on_a_refusal() {
        let d = |allowed, millis| Decision {
            allowed,
            limit: 1,
            remaining: 0,
            reset: std::time::Duration::from_millis(millis),
        };
        assert_eq!(reset_seconds(&d(false, 1)), 1);
        assert_eq!(reset_seconds(&d(false, 0)), 1);
        assert_eq!(reset_seconds(&d(false, 2_001)), 3);
        assert_eq!(reset_seconds(&d(true, 0)), 0);
        assert_eq!(reset_seconds(&d(true, 59_000)), 59);
    }
}
