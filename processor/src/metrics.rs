//! The processor's counters, registered in one place. A later issue exposes
//! them on `/metrics`; until then they feed the logs and the tests.

use std::sync::atomic::{AtomicU64, Ordering};

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
