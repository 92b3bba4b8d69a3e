//! The api's view of Kafka: publishing custom events (`POST
//! /api/v1/trace/log`), the processors' consumer lag, and broker health.
//! librdkafka's metadata calls block, so they run on the blocking pool.

use logflow_core::RecordId;
use logflow_kafka::{producer_config, KafkaArgs, ProducerTuning};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::OwnedHeaders;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a metadata or offset request may take before the broker counts
/// as unreachable.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a published event may wait for the broker's acknowledgement.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);

/// Consumer lag of one partition.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PartitionLag {
    pub partition: i32,
    /// The processors' committed offset; absent before their first commit.
    pub committed_offset: Option<i64>,
    /// The offset the next produced record will get.
    pub high_watermark: i64,
    /// Records produced but not yet committed by the processors.
    pub lag: i64,
}

pub struct Broker {
    topic: String,
    group: String,
    servers: String,
    producer: FutureProducer,
    /// A consumer in the processors' group that never subscribes: it only
    /// reads the group's committed offsets and the partitions' watermarks.
    offsets: Arc<BaseConsumer>,
}

impl Broker {
    pub fn new(kafka: &KafkaArgs, group_id: &str) -> Result<Broker, KafkaError> {
        let mut producer = producer_config(kafka, ProducerTuning::default());
        // Unlike the shipper, a request must get an answer: give up on the
        // broker after a bounded time and report 503.
        producer.set(
            "message.timeout.ms",
            PUBLISH_TIMEOUT.as_millis().to_string(),
        );
        let offsets = ClientConfig::new()
            .set("bootstrap.servers", &kafka.bootstrap_servers)
            .set("group.id", group_id)
            .set("enable.auto.commit", "false")
            .set("log_level", "3")
            .create()?;
        Ok(Broker {
            topic: kafka.topic.clone(),
            group: group_id.to_string(),
            servers: kafka.bootstrap_servers.clone(),
            producer: producer.create()?,
            offsets: Arc::new(offsets),
        })
    }

    pub fn servers(&self) -> &str {
        &self.servers
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    pub fn group(&self) -> &str {
        &self.group
    }

    /// Sends one message to the log topic and waits for the broker to
    /// acknowledge it; returns where it was stored.
    pub async fn publish(
        &self,
        key: &str,
        payload: &[u8],
        headers: OwnedHeaders,
    ) -> Result<RecordId, KafkaError> {
        let record = FutureRecord::to(&self.topic)
            .key(key)
            .payload(payload)
            .headers(headers);
        let delivery = self
            .producer
            .send(record, Timeout::After(PUBLISH_TIMEOUT))
            .await
            .map_err(|(e, _)| e)?;
        Ok(RecordId::new(
            self.topic.clone(),
            delivery.partition,
            delivery.offset,
        ))
    }

    /// Ok when the broker answers a metadata request for the log topic.
    pub async fn check(&self) -> Result<(), String> {
        let offsets = self.offsets.clone();
        let topic = self.topic.clone();
        blocking(move || {
            let md = offsets.fetch_metadata(Some(&topic), PROBE_TIMEOUT)?;
            Ok(md.topics().iter().any(|t| t.error().is_none()))
        })
        .await
        .and_then(|found| {
            if found {
                Ok(())
            } else {
                Err(format!("topic {} does not exist", self.topic))
            }
        })
    }

    /// Per partition of the log topic: committed offset, end of the log
    /// and the difference.
    pub async fn lag(&self) -> Result<Vec<PartitionLag>, String> {
        let offsets = self.offsets.clone();
        let topic = self.topic.clone();
        let servers = self.servers.clone();
        blocking(move || {
            let md = offsets.fetch_metadata(Some(&topic), PROBE_TIMEOUT)?;
            let partitions: Vec<i32> = md
                .topics()
                .iter()
                .flat_map(|t| t.partitions().iter().map(|p| p.id()))
                .collect();
            let mut tpl = TopicPartitionList::new();
            for &p in &partitions {
                tpl.add_partition(&topic, p);
            }
            let committed = offsets.committed_offsets(tpl, PROBE_TIMEOUT)?;
            let mut watermarks = Vec::with_capacity(partitions.len());
            for &p in &partitions {
                watermarks.push((p, offsets.fetch_watermarks(&topic, p, PROBE_TIMEOUT)?));
            }
            let ends = log_ends(&servers, &topic, &watermarks)?;
            let lags = watermarks
                .into_iter()
                .map(|(p, (low, high))| {
                    let end = ends.get(&p).copied().unwrap_or(high).max(high);
                    let committed_offset = committed
                        .find_partition(&topic, p)
                        .and_then(|e| e.offset().to_raw())
                        .filter(|&o| o >= 0);
                    PartitionLag {
                        partition: p,
                        committed_offset,
                        high_watermark: end,
                        lag: (end - committed_offset.unwrap_or(low)).max(0),
                    }
                })
                .collect();
            Ok(lags)
        })
        .await
    }
}

/// The offset after the last record of each partition, read from the log
/// itself: tansu 0.6 reports a high watermark of its last batch's base
/// offset plus one (three batches of 30 records: 61, not 90), so the batch
/// at `high - 1` is read to its end. On Kafka that read returns the one
/// last record and confirms the reported watermark. Partitions that
/// answer nothing within the probe time keep the reported value.
fn log_ends(
    servers: &str,
    topic: &str,
    watermarks: &[(i32, (i64, i64))],
) -> Result<HashMap<i32, i64>, KafkaError> {
    let mut ends = HashMap::new();
    let mut tpl = TopicPartitionList::new();
    for &(p, (low, high)) in watermarks {
        if high > low {
            tpl.add_partition_offset(topic, p, Offset::Offset(high - 1))?;
        }
    }
    if tpl.count() == 0 {
        return Ok(ends);
    }
    // A throwaway reader outside any group: it never commits or joins.
    let reader: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", servers)
        .set("group.id", "logflow-api-log-end-probe")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("log_level", "3")
        .create()?;
    reader.assign(&tpl)?;
    let mut open = tpl.count();
    let deadline = Instant::now() + PROBE_TIMEOUT;
    while open > 0 && Instant::now() < deadline {
        match reader.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                let end = ends.entry(message.partition()).or_insert(0);
                *end = (*end).max(message.offset() + 1);
            }
            Some(Err(KafkaError::PartitionEOF(_))) => open -= 1,
            Some(Err(e)) => return Err(e),
            None => {}
        }
    }
    Ok(ends)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, KafkaError> + Send + 'static,
) -> Result<T, String> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(e) => Err(format!("broker probe task failed: {e}")),
    }
}
