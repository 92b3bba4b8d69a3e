//! The shipper's error type: every variant names the input it failed on
//! (pattern, file, checkpoint path, offset), so an operator can act on the
//! message alone.

use std::path::PathBuf;

use logflow_kafka::KafkaSetupError;
use rdkafka::error::KafkaError;

/// What can stop the shipper, or one of its sources.
#[derive(Debug, thiserror::Error)]
pub enum ShipperError {
    /// Neither `--file` nor `--stdin` was given.
    #[error("nothing to ship: give at least one --file GLOB (LOGFLOW_SHIPPER_FILES) or --stdin")]
    NoSource,

    #[error("invalid --file pattern {pattern:?}: {source}")]
    Pattern {
        pattern: String,
        #[source]
        source: glob::PatternError,
    },

    #[error(transparent)]
    Metrics(#[from] logflow_metrics::ListenError),
    #[error(transparent)]
    Kafka(#[from] KafkaSetupError),

    #[error("cannot create the Kafka producer for {servers}: {source}")]
    Producer {
        servers: String,
        #[source]
        source: KafkaError,
    },

    #[error("cannot read checkpoints {path}: {source}")]
    CheckpointRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The checkpoint file exists but is not ours or is damaged. We refuse
    /// to guess: starting over would resend everything, skipping would lose
    /// data. Move the file away to start from scratch.
    #[error("checkpoint file {path} is not valid (move it away to start over): {source}")]
    CheckpointCorrupt {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    #[error("cannot write checkpoints {path}: {source}")]
    CheckpointWrite {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot read {source_name}: {source}")]
    Read {
        source_name: String,
        #[source]
        source: std::io::Error,
    },

    /// Kafka refused a record for good. The source was stopped at this
    /// record and its checkpoint stays before it, so nothing is skipped.
    #[error("Kafka refused the record of {source_name} ending at byte {end_offset}; stopped shipping it (checkpoint stays at byte {checkpoint}): {source}")]
    Delivery {
        source_name: String,
        end_offset: u64,
        checkpoint: u64,
        #[source]
        source: KafkaError,
    },

    #[error("a shipper task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// The first error of any source, kept so `run` can report it after a
/// graceful shutdown (every error is also logged where it happens). Touched
/// only when something fails, so a lock is fine.
#[derive(Debug, Default)]
pub(crate) struct Failures {
    first: std::sync::Mutex<Option<ShipperError>>,
}

impl Failures {
    pub fn record(&self, error: ShipperError) {
        let mut first = self.first.lock().unwrap_or_else(|p| p.into_inner());
        first.get_or_insert(error);
    }

    pub fn take(&self) -> Option<ShipperError> {
        self.first.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}
