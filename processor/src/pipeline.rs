//! The consume → decode → index → commit pipeline.

use crate::backoff::retry_until_shutdown;
use crate::config::Config;
use crate::decode::{DeadLetter, Decoded, Decoder};
use crate::dlq;
use crate::metrics::Metrics;
use crate::resume::{guard, LogConsumer, Positions, ResumeContext, Verdict};
use crate::ProcessorError;
use chrono::Utc;
use logflow_core::redact::Redactor;
use logflow_kafka::wait_for_topics;
use logflow_store::{LogStore, NewRecord};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::producer::FutureProducer;
use rdkafka::{Message, Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::time::{timeout_at, Instant};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// Longest wait for Kafka to confirm an offset commit; a commit that does
/// not finish is harmless (the batch is replayed and deduplicated).
const COMMIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// The same, once shutdown was asked for.
const SHUTDOWN_COMMIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The dead letter for a record the store refused for good: the record as
/// we would have stored it, so it can be replayed once the mapping is
/// fixed.
fn refused(records: &[NewRecord], rejected: &logflow_store::Rejected) -> Option<DeadLetter> {
    let record = records.iter().find(|r| r.id == rejected.id)?;
    Some(DeadLetter {
        origin: rejected.id.clone(),
        key: Some(record.record.service.clone().into_bytes()),
        payload: serde_json::to_vec(&record.record).unwrap_or_default(),
        original_bytes: None,
        reason: "store_rejected",
        detail: rejected.reason.clone(),
    })
}

/// Records decoded from one stretch of the topic, and the offsets to commit
/// once they are stored.
#[derive(Default)]
struct Batch {
    records: Vec<NewRecord>,
    dead: Vec<DeadLetter>,
    /// Per partition: the offset of the next message to read.
    next_offsets: BTreeMap<i32, i64>,
    /// Payload bytes read, to bound a batch's memory as well as its count.
    bytes: usize,
}

impl Batch {
    fn len(&self) -> usize {
        self.records.len() + self.dead.len()
    }
}

pub async fn run(
    config: &Config,
    store: Arc<dyn LogStore>,
    redactor: Redactor,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) -> Result<(), ProcessorError> {
    let kafka = &config.kafka;
    let dlq_topic = kafka.dlq_topic();
    let topics = [kafka.topic.as_str(), dlq_topic.as_str()];
    if !wait_for_topics(kafka, &topics, &shutdown).await {
        return Ok(());
    }

    let consumer: Arc<LogConsumer> = Arc::new(
        consumer_config(config)
            .create_with_context(ResumeContext::default())
            .map_err(|e| ProcessorError::Consumer {
                group: config.group_id.clone(),
                reason: e.to_string(),
            })?,
    );
    consumer
        .subscribe(&[kafka.topic.as_str()])
        .map_err(|e| ProcessorError::Consumer {
            group: config.group_id.clone(),
            reason: e.to_string(),
        })?;
    let producer = logflow_kafka::producer(kafka, logflow_kafka::ProducerTuning::default())?;
    tracing::info!(topic = %kafka.topic, group = %config.group_id, "processor consuming");

    let (tx, rx) = mpsc::channel::<Batch>(1);
    let decoder = Decoder::new(redactor, config.max_message_bytes, config.retention_days);
    let writer = write_loop(
        rx,
        store,
        producer,
        consumer.clone(),
        kafka.topic.clone(),
        dlq_topic,
        metrics.clone(),
        shutdown.clone(),
    );
    let reader = consume_loop(&consumer, &decoder, config, tx, &metrics, &shutdown);
    tokio::join!(reader, writer);
    Ok(())
}

fn consumer_config(config: &Config) -> ClientConfig {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", &config.kafka.bootstrap_servers)
        .set("group.id", &config.group_id)
        // Offsets are committed by hand, only after the store committed.
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.min.bytes", "65536")
        .set("fetch.wait.max.ms", "100")
        // Bounds what librdkafka prefetches (the whole consumer queue).
        .set("queued.max.messages.kbytes", "16384")
        .set("log_level", "4");
    cfg
}

/// Reads messages into batches bounded by size and time, decoding as it
/// goes, and hands each batch to the writer. Stops at shutdown.
async fn consume_loop(
    consumer: &Arc<LogConsumer>,
    decoder: &Decoder,
    config: &Config,
    tx: mpsc::Sender<Batch>,
    metrics: &Metrics,
    shutdown: &CancellationToken,
) {
    let mut positions = Positions::default();
    let topic = config.kafka.topic.as_str();
    loop {
        let first = tokio::select! {
            _ = shutdown.cancelled() => return,
            msg = consumer.recv() => msg,
        };
        let mut batch = Batch::default();
        match first {
            Ok(msg) => read_into(&mut batch, &mut positions, consumer, topic, decoder, &msg).await,
            Err(err) => {
                tracing::warn!(%err, "Kafka consumer error; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                continue;
            }
        }
        let deadline = Instant::now() + config.batch_wait;
        while batch.len() < config.batch_size && batch.bytes < config.batch_bytes() {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                next = timeout_at(deadline, consumer.recv()) => match next {
                    Ok(Ok(msg)) => read_into(&mut batch, &mut positions, consumer, topic, decoder, &msg).await,
                    Ok(Err(err)) => {
                        tracing::warn!(%err, "Kafka consumer error");
                        break;
                    }
                    Err(_) => break,
                },
            }
        }
        if batch.len() == 0 {
            continue;
        }
        Metrics::add(&metrics.consumed, batch.len());
        if tx.send(batch).await.is_err() {
            return;
        }
    }
}

/// Adds one message to the batch, unless the resume guard drops it.
async fn read_into<M: Message>(
    batch: &mut Batch,
    positions: &mut Positions,
    consumer: &Arc<LogConsumer>,
    topic: &str,
    decoder: &Decoder,
    msg: &M,
) {
    if guard(positions, consumer, topic, msg.partition(), msg.offset()).await != Verdict::Accept {
        return;
    }
    batch.next_offsets.insert(msg.partition(), msg.offset() + 1);
    batch.bytes += msg.payload().map_or(0, <[u8]>::len);
    match decoder.decode(msg, Utc::now()) {
        Decoded::Record(record) => batch.records.push(*record),
        Decoded::Dead(letter) => batch.dead.push(*letter),
    }
}

/// Stores each batch (retrying while the store is down), dead-letters what
/// could not be read, and only then commits the batch's offsets.
#[allow(clippy::too_many_arguments)]
async fn write_loop(
    mut rx: mpsc::Receiver<Batch>,
    store: Arc<dyn LogStore>,
    producer: FutureProducer,
    consumer: Arc<LogConsumer>,
    topic: String,
    dlq_topic: String,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    while let Some(batch) = rx.recv().await {
        let span = tracing::info_span!(
            "batch",
            records = batch.records.len(),
            dead = batch.dead.len()
        );
        let done = write_batch(
            batch, &*store, &producer, &consumer, &topic, &dlq_topic, &metrics, &shutdown,
        )
        .instrument(span)
        .await;
        if !done {
            return;
        }
    }
}

/// Returns false when shutdown interrupted the retries; the batch's offsets
/// are then not committed and it is read again after restart.
#[allow(clippy::too_many_arguments)]
async fn write_batch(
    mut batch: Batch,
    store: &dyn LogStore,
    producer: &FutureProducer,
    consumer: &Arc<LogConsumer>,
    topic: &str,
    dlq_topic: &str,
    metrics: &Metrics,
    shutdown: &CancellationToken,
) -> bool {
    if !batch.records.is_empty() {
        let records: Arc<[NewRecord]> = batch.records.into();
        let Some(outcome) = retry_until_shutdown("indexing a batch", shutdown, || {
            store.write(records.clone())
        })
        .await
        else {
            return false;
        };
        batch
            .dead
            .extend(outcome.rejected.iter().filter_map(|r| refused(&records, r)));
        Metrics::add(&metrics.indexed, outcome.indexed);
        Metrics::add(&metrics.duplicates, outcome.duplicates);
        crate::metrics::stored(&records, outcome.duplicates, &outcome.rejected);
        if outcome.duplicates > 0 {
            tracing::info!(
                duplicates = outcome.duplicates,
                "skipped records a previous run already stored (replay after a restart)"
            );
        }
    }
    if !batch.dead.is_empty() {
        let sent = retry_until_shutdown("writing to the dead-letter topic", shutdown, || {
            dlq::send_all(producer, dlq_topic, &batch.dead)
        })
        .await;
        if sent.is_none() {
            return false;
        }
        for letter in &batch.dead {
            tracing::warn!(origin = %letter.origin, reason = letter.reason, detail = %letter.detail, "dead-lettered");
        }
        Metrics::add(&metrics.dead_lettered, batch.dead.len());
        crate::metrics::dead_lettered(&batch.dead);
    }
    let mut offsets = TopicPartitionList::new();
    for (&partition, &next) in &batch.next_offsets {
        if let Err(err) = offsets.add_partition_offset(topic, partition, Offset::Offset(next)) {
            tracing::warn!(%err, partition, "cannot build offset commit");
        }
    }
    let consumer = consumer.clone();
    let commit = tokio::task::spawn_blocking(move || consumer.commit(&offsets, CommitMode::Sync));
    // At shutdown a slow commit only delays the exit: the batch is stored,
    // so a replay after restart is deduplicated.
    let wait = if shutdown.is_cancelled() {
        SHUTDOWN_COMMIT_TIMEOUT
    } else {
        COMMIT_TIMEOUT
    };
    match tokio::time::timeout(wait, commit).await {
        Err(_) => {
            tracing::warn!("offset commit timed out; the batch may be replayed (deduplicated)")
        }
        Ok(Ok(Ok(()))) => {}
        // The store already holds the batch: a replay after a failed commit
        // is skipped as duplicates, so this loses nothing.
        Ok(Ok(Err(err))) => {
            tracing::warn!(%err, "offset commit failed; the batch may be replayed (deduplicated)")
        }
        Ok(Err(err)) => tracing::warn!(%err, "offset commit task failed"),
    }
    metrics
        .batches
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    tracing::debug!(offsets = ?batch.next_offsets, "batch stored");
    true
}
