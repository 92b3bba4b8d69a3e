//! The one test harness for tests that need a Kafka-protocol broker: tansu
//! with in-memory storage on a free port (killed on drop), unique topic
//! names so tests run in parallel, and a [`Reader`] that reads a topic back
//! from its beginning.
//!
//! A missing tansu fails the test loudly: broker tests never skip
//! (`scripts/test.sh` installs it). PostgreSQL tests get a schema of their
//! own from [`PgSchema`]; Redis tests a key prefix ([`RedisPrefix`]) or a
//! server of their own ([`RedisServer`]). Webhook receivers are a
//! [`Receiver`].

mod postgres;
mod receiver;
mod redis;
pub use postgres::{pg_base_url, PgSchema};
pub use receiver::{Answer, Receiver, Request};
pub use redis::{redis_url, RedisPrefix, RedisServer};

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use tempfile::TempDir;
use tokio::time::Instant;

/// A tansu broker for one test, killed when dropped.
pub struct Broker {
    child: Child,
    port: u16,
    /// Holds tansu's stderr, so a broker that fails at start-up says why.
    _log_dir: TempDir,
}

impl Broker {
    /// A broker on a free port.
    pub async fn start() -> Broker {
        Broker::start_on(free_port()).await
    }

    /// A broker on `port`, for tests that point a client at the port before
    /// the broker is up.
    pub async fn start_on(port: u16) -> Broker {
        let bin = tansu_bin();
        let log_dir = tempfile::tempdir().expect("temp dir for the broker log");
        let log_path = log_dir.path().join("tansu.log");
        let log = std::fs::File::create(&log_path).expect("broker log file");
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(&bin)
            .args(["broker", "--storage-engine", "memory://tansu/"])
            .args(["--listener-url", &url, "--advertised-listener-url", &url])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start the tansu broker {} ({e}): broker tests need it and never skip; \
                     run scripts/test.sh, `cargo install tansu`, or set TANSU_BIN",
                    bin.display()
                )
            });
        // Built before waiting so that a failed wait still kills the child.
        let mut broker = Broker {
            child,
            port,
            _log_dir: log_dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = broker.child.try_wait() {
                panic!(
                    "tansu exited at start-up with {status}:\n{}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "tansu did not listen on port {port} within 30 s:\n{}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        broker
    }

    /// The `bootstrap.servers` value for this broker.
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

/// `$TANSU_BIN`, else `~/.cargo/bin/tansu` (where `cargo install` puts it,
/// often not on the PATH of a test run), else `tansu` on the PATH.
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

/// A free TCP port on the loopback interface.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("no free port on 127.0.0.1")
}

/// A topic name no other test uses, so tests can share a broker or run in
/// parallel without reading each other's records.
pub fn unique_topic(name: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "test-{name}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// One record as read back from Kafka, owned so tests can keep it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    pub headers: Vec<(String, Vec<u8>)>,
}

impl Received {
    /// The payload as text (lossy, so bad bytes still show in a failure).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.payload).into_owned()
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| String::from_utf8_lossy(value).into_owned())
    }
}

impl From<&BorrowedMessage<'_>> for Received {
    fn from(message: &BorrowedMessage<'_>) -> Received {
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
}

/// Reads a topic from its beginning.
///
/// Partitions are assigned directly rather than joined through a consumer
/// group: no rebalance to wait for, and nothing committed, so every reader
/// sees the whole topic.
pub struct Reader {
    consumer: StreamConsumer,
    topic: String,
}

impl Reader {
    /// Waits (up to a minute) for the topic to exist, since the code under
    /// test usually creates it, then reads all of its partitions from the
    /// beginning.
    pub async fn new(bootstrap: &str, topic: &str) -> Reader {
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", format!("{topic}-reader"))
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            // Errors only: the retries while the topic is missing are noise.
            .set("log_level", "3")
            .create()
            .expect("test consumer");
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
            let partition = i32::try_from(partition).expect("partition count fits i32");
            assignment
                .add_partition_offset(topic, partition, Offset::Beginning)
                .expect("partition offset");
        }
        consumer.assign(&assignment).expect("assign partitions");
        Reader {
            consumer,
            topic: topic.to_string(),
        }
    }

    /// The next record, or `None` once `deadline` has passed.
    pub async fn try_next(&self, deadline: Instant) -> Option<Received> {
        match tokio::time::timeout_at(deadline, self.consumer.recv()).await {
            Ok(Ok(message)) => Some(Received::from(&message)),
            Ok(Err(error)) => panic!("reading {}: {error}", self.topic),
            Err(_) => None,
        }
    }

    /// Exactly the next `count` records; fails if they do not come within
    /// `within`.
    pub async fn read(&self, count: usize, within: Duration) -> Vec<Received> {
        let deadline = Instant::now() + within;
        let mut records = Vec::with_capacity(count);
        while records.len() < count {
            match self.try_next(deadline).await {
                Some(record) => records.push(record),
                None => panic!(
                    "expected {count} records from {} within {within:?}, got {}: {:?}",
                    self.topic,
                    records.len(),
                    records.iter().map(Received::text).collect::<Vec<_>>()
                ),
            }
        }
        records
    }

    /// Whatever arrives within `quiet`: used to show nothing more comes.
    pub async fn read_rest(&self, quiet: Duration) -> Vec<Received> {
        let deadline = Instant::now() + quiet;
        let mut records = Vec::new();
        while let Some(record) = self.try_next(deadline).await {
            records.push(record);
        }
        records
    }
}
