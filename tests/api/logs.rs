//! Search, recent, get, export and correlation over a store filled through
//! the real pipeline with the known dataset (see `harness::dataset`).

use crate::harness::{dataset, Db, Pipeline, TestApi};
use chrono::Utc;
use reqwest::StatusCode;
use serde_json::Value;
use std::collections::HashSet;

async fn total(api: &TestApi, token: &str, query: &str) -> u64 {
    let body = api
        .get_json(
            &format!("/api/v1/logs/search?{query}"),
            token,
            StatusCode::OK,
        )
        .await;
    body["total"].as_u64().unwrap()
}

async fn bad_param(api: &TestApi, token: &str, path: &str, param: &str) {
    let body = api.get_json(path, token, StatusCode::BAD_REQUEST).await;
    assert_eq!(body["detail"]["parameter"], param, "{path}: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_recent_get_export_and_trace() {
    let pipeline = Pipeline::with(&dataset(Utc::now())).await;
    let api = pipeline.api(Db::Sqlite).await;
    let token = api.user_token("ada").await;
    let t = token.as_str();

    // Filters, alone and combined.
    for (query, want) in [
        ("", 100),
        ("service=checkout", 50),
        ("service=checkout,payment", 76),
        ("service=checkout&service=payment", 76),
        ("level=error", 10),
        ("level=ERROR,critical", 11),
        ("level=fatal", 1),
        ("service=payment&level=ERROR", 4),
        ("query=%22gateway%20timeout%22", 5),
        ("query=declined%20OR%20unreachable", 5),
        ("host=auth-1", 19),
        ("correlation_id=flow-1", 5),
        ("from=1h", 95),
        ("from=4h&to=2h", 5),
        ("service=nope", 0),
    ] {
        assert_eq!(total(&api, t, query).await, want, "{query}");
    }
    let from = (Utc::now() - chrono::Duration::hours(4)).to_rfc3339();
    let to = (Utc::now() - chrono::Duration::hours(2)).to_rfc3339();
    let q = format!("from={}&to={}", urlencode(&from), urlencode(&to));
    assert_eq!(total(&api, t, &q).await, 5, "RFC 3339 bounds");

    // Bad parameters are 400s that name the parameter.
    let s = "/api/v1/logs/search";
    bad_param(&api, t, &format!("{s}?level=loud"), "level").await;
    bad_param(&api, t, &format!("{s}?from=yesterday"), "from").await;
    bad_param(&api, t, &format!("{s}?from=1h&to=2h"), "from").await;
    bad_param(&api, t, &format!("{s}?limit=0"), "limit").await;
    bad_param(&api, t, &format!("{s}?limit=1001"), "limit").await;
    bad_param(&api, t, &format!("{s}?cursor=garbage"), "cursor").await;
    bad_param(&api, t, &format!("{s}?query=%22unbalanced"), "query").await;
    let deep = "(".repeat(5_000);
    bad_param(
        &api,
        t,
        &format!("{s}?query={}", deep.replace('(', "%28")),
        "query",
    )
    .await;
    bad_param(
        &api,
        t,
        &format!("{s}?query={}", "x%20".repeat(1_100)),
        "query",
    )
    .await;
    let body = api
        .get_json("/api/v1/logs/%FF%FE", t, StatusCode::BAD_REQUEST)
        .await;
    assert_eq!(
        body["error"], "invalid path parameter",
        "invalid UTF-8 in a path"
    );
    api.get_json(&format!("{s}?limit=many"), t, StatusCode::BAD_REQUEST)
        .await;

    // Paging: every record exactly once, newest first across pages.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("{s}?limit=30&cursor={c}"),
            None => format!("{s}?limit=30"),
        };
        let page = api.get_json(&path, t, StatusCode::OK).await;
        assert_eq!(page["total"], 100);
        let hits = page["hits"].as_array().unwrap();
        assert_eq!(page["count"].as_u64().unwrap() as usize, hits.len());
        seen.extend(hits.iter().map(|h| {
            (
                h["timestamp"].as_str().unwrap().to_string(),
                h["id"].as_str().unwrap().to_string(),
            )
        }));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 100);
    assert_eq!(
        seen.iter().map(|(_, id)| id).collect::<HashSet<_>>().len(),
        100,
        "a record repeated"
    );
    assert!(
        seen.windows(2).all(|w| {
            let t = |s: &str| s.parse::<chrono::DateTime<Utc>>().unwrap();
            t(&w[0].0) >= t(&w[1].0)
        }),
        "not newest first"
    );

    // Recent: the newest records, optionally filtered.
    let recent = api
        .get_json("/api/v1/logs/recent?limit=5", t, StatusCode::OK)
        .await;
    let ids: Vec<&str> = recent["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap())
        .collect();
    let newest: Vec<&str> = seen[..5].iter().map(|(_, id)| id.as_str()).collect();
    assert_eq!(ids, newest);
    let recent = api
        .get_json(
            "/api/v1/logs/recent?service=auth&level=DEBUG",
            t,
            StatusCode::OK,
        )
        .await;
    assert_eq!(recent["count"], 10);
    assert!(recent["hits"]
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["service"] == "auth" && h["level"] == "DEBUG"));
    bad_param(&api, t, "/api/v1/logs/recent?limit=5000", "limit").await;

    // One record by id.
    let id = &seen[0].1;
    let log = api
        .get_json(&format!("/api/v1/logs/{id}"), t, StatusCode::OK)
        .await;
    assert_eq!(log["id"], id.as_str());
    assert!(log["message"].is_string() && log["service"].is_string());
    for missing in [
        format!("{}-0-999999", pipeline.topic),
        "not-an-id".to_string(),
    ] {
        let body = api
            .get_json(&format!("/api/v1/logs/{missing}"), t, StatusCode::NOT_FOUND)
            .await;
        assert!(
            body["error"].as_str().unwrap().contains("no log with id"),
            "{body}"
        );
    }

    export(&api, t).await;
    correlation(&api, t).await;
}

async fn export(api: &TestApi, t: &str) {
    let get = |q: &str| api.get(&format!("/api/v1/logs/export?{q}"), t).send();

    let r = get("format=csv").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("logflow-export.csv"));
    let text = r.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "id",
            "timestamp",
            "service",
            "level",
            "host",
            "correlation_id",
            "trace_id",
            "message",
            "fields"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 100);
    let tricky: Vec<_> = rows
        .iter()
        .filter(|r| &r[7] == "he said \"hi\", then\nleft")
        .collect();
    assert_eq!(tricky.len(), 1, "commas, quotes and newlines survive CSV");
    assert_eq!(&tricky[0][2], "checkout");

    let r = get("format=json&service=auth").await.unwrap();
    assert_eq!(r.headers()["content-type"], "application/json");
    let all: Vec<Value> = r.json().await.unwrap();
    assert_eq!(all.len(), 19);
    assert!(all.iter().all(|l| l["service"] == "auth"));

    let r = get("format=ndjson&level=ERROR").await.unwrap();
    assert_eq!(r.headers()["content-type"], "application/x-ndjson");
    let text = r.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 10);

    let r = get("format=json&limit=7").await.unwrap();
    assert_eq!(r.json::<Vec<Value>>().await.unwrap().len(), 7);
    let r = get("format=json&service=nope").await.unwrap();
    assert_eq!(
        r.json::<Vec<Value>>().await.unwrap().len(),
        0,
        "an empty export is still valid JSON"
    );
    // Exports longer than one store page are covered in the api crate's
    // export tests (2,500 records).
    for bad in ["format=xml", "limit=0", "limit=1000001", "level=loud"] {
        let r = get(bad).await.unwrap();
        assert_eq!(r.status(), 400, "{bad}");
    }
}

async fn correlation(api: &TestApi, t: &str) {
    let flow = api
        .get_json("/api/v1/correlation/trace/flow-1", t, StatusCode::OK)
        .await;
    let messages: Vec<&str> = flow["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages,
        [
            "flow: request received",
            "flow: token verified",
            "flow: charge started",
            "flow: charge retried",
            "flow: response sent"
        ],
        "oldest first"
    );
    assert_eq!(
        (
            flow["total_records"].as_u64(),
            flow["duration_ms"].as_i64(),
            flow["truncated"].as_bool()
        ),
        (Some(5), Some(450), Some(false))
    );
    let services: Vec<(&str, u64, u64, i64)> = flow["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["service"].as_str().unwrap(),
                s["records"].as_u64().unwrap(),
                s["errors"].as_u64().unwrap(),
                s["duration_ms"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        services,
        [
            ("checkout", 2, 0, 450),
            ("auth", 1, 0, 0),
            ("payment", 2, 1, 250)
        ]
    );
    api.get_json(
        "/api/v1/correlation/trace/no-such-flow",
        t,
        StatusCode::NOT_FOUND,
    )
    .await;
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}
