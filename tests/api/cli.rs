//! `logflow api` and `logflow standalone` as operators start them.

use crate::common::{logflow, spawn, wait_until, Proc};
use crate::harness::ADMIN_PASSWORD;
use logflow_testkit::{free_port, unique_topic, Broker};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn api_cmd(broker: &Broker, topic: &str, dir: &Path, port: u16) -> Command {
    let mut cmd = logflow("api", broker, topic, dir);
    cmd.arg("api")
        .env("LOGFLOW_API_ADDR", format!("127.0.0.1:{port}"))
        .env("LOGFLOW_BCRYPT_COST", "4")
        .env_remove("SECRET_KEY")
        .env_remove("DATABASE_URL")
        .env_remove("LOGFLOW_ADMIN_PASSWORD");
    cmd
}

/// `logflow standalone` on a free port with the test admin, `env` set
/// beside; returns once it answers, with its base URL.
pub(crate) async fn start_standalone(
    broker: &Broker,
    topic: &str,
    dir: &Path,
    env: &[(&str, &str)],
) -> (Proc, String) {
    let port = free_port();
    let mut cmd = logflow("standalone", broker, topic, dir);
    cmd.arg("standalone")
        .env("LOGFLOW_API_ADDR", format!("127.0.0.1:{port}"))
        .env("LOGFLOW_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("LOGFLOW_BCRYPT_COST", "4")
        .env("LOGFLOW_BATCH_WAIT", "100ms")
        .env_remove("DATABASE_URL")
        .envs(env.iter().copied());
    let standalone = spawn("standalone", cmd);
    let base = format!("http://127.0.0.1:{port}");
    wait_for_health(&base).await;
    (standalone, base)
}

/// The test admin's bearer token from the api at `base`.
pub(crate) async fn admin_token(base: &str) -> String {
    let token: Value = reqwest::Client::new()
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    token["access_token"].as_str().unwrap().to_string()
}

async fn wait_for_health(base: &str) {
    let http = reqwest::Client::new();
    wait_until("the api to listen", Duration::from_secs(30), || async {
        let r = http.get(format!("{base}/health")).send().await;
        (r.is_ok(), r.err().map(|e| e.to_string()))
    })
    .await;
}

async fn login(base: &str, username: &str, password: &str) -> StatusCode {
    reqwest::Client::new()
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn first_start_prints_a_generated_admin_password_once() {
    let broker = Broker::start().await;
    let topic = unique_topic("api-cli");
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let log = dir.path().join("api.log");

    let mut api = spawn("api", api_cmd(&broker, &topic, dir.path(), port));
    wait_for_health(&base).await;
    let text = std::fs::read_to_string(&log).unwrap();
    let password = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("password: "))
        .unwrap_or_else(|| panic!("no generated password in:\n{text}"))
        .to_string();
    assert!(password.len() >= 20, "{password}");
    assert!(
        text.contains("SECRET_KEY is not set"),
        "the random-key warning is missing:\n{text}"
    );
    assert!(text.contains("DATABASE_URL is not set"), "{text}");
    assert_eq!(login(&base, "admin", &password).await, 200);
    assert!(
        dir.path().join("logflow.db").exists(),
        "SQLite lives in the data dir"
    );
    api.terminate();

    // Second start: the admin exists, nothing is printed, the password holds.
    std::fs::remove_file(&log).unwrap();
    let _api = spawn("api", api_cmd(&broker, &topic, dir.path(), port));
    wait_for_health(&base).await;
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("password: "), "printed again:\n{text}");
    assert_eq!(login(&base, "admin", &password).await, 200);
}

#[tokio::test]
async fn unsafe_settings_stop_the_start_with_a_clear_error() {
    let broker = Broker::start().await;
    let dir = tempfile::tempdir().unwrap();
    // Exit 1 for a setting refused at start, 2 (clap's usage error) for a
    // value that does not parse.
    for (var, value, code, expect) in [
        (
            "LOGFLOW_ADMIN_PASSWORD",
            "admin123",
            1,
            "LOGFLOW_ADMIN_PASSWORD is too weak",
        ),
        (
            "SECRET_KEY",
            "changeme",
            1,
            "SECRET_KEY must be at least 32 bytes",
        ),
        (
            "DATABASE_URL",
            "mysql://db/logflow",
            1,
            "unsupported database URL scheme",
        ),
        ("REDIS_URL", "http://cache:6379", 1, "invalid REDIS_URL"),
        (
            "RATE_LIMIT_LOGIN",
            "lots",
            2,
            "--rate-limit-login <RATE_LIMIT_LOGIN>': invalid rate \"lots\"",
        ),
        (
            "TRUSTED_PROXIES",
            "10.0.0.0/8,proxy.local",
            2,
            "invalid trusted proxy \"proxy.local\"",
        ),
        (
            "CACHE_TTL_OVERVIEW",
            "soon",
            2,
            "--cache-ttl-overview <CACHE_TTL_OVERVIEW>': invalid TTL \"soon\"",
        ),
    ] {
        let mut cmd = api_cmd(&broker, "t", dir.path(), free_port());
        cmd.env(var, value).stderr(std::process::Stdio::piped());
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{var}={value}: {stderr}");
        assert!(stderr.contains(expect), "{var}={value}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[tokio::test]
async fn standalone_indexes_and_serves_in_one_process() {
    let broker = Broker::start().await;
    let topic = unique_topic("standalone");
    let dir = tempfile::tempdir().unwrap();
    let (mut standalone, base) = start_standalone(&broker, &topic, dir.path(), &[]).await;

    let mut gen = logflow("generator", &broker, &topic, dir.path());
    gen.args(["generator", "--count", "300", "--rate", "100000"]);
    crate::common::run_ok("generator", gen);

    let http = reqwest::Client::new();
    let token = admin_token(&base).await;
    let total = wait_until(
        "the api to see all 300 records",
        Duration::from_secs(60),
        || async {
            let body: Value = http
                .get(format!("{base}/api/v1/logs/search?limit=1"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            (body["total"] == 300, body["total"].clone())
        },
    )
    .await;
    assert_eq!(total, 300);
    let status = standalone.terminate();
    assert!(status.success(), "standalone exited with {status}");
}

#[tokio::test]
async fn alerting_refuses_a_bad_interval() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_logflow"))
        .arg("alerting")
        .env("LOGFLOW_DATA_DIR", dir.path())
        .env("ALERT_CHECK_INTERVAL", "0s")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("invalid interval \"0s\""), "{stderr}");
}
