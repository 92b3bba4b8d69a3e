//! `logflow generator`: realistic logs for a set of services, at a given
//! rate, with spike and error-burst scenarios for alert and anomaly work.

pub mod config;
pub mod flows;
pub mod scenario;
pub mod sink;

pub use config::{Config, Output};

use chrono::Utc;
use flows::FlowFactory;
use indicatif::{ProgressBar, ProgressStyle};
use sink::{Sink, SinkError};
use std::io::IsTerminal;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How often the pacing loop wakes up to emit the records that are due.
const TICK: Duration = Duration::from_millis(10);

/// Generates until `--count` or `--duration` is reached, or shutdown.
/// Returns how many records were written.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<u64, SinkError> {
    let mut sink = match config.output {
        Output::Kafka => Sink::kafka(&config.kafka, &shutdown).await?,
        Output::Stdout => Sink::stdout(),
        // clap requires --file with --output file.
        Output::File => Sink::file(
            config
                .file
                .as_deref()
                .unwrap_or(std::path::Path::new("generated.log")),
        )?,
    };
    let scenario = config.scenario();
    let mut factory = FlowFactory::new(config.seed, config.services.clone());
    let progress = progress_bar(&config);
    let limit = config.count.unwrap_or(u64::MAX);
    let start = Instant::now();
    let mut due = 0.0_f64;
    let mut written = 0_u64;
    let mut last = start;

    'outer: while written < limit && !shutdown.is_cancelled() {
        let now = Instant::now();
        let elapsed = now - start;
        if config.duration.is_some_and(|d| elapsed >= d) {
            break;
        }
        let rate = scenario.rate_at(elapsed);
        if rate > 0.0 {
            due += rate * (now - last).as_secs_f64();
            last = now;
            if (written as f64) >= due {
                // Ahead of schedule: what is written is readable while we wait.
                sink.flush()?;
                tokio::time::sleep(TICK).await;
                continue;
            }
        }
        let ratio = scenario.error_ratio_at(elapsed);
        // Unlimited rate: write a chunk, then yield so shutdown is seen.
        // At most 1000 records between looks at the clock and at shutdown.
        let target = if rate > 0.0 {
            (due.floor() as u64).min(written + 1000)
        } else {
            written + 1000
        };
        while written < target.min(limit) {
            for record in factory.flow(Utc::now(), ratio) {
                sink.write(&record).await?;
                written += 1;
                if written >= limit {
                    break 'outer;
                }
            }
        }
        if let Some(bar) = &progress {
            bar.set_position(if config.count.is_some() {
                written
            } else {
                elapsed.as_secs()
            });
        }
        tokio::task::yield_now().await;
    }
    sink.finish().await?;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    tracing::info!(
        written,
        seconds = start.elapsed().as_secs_f64(),
        "generator finished"
    );
    Ok(written)
}

/// A progress bar on a terminal for bounded runs; none otherwise.
fn progress_bar(config: &Config) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let (len, unit) = match (config.count, config.duration) {
        (Some(n), _) => (n, "logs"),
        (None, Some(d)) => (d.as_secs(), "s"),
        (None, None) => return None,
    };
    let bar = ProgressBar::new(len);
    let template = format!("{{spinner}} [{{elapsed_precise}}] {{wide_bar}} {{pos}}/{{len}} {unit} ({{per_sec}}, eta {{eta}})");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    Some(bar)
}
