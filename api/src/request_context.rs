//! Request and correlation ids. Every response carries `X-Request-ID` and
//! `X-Correlation-ID`: the caller's values when it sent usable ones, fresh
//! ones otherwise. Both go on the request's span, so every log line the
//! request causes can be found by either.

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;
use tracing::Instrument;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub const CORRELATION_ID: HeaderName = HeaderName::from_static("x-correlation-id");

/// Longest id kept from a caller; longer ones are replaced, not truncated.
const MAX_ID_LEN: usize = 128;

/// The ids of the request being served (a request extension).
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub request_id: String,
    pub correlation_id: String,
}

/// The middleware: assigns the ids, opens the span, logs the outcome.
pub async fn request_context(mut req: Request, next: Next) -> Response {
    let request_id = caller_id(req.headers(), &REQUEST_ID).unwrap_or_else(new_id);
    let correlation_id = caller_id(req.headers(), &CORRELATION_ID).unwrap_or_else(new_id);
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let span = tracing::info_span!(
        "request",
        method = %req.method(),
        route = %route,
        request_id = %request_id,
        correlation_id = %correlation_id,
        user = tracing::field::Empty,
    );
    req.extensions_mut().insert(RequestContext {
        request_id: request_id.clone(),
        correlation_id: correlation_id.clone(),
    });
    let started = Instant::now();
    let mut response = next.run(req).instrument(span.clone()).await;
    let status = response.status().as_u16();
    span.in_scope(|| {
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        if status >= 500 {
            tracing::error!(status, ms, "request failed");
        } else {
            tracing::info!(status, ms, "request");
        }
    });
    let headers = response.headers_mut();
    for (name, value) in [(REQUEST_ID, request_id), (CORRELATION_ID, correlation_id)] {
        // Our ids are ASCII by construction; a caller's were checked.
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
    response
}

/// The caller's id when it is printable ASCII of a sane length.
fn caller_id(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    let value = headers.get(name)?.to_str().ok()?.trim();
    let usable = !value.is_empty()
        && value.len() <= MAX_ID_LEN
        && value.bytes().all(|b| b.is_ascii_graphic());
    usable.then(|| value.to_string())
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
