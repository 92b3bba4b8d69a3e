//! What the shipper's tests share: flags parsed as the `shipper` command
//! line would be, the shipper running in-process, a [`Tailing`] fixture
//! (broker, log directory, topic) and helpers for numbered lines. The
//! broker, unique topics and the topic reader come from `logflow-testkit`,
//! shared with the root package's end-to-end tests.

// Each test binary uses its own part: the config tests only `parse`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use logflow_shipper::{run, Config, ShipperError};
use logflow_testkit::{free_port, unique_topic, Broker, Reader, Received};
use tempfile::TempDir;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    config: Config,
}

/// The configuration from these flags, as `logflow shipper` would parse
/// them (environment fallbacks included).
pub fn parse(args: &[&str]) -> Result<Config, clap::Error> {
    Cli::try_parse_from(std::iter::once("shipper").chain(args.iter().copied())).map(|c| c.config)
}

/// One test's world: a broker, an empty log directory and a topic of its
/// own. Write the logs, then [`ship`](Tailing::ship) them and
/// [`read`](Tailing::reader) the topic back.
pub struct Tailing {
    /// Up until the test ends: dropping it kills tansu.
    broker: Option<Broker>,
    port: u16,
    dir: TempDir,
    topic: String,
}

impl Tailing {
    /// A broker up, an empty log directory and a fresh topic named after
    /// `name`.
    pub async fn new(name: &str) -> Tailing {
        let mut tailing = Tailing::broker_down(name);
        tailing.start_broker().await;
        tailing
    }

    /// The same, but nothing listens on the broker's port until
    /// [`start_broker`](Tailing::start_broker).
    pub fn broker_down(name: &str) -> Tailing {
        Tailing {
            broker: None,
            port: free_port(),
            dir: tempfile::tempdir().expect("temp dir for the logs"),
            topic: unique_topic(name),
        }
    }

    /// Brings the broker up on its port.
    pub async fn start_broker(&mut self) {
        self.broker = Some(Broker::start_on(self.port).await);
    }

    /// The `bootstrap.servers` value, whether or not the broker is up yet.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A file in the log directory.
    pub fn log(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    /// Where the shipper keeps its checkpoints (inside the log directory).
    pub fn checkpoints(&self) -> PathBuf {
        self.log("checkpoints")
    }

    /// Starts the shipper on the files of the log directory that match
    /// `pattern`, with these flags after `--file`.
    pub fn ship(&self, pattern: &str, flags: &[&str]) -> Shipper {
        let glob = self.log(pattern).display().to_string();
        let flags: Vec<&str> = ["--file", glob.as_str()]
            .into_iter()
            .chain(flags.iter().copied())
            .collect();
        Shipper::start(&self.bootstrap(), &self.topic, &self.checkpoints(), &flags)
    }

    /// Reads the topic from its beginning, once the shipper has created it.
    pub async fn reader(&self) -> Reader {
        Reader::new(&self.bootstrap(), &self.topic).await
    }
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
        let args: Vec<&str> = args.iter().chain(flags).copied().collect();
        let config = parse(&args).expect("valid shipper flags");
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run(config, shutdown.clone()));
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
