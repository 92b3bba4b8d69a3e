//! `/api/v1/metrics`: dashboards' numbers. Everything is computed by the
//! store's aggregations (counts, terms, histograms), never by fetching
//! documents, so the cost does not grow with the number of matching logs.
//! Answers are cached per route ([`crate::cache`]); handlers validate
//! their parameters before the lookup, so a bad request is never cached.

use crate::auth::AuthUser;
use crate::broker::PartitionLag;
use crate::cache::{CacheKey, CachedJson, Route};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Path, Query};
use crate::params::split_list;
use crate::state::AppState;
use axum::extract::State;
use chrono::{DateTime, Utc};
use logflow_core::query::parse_interval;
use logflow_core::{Level, LogFilter};
use logflow_store::{StoreStats, TermCount};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(overview))
        .routes(routes!(service))
        .routes(routes!(system))
        .routes(routes!(timeseries))
}

/// How many top error messages the summaries list.
const TOP_ERRORS: usize = 10;
/// Most buckets one timeseries answer may have.
const MAX_BUCKETS: u64 = 10_000;
/// Longest window accepted.
const MAX_WINDOW: Duration = Duration::from_secs(366 * 24 * 3600);

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WindowParams {
    /// How far back from now to look: `15m`, `1h`, `24h`, `7d` (default 1h).
    #[param(example = "1h")]
    pub window: Option<String>,
}

/// The time span a metric covers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub seconds: u64,
}

impl Window {
    fn parse(value: Option<&str>) -> Result<Window, ApiError> {
        let value = value.unwrap_or("1h");
        let length = parse_interval(value)
            .ok()
            .filter(|d| *d <= MAX_WINDOW)
            .ok_or_else(|| {
                ApiError::bad_param(
                    "window",
                    format!("invalid window {value:?}: expected a duration between 1s and 366d, such as 15m, 1h, 7d"),
                )
            })?;
        let to = Utc::now();
        let from = to - chrono::Duration::from_std(length).unwrap_or(chrono::Duration::zero());
        Ok(Window {
            from,
            to,
            seconds: length.as_secs(),
        })
    }

    /// The exact length, for cache keys (`seconds` is rounded down).
    fn millis(&self) -> i64 {
        (self.to - self.from).num_milliseconds()
    }

    fn filter(&self) -> LogFilter {
        LogFilter {
            from: Some(self.from),
            to: Some(self.to),
            ..Default::default()
        }
    }
}

/// Volume, errors and their most common messages over a window.
#[derive(Debug, Serialize, ToSchema)]
pub struct Summary {
    pub window: Window,
    pub total_logs: u64,
    pub logs_per_minute: f64,
    pub logs_per_second: f64,
    /// ERROR and CRITICAL records.
    pub error_count: u64,
    /// error_count ÷ total_logs (0 when there are no logs).
    pub error_rate: f64,
    /// Records per level; levels without records are absent.
    pub by_level: BTreeMap<String, u64>,
    /// The most frequent ERROR and CRITICAL messages.
    pub top_errors: Vec<TermCount>,
}

async fn summarise(
    state: &AppState,
    window: Window,
    filter: LogFilter,
) -> Result<Summary, ApiError> {
    let (levels, top_errors) = tokio::try_join!(
        state.store.count_by_level(&filter),
        state.store.top_errors(&filter, TOP_ERRORS)
    )?;
    let total_logs: u64 = levels.iter().map(|t| t.count).sum();
    let error_count: u64 = levels
        .iter()
        .filter(|t| t.key.parse::<Level>().is_ok_and(Level::is_error))
        .map(|t| t.count)
        .sum();
    let seconds = window.seconds.max(1) as f64;
    Ok(Summary {
        window,
        total_logs,
        logs_per_minute: total_logs as f64 / (seconds / 60.0),
        logs_per_second: total_logs as f64 / seconds,
        error_count,
        error_rate: if total_logs == 0 {
            0.0
        } else {
            error_count as f64 / total_logs as f64
        },
        by_level: levels.into_iter().map(|t| (t.key, t.count)).collect(),
        top_errors,
    })
}

/// The whole system over a window.
#[derive(Debug, Serialize, ToSchema)]
pub struct Overview {
    #[serde(flatten)]
    pub summary: Summary,
    /// Services with at least one record in the window.
    pub active_services: usize,
    /// Records per service, most first.
    pub services: Vec<TermCount>,
}

/// Totals, rates, error rate, levels, active services and top errors.
#[utoipa::path(get, path = "/overview", tag = "metrics", security(("bearer" = [])),
    params(WindowParams),
    responses(
        (status = 200, description = "The overview", body = Overview),
        (status = 400, description = "Invalid window", body = ErrorBody),
        (status = 503, description = "The log store is unavailable", body = ErrorBody),
    ))]
async fn overview(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Query(params): Query<WindowParams>,
) -> Result<CachedJson, ApiError> {
    let window = Window::parse(params.window.as_deref())?;
    let key = CacheKey::new(Route::Overview, &user).param("window_ms", window.millis());
    let cache = state.cache.clone();
    cache.json(key, compute_overview(state, window)).await
}

async fn compute_overview(state: AppState, window: Window) -> Result<Overview, ApiError> {
    let filter = window.filter();
    let (summary, services) = tokio::try_join!(summarise(&state, window, filter.clone()), async {
        Ok(state.store.count_by_service(&filter).await?)
    })?;
    Ok(Overview {
        summary,
        active_services: services.len(),
        services,
    })
}

/// One service over a window.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceMetrics {
    pub service: String,
    #[serde(flatten)]
    pub summary: Summary,
}

/// The overview's numbers for one service.
#[utoipa::path(get, path = "/service/{name}", tag = "metrics", security(("bearer" = [])),
    params(("name" = String, Path, description = "The service"), WindowParams),
    responses(
        (status = 200, description = "The service's metrics", body = ServiceMetrics),
        (status = 400, description = "Invalid window or undecodable service name", body = ErrorBody),
        (status = 404, description = "No logs from this service are stored", body = ErrorBody),
        (status = 503, description = "The log store is unavailable", body = ErrorBody),
    ))]
async fn service(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(name): Path<String>,
    Query(params): Query<WindowParams>,
) -> Result<CachedJson, ApiError> {
    let window = Window::parse(params.window.as_deref())?;
    let key = CacheKey::new(Route::Service, &user)
        .param("name", &name)
        .param("window_ms", window.millis());
    let cache = state.cache.clone();
    cache.json(key, compute_service(state, name, window)).await
}

async fn compute_service(
    state: AppState,
    name: String,
    window: Window,
) -> Result<ServiceMetrics, ApiError> {
    let ever = LogFilter {
        services: vec![name.clone()],
        ..Default::default()
    };
    if state.store.count(&ever).await? == 0 {
        return Err(ApiError::not_found(format!(
            "no logs from service {name:?} are stored"
        )));
    }
    let filter = LogFilter {
        services: vec![name.clone()],
        ..window.filter()
    };
    Ok(ServiceMetrics {
        service: name,
        summary: summarise(&state, window, filter).await?,
    })
}

/// How far the processors are behind the log topic.
#[derive(Debug, Serialize, ToSchema)]
pub struct IngestLag {
    pub topic: String,
    pub consumer_group: String,
    pub total_lag: i64,
    pub partitions: Vec<PartitionLag>,
}

/// This api process.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProcessInfo {
    /// Resident memory; absent where the platform does not say.
    pub memory_rss_bytes: Option<u64>,
    pub memory_virtual_bytes: Option<u64>,
    pub uptime_seconds: u64,
}

/// Ingest lag, store size and this process.
#[derive(Debug, Serialize, ToSchema)]
pub struct SystemMetrics {
    pub store: StoreStats,
    /// Absent when the broker could not be asked; `ingest_error` says why.
    pub ingest: Option<IngestLag>,
    pub ingest_error: Option<String>,
    pub process: ProcessInfo,
    /// `sqlite` or `postgres`.
    pub database: String,
}

/// Ingest lag per partition, store size and document count, process memory.
#[utoipa::path(get, path = "/system", tag = "metrics", security(("bearer" = [])),
    responses(
        (status = 200, description = "System metrics", body = SystemMetrics),
        (status = 503, description = "The log store is unavailable", body = ErrorBody),
    ))]
async fn system(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> Result<CachedJson, ApiError> {
    let key = CacheKey::new(Route::System, &user);
    let cache = state.cache.clone();
    cache.json(key, compute_system(state)).await
}

async fn compute_system(state: AppState) -> Result<SystemMetrics, ApiError> {
    let (store, lag) = tokio::join!(state.store.stats(), state.broker.lag());
    let (ingest, ingest_error) = match lag {
        Ok(partitions) => (
            Some(IngestLag {
                topic: state.broker.topic().to_string(),
                consumer_group: state.broker.group().to_string(),
                total_lag: partitions.iter().map(|p| p.lag).sum(),
                partitions,
            }),
            None,
        ),
        Err(e) => (None, Some(e)),
    };
    let memory = memory_stats::memory_stats();
    Ok(SystemMetrics {
        store: store?,
        ingest,
        ingest_error,
        process: ProcessInfo {
            memory_rss_bytes: memory.map(|m| m.physical_mem as u64),
            memory_virtual_bytes: memory.map(|m| m.virtual_mem as u64),
            uptime_seconds: state.started.elapsed().as_secs(),
        },
        database: state.db.backend().to_string(),
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TimeseriesParams {
    /// Bucket size: `30s`, `1m`, `5m`, `1h` (default 5m).
    #[param(example = "5m")]
    pub interval: Option<String>,
    /// How far back from now (default 1h).
    #[param(example = "1h")]
    pub window: Option<String>,
    /// Only these services: repeat or comma-separate.
    #[serde(default)]
    pub service: Vec<String>,
}

/// One bucket; `by_level` lists levels with records.
#[derive(Debug, Serialize, ToSchema)]
pub struct Bucket {
    pub start: DateTime<Utc>,
    pub count: u64,
    pub by_level: BTreeMap<String, u64>,
}

/// Counts per bucket, oldest first, every bucket of the window present.
#[derive(Debug, Serialize, ToSchema)]
pub struct Timeseries {
    pub window: Window,
    pub interval_seconds: u64,
    pub buckets: Vec<Bucket>,
}

/// Log counts per time bucket, split by level, for charts.
#[utoipa::path(get, path = "/timeseries", tag = "metrics", security(("bearer" = [])),
    params(TimeseriesParams),
    responses(
        (status = 200, description = "The series", body = Timeseries),
        (status = 400, description = "Invalid interval or window, or too many buckets", body = ErrorBody),
        (status = 503, description = "The log store is unavailable", body = ErrorBody),
    ))]
async fn timeseries(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Query(params): Query<TimeseriesParams>,
) -> Result<CachedJson, ApiError> {
    let interval = parse_interval(params.interval.as_deref().unwrap_or("5m"))?;
    let window = Window::parse(params.window.as_deref())?;
    if interval.as_secs() > window.seconds {
        return Err(ApiError::bad_param(
            "interval",
            "the interval must not be longer than the window",
        ));
    }
    if window.seconds / interval.as_secs().max(1) > MAX_BUCKETS {
        return Err(ApiError::bad_param(
            "interval",
            format!("the window holds more than {MAX_BUCKETS} buckets of this interval; use a larger interval"),
        ));
    }
    let mut services = split_list(&params.service);
    services.sort();
    services.dedup();
    let key = CacheKey::new(Route::Timeseries, &user)
        .param("window_ms", window.millis())
        .param("interval_ms", interval.as_millis())
        .param("services", services.join(","));
    let filter = LogFilter {
        services,
        ..window.filter()
    };
    let cache = state.cache.clone();
    cache
        .json(key, async move {
            let found = state.store.histogram(&filter, interval).await?;
            let buckets = fill_gaps(&window, interval, found);
            Ok(Timeseries {
                interval_seconds: interval.as_secs(),
                window,
                buckets,
            })
        })
        .await
}

/// Every bucket from the one holding `window.from` to the one holding
/// `window.to`, zero where the store had none: charts need the gaps.
fn fill_gaps(
    window: &Window,
    interval: Duration,
    found: Vec<logflow_store::HistogramBucket>,
) -> Vec<Bucket> {
    let width = interval.as_micros() as i64;
    let first = window.from.timestamp_micros().div_euclid(width);
    let last = window.to.timestamp_micros().div_euclid(width);
    let mut found = found.into_iter().peekable();
    (first..=last)
        .filter_map(|n| DateTime::<Utc>::from_timestamp_micros(n * width))
        .map(|start| match found.next_if(|b| b.start == start) {
            Some(b) => Bucket {
                start,
                count: b.count,
                by_level: b
                    .by_level
                    .into_iter()
                    .map(|(l, c)| (l.as_str().to_string(), c))
                    .collect(),
            },
            None => Bucket {
                start,
                count: 0,
                by_level: BTreeMap::new(),
            },
        })
        .collect()
}
