//! The whole HTTP surface: every route registered through utoipa-axum, so
//! a route cannot exist without its OpenAPI entry; Swagger UI at `/docs`
//! from vendored assets (works offline); JSON 404/405 fallbacks; ids on
//! every response; panics answered as JSON 500s rather than dropped
//! connections.

use crate::error::ApiError;
use crate::request_context::request_context;
use crate::state::AppState;
use crate::{
    alerts, auth, cache, correlation, health, logs, metrics, prometheus, ratelimit, trace,
};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::any::Any;
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::response::{Response as ApiResponse, ResponseBuilder};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{OpenApi as OpenApiDoc, Ref, RefOr};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

pub const OPENAPI_PATH: &str = "/api-docs/openapi.json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "LogFlow API",
        description = "Search, export and chart the logs LogFlow has indexed; manage users. \
                       Log in with `POST /api/v1/auth/login`, then press Authorize and paste the \
                       `access_token`.",
    ),
    modifiers(&BearerScheme),
    tags(
        (name = "auth", description = "Accounts and tokens"),
        (name = "logs", description = "Search, read and export logs"),
        (name = "correlation", description = "Follow one request across services"),
        (name = "metrics", description = "Aggregations for dashboards"),
        (name = "trace", description = "Request tracing and custom events"),
        (name = "alerts", description = "Alert rules and the alerts they triggered"),
        (name = "cache", description = "The metrics cache"),
        (name = "rate-limits", description = "Rate-limit administration"),
        (name = "health", description = "Dependency health"),
    )
)]
struct ApiDoc;

/// Registers the `bearer` scheme the protected routes name.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.bearer_format = Some("JWT".to_string());
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// The OpenAPI document and the routes it describes.
pub fn api() -> (Router<AppState>, OpenApiDoc) {
    let (routes, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(health::router())
        .merge(prometheus::router())
        .nest("/api/v1/auth", auth::routes::router())
        .nest("/api/v1/logs", logs::router())
        .nest("/api/v1/correlation", correlation::router())
        .nest("/api/v1/metrics", metrics::router())
        .nest("/api/v1/trace", trace::router())
        .nest("/api/v1/alerts", alerts::router())
        .nest("/api/v1/cache", cache::routes::router())
        .nest("/api/v1/rate-limits", ratelimit::routes::router())
        .split_for_parts();
    document_shared_errors(&mut doc);
    (routes, doc)
}

/// The error responses every route shares, added here once rather than in
/// every route's list: any route that names the bearer scheme answers 401
/// without a valid token; every route but `/health` is rate limited (429)
/// and reads the metadata database (the caller's account) or the store,
/// so it answers 503 while one is down.
fn document_shared_errors(doc: &mut OpenApiDoc) {
    let unauthorized = error_response("Missing, invalid or expired token");
    let unavailable = error_response(
        "A dependency (the metadata database, the log store or Kafka) is unavailable; retry later",
    );
    let too_many = error_response(
        "Rate limit exceeded: retry after `Retry-After` seconds (`RateLimit-*` headers on every limited response)",
    );
    for (path, item) in doc.paths.paths.iter_mut() {
        if path == "/health" || path == "/metrics" {
            continue;
        }
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
        ];
        for op in operations.into_iter().flatten() {
            let responses = &mut op.responses.responses;
            if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
                responses
                    .entry("401".to_string())
                    .or_insert_with(|| unauthorized.clone());
            }
            responses
                .entry("429".to_string())
                .or_insert_with(|| too_many.clone());
            responses
                .entry("503".to_string())
                .or_insert_with(|| unavailable.clone());
        }
    }
}

/// A response with an [`ErrorBody`](crate::error::ErrorBody) body.
fn error_response(description: &str) -> RefOr<ApiResponse> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
        .into()
}

/// The application, ready to serve.
pub fn app(state: AppState) -> Router {
    let (routes, doc) = api();
    routes
        // A route layer runs after routing, so it knows the route template.
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            ratelimit::enforce,
        ))
        .merge(SwaggerUi::new("/docs").url(OPENAPI_PATH, doc))
        // After the merge, so Swagger UI and the document have their routes
        // as labels too.
        .route_layer(axum::middleware::from_fn(prometheus::note_route))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(CatchPanicLayer::custom(panicked))
        .layer(axum::middleware::from_fn(request_context))
        .layer(axum::middleware::from_fn(prometheus::track))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed for this route",
    )
}

fn panicked(err: Box<dyn Any + Send + 'static>) -> Response {
    let what = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    ApiError::internal("a handler panicked", what).into_response()
}
