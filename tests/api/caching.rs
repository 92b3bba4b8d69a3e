//! The metrics cache as a dashboard meets it: hits and misses, TTL expiry,
//! keys that never mix two questions, clearing, one computation for many
//! concurrent requests — in-process and in a real Redis.

use crate::harness::{Backend, Db, TestApi, ADMIN_PASSWORD};
use logflow_testkit::RedisPrefix;
use reqwest::{Method, Response};
use serde_json::Value;
use std::time::Duration;

/// A metrics answer: its `X-Cache` and body.
async fn fetch(api: &TestApi, path: &str, token: &str) -> (String, Value) {
    let r: Response = api.get(path, token).send().await.unwrap();
    assert_eq!(r.status(), 200, "GET {path}");
    assert_eq!(r.headers()["content-type"], "application/json");
    let cache = r.headers()["x-cache"].to_str().unwrap().to_string();
    (cache, r.json().await.unwrap())
}

async fn stats(api: &TestApi, token: &str) -> Value {
    api.get_json("/api/v1/cache/stats", token, reqwest::StatusCode::OK)
        .await
}

/// An api with no data (the answers' `window.to` tells one computation
/// from another) and a 2-second overview TTL.
async fn api_with(backend: Backend, prefix: &RedisPrefix) -> (TestApi, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let no_broker = format!("127.0.0.1:{}", logflow_testkit::free_port());
    let api = TestApi::start_with(Db::Sqlite, dir.path(), &no_broker, "logflow.logs", |s| {
        backend.configure(s, prefix);
        s.cache.cache_ttl_overview = Duration::from_secs(2);
    })
    .await;
    (api, dir)
}

async fn hits_misses_ttl_and_keys(backend: Backend) {
    let prefix = RedisPrefix::new("cache-api");
    let (api, _dir) = api_with(backend, &prefix).await;
    let admin = api.admin_token().await;
    let user = api.user_token("carol").await;

    let (first, body) = fetch(&api, "/api/v1/metrics/overview?window=1h", &user).await;
    assert_eq!(first, "MISS");
    let (second, again) = fetch(&api, "/api/v1/metrics/overview?window=1h", &user).await;
    assert_eq!(second, "HIT");
    assert_eq!(
        again, body,
        "a hit is the stored answer, computed at the same instant"
    );
    // The same question spelled differently shares the entry...
    let (same, _) = fetch(&api, "/api/v1/metrics/overview?window=60m", &user).await;
    assert_eq!(same, "HIT");
    // ...different questions never do.
    let (other, wider) = fetch(&api, "/api/v1/metrics/overview?window=2h", &user).await;
    assert_eq!(other, "MISS");
    assert_eq!(wider["window"]["seconds"], 7200);
    let (as_admin, _) = fetch(&api, "/api/v1/metrics/overview?window=1h", &admin).await;
    assert_eq!(
        as_admin, "MISS",
        "users and admins see through separate entries"
    );
    for (path, expected) in [
        (
            "/api/v1/metrics/timeseries?window=1h&interval=5m&service=a",
            "MISS",
        ),
        (
            "/api/v1/metrics/timeseries?window=1h&interval=5m&service=b",
            "MISS",
        ),
        (
            "/api/v1/metrics/timeseries?window=1h&interval=10m&service=a",
            "MISS",
        ),
        (
            "/api/v1/metrics/timeseries?window=1h&interval=5m&service=a,b",
            "MISS",
        ),
        (
            "/api/v1/metrics/timeseries?window=1h&interval=5m&service=b&service=a",
            "HIT",
        ),
        (
            "/api/v1/metrics/timeseries?window=1h&interval=5m&service=a",
            "HIT",
        ),
    ] {
        assert_eq!(fetch(&api, path, &user).await.0, expected, "{path}");
    }
    // Errors are not cached.
    for _ in 0..2 {
        let r = api
            .get("/api/v1/metrics/service/nobody", &user)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        assert!(r.headers().get("x-cache").is_none());
    }
    let r = api.get("/api/v1/cache/stats", &user).send().await.unwrap();
    assert_eq!(r.status(), 403, "statistics are for admins");
    let s = stats(&api, &admin).await;
    assert_eq!(s["backend"], backend.name());
    assert_eq!(
        (s["hits"].as_u64(), s["misses"].as_u64()),
        (Some(4), Some(9)),
        "{s}"
    );
    assert_eq!(s["hit_rate"].as_f64().unwrap(), 4.0 / 13.0);
    assert_eq!(s["entries"], 7, "{s}");
    assert!(s["memory_bytes"].as_u64().unwrap() > 1000, "{s}");

    // The overview's 2-second TTL passes; the timeseries' 120 s does not.
    tokio::time::sleep(Duration::from_millis(2300)).await;
    let (expired, fresh) = fetch(&api, "/api/v1/metrics/overview?window=1h", &user).await;
    assert_eq!(expired, "MISS");
    assert_ne!(fresh["window"]["to"], body["window"]["to"], "recomputed");
    let series = "/api/v1/metrics/timeseries?window=1h&interval=5m&service=a";
    assert_eq!(fetch(&api, series, &user).await.0, "HIT");
}
crate::on_both_caches!(hits_misses_ttl_and_keys);

async fn clear_by_pattern(backend: Backend) {
    let prefix = RedisPrefix::new("cache-clear");
    let (api, _dir) = api_with(backend, &prefix).await;
    let admin = api.admin_token().await;
    let user = api.user_token("dave").await;
    for window in ["1h", "2h"] {
        fetch(
            &api,
            &format!("/api/v1/metrics/overview?window={window}"),
            &user,
        )
        .await;
    }
    fetch(&api, "/api/v1/metrics/timeseries?window=1h", &user).await;

    let clear = |pattern: &str, token: &str| {
        api.req(Method::DELETE, "/api/v1/cache/clear", Some(token))
            .query(&[("pattern", pattern)])
            .send()
    };
    let r = clear("metrics:*", &user).await.unwrap();
    assert_eq!(r.status(), 403, "only admins clear");
    let r = clear("metrics:[ab]*", &admin).await.unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["detail"]["parameter"], "pattern", "{body}");

    let r = clear("metrics:overview:*", &admin).await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["cleared"], 2, "{body}");
    assert_eq!(
        fetch(&api, "/api/v1/metrics/overview?window=1h", &user)
            .await
            .0,
        "MISS"
    );
    assert_eq!(
        fetch(&api, "/api/v1/metrics/timeseries?window=1h", &user)
            .await
            .0,
        "HIT"
    );

    let r = api
        .req(Method::DELETE, "/api/v1/cache/clear", Some(&admin))
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        (body["pattern"].as_str(), body["cleared"].as_u64()),
        (Some("*"), Some(2))
    );
    assert_eq!(stats(&api, &admin).await["entries"], 0);
}
crate::on_both_caches!(clear_by_pattern);

async fn concurrent_misses_compute_once(backend: Backend) {
    let prefix = RedisPrefix::new("cache-flight");
    let (api, _dir) = api_with(backend, &prefix).await;
    let user = api.user_token("erin").await;
    let admin = api.admin_token().await;
    let requests = (0..20).map(|_| fetch(&api, "/api/v1/metrics/system", &user));
    let answers = futures::future::join_all(requests).await;
    let misses = answers.iter().filter(|(c, _)| c == "MISS").count();
    assert_eq!(
        misses,
        1,
        "{:?}",
        answers.iter().map(|a| &a.0).collect::<Vec<_>>()
    );
    assert!(answers.iter().all(|(_, body)| body == &answers[0].1));
    let s = stats(&api, &admin).await;
    assert_eq!(
        (s["misses"].as_u64(), s["hits"].as_u64()),
        (Some(1), Some(19)),
        "{s}"
    );
}
crate::on_both_caches!(concurrent_misses_compute_once);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_one_redis_cache() {
    let prefix = RedisPrefix::new("cache-replicas");
    let dir = tempfile::tempdir().unwrap();
    let no_broker = format!("127.0.0.1:{}", logflow_testkit::free_port());
    let start = || {
        TestApi::start_with(Db::Sqlite, dir.path(), &no_broker, "logflow.logs", |s| {
            Backend::Redis.configure(s, &prefix)
        })
    };
    let (a, b) = (start().await, start().await);
    let token = a.login("admin", ADMIN_PASSWORD).await;
    let (first, body) = fetch(&a, "/api/v1/metrics/overview", &token).await;
    assert_eq!(first, "MISS");
    let (second, shared) = fetch(&b, "/api/v1/metrics/overview", &token).await;
    assert_eq!(
        second, "HIT",
        "the other replica answers from the shared entry"
    );
    assert_eq!(shared, body);
    assert_eq!(stats(&b, &token).await["hits"], 1);
}
