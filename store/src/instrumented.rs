//! A [`LogStore`] that counts and times every operation of the store it
//! wraps (`store_queries_total{operation}`,
//! `store_query_duration_seconds{operation}`), so every backend is
//! measured the same way and callers pick it up by wrapping once.

use crate::{
    HistogramBucket, LogStore, NewRecord, SearchPage, StoreError, StoreStats, TermCount,
    WriteOutcome,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use logflow_core::{LogFilter, LogQuery, StoredLog};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

const QUERIES: &str = "store_queries_total";
const DURATION: &str = "store_query_duration_seconds";

/// `inner`, measured.
pub struct Instrumented(pub Arc<dyn LogStore>);

impl Instrumented {
    pub fn wrap(inner: Arc<dyn LogStore>) -> Arc<dyn LogStore> {
        metrics::describe_counter!(QUERIES, "Log store operations, by operation");
        metrics::describe_histogram!(DURATION, "Time a log store operation took, by operation");
        Arc::new(Instrumented(inner))
    }
}

async fn measured<T>(operation: &'static str, work: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let out = work.await;
    metrics::counter!(QUERIES, "operation" => operation).increment(1);
    metrics::histogram!(DURATION, "operation" => operation).record(started.elapsed().as_secs_f64());
    out
}

#[async_trait]
impl LogStore for Instrumented {
    async fn write(&self, batch: Arc<[NewRecord]>) -> Result<WriteOutcome, StoreError> {
        measured("write", self.0.write(batch)).await
    }

    async fn search(&self, query: &LogQuery) -> Result<SearchPage, StoreError> {
        measured("search", self.0.search(query)).await
    }

    async fn get(&self, id: &str) -> Result<Option<StoredLog>, StoreError> {
        measured("get", self.0.get(id)).await
    }

    async fn count(&self, filter: &LogFilter) -> Result<u64, StoreError> {
        measured("count", self.0.count(filter)).await
    }

    async fn count_by_level(&self, filter: &LogFilter) -> Result<Vec<TermCount>, StoreError> {
        measured("count_by_level", self.0.count_by_level(filter)).await
    }

    async fn count_by_service(&self, filter: &LogFilter) -> Result<Vec<TermCount>, StoreError> {
        measured("count_by_service", self.0.count_by_service(filter)).await
    }

    async fn histogram(
        &self,
        filter: &LogFilter,
        interval: Duration,
    ) -> Result<Vec<HistogramBucket>, StoreError> {
        measured("histogram", self.0.histogram(filter, interval)).await
    }

    async fn top_errors(&self, filter: &LogFilter, n: usize) -> Result<Vec<TermCount>, StoreError> {
        measured("top_errors", self.0.top_errors(filter, n)).await
    }

    async fn drop_before(&self, cutoff: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        measured("drop_before", self.0.drop_before(cutoff)).await
    }

    async fn stats(&self) -> Result<StoreStats, StoreError> {
        measured("stats", self.0.stats()).await
    }
}
