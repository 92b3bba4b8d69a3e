//! Redis for tests: the shared server (`LOGFLOW_TEST_REDIS_URL`, default
//! the machine's 127.0.0.1:6379) under a key prefix of one test's own,
//! deleted when the guard drops; or a `redis-server` of the test's own on
//! its own port, which the test can stop and start again to see what an
//! outage does.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

pub fn redis_url() -> String {
    std::env::var("LOGFLOW_TEST_REDIS_URL").unwrap_or_else(|_| DEFAULT_REDIS_URL.to_string())
}

/// A key prefix no other test uses; its keys are deleted on drop.
pub struct RedisPrefix {
    pub prefix: String,
}

impl RedisPrefix {
    pub fn new(name: &str) -> RedisPrefix {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        RedisPrefix {
            prefix: format!(
                "test:{name}:{}:{}:",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ),
        }
    }
}

impl Drop for RedisPrefix {
    fn drop(&mut self) {
        // redis-cli does the SCAN; Drop cannot await.
        let script = format!(
            "redis-cli -u \"$0\" --scan --pattern '{}*' | xargs -r redis-cli -u \"$0\" unlink >/dev/null",
            self.prefix
        );
        let cleaned = Command::new("sh")
            .args(["-c", &script, &redis_url()])
            .status();
        if !cleaned.is_ok_and(|s| s.success()) {
            eprintln!("could not delete the test keys under {}", self.prefix);
        }
    }
}

/// A `redis-server` of one test's own on a fixed port (so it can come back
/// at the same address), keeping nothing on disk; killed on drop.
pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        let mut server = RedisServer {
            port: crate::free_port(),
            child: None,
        };
        server.resume();
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (as an outage would).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on its port and waits until it answers.
    pub fn resume(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("redis-server must be installed (scripts/test.sh checks)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
