//! Where logs are kept and searched. Callers hold an `Arc<dyn LogStore>`
//! chosen once from configuration; the embedded backend is tantivy
//! ([`tantivy_store::TantivyStore`]), one index per UTC day.
//!
//! The metadata database (users, alert rules, triggered alerts, system
//! settings) is [`meta::MetaDb`], on SQLite or PostgreSQL.

pub mod cache;
pub mod elastic;
pub mod instrumented;
pub mod meta;
pub mod ratelimit;
pub mod redis;
pub mod tantivy_store;
mod top_errors;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use logflow_core::{Level, LogFilter, LogQuery, LogRecord, RecordId, StoredLog};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// What can go wrong in a store, with the input that caused it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid search query {query:?}: {reason}")]
    InvalidQuery { query: String, reason: String },
    #[error("store I/O failed at {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("index {index} failed: {reason}")]
    Index { index: String, reason: String },
    #[error("the store is opened read-only; writes go through the processor")]
    ReadOnly,
}

/// One record to index, with the Kafka position it came from.
#[derive(Debug, Clone)]
pub struct NewRecord {
    pub id: RecordId,
    pub record: LogRecord,
}

/// What a write did: how many records were newly stored, how many were
/// skipped because an earlier (replayed) commit already holds them, and
/// which the store refused for good (a field whose type clashes with the
/// mapping): those go to the dead-letter topic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteOutcome {
    pub indexed: usize,
    pub duplicates: usize,
    pub rejected: Vec<Rejected>,
}

/// A record the store will never take, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub id: RecordId,
    pub reason: String,
}

/// One page of search results, newest first.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SearchPage {
    pub hits: Vec<StoredLog>,
    /// Pass back as the query's cursor for the next page; `None` on the last.
    pub next_cursor: Option<String>,
}

/// A count for one key of a terms aggregation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TermCount {
    pub key: String,
    pub count: u64,
}

/// One bucket of a date histogram, split by level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistogramBucket {
    pub start: DateTime<Utc>,
    pub count: u64,
    /// Counts per level, only levels with at least one record.
    pub by_level: Vec<(Level, u64)>,
}

/// Size and document count of the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StoreStats {
    pub documents: u64,
    pub size_bytes: u64,
    pub indexes: Vec<String>,
}

/// A searchable log store. Writes are durable when `write` returns: the
/// processor commits Kafka offsets only after that.
#[async_trait]
pub trait LogStore: Send + Sync {
    /// Indexes a batch and commits it durably. Records whose id an earlier
    /// commit already holds are skipped, so replaying a batch never
    /// duplicates. Shared, not owned, so a caller can retry the same batch
    /// without keeping a second copy of it.
    async fn write(&self, batch: Arc<[NewRecord]>) -> Result<WriteOutcome, StoreError>;

    /// Matching records newest first, one page at a time.
    async fn search(&self, query: &LogQuery) -> Result<SearchPage, StoreError>;

    /// One record by its document id.
    async fn get(&self, id: &str) -> Result<Option<StoredLog>, StoreError>;

    /// How many records match.
    async fn count(&self, filter: &LogFilter) -> Result<u64, StoreError>;

    /// Record counts per level, most frequent first.
    async fn count_by_level(&self, filter: &LogFilter) -> Result<Vec<TermCount>, StoreError>;

    /// Record counts per service, most frequent first.
    async fn count_by_service(&self, filter: &LogFilter) -> Result<Vec<TermCount>, StoreError>;

    /// Counts per time bucket of `interval`, oldest first, split by level.
    async fn histogram(
        &self,
        filter: &LogFilter,
        interval: Duration,
    ) -> Result<Vec<HistogramBucket>, StoreError>;

    /// The most frequent messages among ERROR and CRITICAL records.
    async fn top_errors(&self, filter: &LogFilter, n: usize) -> Result<Vec<TermCount>, StoreError>;

    /// Drops every daily index whose day ended before `cutoff`; returns the
    /// names of the dropped indexes.
    async fn drop_before(&self, cutoff: DateTime<Utc>) -> Result<Vec<String>, StoreError>;

    /// Documents, bytes on disk and index names.
    async fn stats(&self) -> Result<StoreStats, StoreError>;
}

/// Which log store a role opens: Elasticsearch when `ELASTICSEARCH_HOSTS`
/// is set, else the embedded tantivy indexes under the data directory.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// Elasticsearch (or OpenSearch) URLs, comma-separated, e.g.
    /// http://es1:9200,http://es2:9200. Unset: the embedded store.
    #[arg(long, env = "ELASTICSEARCH_HOSTS")]
    pub elasticsearch_hosts: Option<String>,

    /// Name of the alias over the day indices `<prefix>-YYYY.MM.DD`.
    #[arg(long, env = "ELASTICSEARCH_INDEX_PREFIX", default_value = elastic::dsl::DEFAULT_PREFIX)]
    pub elasticsearch_index_prefix: String,
}

impl StoreArgs {
    /// Opens the configured store, measured ([`instrumented::Instrumented`]).
    /// A writer also installs Elasticsearch's index template.
    pub async fn open(
        &self,
        index_dir: &std::path::Path,
        mode: tantivy_store::OpenMode,
    ) -> Result<Arc<dyn LogStore>, StoreError> {
        let store: Arc<dyn LogStore> = match &self.elasticsearch_hosts {
            Some(hosts) => {
                let store = elastic::ElasticStore::new(hosts, &self.elasticsearch_index_prefix)?;
                if matches!(mode, tantivy_store::OpenMode::ReadWrite(_)) {
                    // Elasticsearch may still be starting: about a minute.
                    use backon::Retryable;
                    let backoff = backon::ExponentialBuilder::default()
                        .with_min_delay(Duration::from_secs(1))
                        .with_max_delay(Duration::from_secs(10))
                        .with_max_times(8);
                    (|| store.ensure_template())
                        .retry(backoff)
                        .notify(|e, pause| {
                            tracing::warn!(error = %e, retry_in = ?pause, "cannot install the index template yet")
                        })
                        .await?;
                }
                tracing::info!(%hosts, "log store: Elasticsearch");
                Arc::new(store)
            }
            None => {
                std::fs::create_dir_all(index_dir).map_err(|source| StoreError::Io {
                    path: index_dir.display().to_string(),
                    source,
                })?;
                tracing::info!(
                    dir = %index_dir.display(),
                    "ELASTICSEARCH_HOSTS is not set: log store is the embedded tantivy indexes"
                );
                Arc::new(tantivy_store::TantivyStore::open(index_dir, mode)?)
            }
        };
        Ok(instrumented::Instrumented::wrap(store))
    }
}
