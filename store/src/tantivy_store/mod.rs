//! The embedded backend: tantivy indexes on local disk, one per UTC day of
//! the records' timestamps, in `dir/logs-YYYY-MM-DD/`.
//!
//! One process writes (the processor, [`OpenMode::ReadWrite`]); any number
//! of others read the same directory ([`OpenMode::ReadOnly`]) without
//! taking the writer lock, and see new commits within about a second.
//! Daily indexes make retention a directory delete and let time-bounded
//! searches skip whole days.

mod aggregate;
mod days;
mod filter;
mod schema;
mod search;
mod writer;

pub use writer::{WriterOptions, MAX_OPEN_WRITERS};

use crate::{
    HistogramBucket, LogStore, NewRecord, SearchPage, StoreError, StoreStats, TermCount,
    WriteOutcome,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use days::{day_end, index_name, Catalog};
use logflow_core::{LogFilter, LogQuery, StoredLog};
use std::fmt::Display;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use writer::Writers;

/// Whether this process writes the store or only reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// The single writer (the processor). Takes each day index's writer
    /// lock when it first writes to that day.
    ReadWrite(WriterOptions),
    /// Search only (CLI, API); never locks, so it can run beside the writer.
    ReadOnly,
}

/// The tantivy [`LogStore`]. Cheap to share: wrap it in an `Arc`.
///
/// Behaviour callers can see:
/// - Text queries use tantivy's syntax over the message with words ANDed
///   (`connection refused` needs both); `"a b"` phrases, `OR`, `a -b` /
///   `a NOT b` (not `a AND NOT b`, which tantivy reads as matching
///   nothing), and `field:value` on `service`, `level`, `host`,
///   `correlation_id`, `trace_id`, `id` and `fields.<path>` (dots in keys
///   are paths: `fields.http.status:502`).
/// - Histograms omit empty buckets; buckets start at multiples of the
///   interval since the Unix epoch.
/// - Timestamps are kept to the microsecond.
pub struct TantivyStore {
    inner: Arc<Inner>,
}

struct Inner {
    catalog: Catalog,
    /// `None` when read-only.
    writers: Option<Mutex<Writers>>,
    /// Held while a read-write store is open: one writer per directory.
    _writer_lock: Option<std::fs::File>,
}

/// The file a read-write store locks, so a second writer on the same
/// directory fails at start instead of stalling at its first write.
const WRITER_LOCK: &str = ".writer.lock";

/// Takes the directory's writer lock without waiting.
fn lock_for_writing(dir: &Path) -> Result<std::fs::File, StoreError> {
    let path = dir.join(WRITER_LOCK);
    let io = |source| StoreError::Io {
        path: path.display().to_string(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Index {
            index: dir.display().to_string(),
            reason: "another process (a processor) already writes this store; only one may".into(),
        }),
        Err(std::fs::TryLockError::Error(source)) => Err(io(source)),
    }
}

impl TantivyStore {
    /// Opens the store in `dir`, opening every day index found there.
    /// Read-write creates `dir`; read-only accepts a `dir` that does not
    /// exist yet (an empty store until the processor creates it).
    pub fn open(dir: &Path, mode: OpenMode) -> Result<Self, StoreError> {
        let schema = schema::LogSchema::new();
        let (catalog, writers, lock) = match mode {
            OpenMode::ReadWrite(options) => {
                let catalog = Catalog::open(dir, schema, true)?;
                let lock = lock_for_writing(dir)?;
                (catalog, Some(Mutex::new(Writers::new(options))), Some(lock))
            }
            OpenMode::ReadOnly => (Catalog::open(dir, schema, false)?, None, None),
        };
        Ok(TantivyStore {
            inner: Arc::new(Inner {
                catalog,
                writers,
                _writer_lock: lock,
            }),
        })
    }

    /// Runs blocking tantivy work off the async runtime's threads.
    async fn blocking<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| StoreError::Index {
                index: self.inner.catalog.root().display().to_string(),
                reason: format!("store task failed: {e}"),
            })?
    }
}

impl Inner {
    /// The writers, locked; `ReadOnly` when this store cannot write. A
    /// writer panic poisons the lock but leaves every writer either
    /// committed or about to be rolled back by its next prepare, so the
    /// pool stays usable.
    fn writers(&self) -> Result<std::sync::MutexGuard<'_, Writers>, StoreError> {
        let writers = self.writers.as_ref().ok_or(StoreError::ReadOnly)?;
        Ok(writers.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn drop_before(&self, cutoff: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        let mut writers = self.writers()?;
        let mut dropped = Vec::new();
        for (day, path) in self.catalog.list_on_disk()? {
            if day_end(day).is_none_or(|end| end > cutoff) {
                continue;
            }
            writers.discard(day);
            self.catalog.forget(day);
            std::fs::remove_dir_all(&path).map_err(|e| io_error(&path, e))?;
            dropped.push(index_name(day));
        }
        Ok(dropped)
    }

    fn stats(&self) -> Result<StoreStats, StoreError> {
        let mut stats = StoreStats {
            documents: 0,
            size_bytes: 0,
            indexes: Vec::new(),
        };
        for day in self.catalog.newest_first()?.into_iter().rev() {
            stats.documents += day.reader.searcher().num_docs();
            stats.size_bytes += dir_size(&self.catalog.root().join(&day.name))?;
            stats.indexes.push(day.name.clone());
        }
        Ok(stats)
    }
}

/// Bytes of the files in a day directory (tantivy keeps it flat).
fn dir_size(dir: &Path) -> Result<u64, StoreError> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).map_err(|e| io_error(dir, e))? {
        let entry = entry.map_err(|e| io_error(dir, e))?;
        match entry.metadata() {
            Ok(meta) if meta.is_file() => total += meta.len(),
            // A file garbage-collected by the writer since the listing.
            Ok(_) | Err(_) => {}
        }
    }
    Ok(total)
}

pub(crate) fn index_error(index: &str, e: impl Display) -> StoreError {
    StoreError::Index {
        index: index.to_string(),
        reason: e.to_string(),
    }
}

pub(crate) fn io_error(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::Io {
        path: path.display().to_string(),
        source,
    }
}

#[async_trait]
impl LogStore for TantivyStore {
    async fn write(&self, batch: Arc<[NewRecord]>) -> Result<WriteOutcome, StoreError> {
        if self.inner.writers.is_none() {
            return Err(StoreError::ReadOnly);
        }
        if batch.is_empty() {
            return Ok(WriteOutcome::default());
        }
        self.blocking(move |inner| inner.writers()?.write(&inner.catalog, &batch))
            .await
    }

    async fn search(&self, query: &LogQuery) -> Result<SearchPage, StoreError> {
        let query = query.clone();
        self.blocking(move |inner| search::search(&inner.catalog, &query))
            .await
    }

    async fn get(&self, id: &str) -> Result<Option<StoredLog>, StoreError> {
        let id = id.to_string();
        self.blocking(move |inner| search::get(&inner.catalog, &id))
            .await
    }

    async fn count(&self, filter: &LogFilter) -> Result<u64, StoreError> {
        let filter = filter.clone();
        self.blocking(move |inner| aggregate::count(&inner.catalog, &filter))
            .await
    }

    async fn count_by_level(&self, filter: &LogFilter) -> Result<Vec<TermCount>, StoreError> {
        let filter = filter.clone();
        self.blocking(move |inner| aggregate::count_by(&inner.catalog, &filter, schema::LEVEL))
            .await
    }

    async fn count_by_service(&self, filter: &LogFilter) -> Result<Vec<TermCount>, StoreError> {
        let filter = filter.clone();
        self.blocking(move |inner| aggregate::count_by(&inner.catalog, &filter, schema::SERVICE))
            .await
    }

    async fn histogram(
        &self,
        filter: &LogFilter,
        interval: Duration,
    ) -> Result<Vec<HistogramBucket>, StoreError> {
        let filter = filter.clone();
        self.blocking(move |inner| aggregate::histogram(&inner.catalog, &filter, interval))
            .await
    }

    async fn top_errors(&self, filter: &LogFilter, n: usize) -> Result<Vec<TermCount>, StoreError> {
        let filter = filter.clone();
        self.blocking(move |inner| aggregate::top_errors(&inner.catalog, &filter, n))
            .await
    }

    async fn drop_before(&self, cutoff: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        self.blocking(move |inner| inner.drop_before(cutoff)).await
    }

    async fn stats(&self) -> Result<StoreStats, StoreError> {
        self.blocking(|inner| inner.stats()).await
    }
}
