//! Where logs are kept and searched. Callers hold an `Arc<dyn LogStore>`
//! chosen once from configuration; the embedded backend is tantivy
//! ([`tantivy_store::TantivyStore`]), one index per UTC day.
//!
//! The metadata database (users, alert rules, triggered alerts, system
//! settings) is [`meta::MetaDb`], on SQLite or PostgreSQL.

pub mod cache;
pub mod instrumented;
pub mod meta;
pub mod ratelimit;
pub mod redis;
pub mod tantivy_store;

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

/// What a write did: how many records were newly stored, and how many were
/// skipped because an earlier (replayed) commit already holds them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteOutcome {
    pub indexed: usize,
    pub duplicates: usize,
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
