//! `logflow processor`: a Kafka consumer-group member that reads log
//! messages in batches, parses and redacts them, indexes them into the store
//! and commits the Kafka offsets only after the store committed.
//!
//! Two concurrent loops form a pipeline so both cores work: the consume loop
//! decodes the next batch while the write loop indexes the previous one (the
//! tantivy work runs on a blocking thread). A channel of one batch between
//! them, and batches bounded in count and bytes, keep memory bounded when
//! the store is slow.

mod backoff;
pub mod config;
pub mod decode;
pub mod dlq;
pub mod metrics;
mod pipeline;
mod resume;
mod retention;

pub use config::Config;
pub use metrics::{Metrics, MetricsSnapshot};

use logflow_core::redact::{RedactError, Redactor};
use logflow_kafka::KafkaSetupError;
use logflow_store::tantivy_store::{OpenMode, WriterOptions};
use logflow_store::StoreError;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Why the processor could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum ProcessorError {
    #[error(transparent)]
    Kafka(#[from] KafkaSetupError),
    #[error("cannot create the Kafka consumer for group {group}: {reason}")]
    Consumer { group: String, reason: String },
    #[error("cannot open the log store: {0}")]
    Store(#[from] StoreError),
    #[error("invalid redaction pattern (LOGFLOW_REDACT_PATTERNS): {0}")]
    Redact(#[from] RedactError),
    #[error(transparent)]
    Metrics(#[from] logflow_metrics::ListenError),
}

/// Runs the processor until `shutdown` is cancelled, then finishes and
/// commits the batch in hand.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), ProcessorError> {
    run_with_metrics(config, shutdown, Arc::new(Metrics::default())).await
}

/// [`run`], reporting into the given counters (for `standalone` and tests).
pub async fn run_with_metrics(
    config: Config,
    shutdown: CancellationToken,
    metrics: Arc<Metrics>,
) -> Result<(), ProcessorError> {
    crate::metrics::describe();
    logflow_metrics::spawn_listener(&config.metrics, shutdown.clone()).await?;
    let redactor = Redactor::new(&config.redact_patterns)?;
    let dir = config.index_dir();
    let options = WriterOptions {
        memory_budget_bytes: config.index_memory_mb * 1024 * 1024,
        threads: config.index_threads.max(1),
    };
    let store = config
        .store
        .open(&dir, OpenMode::ReadWrite(options))
        .await?;

    let retention = tokio::spawn(retention::run(
        store.clone(),
        config.retention_days,
        config.retention_interval,
        shutdown.clone(),
    ));
    let result = pipeline::run(&config, store, redactor, metrics, shutdown.clone()).await;
    shutdown.cancel();
    if let Err(err) = retention.await {
        tracing::error!(%err, "the retention task failed");
    }
    result
}
