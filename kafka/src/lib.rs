//! Kafka plumbing shared by every role that talks to the broker (shipper,
//! processor, generator): the connection flags, the producer settings that
//! give our delivery guarantee, and topic creation at start-up.
//!
//! It is its own crate rather than part of `core` because it does network
//! I/O, and rather than copied into each role so that the producer settings
//! the delivery guarantee rests on are defined once.

use clap::Args;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::FutureProducer;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Kafka connection flags, shared by every role.
#[derive(Debug, Clone, Args)]
pub struct KafkaArgs {
    /// Kafka bootstrap servers, comma-separated host:port.
    #[arg(
        long,
        env = "KAFKA_BOOTSTRAP_SERVERS",
        default_value = "127.0.0.1:9092"
    )]
    pub bootstrap_servers: String,
    /// The topic log records flow through.
    #[arg(long, env = "KAFKA_TOPIC", default_value = "logflow.logs", value_parser = topic_name)]
    pub topic: String,
    /// Partitions for the topics LogFlow creates when they are missing.
    #[arg(long, env = "KAFKA_PARTITIONS", default_value_t = 3, value_parser = clap::value_parser!(i32).range(1..=10_000))]
    pub partitions: i32,
    /// Replicas for the topics LogFlow creates (3 on a production cluster,
    /// so that `acks=all` protects against a broker loss).
    #[arg(long, env = "KAFKA_REPLICATION_FACTOR", default_value_t = 1, value_parser = clap::value_parser!(i32).range(1..=100))]
    pub replication_factor: i32,
}

/// Kafka's rule for topic names: 1 to 249 of `a-z A-Z 0-9 . _ -`, and not
/// `.` or `..`. Leaves room for the `.dlq` suffix of the dead-letter topic.
/// Checked here because some brokers accept anything and fail later.
fn topic_name(value: &str) -> Result<String, String> {
    let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if value.is_empty()
        || value.len() > 245
        || value == "."
        || value == ".."
        || !value.chars().all(legal)
    {
        return Err(format!(
            "{value:?} is not a Kafka topic name: use 1 to 245 of a-z, A-Z, 0-9, '.', '_', '-'"
        ));
    }
    Ok(value.to_string())
}

impl KafkaArgs {
    /// The dead-letter topic that goes with the log topic.
    pub fn dlq_topic(&self) -> String {
        format!("{}.dlq", self.topic)
    }
}

/// What can go wrong talking to Kafka, naming the brokers or topic.
#[derive(Debug, thiserror::Error)]
pub enum KafkaSetupError {
    #[error("cannot create a Kafka client for {servers}: {source}")]
    Client {
        servers: String,
        #[source]
        source: KafkaError,
    },
    #[error("cannot create topic {topic} on {servers}: {reason}")]
    CreateTopic {
        topic: String,
        servers: String,
        reason: String,
    },
}

/// Producer tuning that is not about correctness.
#[derive(Debug, Clone, Copy)]
pub struct ProducerTuning {
    /// How long librdkafka waits to fill a batch.
    pub linger: Duration,
    /// Upper bound on records buffered in librdkafka; when full, sends wait
    /// (this is what keeps memory bounded while the broker is down).
    pub max_buffered: usize,
    /// lz4 or zstd (or none).
    pub compression: &'static str,
}

impl Default for ProducerTuning {
    fn default() -> Self {
        ProducerTuning {
            linger: Duration::from_millis(5),
            max_buffered: 100_000,
            compression: "lz4",
        }
    }
}

/// The producer configuration our delivery guarantee rests on: idempotent,
/// `acks=all`, retries without end (delivery timeout bounds them), batching
/// and compression. Exposed as a [`ClientConfig`] so benchmarks can build a
/// bare producer with exactly the same settings.
pub fn producer_config(kafka: &KafkaArgs, tuning: ProducerTuning) -> ClientConfig {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", &kafka.bootstrap_servers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("compression.type", tuning.compression)
        .set("linger.ms", tuning.linger.as_millis().to_string())
        .set("batch.num.messages", "10000")
        .set("batch.size", "1000000")
        .set(
            "queue.buffering.max.messages",
            tuning.max_buffered.to_string(),
        )
        .set("queue.buffering.max.kbytes", "262144")
        // 0 = no delivery timeout: keep retrying while the broker is away,
        // never give a record up. Memory stays bounded by the queue limits.
        .set("message.timeout.ms", "0")
        .set("log_level", "4");
    cfg
}

/// A producer with [`producer_config`].
pub fn producer(
    kafka: &KafkaArgs,
    tuning: ProducerTuning,
) -> Result<FutureProducer, KafkaSetupError> {
    producer_config(kafka, tuning)
        .create()
        .map_err(|source| KafkaSetupError::Client {
            servers: kafka.bootstrap_servers.clone(),
            source,
        })
}

/// Creates the given topics when they do not exist yet. An existing topic
/// is fine; any other failure names the topic.
pub async fn ensure_topics(kafka: &KafkaArgs, topics: &[&str]) -> Result<(), KafkaSetupError> {
    let partitions = kafka.partitions;
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &kafka.bootstrap_servers)
        .create()
        .map_err(|source| KafkaSetupError::Client {
            servers: kafka.bootstrap_servers.clone(),
            source,
        })?;
    let new: Vec<NewTopic> = topics
        .iter()
        .map(|t| {
            NewTopic::new(
                t,
                partitions,
                TopicReplication::Fixed(kafka.replication_factor),
            )
        })
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results =
        admin
            .create_topics(new.iter(), &opts)
            .await
            .map_err(|e| KafkaSetupError::CreateTopic {
                topic: topics.join(","),
                servers: kafka.bootstrap_servers.clone(),
                reason: e.to_string(),
            })?;
    for result in results {
        match result {
            Ok(topic) => tracing::info!(%topic, partitions, "created Kafka topic"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(KafkaSetupError::CreateTopic {
                    topic,
                    servers: kafka.bootstrap_servers.clone(),
                    reason: code.to_string(),
                })
            }
        }
    }
    Ok(())
}

/// [`ensure_topics`], retried with backoff while the broker is unreachable
/// (a broker down at start-up only delays a role). Returns false if `stop`
/// came first.
pub async fn wait_for_topics(kafka: &KafkaArgs, topics: &[&str], stop: &CancellationToken) -> bool {
    let mut delay = Duration::from_millis(200);
    loop {
        let attempt = tokio::select! {
            attempt = ensure_topics(kafka, topics) => attempt,
            _ = stop.cancelled() => return false,
        };
        match attempt {
            Ok(()) => return true,
            Err(error) => tracing::warn!(%error, retry_in = ?delay, "cannot create the topics yet"),
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.cancelled() => return false,
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        kafka: KafkaArgs,
    }

    fn parse(args: &[&str]) -> Result<KafkaArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("test").chain(args.iter().copied())).map(|c| c.kafka)
    }

    #[test]
    fn bad_topic_names_and_counts_are_refused_before_anything_starts() {
        let ok = parse(&["--topic", "team-a.app_logs"]).unwrap();
        assert_eq!(ok.dlq_topic(), "team-a.app_logs.dlq");
        for bad in [
            &["--topic", "bad topic!"][..],
            &["--topic", ""],
            &["--topic", ".."],
            &["--partitions", "0"],
            &["--replication-factor", "0"],
        ] {
            let err = parse(bad)
                .err()
                .unwrap_or_else(|| panic!("{bad:?} must be refused"));
            assert!(err.to_string().contains(bad[0]), "{err}");
        }
    }
}
