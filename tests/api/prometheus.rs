//! Prometheus metrics as an operator scrapes them: the api's `/metrics`
//! after real traffic, and the processor's own listener after real
//! indexing; both in the text exposition format that `promtool check
//! metrics` (Debian's `prometheus` package; scripts/test.sh installs it)
//! accepts, with labels that are route templates, never raw paths.

use crate::common::{logflow, metric_value, run_ok, spawn, wait_until};
use crate::harness::{bare_api, Db, TestApi};
use logflow_testkit::{free_port, unique_topic, Broker};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Runs `promtool check metrics` on `text`; panics with its complaints.
fn promtool_accepts(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian's prometheus package) is installed; scripts/test.sh installs it");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn scrape(url: &str) -> String {
    let r = reqwest::get(url).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    r.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_counts_requests_by_route_logins_and_the_cache() {
    let (api, _dir) = bare_api(Db::Sqlite).await;
    let admin = api.admin_token().await;
    let wrong = api
        .req(Method::POST, "/api/v1/auth/login", None)
        .json(&json!({"username": "admin", "password": "not-it"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    for _ in 0..3 {
        api.get("/api/v1/metrics/overview?window=15m", &admin)
            .send()
            .await
            .unwrap();
    }
    let missing = api
        .get("/api/v1/logs/no-such-record-7f3a", &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    api.req(Method::GET, "/not/a/route/9c2e", None)
        .send()
        .await
        .unwrap();
    api.req(Method::GET, "/api-docs/openapi.json", None)
        .send()
        .await
        .unwrap();

    let text = scrape(&api.url("/metrics")).await;
    let series = |s: &str| metric_value(&text, s).unwrap_or_else(|| panic!("no {s} in:\n{text}"));
    assert_eq!(
        series(
            r#"http_requests_total{method="GET",endpoint="/api/v1/metrics/overview",status="200"}"#
        ),
        3.0
    );
    assert_eq!(
        series(r#"http_requests_total{method="POST",endpoint="/api/v1/auth/login",status="401"}"#),
        1.0
    );
    assert_eq!(
        series(r#"http_requests_total{method="GET",endpoint="/api/v1/logs/{id}",status="404"}"#),
        1.0
    );
    assert_eq!(
        series(r#"http_requests_total{method="GET",endpoint="unmatched",status="404"}"#),
        1.0
    );
    assert_eq!(
        series(
            r#"http_requests_total{method="GET",endpoint="/api-docs/openapi.json",status="200"}"#
        ),
        1.0,
        "Swagger UI's routes are labelled too"
    );
    assert!(
        !text.contains("no-such-record-7f3a") && !text.contains("9c2e"),
        "raw paths are never labels"
    );
    assert_eq!(
        series(
            r#"http_request_duration_seconds_count{method="GET",endpoint="/api/v1/metrics/overview"}"#
        ),
        3.0
    );
    assert!(text.contains(r#"http_request_duration_seconds_bucket{method="GET",endpoint="/api/v1/metrics/overview",le="0.005"}"#));
    assert_eq!(series(r#"auth_attempts_total{result="failure"}"#), 1.0);
    assert!(series(r#"auth_attempts_total{result="success"}"#) >= 1.0);
    assert_eq!(series("cache_misses_total"), 1.0);
    assert_eq!(series("cache_hits_total"), 2.0);
    assert!(series(r#"store_queries_total{operation="get"}"#) >= 1.0);
    assert!(series(r#"database_queries_total{operation="user by username"}"#) >= 1.0);
    promtool_accepts(&text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_processor_serves_its_counts_on_its_own_listener() {
    let broker = Broker::start().await;
    let topic = unique_topic("prom");
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut processor = logflow("processor", &broker, &topic, dir.path());
    processor
        .arg("processor")
        .env("LOGFLOW_METRICS_ADDR", format!("127.0.0.1:{port}"))
        .env("LOGFLOW_CONSUMER_GROUP", format!("{topic}-processor"))
        .env("LOGFLOW_BATCH_WAIT", "100ms");
    let _processor = spawn("processor", processor);
    let mut gen = logflow("generator", &broker, &topic, dir.path());
    gen.args([
        "generator",
        "--count",
        "500",
        "--rate",
        "0",
        "--services",
        "cart,pay",
    ]);
    run_ok("generator", gen);

    let url = format!("http://127.0.0.1:{port}/metrics");
    let text = wait_until("all 500 counted", Duration::from_secs(60), || async {
        let text = match reqwest::get(&url).await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        (
            metric_value(&text, "logs_processed_total") == Some(500.0),
            text,
        )
    })
    .await;
    let indexed: f64 = text
        .lines()
        .filter(|l| l.starts_with("logs_indexed_total{"))
        .map(|l| l.rsplit_once(' ').unwrap().1.parse::<f64>().unwrap())
        .sum();
    assert_eq!(indexed, 500.0, "{text}");
    assert!(
        text.contains(r#"logs_indexed_total{service="cart",level="INFO"}"#),
        "{text}"
    );
    assert!(
        text.contains(r#"store_queries_total{operation="write"}"#),
        "{text}"
    );
    promtool_accepts(&scrape(&url).await);

    // The api reads the processors' consumer lag from Kafka at each scrape:
    // one gauge per partition, all 0 once every batch is committed.
    let api = TestApi::start(Db::Sqlite, dir.path(), &broker.bootstrap(), &topic).await;
    let lags = wait_until("the lag to reach 0", Duration::from_secs(30), || async {
        let text = scrape(&api.url("/metrics")).await;
        let lags: Vec<(String, f64)> = text
            .lines()
            .filter(|l| l.starts_with("kafka_consumer_lag{"))
            .map(|l| {
                let (series, v) = l.rsplit_once(' ').unwrap();
                (series.to_string(), v.parse().unwrap())
            })
            .collect();
        (
            !lags.is_empty() && lags.iter().all(|(_, v)| *v == 0.0),
            lags,
        )
    })
    .await;
    assert_eq!(lags.len(), 3, "the topic's three partitions: {lags:?}");
    assert!(
        lags[0].0.contains(&format!("topic=\"{topic}\"")),
        "{lags:?}"
    );
}
