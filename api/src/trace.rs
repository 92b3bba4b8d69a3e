//! `/api/v1/trace`: what the api knows about the current request, a debug
//! view for admins, and recording a custom event as a log record.

use crate::auth::{AdminUser, AuthUser};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json as JsonBody;
use crate::request_context::RequestContext;
use crate::state::AppState;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use logflow_core::wire::HEADER_HOST;
use logflow_core::{Level, LogRecord};
use rdkafka::message::{Header, OwnedHeaders};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Longest message a custom event may carry.
pub const MAX_EVENT_MESSAGE: usize = 64 * 1024;
/// Largest event as a whole, well under Kafka's default 1 MB message limit
/// so that an oversized event is the client's 422, not the broker's refusal.
pub const MAX_EVENT_BYTES: usize = 256 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(context))
        .routes(routes!(debug))
        .routes(routes!(log_event))
}

/// The tracing context of this request.
#[derive(Debug, Serialize, ToSchema)]
pub struct TraceContext {
    pub request_id: String,
    pub correlation_id: String,
    /// The W3C `traceparent` header, when the caller sent one.
    pub traceparent: Option<String>,
    pub method: String,
    pub path: String,
    pub user: String,
    pub server_time: DateTime<Utc>,
}

/// The request and correlation ids of this request, as the api sees them.
#[utoipa::path(get, path = "/context", tag = "trace", security(("bearer" = [])),
    responses(
        (status = 200, description = "This request's context", body = TraceContext),
    ))]
async fn context(
    AuthUser(user): AuthUser,
    Extension(ctx): Extension<RequestContext>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Json<TraceContext> {
    Json(TraceContext {
        request_id: ctx.request_id,
        correlation_id: ctx.correlation_id,
        traceparent: headers
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        method: method.to_string(),
        path: uri.path().to_string(),
        user: user.username,
        server_time: Utc::now(),
    })
}

/// What an admin needs to debug a request or the deployment.
#[derive(Debug, Serialize, ToSchema)]
pub struct DebugInfo {
    pub context: TraceContext,
    /// The request's headers; credentials are replaced by `[REDACTED]`.
    pub headers: BTreeMap<String, String>,
    pub version: String,
    pub uptime_seconds: u64,
    pub database: String,
    pub kafka_servers: String,
    pub kafka_topic: String,
    pub consumer_group: String,
    pub store_indexes: Vec<String>,
}

/// Request headers (credentials redacted) and the deployment's wiring (admins only).
#[utoipa::path(get, path = "/debug", tag = "trace", security(("bearer" = [])),
    responses(
        (status = 200, description = "Debug information", body = DebugInfo),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 503, description = "The log store is unavailable", body = ErrorBody),
    ))]
async fn debug(
    State(state): State<AppState>,
    AdminUser(user): AdminUser,
    Extension(ctx): Extension<RequestContext>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
) -> Result<Json<DebugInfo>, ApiError> {
    let visible = headers
        .iter()
        .map(|(name, value)| {
            let shown = if is_secret(name.as_str()) {
                "[REDACTED]".to_string()
            } else {
                String::from_utf8_lossy(value.as_bytes()).into_owned()
            };
            (name.as_str().to_string(), shown)
        })
        .collect();
    let stats = state.store.stats().await?;
    let Json(context) = context(AuthUser(user), Extension(ctx), method, uri, headers).await;
    Ok(Json(DebugInfo {
        context,
        headers: visible,
        version: env!("CARGO_PKG_VERSION").to_string(),
        uptime_seconds: state.started.elapsed().as_secs(),
        database: state.db.backend().to_string(),
        kafka_servers: state.broker.servers().to_string(),
        kafka_topic: state.broker.topic().to_string(),
        consumer_group: state.broker.group().to_string(),
        store_indexes: stats.indexes,
    }))
}

/// Header names that may carry credentials (names arrive lower-cased).
/// Matched by part, so `x-auth-token` or `x-amz-security-token` are covered
/// as well as `authorization`.
fn is_secret(header: &str) -> bool {
    [
        "auth",
        "token",
        "key",
        "secret",
        "session",
        "cookie",
        "password",
        "signature",
    ]
    .iter()
    .any(|part| header.contains(part))
}

/// A custom event to record as a log record.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogEvent {
    /// Up to 64 KiB.
    #[schema(example = "checkout started")]
    pub message: String,
    /// Default INFO.
    pub level: Option<Level>,
    /// Default `logflow-api`.
    #[schema(example = "checkout-web")]
    pub service: Option<String>,
    /// Extra fields, kept under `fields` and searchable.
    #[schema(value_type = Option<Object>)]
    pub fields: Option<Map<String, Value>>,
}

/// Where the event went.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogEventAccepted {
    /// The record's id once indexed: `GET /api/v1/logs/{id}` finds it.
    pub id: String,
    /// The request's correlation id, which the record carries.
    pub correlation_id: String,
}

/// Record a custom event: it is sent through Kafka like any shipped log and
/// becomes searchable once the processor has indexed it.
#[utoipa::path(post, path = "/log", tag = "trace", security(("bearer" = [])),
    request_body = LogEvent,
    responses(
        (status = 202, description = "Accepted by Kafka", body = LogEventAccepted),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
        (status = 503, description = "Kafka did not acknowledge the event in time", body = ErrorBody),
    ))]
async fn log_event(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Extension(ctx): Extension<RequestContext>,
    JsonBody(event): JsonBody<LogEvent>,
) -> Result<(StatusCode, Json<LogEventAccepted>), ApiError> {
    if event.message.trim().is_empty() {
        return Err(ApiError::invalid_field(
            "message",
            "message must not be empty",
        ));
    }
    if event.message.len() > MAX_EVENT_MESSAGE {
        return Err(ApiError::invalid_field(
            "message",
            format!("message must be at most {MAX_EVENT_MESSAGE} bytes"),
        ));
    }
    let service = event
        .service
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "logflow-api".to_string());
    if service.is_empty() || service.len() > 256 {
        return Err(ApiError::invalid_field(
            "service",
            "service must be 1–256 characters",
        ));
    }
    let mut record = LogRecord::new(
        Utc::now(),
        service.clone(),
        event.level.unwrap_or(Level::Info),
        event.message,
    );
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    record.host = Some(host.clone());
    record.correlation_id = Some(ctx.correlation_id.clone());
    record.fields = event.fields.unwrap_or_default();
    record
        .fields
        .insert("submitted_by".into(), Value::String(user.username));
    record
        .fields
        .insert("request_id".into(), Value::String(ctx.request_id));
    let payload = serde_json::to_vec(&record)
        .map_err(|e| ApiError::internal("serialising an event failed", e))?;
    if payload.len() > MAX_EVENT_BYTES {
        return Err(ApiError::invalid_field(
            "fields",
            format!("the event must be at most {MAX_EVENT_BYTES} bytes as JSON"),
        ));
    }
    let headers = OwnedHeaders::new().insert(Header {
        key: HEADER_HOST,
        value: Some(host.as_bytes()),
    });
    let id = state
        .broker
        .publish(&service, &payload, headers)
        .await
        .map_err(|e| ApiError::unavailable("Kafka did not acknowledge the event", e))?;
    Ok((
        StatusCode::ACCEPTED,
        Json(LogEventAccepted {
            id: id.to_string(),
            correlation_id: ctx.correlation_id,
        }),
    ))
}
