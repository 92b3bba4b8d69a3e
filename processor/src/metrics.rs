//! The processor's counters, registered in one place: atomics for the
//! logs and the tests, and the same events as Prometheus metrics
//! (`logs_processed_total`, `logs_indexed_total{service,level}`,
//! `logs_dead_lettered_total{reason}`), rendered by `/metrics`.

use crate::decode::DeadLetter;
use logflow_metrics::{counter, describe_counter, BoundedLabel};
use logflow_store::{NewRecord, Rejected};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

const PROCESSED: &str = "logs_processed_total";
const INDEXED: &str = "logs_indexed_total";
const DEAD_LETTERED: &str = "logs_dead_lettered_total";

/// Services get a series each, up to this many; the rest count as `_other`.
static SERVICES: BoundedLabel = BoundedLabel::new(200);

/// Installs the recorder and describes the processor's metrics.
pub fn describe() {
    logflow_metrics::install();
    describe_counter!(
        PROCESSED,
        "Kafka messages handled: indexed, skipped as replayed, or dead-lettered"
    );
    describe_counter!(
        INDEXED,
        "Records written to the store, by service and level"
    );
    describe_counter!(
        DEAD_LETTERED,
        "Messages sent to the dead-letter topic, by reason"
    );
}

/// A stored batch: `records` written, of which `duplicates` were replays
/// and `rejected` refused (counted when dead-lettered).
pub fn stored(records: &[NewRecord], duplicates: usize, rejected: &[Rejected]) {
    counter!(PROCESSED).increment((records.len() - rejected.len()) as u64);
    if duplicates + rejected.len() >= records.len() {
        return;
    }
    let mut by_label: HashMap<(&str, &'static str), u64> = HashMap::new();
    for r in records
        .iter()
        .filter(|r| !rejected.iter().any(|x| x.id == r.id))
    {
        *by_label
            .entry((r.record.service.as_str(), r.record.level.as_str()))
            .or_default() += 1;
    }
    for ((service, level), n) in by_label {
        counter!(INDEXED, "service" => SERVICES.value(service), "level" => level).increment(n);
    }
}

/// A dead-lettered batch.
pub fn dead_lettered(letters: &[DeadLetter]) {
    counter!(PROCESSED).increment(letters.len() as u64);
    for letter in letters {
        counter!(DEAD_LETTERED, "reason" => letter.reason).increment(1);
    }
}

#[derive(Debug, Default)]
pub struct Metrics {
    /// Kafka messages taken off the topic.
    pub consumed: AtomicU64,
    /// Records newly written to the store.
    pub indexed: AtomicU64,
    /// Records skipped because a replayed batch was already stored.
    pub duplicates: AtomicU64,
    /// Messages sent to the dead-letter topic.
    pub dead_lettered: AtomicU64,
    /// Batches committed to the store (their Kafka offset commit may still
    /// have failed, which only means a deduplicated replay).
    pub batches: AtomicU64,
}

/// A point-in-time copy of [`Metrics`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    pub consumed: u64,
    pub indexed: u64,
    pub duplicates: u64,
    pub dead_lettered: u64,
    pub batches: u64,
}

impl Metrics {
    pub fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            consumed: self.consumed.load(Ordering::Relaxed),
            indexed: self.indexed.load(Ordering::Relaxed),
            duplicates: self.duplicates.load(Ordering::Relaxed),
            dead_lettered: self.dead_lettered.load(Ordering::Relaxed),
            batches: self.batches.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }
}
