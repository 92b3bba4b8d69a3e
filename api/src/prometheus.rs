//! The api's Prometheus metrics, named and described in this one place,
//! and `GET /metrics`, which renders every metric of the process (in
//! `logflow standalone` the processor's and the alert engine's too).
//!
//! Labels are bounded: `endpoint` is the matched route template (or
//! `unmatched`), `method` one of the standard methods (or `other`).

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use logflow_metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use std::time::Instant;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

const REQUESTS: &str = "http_requests_total";
const DURATION: &str = "http_request_duration_seconds";
const CACHE_HITS: &str = "cache_hits_total";
const CACHE_MISSES: &str = "cache_misses_total";
const AUTH_ATTEMPTS: &str = "auth_attempts_total";
const USERS_REGISTERED: &str = "users_registered_total";
const RATE_LIMITED: &str = "rate_limit_exceeded_total";
const LAG: &str = "kafka_consumer_lag";

/// Installs the recorder and describes the api's metrics.
pub fn describe() {
    logflow_metrics::install();
    describe_counter!(
        REQUESTS,
        "HTTP requests answered, by method, route template and status"
    );
    describe_histogram!(
        DURATION,
        "Time to answer an HTTP request, by method and route template"
    );
    describe_counter!(CACHE_HITS, "Metrics answers served from the cache");
    describe_counter!(CACHE_MISSES, "Metrics answers computed and cached");
    describe_counter!(
        AUTH_ATTEMPTS,
        "Login attempts, by result (success, failure)"
    );
    describe_counter!(USERS_REGISTERED, "Accounts created through registration");
    describe_counter!(RATE_LIMITED, "Requests refused with 429, by route template");
    describe_gauge!(
        LAG,
        "Records produced but not yet committed by the processors' consumer group, by partition"
    );
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(metrics))
}

/// Prometheus metrics of this process, in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, description = "Every metric, Prometheus text format", content_type = "text/plain", body = String)))]
async fn metrics() -> impl IntoResponse {
    logflow_metrics::scrape().await
}

/// How often the consumer-lag gauges are read from Kafka.
pub const LAG_REFRESH: std::time::Duration = std::time::Duration::from_secs(5);

/// Keeps `kafka_consumer_lag{topic,partition}` fresh in the background
/// (reading it takes up to the broker probe's timeout, too slow for a
/// scrape), until `shutdown`; a failed read leaves the last values.
pub async fn refresh_lag(state: AppState, shutdown: tokio_util::sync::CancellationToken) {
    let mut ticker = tokio::time::interval(LAG_REFRESH);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        match state.broker.lag().await {
            Ok(partitions) => {
                for p in partitions {
                    gauge!(LAG, "topic" => state.broker.topic().to_string(), "partition" => p.partition.to_string())
                        .set(p.lag as f64);
                }
            }
            Err(e) => tracing::debug!(error = %e, "consumer lag not read"),
        }
    }
}

/// A cached route answered: a hit or a miss (a bypass is neither).
pub fn cache_outcome(outcome: crate::cache::Outcome) {
    match outcome {
        crate::cache::Outcome::Hit => counter!(CACHE_HITS).increment(1),
        crate::cache::Outcome::Miss => counter!(CACHE_MISSES).increment(1),
        crate::cache::Outcome::Bypass => {}
    }
}

/// A login attempt: `success` or `failure`.
pub fn auth_attempt(result: &'static str) {
    counter!(AUTH_ATTEMPTS, "result" => result).increment(1);
}

pub fn user_registered() {
    counter!(USERS_REGISTERED).increment(1);
}

/// `req` was refused with 429.
pub fn rate_limited(req: &Request) {
    let endpoint = endpoint_label(req.extensions().get::<MatchedPath>());
    counter!(RATE_LIMITED, "endpoint" => endpoint).increment(1);
}

/// The matched route template, carried from the route layer (which runs
/// after routing) out to [`track`] (which sees the whole request).
#[derive(Clone)]
struct Endpoint(MatchedPath);

/// Route layer: notes the matched route on the response.
pub async fn note_route(req: Request, next: Next) -> Response {
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let mut response = next.run(req).await;
    if let Some(matched) = matched {
        response.extensions_mut().insert(Endpoint(matched));
    }
    response
}

/// Outer layer: counts and times every request, 404s and 429s included.
pub async fn track(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(req.method());
    let response = next.run(req).await;
    let endpoint = endpoint_label(response.extensions().get::<Endpoint>().map(|e| &e.0));
    let status = response.status().as_u16().to_string();
    counter!(REQUESTS, "method" => method, "endpoint" => endpoint.clone(), "status" => status)
        .increment(1);
    histogram!(DURATION, "method" => method, "endpoint" => endpoint)
        .record(started.elapsed().as_secs_f64());
    response
}

/// The route template, or `unmatched` for a request no route took.
fn endpoint_label(route: Option<&MatchedPath>) -> String {
    route.map_or("unmatched", MatchedPath::as_str).to_string()
}

fn method_label(method: &axum::http::Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}
