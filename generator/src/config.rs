//! The generator's flags, each with an environment-variable fallback.

use crate::scenario::Scenario;
use clap::{Args, ValueEnum};
use logflow_kafka::KafkaArgs;
use std::path::PathBuf;
use std::time::Duration;

/// Where generated records go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// JSON records straight to the Kafka topic, keyed by service.
    Kafka,
    /// JSON lines on standard output (pipe into `logflow shipper --stdin`).
    Stdout,
    /// JSON lines appended to `--file` (for the shipper to tail).
    File,
}

#[derive(Debug, Clone, Args)]
pub struct Config {
    #[command(flatten)]
    pub kafka: KafkaArgs,

    /// Where to send the logs.
    #[arg(long, value_enum, default_value_t = Output::Kafka)]
    pub output: Output,

    /// The file for `--output file`.
    #[arg(long, required_if_eq("output", "file"))]
    pub file: Option<PathBuf>,

    /// Logs per second (0 = as fast as possible).
    #[arg(long, default_value_t = 100.0, value_parser = non_negative)]
    pub rate: f64,

    /// Stop after this many logs.
    #[arg(long)]
    pub count: Option<u64>,

    /// Stop after this long (e.g. 30s, 5m).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,

    /// Services to simulate, in request-flow order.
    #[arg(long, value_delimiter = ',', default_values_t = crate::flows::DEFAULT_SERVICES.map(String::from))]
    pub services: Vec<String>,

    /// Chance that a record is an error in steady state.
    #[arg(long, default_value_t = 0.02, value_parser = ratio)]
    pub error_ratio: f64,

    /// Start a traffic spike this long after the start (e.g. 30s).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub spike_at: Option<Duration>,

    /// Rate multiplier during the spike.
    #[arg(long, default_value_t = 5.0, value_parser = non_negative)]
    pub spike_factor: f64,

    /// How long the spike lasts.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub spike_duration: Duration,

    /// Start an error burst this long after the start (e.g. 20s).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub error_burst: Option<Duration>,

    /// How long the error burst lasts.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub error_burst_duration: Duration,

    /// Chance that a record is an error during the burst.
    #[arg(long, default_value_t = 0.5, value_parser = ratio)]
    pub error_burst_ratio: f64,

    /// Random seed, for reproducible runs.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

/// A finite number of at least 0.
fn non_negative(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("{value:?} is not a number of at least 0")),
    }
}

/// A probability between 0 and 1.
fn ratio(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("{value:?} is not a ratio between 0 and 1")),
    }
}

impl Config {
    pub fn scenario(&self) -> Scenario {
        Scenario {
            rate: self.rate,
            error_ratio: self.error_ratio,
            spike_at: self.spike_at,
            spike_factor: self.spike_factor,
            spike_duration: self.spike_duration,
            burst_at: self.error_burst,
            burst_duration: self.error_burst_duration,
            burst_ratio: self.error_burst_ratio,
        }
    }
}
