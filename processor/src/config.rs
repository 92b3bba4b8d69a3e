//! The processor's configuration: every flag has an environment variable
//! fallback, so the flag and the variable are one definition.

use clap::Args;
use logflow_kafka::KafkaArgs;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Args)]
pub struct Config {
    #[command(flatten)]
    pub kafka: KafkaArgs,

    #[command(flatten)]
    pub metrics: logflow_metrics::MetricsArgs,

    #[command(flatten)]
    pub store: logflow_store::StoreArgs,

    /// Where the tantivy indexes live (under `indexes/`).
    #[arg(long, env = "LOGFLOW_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// Kafka consumer group; processors in one group share the partitions.
    #[arg(
        long,
        env = "LOGFLOW_CONSUMER_GROUP",
        default_value = "logflow-processor"
    )]
    pub group_id: String,

    /// Most records indexed and committed together.
    #[arg(long, env = "LOGFLOW_BATCH_SIZE", default_value_t = 10_000)]
    pub batch_size: usize,

    /// Most payload megabytes read into one batch (bounds memory as the
    /// count does; a batch holds at most this plus one message).
    #[arg(long, env = "LOGFLOW_BATCH_MB", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub batch_mb: u32,

    /// Longest a batch waits to fill before it is indexed anyway; bounds how
    /// soon a record becomes searchable when traffic is light.
    #[arg(long, env = "LOGFLOW_BATCH_WAIT", default_value = "500ms", value_parser = humantime::parse_duration)]
    pub batch_wait: Duration,

    /// Indexes whose day ended more than this many days ago are dropped.
    #[arg(long, env = "RETENTION_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=36_500))]
    pub retention_days: u32,

    /// How often retention runs.
    #[arg(long, env = "LOGFLOW_RETENTION_INTERVAL", default_value = "1h", value_parser = at_least_a_second)]
    pub retention_interval: Duration,

    /// Extra redaction regexes (repeat the flag, or comma-separate in the
    /// variable); each whole match becomes `[REDACTED]`.
    #[arg(
        long = "redact",
        env = "LOGFLOW_REDACT_PATTERNS",
        value_delimiter = ','
    )]
    pub redact_patterns: Vec<String>,

    /// Messages longer than this are cut and flagged `fields.message_truncated`.
    #[arg(long, env = "LOGFLOW_MAX_MESSAGE_BYTES", default_value_t = logflow_core::parse::DEFAULT_MAX_MESSAGE_BYTES)]
    pub max_message_bytes: usize,

    /// Memory the tantivy writer may use before it flushes a segment.
    #[arg(long, env = "LOGFLOW_INDEX_MEMORY_MB", default_value_t = 64)]
    pub index_memory_mb: usize,

    /// Indexing threads per daily index writer.
    #[arg(long, env = "LOGFLOW_INDEX_THREADS", default_value_t = 1)]
    pub index_threads: usize,
}

/// A duration of at least one second, e.g. `1h`, `30m`.
fn at_least_a_second(value: &str) -> Result<Duration, String> {
    match humantime::parse_duration(value) {
        Ok(d) if d >= Duration::from_secs(1) => Ok(d),
        Ok(_) => Err("must be at least 1s".into()),
        Err(e) => Err(e.to_string()),
    }
}

impl Config {
    /// [`Config::batch_mb`] in bytes.
    pub fn batch_bytes(&self) -> usize {
        self.batch_mb as usize * 1024 * 1024
    }

    /// The folder holding the daily indexes.
    pub fn index_dir(&self) -> PathBuf {
        self.data_dir.join("indexes")
    }
}
