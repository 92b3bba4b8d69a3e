//! `/api/v1/logs`: search, the newest records, one record, and export.

use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::export::{export_stream, ExportFormat};
use crate::extract::{Path, Query};
use crate::params::{FilterParams, PageParams};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use logflow_core::query::DEFAULT_LIMIT;
use logflow_core::{LogQuery, StoredLog};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search))
        .routes(routes!(recent))
        .routes(routes!(export))
        .routes(routes!(get_log))
}

/// A page of matching records, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResponse {
    pub hits: Vec<StoredLog>,
    /// Records on this page.
    pub count: usize,
    /// Records matching the filter in all.
    pub total: u64,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Search logs: full text plus filters, newest first, paged by cursor.
#[utoipa::path(get, path = "/search", tag = "logs", security(("bearer" = [])),
    params(FilterParams, PageParams),
    responses(
        (status = 200, description = "Matching records", body = SearchResponse),
        (status = 400, description = "Invalid parameter; `detail.parameter` names it", body = ErrorBody),
        (status = 503, description = "The log store is unavailable", body = ErrorBody),
    ))]
async fn search(
    State(state): State<AppState>,
    _user: AuthUser,
    Query(filter): Query<FilterParams>,
    Query(page): Query<PageParams>,
) -> Result<Json<SearchResponse>, ApiError> {
    let query = LogQuery::new(
        filter.to_filter(Utc::now())?,
        page.limit.unwrap_or(DEFAULT_LIMIT),
        page.cursor()?,
    )?;
    page_with_total(&state, &query).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecentParams {
    /// Only these services: repeat the parameter or comma-separate.
    #[serde(default)]
    pub service: Vec<String>,
    /// Only these levels: repeat or comma-separate.
    #[serde(default)]
    pub level: Vec<String>,
    /// Most records to return (1–1000, default 50).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

/// The newest records, optionally of some services or levels.
#[utoipa::path(get, path = "/recent", tag = "logs", security(("bearer" = [])),
    params(RecentParams),
    responses(
        (status = 200, description = "The newest records first", body = SearchResponse),
        (status = 400, description = "Invalid parameter", body = ErrorBody),
        (status = 503, description = "The log store is unavailable", body = ErrorBody),
    ))]
async fn recent(
    State(state): State<AppState>,
    _user: AuthUser,
    Query(params): Query<RecentParams>,
) -> Result<Json<SearchResponse>, ApiError> {
    let filter = FilterParams {
        service: params.service,
        level: params.level,
        ..Default::default()
    }
    .to_filter(Utc::now())?;
    let query = LogQuery::new(filter, params.limit.unwrap_or(50), None)?;
    page_with_total(&state, &query).await
}

/// One page of `query` and the total count of its filter, read together.
async fn page_with_total(
    state: &AppState,
    query: &LogQuery,
) -> Result<Json<SearchResponse>, ApiError> {
    let (page, total) =
        tokio::try_join!(state.store.search(query), state.store.count(&query.filter))?;
    Ok(Json(SearchResponse {
        count: page.hits.len(),
        hits: page.hits,
        total,
        next_cursor: page.next_cursor,
    }))
}

/// One record by id (`topic-partition-offset`, as returned by search).
#[utoipa::path(get, path = "/{id}", tag = "logs", security(("bearer" = [])),
    params(("id" = String, Path, description = "The record's id, e.g. `logflow.logs-0-42`")),
    responses(
        (status = 200, description = "The record", body = StoredLog),
        (status = 400, description = "Undecodable path parameter", body = ErrorBody),
        (status = 404, description = "No record has this id", body = ErrorBody),
        (status = 503, description = "The log store is unavailable", body = ErrorBody),
    ))]
async fn get_log(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<StoredLog>, ApiError> {
    state
        .store
        .get(&id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no log with id {id:?}")))
}

/// Most records one export may hold.
pub const MAX_EXPORT: usize = 1_000_000;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// csv, json (one array) or ndjson (one record per line; the default).
    #[param(inline)]
    pub format: Option<ExportFormat>,
    /// Most records to export (1–1,000,000, default 10,000).
    #[param(minimum = 1, maximum = 1000000)]
    pub limit: Option<usize>,
}

/// Export matching records, newest first, streamed as they are read.
#[utoipa::path(get, path = "/export", tag = "logs", security(("bearer" = [])),
    params(FilterParams, ExportParams),
    responses(
        (status = 200, description = "The records as a download",
            content(
                (String = "text/csv"),
                (Vec<StoredLog> = "application/json"),
                (String = "application/x-ndjson"),
            )),
        (status = 400, description = "Invalid parameter", body = ErrorBody),
        (status = 503, description = "The log store is unavailable", body = ErrorBody),
    ))]
async fn export(
    State(state): State<AppState>,
    _user: AuthUser,
    Query(filter): Query<FilterParams>,
    Query(params): Query<ExportParams>,
) -> Result<Response, ApiError> {
    let format = params.format.unwrap_or(ExportFormat::Ndjson);
    let limit = params.limit.unwrap_or(10_000);
    if !(1..=MAX_EXPORT).contains(&limit) {
        return Err(ApiError::bad_param(
            "limit",
            format!("limit must be between 1 and {MAX_EXPORT}"),
        ));
    }
    let filter = filter.to_filter(Utc::now())?;
    let stream = export_stream(state.store.clone(), filter, limit, format).await?;
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type()),
            (header::CONTENT_DISPOSITION, format.content_disposition()),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}
