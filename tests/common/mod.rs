//! The test harness: a real Kafka-protocol broker (tansu, in memory, on a
//! random port), temp data dirs, and the `logflow` binary run as a real
//! process, so each test reads as a user's story in a few lines.
#![allow(dead_code)] // each test file uses a different part of the harness

use logflow_core::LogFilter;
use logflow_store::tantivy_store::{OpenMode, TantivyStore};
use logflow_store::LogStore;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::OwnedMessage;
use rdkafka::Message;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A free TCP port on the loopback interface.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port on 127.0.0.1")
}

/// The tansu binary: `$TANSU_BIN`, else `~/.cargo/bin/tansu`, else PATH.
/// A missing broker fails the test loudly (scripts/test.sh installs it).
fn tansu_bin() -> PathBuf {
    if let Ok(bin) = std::env::var("TANSU_BIN") {
        return bin.into();
    }
    let cargo_bin =
        PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cargo/bin/tansu");
    if cargo_bin.exists() {
        return cargo_bin;
    }
    PathBuf::from("tansu")
}

/// A tansu broker for one test, killed when dropped.
pub struct Broker {
    child: Child,
    pub bootstrap: String,
    _log_dir: tempfile::TempDir,
}

impl Broker {
    pub fn start() -> Broker {
        let port = free_port();
        let log_dir = tempfile::tempdir().expect("temp dir");
        let log = std::fs::File::create(log_dir.path().join("tansu.log")).expect("broker log file");
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(tansu_bin())
            .args(["broker", "--storage-engine", "memory://tansu/"])
            .args(["--listener-url", &url, "--advertised-listener-url", &url])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start tansu ({}): {e}; run scripts/test.sh, which installs it",
                    tansu_bin().display()
                )
            });
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "tansu did not listen on port {port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Broker {
            child,
            bootstrap: format!("127.0.0.1:{port}"),
            _log_dir: log_dir,
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A topic name no other test uses.
pub fn unique_topic(name: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "test.{name}.{}.{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A running `logflow` process, SIGKILLed when dropped.
pub struct Proc {
    pub child: Child,
    pub name: String,
}

impl Proc {
    /// Kills the process at once (SIGKILL), as a crash would.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit within 30 s of SIGTERM",
                self.name
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `logflow` command with the broker, topic and data dir set, logging
/// to `<data_dir>/<name>.log` for post-mortems.
pub fn logflow(name: &str, broker: &Broker, topic: &str, data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_logflow"));
    std::fs::create_dir_all(data_dir).expect("data dir");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(data_dir.join(format!("{name}.log")))
        .expect("process log file");
    cmd.env("KAFKA_BOOTSTRAP_SERVERS", &broker.bootstrap)
        .env("KAFKA_TOPIC", topic)
        .env("LOGFLOW_DATA_DIR", data_dir)
        .env("LOG_LEVEL", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    cmd
}

pub fn spawn(name: &str, mut cmd: Command) -> Proc {
    Proc {
        child: cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}")),
        name: name.to_string(),
    }
}

/// Runs to completion and asserts success.
pub fn run_ok(name: &str, mut cmd: Command) {
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run {name}: {e}"));
    assert!(status.success(), "{name} failed: {status}");
}

/// Records in the store under `data_dir`, read as another process would.
pub async fn stored_count(data_dir: &Path) -> u64 {
    let dir = data_dir.join("indexes");
    if !dir.exists() {
        return 0;
    }
    match TantivyStore::open(&dir, OpenMode::ReadOnly) {
        Ok(store) => store.count(&LogFilter::default()).await.unwrap_or(0),
        Err(_) => 0,
    }
}

/// Polls `check` until it returns true or `timeout` passes; panics with
/// `what` and the last observed value on timeout.
pub async fn wait_until<T: std::fmt::Debug, F, Fut>(
    what: &str,
    timeout: Duration,
    mut check: F,
) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = (bool, T)>,
{
    let deadline = Instant::now() + timeout;
    loop {
        let (done, value) = check().await;
        if done {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; last: {value:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Reads a topic from its start with a consumer group of its own.
pub struct TopicReader {
    consumer: StreamConsumer,
    topic: String,
}

impl TopicReader {
    pub fn new(broker: &Broker, topic: &str) -> TopicReader {
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", &broker.bootstrap)
            .set("group.id", unique_topic("reader"))
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .create()
            .expect("test consumer");
        consumer.subscribe(&[topic]).expect("subscribe");
        TopicReader {
            consumer,
            topic: topic.to_string(),
        }
    }

    /// The next message, or `None` once `deadline` passed.
    pub async fn try_next(&self, deadline: Instant) -> Option<OwnedMessage> {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, self.consumer.recv()).await {
            Ok(Ok(msg)) => Some(msg.detach()),
            Ok(Err(err)) => panic!("reading {}: {err}", self.topic),
            Err(_) => None,
        }
    }
}

/// Reads `expected` messages from the start of `topic` within `timeout`.
pub async fn read_topic(
    broker: &Broker,
    topic: &str,
    expected: usize,
    timeout: Duration,
) -> Vec<OwnedMessage> {
    let reader = TopicReader::new(broker, topic);
    let deadline = Instant::now() + timeout;
    let mut out = Vec::with_capacity(expected);
    while out.len() < expected {
        match reader.try_next(deadline).await {
            Some(msg) => out.push(msg),
            None => panic!(
                "read only {} of {expected} messages from {topic} in {timeout:?}",
                out.len()
            ),
        }
    }
    out
}

/// A header's value as text.
pub fn header(msg: &OwnedMessage, key: &str) -> Option<String> {
    use rdkafka::message::Headers;
    msg.headers()?
        .iter()
        .find(|h| h.key == key)
        .and_then(|h| h.value)
        .map(|v| String::from_utf8_lossy(v).into_owned())
}
