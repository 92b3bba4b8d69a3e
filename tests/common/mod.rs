//! The end-to-end harness: temp data dirs and the `logflow` binary run as a
//! real process, so each test reads as a user's story in a few lines. The
//! broker (tansu, in memory, on a random port), unique topics and the topic
//! reader come from `logflow-testkit`, shared with the shipper's tests.

use logflow_core::LogFilter;
use logflow_store::tantivy_store::{OpenMode, TantivyStore};
use logflow_store::LogStore;
use logflow_testkit::Broker;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `logflow` process, SIGKILLed when dropped. When a test fails,
/// the end of the process's own log is printed, for the post-mortem the
/// deleted temp dir would otherwise take with it.
pub struct Proc {
    pub child: Child,
    pub name: String,
    log: Option<PathBuf>,
}

impl Proc {
    /// Kills the process at once (SIGKILL), as a crash would.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits for a clean exit (finishing the batch in
    /// hand and leaving the consumer group can take a few seconds).
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit within 60 s of SIGTERM",
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
        if std::thread::panicking() {
            if let Some(text) = self
                .log
                .as_ref()
                .and_then(|p| std::fs::read_to_string(p).ok())
            {
                let lines: Vec<&str> = text.lines().collect();
                let tail = &lines[lines.len().saturating_sub(40)..];
                eprintln!("--- last lines of {} ---\n{}", self.name, tail.join("\n"));
            }
        }
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
    cmd.env("KAFKA_BOOTSTRAP_SERVERS", broker.bootstrap())
        .env("KAFKA_TOPIC", topic)
        .env("LOGFLOW_DATA_DIR", data_dir)
        .env("LOG_LEVEL", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    cmd
}

pub fn spawn(name: &str, mut cmd: Command) -> Proc {
    let log = cmd
        .get_envs()
        .find(|(key, _)| *key == "LOGFLOW_DATA_DIR")
        .and_then(|(_, dir)| dir)
        .map(|dir| Path::new(dir).join(format!("{name}.log")));
    Proc {
        child: cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}")),
        name: name.to_string(),
        log,
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
/// A read racing the writer's segment clean-up is retried; an error that
/// persists fails the test with the error itself.
pub async fn stored_count(data_dir: &Path) -> u64 {
    let dir = data_dir.join("indexes");
    if !dir.exists() {
        return 0;
    }
    let mut last_error = String::new();
    for _ in 0..20 {
        let counted = match TantivyStore::open(&dir, OpenMode::ReadOnly) {
            Ok(store) => store.count(&LogFilter::default()).await,
            Err(err) => Err(err),
        };
        match counted {
            Ok(n) => return n,
            Err(err) => last_error = err.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "cannot count the records in {}: {last_error}",
        dir.display()
    );
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

/// The value of the series `name{labels}` (labels exactly as rendered) in
/// a Prometheus text answer, or `None` when it is not there.
pub fn metric_value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| {
            v.trim()
                .parse()
                .unwrap_or_else(|e| panic!("{series} has no number: {v:?} ({e})"))
        })
}
