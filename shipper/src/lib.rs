//! `logflow shipper`: tails files and stdin into Kafka.
//!
//! The delivery guarantee (see "Delivery guarantees" in ARCHITECTURE.md): a
//! file's checkpoint moves past a record only once Kafka acknowledged that
//! record and every record before it. Kill the shipper at any moment and
//! restart it: nothing is lost, at most the unacknowledged tail is resent.
//!
//! How the parts fit:
//! - [`tail`] finds files by glob and reads them (per file: [`lines`] →
//!   [`records`] → `send`), following rotation and truncation;
//! - `send` hands records to the producer and their delivery futures, in
//!   batches, to the acknowledgement task (`ack`);
//! - `ack` tracks each source's acknowledged prefix ([`progress`]), returns
//!   in-flight permits, and writes [`checkpoint`]s every 500 ms.

mod ack;
pub mod checkpoint;
mod config;
mod error;
pub mod lines;
pub mod metrics;
pub mod progress;
pub mod records;
mod send;
mod stdin;
pub mod tail;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use logflow_kafka::{producer_config, wait_for_topics};
use rdkafka::producer::FutureProducer;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use config::{Compression, Config};
pub use error::ShipperError;
pub use metrics::{snapshot as metrics_snapshot, MetricsSnapshot};
pub use send::{HEADER_HOST, HEADER_SOURCE, HEADER_TRUNCATED};

use ack::Acknowledger;
use checkpoint::CheckpointFile;
use config::Settings;
use error::Failures;
use send::{Halt, SendContext, SourceSender};

/// Room for a record's key, headers and batch framing on top of its payload
/// when raising librdkafka's message size limit.
const MESSAGE_OVERHEAD: usize = 64 * 1024;

/// Ships until `shutdown` is cancelled (or, with only `--stdin`, until stdin
/// ends and every record is acknowledged). Creates the log topic first,
/// waiting for the broker if it is down. On shutdown: stops reading,
/// waits up to `--shutdown-timeout-ms` for outstanding acknowledgements,
/// writes the final checkpoints and returns. Returns the first error of any
/// source (each is also logged when it happens) after shutting down.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), ShipperError> {
    if config.files.is_empty() && !config.stdin {
        return Err(ShipperError::NoSource);
    }
    for pattern in &config.files {
        glob::Pattern::new(pattern).map_err(|source| ShipperError::Pattern {
            pattern: pattern.clone(),
            source,
        })?;
    }
    metrics::describe();
    logflow_metrics::spawn_listener(&config.metrics, shutdown.clone()).await?;
    let checkpoints =
        (!config.files.is_empty()).then(|| CheckpointFile::new(config.checkpoint_dir()));
    let saved = match &checkpoints {
        Some(file) => file.load()?,
        None => HashMap::new(),
    };
    let producer = create_producer(&config)?;
    let settings = Settings::from(&config);
    let failures = Arc::new(Failures::default());
    let permits = Arc::new(Semaphore::new(config.max_in_flight as usize));
    let (events, events_rx) = mpsc::unbounded_channel();
    let give_up = CancellationToken::new();
    let mut ack = tokio::spawn(
        Acknowledger::new(checkpoints, Arc::clone(&permits), Arc::clone(&failures))
            .run(events_rx, give_up.clone()),
    );
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let ctx = Arc::new(SendContext::new(
        producer.clone(),
        config.kafka.topic.clone(),
        host,
        permits,
        events,
    ));
    let stop = shutdown.child_token();
    let topic_ready = wait_for_topics(&config.kafka, &[config.kafka.topic.as_str()], &stop).await;

    let mut sources = JoinSet::new();
    if topic_ready && config.stdin {
        let service = config.service.clone().unwrap_or_else(|| "stdin".to_owned());
        let source_stop = stop.child_token();
        let sender = SourceSender::open(
            Arc::clone(&ctx),
            None,
            "stdin".to_owned(),
            service,
            0,
            source_stop.clone(),
        );
        let failures = Arc::clone(&failures);
        let settings = settings.clone();
        sources.spawn(async move {
            if let Err(Halt::Failed(error)) = stdin::ship(sender, settings, source_stop).await {
                tracing::error!(%error, "stopped reading stdin");
                failures.record(error);
            }
        });
    }
    if topic_ready && !config.files.is_empty() {
        sources.spawn(tail::watch(
            Arc::clone(&ctx),
            config.files.clone(),
            saved,
            settings,
            Arc::clone(&failures),
            stop.clone(),
        ));
    }
    // Sources hold the only other handles on the acknowledgement channel:
    // once they end, it closes and the acknowledgement task drains.
    drop(ctx);
    while let Some(joined) = sources.join_next().await {
        if let Err(error) = joined {
            failures.record(error.into());
        }
    }

    let acked = tokio::select! {
        acked = &mut ack => acked,
        _ = shutdown.cancelled() => {
            let timeout = Duration::from_millis(config.shutdown_timeout_ms);
            match tokio::time::timeout(timeout, &mut ack).await {
                Ok(acked) => acked,
                Err(_) => {
                    give_up.cancel();
                    ack.await
                }
            }
        }
    };
    stop.cancel();
    // Dropping the producer purges what it still holds and can block for a
    // moment; keep that off the async threads.
    let dropped = tokio::task::spawn_blocking(move || drop(producer)).await;
    acked??;
    dropped?;
    match failures.take() {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// The shared producer settings, with the message size limit raised to fit
/// the longest record we may send.
fn create_producer(config: &Config) -> Result<FutureProducer, ShipperError> {
    let max_message = (config.max_line_bytes() + MESSAGE_OVERHEAD).max(1_000_000);
    producer_config(&config.kafka, config.producer_tuning())
        .set("message.max.bytes", max_message.to_string())
        .create()
        .map_err(|source| ShipperError::Producer {
            servers: config.kafka.bootstrap_servers.clone(),
            source,
        })
}
