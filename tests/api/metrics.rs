//! The metrics routes report exact numbers for the known dataset
//! (`harness::dataset`), computed by the store's aggregations.

use crate::common::wait_until;
use crate::harness::{dataset, Db, Pipeline};
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_report_exact_numbers_for_a_known_dataset() {
    let records = dataset(Utc::now());
    let pipeline = Pipeline::with(&records).await;
    let api = pipeline.api(Db::Postgres).await;
    let token = api.user_token("ada").await;
    let t = token.as_str();

    let o = api
        .get_json("/api/v1/metrics/overview", t, StatusCode::OK)
        .await;
    assert_eq!(o["window"]["seconds"], 3600);
    assert_eq!(o["total_logs"], 95);
    assert_eq!(o["error_count"], 11);
    assert_close(&o["error_rate"], 11.0 / 95.0);
    assert_close(&o["logs_per_minute"], 95.0 / 60.0);
    assert_close(&o["logs_per_second"], 95.0 / 3600.0);
    assert_eq!(
        o["by_level"],
        json!({"CRITICAL": 1, "DEBUG": 10, "ERROR": 10, "INFO": 72, "WARN": 2})
    );
    assert_eq!(o["active_services"], 3);
    assert_eq!(
        o["services"],
        json!([{"key": "checkout", "count": 50}, {"key": "payment", "count": 26}, {"key": "auth", "count": 19}])
    );
    let top: Vec<(String, u64)> = o["top_errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["key"].as_str().unwrap().to_string(),
                e["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        &top[..2],
        &[
            ("gateway timeout".to_string(), 5),
            ("card declined".to_string(), 4)
        ]
    );
    assert_eq!(top.len(), 4, "{top:?}");

    let day = api
        .get_json("/api/v1/metrics/overview?window=24h", t, StatusCode::OK)
        .await;
    assert_eq!(
        (day["total_logs"].as_u64(), day["active_services"].as_u64()),
        (Some(100), Some(4))
    );
    for bad in ["window=forever", "window=0s", "window=400d"] {
        let body = api
            .get_json(
                &format!("/api/v1/metrics/overview?{bad}"),
                t,
                StatusCode::BAD_REQUEST,
            )
            .await;
        assert_eq!(body["detail"]["parameter"], "window", "{bad}");
    }

    let s = api
        .get_json("/api/v1/metrics/service/payment", t, StatusCode::OK)
        .await;
    assert_eq!(s["service"], "payment");
    assert_eq!(s["total_logs"], 26);
    assert_eq!(s["error_count"], 5);
    assert_eq!(
        s["by_level"],
        json!({"CRITICAL": 1, "ERROR": 4, "INFO": 21})
    );
    assert_eq!(
        s["top_errors"][0],
        json!({"key": "gateway timeout", "count": 3})
    );
    let batch = api
        .get_json("/api/v1/metrics/service/batch", t, StatusCode::OK)
        .await;
    assert_eq!(
        batch["total_logs"], 0,
        "batch logged, but not in the last hour"
    );
    api.get_json("/api/v1/metrics/service/nobody", t, StatusCode::NOT_FOUND)
        .await;

    // Timeseries: every 10-minute bucket of the hour, zeros included, each
    // holding exactly the dataset's records that fall in it.
    let ts = api
        .get_json(
            "/api/v1/metrics/timeseries?interval=10m&window=1h",
            t,
            StatusCode::OK,
        )
        .await;
    assert_eq!(ts["interval_seconds"], 600);
    let buckets = ts["buckets"].as_array().unwrap();
    assert!(
        (6..=7).contains(&buckets.len()),
        "{} buckets",
        buckets.len()
    );
    let mut sum = 0;
    for b in buckets {
        let start: DateTime<Utc> = b["start"].as_str().unwrap().parse().unwrap();
        assert_eq!(start.timestamp() % 600, 0, "buckets align to the interval");
        let end = start + chrono::Duration::minutes(10);
        let want = records
            .iter()
            .filter(|r| r.at >= start && r.at < end)
            .count() as u64;
        let errors = records
            .iter()
            .filter(|r| r.at >= start && r.at < end && r.level == "ERROR")
            .count() as u64;
        assert_eq!(b["count"].as_u64(), Some(want), "bucket {start}");
        assert_eq!(
            b["by_level"]["ERROR"].as_u64().unwrap_or(0),
            errors,
            "bucket {start}"
        );
        sum += want;
    }
    assert_eq!(sum, 95);
    let only = api
        .get_json(
            "/api/v1/metrics/timeseries?interval=1h&window=1h&service=auth",
            t,
            StatusCode::OK,
        )
        .await;
    let n: u64 = only["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_u64().unwrap())
        .sum();
    assert_eq!(n, 19);
    for (bad, param) in [
        ("interval=1s&window=7d", "interval"),
        ("interval=soon", "interval"),
        ("window=x", "window"),
    ] {
        let body = api
            .get_json(
                &format!("/api/v1/metrics/timeseries?{bad}"),
                t,
                StatusCode::BAD_REQUEST,
            )
            .await;
        assert_eq!(body["detail"]["parameter"], param, "{bad}: {body}");
    }

    // System: the processors have committed all 100 records, so the
    // committed offsets and the ends of the partitions both add up to 100
    // and the lag is zero. (tansu's own high watermarks would add up to
    // less: the api reads each partition's last batch to find its end.)
    let committed = |s: &Value| -> i64 {
        s["ingest"]["partitions"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .filter_map(|p| p["committed_offset"].as_i64())
                    .sum()
            })
            .unwrap_or(0)
    };
    let system = wait_until(
        "the processor to commit its offsets",
        Duration::from_secs(30),
        || async {
            let s = api
                .get_json("/api/v1/metrics/system", t, StatusCode::OK)
                .await;
            (committed(&s) == 100, s)
        },
    )
    .await;
    assert_eq!(system["store"]["documents"], 100);
    assert!(system["store"]["size_bytes"].as_u64().unwrap() > 0);
    let partitions = system["ingest"]["partitions"].as_array().unwrap();
    assert_eq!(partitions.len(), 2);
    let ends: i64 = partitions
        .iter()
        .map(|p| p["high_watermark"].as_i64().unwrap())
        .sum();
    assert_eq!(ends, 100);
    assert_eq!(system["ingest"]["total_lag"], 0);
    assert_eq!(system["ingest"]["topic"], pipeline.topic.as_str());
    assert!(system["process"]["memory_rss_bytes"].as_u64().unwrap() > 1_000_000);
    assert_eq!(system["database"], "postgres");
}

fn assert_close(value: &Value, want: f64) {
    let got = value.as_f64().unwrap_or(f64::NAN);
    assert!((got - want).abs() < 1e-9, "{got} != {want}");
}
