//! The shipper's counters, kept in one place so the `/metrics` endpoint can
//! expose them later without touching the pipeline.
//!
//! They are process-wide atomics: readers add per batch of records and the
//! acknowledgement task per burst of deliveries, never per line, so counting
//! costs nothing measurable on the hot path.

use std::sync::atomic::{AtomicU64, Ordering};

static RECORDS_SENT: AtomicU64 = AtomicU64::new(0);
static BYTES_SENT: AtomicU64 = AtomicU64::new(0);
static RECORDS_ACKED: AtomicU64 = AtomicU64::new(0);
static DELIVERY_ERRORS: AtomicU64 = AtomicU64::new(0);
static LINES_TRUNCATED: AtomicU64 = AtomicU64::new(0);

/// The counters at one moment, since the process started (every shipper
/// running in this process adds to the same counters).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Records handed to the producer.
    pub records_sent: u64,
    /// Payload bytes handed to the producer.
    pub bytes_sent: u64,
    /// Records Kafka acknowledged.
    pub records_acked: u64,
    /// Records Kafka refused for good (each stops its source).
    pub delivery_errors: u64,
    /// Lines longer than `--max-line-bytes` that were cut and flagged.
    pub lines_truncated: u64,
}

/// Reads every counter.
pub fn snapshot() -> MetricsSnapshot {
    MetricsSnapshot {
        records_sent: RECORDS_SENT.load(Ordering::Relaxed),
        bytes_sent: BYTES_SENT.load(Ordering::Relaxed),
        records_acked: RECORDS_ACKED.load(Ordering::Relaxed),
        delivery_errors: DELIVERY_ERRORS.load(Ordering::Relaxed),
        lines_truncated: LINES_TRUNCATED.load(Ordering::Relaxed),
    }
}

/// Installs the recorder and describes the shipper's Prometheus metrics:
/// the same counts as above, rendered by `/metrics`.
pub fn describe() {
    logflow_metrics::install();
    logflow_metrics::describe_counter!(
        "shipper_records_sent_total",
        "Records handed to the Kafka producer"
    );
    logflow_metrics::describe_counter!(
        "shipper_bytes_sent_total",
        "Payload bytes handed to the Kafka producer"
    );
    logflow_metrics::describe_counter!("shipper_records_acked_total", "Records Kafka acknowledged");
}

pub(crate) fn add_sent(records: u64, bytes: u64) {
    RECORDS_SENT.fetch_add(records, Ordering::Relaxed);
    BYTES_SENT.fetch_add(bytes, Ordering::Relaxed);
    logflow_metrics::counter!("shipper_records_sent_total").increment(records);
    logflow_metrics::counter!("shipper_bytes_sent_total").increment(bytes);
}

pub(crate) fn add_acked(records: u64) {
    RECORDS_ACKED.fetch_add(records, Ordering::Relaxed);
    logflow_metrics::counter!("shipper_records_acked_total").increment(records);
}

pub(crate) fn add_delivery_error() {
    DELIVERY_ERRORS.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn add_truncated() {
    LINES_TRUNCATED.fetch_add(1, Ordering::Relaxed);
}
