//! The shipper's configuration: one clap definition per setting, so the flag
//! and its environment variable can never drift apart.

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::{Args, ValueEnum};
use logflow_kafka::{KafkaArgs, ProducerTuning};

/// `logflow shipper` flags.
#[derive(Debug, Clone, Args)]
pub struct Config {
    #[command(flatten)]
    pub kafka: KafkaArgs,

    #[command(flatten)]
    pub metrics: logflow_metrics::MetricsArgs,

    /// Files to tail, as glob patterns (repeatable; comma-separated in the
    /// variable). Files that start matching while running are picked up.
    #[arg(
        long = "file",
        value_name = "GLOB",
        env = "LOGFLOW_SHIPPER_FILES",
        value_delimiter = ','
    )]
    pub files: Vec<String>,

    /// Ship standard input until end of file, then exit once Kafka has
    /// acknowledged every record.
    #[arg(long, env = "LOGFLOW_SHIPPER_STDIN")]
    pub stdin: bool,

    /// The service name (the Kafka key). Default: the file name before
    /// `.log` (`payment-service.log.1` → `payment-service`), or its stem;
    /// `stdin` for standard input.
    #[arg(long, env = "LOGFLOW_SHIPPER_SERVICE")]
    pub service: Option<String>,

    /// LogFlow's data directory; checkpoints go to its `shipper/` folder
    /// unless --checkpoint-dir says otherwise.
    #[arg(long, env = "LOGFLOW_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// Where file offsets are checkpointed. Default: `<data-dir>/shipper`.
    #[arg(long, env = "LOGFLOW_SHIPPER_CHECKPOINT_DIR")]
    pub checkpoint_dir: Option<PathBuf>,

    /// For files already there at start-up that have no checkpoint: ship
    /// them whole (true) or only what is written from now on (false). Files
    /// that appear later are always shipped whole.
    #[arg(long, env = "LOGFLOW_SHIPPER_FROM_BEGINNING", value_name = "BOOL",
          default_value = "true", default_missing_value = "true", num_args = 0..=1,
          value_parser = BoolishValueParser::new())]
    pub from_beginning: bool,

    /// How often files are checked for new data, rotation and new matches.
    #[arg(long, env = "LOGFLOW_SHIPPER_POLL_INTERVAL_MS", default_value_t = 200)]
    pub poll_interval_ms: u64,

    /// Join multi-line records (stack traces, continuation lines) into one
    /// record: on or off.
    #[arg(long, env = "LOGFLOW_SHIPPER_MULTILINE", value_name = "BOOL",
          default_value = "on", default_missing_value = "on", num_args = 0..=1,
          value_parser = BoolishValueParser::new())]
    pub multiline: bool,

    /// Longer lines are cut to this many bytes and flagged with the header
    /// `logflow.truncated` = original length; never dropped silently.
    #[arg(long, env = "LOGFLOW_SHIPPER_MAX_LINE_BYTES", default_value_t = 1024 * 1024,
          value_parser = clap::value_parser!(u64).range(1..=(u32::MAX as u64)))]
    pub max_line_bytes: u64,

    /// Compression of record batches on the wire.
    #[arg(long, env = "LOGFLOW_SHIPPER_COMPRESSION", value_enum, default_value_t = Compression::Lz4)]
    pub compression: Compression,

    /// How long the producer waits to fill a batch.
    #[arg(long, env = "LOGFLOW_SHIPPER_LINGER_MS", default_value_t = 5)]
    pub linger_ms: u64,

    /// Records sent but not yet acknowledged, at most; reading waits beyond
    /// that, which is what bounds memory while Kafka is slow or down.
    #[arg(long, env = "LOGFLOW_SHIPPER_MAX_IN_FLIGHT", default_value_t = 100_000,
          value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub max_in_flight: u32,

    /// On shutdown, how long to wait for outstanding acknowledgements before
    /// writing the final checkpoints anyway (unacknowledged records are
    /// then sent again by the next run).
    #[arg(
        long,
        env = "LOGFLOW_SHIPPER_SHUTDOWN_TIMEOUT_MS",
        default_value_t = 10_000
    )]
    pub shutdown_timeout_ms: u64,
}

/// Compression codecs librdkafka offers that we support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Compression {
    Lz4,
    Zstd,
    None,
}

impl Compression {
    /// The name librdkafka's `compression.type` expects.
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
            Compression::None => "none",
        }
    }
}

impl Config {
    /// The directory holding the checkpoint file.
    pub fn checkpoint_dir(&self) -> PathBuf {
        self.checkpoint_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("shipper"))
    }

    /// The longest payload we hand to Kafka: a line cut at the limit, or a
    /// multi-line record capped at the same size.
    pub fn max_line_bytes(&self) -> usize {
        // Bounded to u32::MAX by the value parser, so this never truncates.
        self.max_line_bytes as usize
    }

    pub fn producer_tuning(&self) -> ProducerTuning {
        ProducerTuning {
            linger: Duration::from_millis(self.linger_ms),
            // librdkafka's own queue is never the limit: our permits are.
            max_buffered: self.max_in_flight as usize,
            compression: self.compression.as_str(),
        }
    }
}

/// What sources need from the configuration, cheap to clone into each.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub service: Option<String>,
    pub from_beginning: bool,
    pub poll_interval: Duration,
    pub max_line_bytes: usize,
    pub multiline: bool,
}

impl From<&Config> for Settings {
    fn from(config: &Config) -> Self {
        Settings {
            service: config.service.clone(),
            from_beginning: config.from_beginning,
            poll_interval: Duration::from_millis(config.poll_interval_ms),
            max_line_bytes: config.max_line_bytes(),
            multiline: config.multiline,
        }
    }
}
