//! The harness for tests that need a Kafka-protocol broker: tansu on a free
//! port (killed on drop), the shipper running in-process, and a consumer
//! reading everything back. A missing tansu fails the test loudly.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use logflow_shipper::{run, Config, ShipperError};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A tansu broker with in-memory storage.
pub struct Broker {
    child: Child,
    port: u16,
}

impl Broker {
    pub async fn start() -> Broker {
        Broker::start_on(free_port()).await
    }

    pub async fn start_on(port: u16) -> Broker {
        let bin = tansu_bin();
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(&bin)
            .args(["broker", "--storage-engine", "memory://tansu/"])
            .args(["--listener-url", &url, "--advertised-listener-url", &url])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start the tansu broker {} ({e}): broker tests need it and never skip; \
                     install it with `cargo install tansu` or set TANSU_BIN",
                    bin.display()
                )
            });
        let mut broker = Broker { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = broker.child.try_wait() {
                panic!("tansu exited at start-up with {status}");
            }
            assert!(
                Instant::now() < deadline,
                "tansu did not listen on port {port} within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        broker
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `TANSU_BIN`, else `~/.cargo/bin/tansu`, else `tansu` on the PATH.
fn tansu_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("TANSU_BIN") {
        return bin.into();
    }
    let installed = std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo/bin/tansu"));
    match installed {
        Some(path) if path.exists() => path,
        _ => PathBuf::from("tansu"),
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("no free local port")
}

/// A topic no other test uses.
pub fn unique_topic(test: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "shipper-{test}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

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

/// One record as read back from Kafka.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    pub headers: Vec<(String, Vec<u8>)>,
}

impl Received {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.payload).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| String::from_utf8_lossy(value).into_owned())
    }
}

/// Reads a topic from its beginning.
pub struct Reader {
    consumer: StreamConsumer,
}

impl Reader {
    /// Waits (up to a minute) for the topic to exist, then reads all of its
    /// partitions from the beginning.
    pub async fn new(bootstrap: &str, topic: &str) -> Reader {
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", format!("{topic}-reader"))
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("log_level", "3")
            .create()
            .expect("consumer");
        let deadline = Instant::now() + Duration::from_secs(60);
        let partitions = loop {
            if let Ok(metadata) = consumer.fetch_metadata(Some(topic), Duration::from_secs(2)) {
                let found = metadata
                    .topics()
                    .iter()
                    .find(|t| t.name() == topic && t.error().is_none())
                    .map(|t| t.partitions().len())
                    .unwrap_or(0);
                if found > 0 {
                    break found;
                }
            }
            assert!(
                Instant::now() < deadline,
                "topic {topic} was not created within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let mut assignment = TopicPartitionList::new();
        for partition in 0..partitions {
            assignment
                .add_partition_offset(topic, partition as i32, Offset::Beginning)
                .expect("partition offset");
        }
        consumer.assign(&assignment).expect("assign partitions");
        Reader { consumer }
    }

    /// Exactly the next `count` records; fails if they do not come within
    /// `within`.
    pub async fn read(&self, count: usize, within: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + within;
        let mut records = Vec::with_capacity(count);
        while records.len() < count {
            match tokio::time::timeout_at(deadline, self.consumer.recv()).await {
                Ok(Ok(message)) => records.push(received(&message)),
                Ok(Err(error)) => panic!("consumer error: {error}"),
                Err(_) => panic!(
                    "expected {count} records within {within:?}, got {}: {:?}",
                    records.len(),
                    records.iter().map(Received::text).collect::<Vec<_>>()
                ),
            }
        }
        records
    }

    /// Whatever arrives within `wait`: used to show nothing more comes.
    pub async fn read_rest(&self, wait: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut records = Vec::new();
        while let Ok(message) = tokio::time::timeout_at(deadline, self.consumer.recv()).await {
            records.push(received(&message.expect("consumer error")));
        }
        records
    }
}

fn received(message: &rdkafka::message::BorrowedMessage<'_>) -> Received {
    let headers = message
        .headers()
        .map(|headers| {
            headers
                .iter()
                .map(|h| (h.key.to_owned(), h.value.unwrap_or_default().to_vec()))
                .collect()
        })
        .unwrap_or_default();
    Received {
        key: message.key().map(<[u8]>::to_vec),
        payload: message.payload().unwrap_or_default().to_vec(),
        headers,
    }
}

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
