//! What only the shipper's broker tests need: the shipper running
//! in-process and helpers for numbered lines. The broker, unique topics and
//! the topic reader come from `logflow-testkit`, shared with the root
//! package's end-to-end tests.

use std::path::Path;
use std::time::Duration;

use clap::Parser;
use logflow_shipper::{run, Config, ShipperError};
use logflow_testkit::Received;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    config: Config,
}

/// The shipper running in-process until [`stop`](Shipper::stop).
pub struct Shipper {
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), ShipperError>>,
}

impl Shipper {
    /// Starts `logflow shipper` with these flags (plus fast polling).
    pub fn start(bootstrap: &str, topic: &str, checkpoints: &Path, flags: &[&str]) -> Shipper {
        let checkpoints = checkpoints.display().to_string();
        let args = [
            "shipper",
            "--bootstrap-servers",
            bootstrap,
            "--topic",
            topic,
            "--partitions",
            "1",
            "--checkpoint-dir",
            &checkpoints,
            "--poll-interval-ms",
            "50",
            "--linger-ms",
            "1",
        ];
        let cli = Cli::try_parse_from(args.iter().chain(flags)).expect("valid shipper flags");
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run(cli.config, shutdown.clone()));
        Shipper { shutdown, task }
    }

    /// Shuts down as SIGTERM would and returns what `run` returned.
    pub async fn stop(self) -> Result<(), ShipperError> {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("shipper did not shut down within 30 s")
            .expect("shipper task panicked")
    }
}

/// The payloads as text, to compare with the lines that were written.
pub fn texts(records: &[Received]) -> Vec<String> {
    records.iter().map(Received::text).collect()
}

/// `count` distinct lines starting at `first`, tagged so tests can tell
/// files apart.
pub fn numbered(tag: &str, first: usize, count: usize) -> Vec<String> {
    (first..first + count)
        .map(|i| format!("{tag} line {i:06} some payload"))
        .collect()
}

/// The lines, each with its `\n`.
pub fn as_file(lines: &[String]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// Appends to a file, as a logging application would.
pub fn append(path: &Path, data: &str) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open for append");
    file.write_all(data.as_bytes()).expect("append");
}

pub const WITHIN: Duration = Duration::from_secs(60);
