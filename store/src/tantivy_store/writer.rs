//! Writing batches: one `IndexWriter` per day index, kept open between
//! batches, and replay dedupe through Kafka offsets kept in each index's
//! commit payload.

use super::days::{Catalog, DayIndex};
use super::index_error;
use super::schema::LogSchema;
use crate::{NewRecord, StoreError, WriteOutcome};
use chrono::NaiveDate;
use logflow_core::RecordId;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tantivy::indexer::IndexWriterOptions;
use tantivy::merge_policy::LogMergePolicy;
use tantivy::IndexWriter;

/// How much memory and how many threads the index writers may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterOptions {
    /// The indexing memory shared by all open writers (at most
    /// [`MAX_OPEN_WRITERS`]); a writer flushes a segment when its share
    /// fills up. The processor must stay under 300 MB RSS.
    pub memory_budget_bytes: usize,
    /// Indexing threads per writer.
    pub threads: usize,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            memory_budget_bytes: 64 * 1024 * 1024,
            threads: 1,
        }
    }
}

/// Writers kept open at once: today and yesterday (late records around
/// midnight). Older days written by a replay are opened, used and closed.
pub const MAX_OPEN_WRITERS: usize = 2;

/// Tantivy refuses less than this per indexing thread.
const MIN_BYTES_PER_THREAD: usize = 15_000_000;

/// Tantivy allows at most this many indexing threads.
const MAX_THREADS: usize = 8;

/// The highest Kafka offset committed per topic and partition in one
/// index. Offsets of a partition arrive in increasing order, so a record
/// at or below the mark is already in this index: a replay, skipped
/// without per-document deletes.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Offsets(HashMap<String, HashMap<i32, i64>>);

impl Offsets {
    /// Reads the commit payload: `{"topic/partition": offset, ...}`.
    pub fn from_payload(payload: Option<&str>) -> Result<Self, String> {
        let Some(payload) = payload.filter(|p| !p.is_empty()) else {
            return Ok(Offsets::default());
        };
        let flat: BTreeMap<String, i64> = serde_json::from_str(payload)
            .map_err(|e| format!("unreadable commit payload {payload:?}: {e}"))?;
        let mut offsets = Offsets::default();
        for (key, offset) in flat {
            let (topic, partition) = key
                .rsplit_once('/')
                .and_then(|(t, p)| Some((t, p.parse::<i32>().ok()?)))
                .ok_or_else(|| format!("bad key {key:?} in commit payload"))?;
            offsets
                .0
                .entry(topic.to_string())
                .or_default()
                .insert(partition, offset);
        }
        Ok(offsets)
    }

    pub fn to_payload(&self) -> String {
        let flat: BTreeMap<String, i64> = self
            .0
            .iter()
            .flat_map(|(topic, parts)| {
                parts
                    .iter()
                    .map(move |(partition, offset)| (format!("{topic}/{partition}"), *offset))
            })
            .collect();
        // A map of strings to integers always serialises.
        serde_json::to_string(&flat).unwrap_or_default()
    }

    /// Marks `id` as written; false when an earlier commit (or an earlier
    /// record of this batch) already covers it. Allocates only for a topic
    /// seen for the first time.
    pub fn admit(&mut self, id: &RecordId) -> bool {
        let parts = match self.0.get_mut(id.topic.as_str()) {
            Some(parts) => parts,
            None => self.0.entry(id.topic.clone()).or_default(),
        };
        match parts.get_mut(&id.partition) {
            Some(mark) if id.offset <= *mark => false,
            Some(mark) => {
                *mark = id.offset;
                true
            }
            None => {
                parts.insert(id.partition, id.offset);
                true
            }
        }
    }
}

/// Tantivy's log-structured policy, merging 16 segments at a time instead
/// of 8: every batch commit makes a small segment, and wider merges rewrite
/// each document fewer times, which leaves more CPU for indexing. Searches
/// stay cheap because they skip segments older than the page they fill.
fn merge_policy() -> LogMergePolicy {
    let mut policy = LogMergePolicy::default();
    policy.set_min_num_segments(16);
    policy
}

/// An open writer and the offsets its last commit recorded.
struct DayWriter {
    day: NaiveDate,
    writer: IndexWriter,
    committed: Offsets,
    last_used: u64,
}

/// The open writers, at most [`MAX_OPEN_WRITERS`], least recently used
/// closed first.
pub(crate) struct Writers {
    options: WriterOptions,
    open: Vec<DayWriter>,
    clock: u64,
}

impl Writers {
    pub fn new(options: WriterOptions) -> Self {
        Writers {
            options,
            open: Vec::new(),
            clock: 0,
        }
    }

    /// Indexes `batch` and commits every touched day durably. On an error
    /// the failing day's uncommitted documents are discarded with its
    /// writer, so retrying the whole batch is exact.
    pub fn write(
        &mut self,
        catalog: &Catalog,
        batch: &[NewRecord],
    ) -> Result<WriteOutcome, StoreError> {
        let mut by_day: BTreeMap<NaiveDate, Vec<&NewRecord>> = BTreeMap::new();
        for record in batch {
            by_day
                .entry(record.record.timestamp.date_naive())
                .or_default()
                .push(record);
        }
        let mut outcome = WriteOutcome::default();
        for (day, records) in by_day {
            let index = catalog.get_or_create(day)?;
            let slot = self.writer_for(&index)?;
            match self.open[slot].write(catalog.schema(), &index, records) {
                Ok(done) => {
                    outcome.indexed += done.indexed;
                    outcome.duplicates += done.duplicates;
                }
                Err(e) => {
                    self.open.swap_remove(slot);
                    return Err(e);
                }
            }
        }
        Ok(outcome)
    }

    /// Closes the writer of `day` (before retention deletes it), without
    /// waiting for merges that are about to be thrown away.
    pub fn discard(&mut self, day: NaiveDate) {
        self.open.retain(|w| w.day != day);
    }

    /// The slot of the open writer for `index`, opening it (and closing
    /// the least recently used one) if needed.
    fn writer_for(&mut self, index: &DayIndex) -> Result<usize, StoreError> {
        self.clock += 1;
        if let Some(slot) = self.open.iter().position(|w| w.day == index.day) {
            self.open[slot].last_used = self.clock;
            return Ok(slot);
        }
        while self.open.len() >= MAX_OPEN_WRITERS {
            self.close_least_recently_used();
        }
        let err = |e| index_error(&index.name, e);
        let threads = self.options.threads.clamp(1, MAX_THREADS);
        let per_thread = (self.options.memory_budget_bytes / MAX_OPEN_WRITERS / threads)
            .max(MIN_BYTES_PER_THREAD);
        let options = IndexWriterOptions::builder()
            .memory_budget_per_thread(per_thread)
            .num_worker_threads(threads)
            // Merging competes with indexing for the same two cores.
            .num_merge_threads(1)
            .build();
        let writer: IndexWriter = index.index.writer_with_options(options).map_err(err)?;
        writer.set_merge_policy(Box::new(merge_policy()));
        let metas = index.index.load_metas().map_err(err)?;
        let committed = Offsets::from_payload(metas.payload.as_deref()).map_err(|reason| {
            StoreError::Index {
                index: index.name.clone(),
                reason,
            }
        })?;
        self.open.push(DayWriter {
            day: index.day,
            writer,
            committed,
            last_used: self.clock,
        });
        Ok(self.open.len() - 1)
    }

    /// Waits for the closed writer's merges, so a finished day is left as
    /// a few large segments rather than hundreds of per-batch ones.
    fn close_least_recently_used(&mut self) {
        let Some(slot) = (0..self.open.len()).min_by_key(|&i| self.open[i].last_used) else {
            return;
        };
        let closed = self.open.swap_remove(slot);
        if let Err(e) = closed.writer.wait_merging_threads() {
            tracing::warn!(day = %closed.day, %e, "merging failed while closing an index writer");
        }
    }
}

impl DayWriter {
    fn write(
        &mut self,
        schema: &LogSchema,
        index: &Arc<DayIndex>,
        records: Vec<&NewRecord>,
    ) -> Result<WriteOutcome, StoreError> {
        let err = |e| index_error(&index.name, e);
        let mut pending = self.committed.clone();
        let mut outcome = WriteOutcome::default();
        for record in records {
            if !pending.admit(&record.id) {
                outcome.duplicates += 1;
                continue;
            }
            self.writer
                .add_document(schema.document(record))
                .map_err(err)?;
            outcome.indexed += 1;
        }
        if outcome.indexed == 0 {
            return Ok(outcome);
        }
        let mut commit = self.writer.prepare_commit().map_err(err)?;
        commit.set_payload(&pending.to_payload());
        commit.commit().map_err(err)?;
        self.committed = pending;
        index.reader.reload().map_err(err)?;
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_survive_the_payload_and_reject_replays() {
        let mut offsets = Offsets::default();
        assert!(offsets.admit(&RecordId::new("logflow.logs", 0, 5)));
        assert!(offsets.admit(&RecordId::new("logflow.logs", 0, 6)));
        assert!(offsets.admit(&RecordId::new("logflow.logs", 1, 2)));
        assert!(!offsets.admit(&RecordId::new("logflow.logs", 0, 6)));
        let back = Offsets::from_payload(Some(&offsets.to_payload())).expect("payload");
        assert_eq!(back, offsets);
        let mut back = back;
        assert!(!back.admit(&RecordId::new("logflow.logs", 1, 1)));
        assert!(back.admit(&RecordId::new("other/x", 1, 1)));
        assert!(Offsets::from_payload(Some("{\"no-partition\":1}")).is_err());
        assert_eq!(Offsets::from_payload(None), Ok(Offsets::default()));
    }
}
