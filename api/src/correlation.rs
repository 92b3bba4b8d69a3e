//! `/api/v1/correlation/trace/{id}`: one request's path through the
//! services, oldest first, with how long each service was involved.

use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Path;
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use logflow_core::query::MAX_LIMIT;
use logflow_core::{Cursor, LogFilter, LogQuery, StoredLog};
use serde::Serialize;
use std::collections::VecDeque;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Most records one trace returns: its oldest. A flow larger than this is
/// cut (and says so) rather than exhausting memory.
pub const MAX_TRACE_RECORDS: usize = 10_000;
/// Most records read to find a flow's start; beyond this the answer is cut
/// and says so, so one request cannot read the store without end.
pub const MAX_TRACE_SCAN: usize = 100_000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(trace))
}

/// One service's part in a flow.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceTiming {
    pub service: String,
    pub records: usize,
    /// ERROR and CRITICAL records.
    pub errors: usize,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// From the service's first record to its last, in milliseconds.
    pub duration_ms: i64,
}

/// Every record of one request flow.
#[derive(Debug, Serialize, ToSchema)]
pub struct TraceResponse {
    pub correlation_id: String,
    pub records: Vec<StoredLog>,
    pub total_records: usize,
    /// True when the flow had more than 10,000 records: the oldest 10,000
    /// are returned (or, past 100,000, the flow was not read to its start).
    pub truncated: bool,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub duration_ms: i64,
    /// In order of first appearance.
    pub services: Vec<ServiceTiming>,
}

/// Every record sharing a correlation id, oldest first, with per-service timing.
#[utoipa::path(get, path = "/trace/{correlation_id}", tag = "correlation", security(("bearer" = [])),
    params(("correlation_id" = String, Path, description = "The flow's correlation id")),
    responses(
        (status = 200, description = "The flow", body = TraceResponse),
        (status = 400, description = "Undecodable path parameter", body = ErrorBody),
        (status = 404, description = "No record carries this correlation id", body = ErrorBody),
        (status = 503, description = "The log store is unavailable", body = ErrorBody),
    ))]
async fn trace(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(correlation_id): Path<String>,
) -> Result<Json<TraceResponse>, ApiError> {
    let filter = LogFilter {
        correlation_id: Some(correlation_id.clone()),
        ..Default::default()
    };
    // Search reads newest first; a trace is read from its start, so the
    // newest records are the ones left out when a flow is too large.
    let mut records: VecDeque<StoredLog> = VecDeque::new();
    let mut cursor: Option<Cursor> = None;
    let (mut scanned, mut truncated) = (0usize, false);
    loop {
        let page = state
            .store
            .search(&LogQuery::new(filter.clone(), MAX_LIMIT, cursor)?)
            .await?;
        scanned += page.hits.len();
        for hit in page.hits {
            records.push_front(hit);
            if records.len() > MAX_TRACE_RECORDS {
                records.pop_back();
                truncated = true;
            }
        }
        cursor = page
            .next_cursor
            .as_deref()
            .and_then(|c| Cursor::decode(c).ok());
        if cursor.is_none() {
            break;
        }
        if scanned >= MAX_TRACE_SCAN {
            // Not even the oldest records were reached: say so rather
            // than read without end.
            truncated = true;
            break;
        }
    }
    let records: Vec<StoredLog> = records.into();
    let (Some(first), Some(last)) = (records.first(), records.last()) else {
        return Err(ApiError::not_found(format!(
            "no logs with correlation id {correlation_id:?}"
        )));
    };
    let (started_at, ended_at) = (first.record.timestamp, last.record.timestamp);
    Ok(Json(TraceResponse {
        correlation_id,
        total_records: records.len(),
        truncated,
        started_at,
        ended_at,
        duration_ms: (ended_at - started_at).num_milliseconds(),
        services: timings(&records),
        records,
    }))
}

/// Per service, in order of first appearance; `records` is oldest first.
fn timings(records: &[StoredLog]) -> Vec<ServiceTiming> {
    let mut out: Vec<ServiceTiming> = Vec::new();
    for log in records {
        let r = &log.record;
        let is_error = usize::from(r.level.is_error());
        match out.iter_mut().find(|t| t.service == r.service) {
            Some(t) => {
                t.records += 1;
                t.errors += is_error;
                t.last_seen = r.timestamp;
                t.duration_ms = (t.last_seen - t.first_seen).num_milliseconds();
            }
            None => out.push(ServiceTiming {
                service: r.service.clone(),
                records: 1,
                errors: is_error,
                first_seen: r.timestamp,
                last_seen: r.timestamp,
                duration_ms: 0,
            }),
        }
    }
    out
}
