//! Rate limits as clients meet them: 429 exactly at the limit with the
//! headers that say when to retry, users and addresses counted apart,
//! forwarding headers believed only from trusted proxies, replicas sharing
//! one limit through Redis, the admin routes, and a Redis outage that
//! never turns into a 500.

use crate::common::wait_until;
use crate::harness::{Backend, Db, TestApi, ADMIN_PASSWORD};
use logflow_api::ServerArgs;
use logflow_testkit::{RedisPrefix, RedisServer};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

async fn start(dir: &Path, configure: impl FnOnce(&mut ServerArgs)) -> TestApi {
    let no_broker = format!("127.0.0.1:{}", logflow_testkit::free_port());
    TestApi::start_with(Db::Sqlite, dir, &no_broker, "logflow.logs", configure).await
}

fn header(r: &Response, name: &str) -> u64 {
    r.headers()[name].to_str().unwrap().parse().unwrap()
}

const SEARCH: &str = "/api/v1/logs/search?limit=1";

/// Sends `request` `n` times; asserts each passes with the remaining
/// count going down to `last_remaining`.
async fn spend(n: u64, last_remaining: u64, request: impl Fn() -> RequestBuilder) {
    for i in 0..n {
        let r = request().send().await.unwrap();
        assert_ne!(r.status(), 429, "request {i} refused");
        assert_eq!(
            header(&r, "ratelimit-remaining"),
            last_remaining + n - 1 - i
        );
    }
}

async fn refused(request: RequestBuilder) -> Response {
    let r = request.send().await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    r
}

async fn at_the_limit_with_headers(backend: Backend) {
    let prefix = RedisPrefix::new("limits-api");
    let dir = tempfile::tempdir().unwrap();
    let api = start(dir.path(), |s| {
        backend.configure(s, &prefix);
        s.rate_limits.rate_limit_search = "5/minute".parse().unwrap();
    })
    .await;
    let alice = api.user_token("alice").await;
    let bob = api.user_token("bob").await;

    for expected in (0..5).rev() {
        let r = api.get(SEARCH, &alice).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "ratelimit-limit"), 5);
        assert_eq!(header(&r, "ratelimit-remaining"), expected);
        let reset = header(&r, "ratelimit-reset");
        assert!((1..=60).contains(&reset), "reset {reset}");
        assert_eq!(r.headers()["ratelimit-policy"], "5;w=60");
    }
    let r = refused(api.get(SEARCH, &alice)).await;
    let retry_after = header(&r, "retry-after");
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(header(&r, "ratelimit-remaining"), 0);
    assert_eq!(header(&r, "ratelimit-reset"), retry_after);
    assert_eq!(r.headers()["content-type"], "application/json");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "rate limit exceeded");
    assert_eq!(
        (
            &body["detail"]["class"],
            &body["detail"]["limit"],
            &body["detail"]["window_seconds"]
        ),
        (&json!("search"), &json!(5), &json!(60)),
        "{body}"
    );
    // Refusals are not counted against the future, and other users and
    // other classes are counted apart.
    refused(api.get(SEARCH, &alice)).await;
    let r = api.get(SEARCH, &bob).send().await.unwrap();
    assert_eq!(
        (r.status().as_u16(), header(&r, "ratelimit-remaining")),
        (200, 4)
    );
    let r = api.get("/api/v1/logs/recent", &alice).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // /health is never limited.
    let r = api.req(Method::GET, "/health", None).send().await.unwrap();
    assert!(r.headers().get("ratelimit-limit").is_none());
}
crate::on_both_caches!(at_the_limit_with_headers);

async fn per_address_behind_trusted_proxies(backend: Backend) {
    let prefix = RedisPrefix::new("limits-ip");
    let dir = tempfile::tempdir().unwrap();
    let api = start(dir.path(), |s| {
        backend.configure(s, &prefix);
        s.rate_limits.rate_limit_login = "3/hour".parse().unwrap();
        s.rate_limits.trusted_proxies = "127.0.0.1".parse().unwrap();
    })
    .await;
    let login = |from: &str| {
        api.req(Method::POST, "/api/v1/auth/login", None)
            .header("x-forwarded-for", from)
            .json(&json!({"username": "admin", "password": "wrong-password"}))
    };
    let token = api.admin_token().await;
    // Failed logins count too: that is what the limit is for.
    spend(3, 0, || login("203.0.113.7")).await;
    let r = refused(login("203.0.113.7")).await;
    assert!(header(&r, "retry-after") > 3500, "an hour's window");
    // A valid token does not buy a fresh budget of guesses.
    refused(login("203.0.113.7").bearer_auth(&token)).await;
    // Another client behind the same proxy has its own count.
    let r = login("198.51.100.9").send().await.unwrap();
    assert_eq!(
        (r.status().as_u16(), header(&r, "ratelimit-remaining")),
        (401, 2)
    );
    // The right password from the limited address waits too.
    let r = api
        .req(Method::POST, "/api/v1/auth/login", None)
        .header("x-forwarded-for", "203.0.113.7")
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);

    // Without a trusted proxy the header is the client's word: ignored.
    let prefix = RedisPrefix::new("limits-untrusted");
    let dir = tempfile::tempdir().unwrap();
    let direct = start(dir.path(), |s| {
        backend.configure(s, &prefix);
        s.rate_limits.rate_limit_login = "3/hour".parse().unwrap();
    })
    .await;
    for (i, forged) in ["1.1.1.1", "2.2.2.2", "3.3.3.3"].into_iter().enumerate() {
        let r = direct
            .req(Method::POST, "/api/v1/auth/login", None)
            .header("x-forwarded-for", forged)
            .json(&json!({"username": "admin", "password": "wrong-password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "attempt {i}");
    }
    let forged = direct
        .req(Method::POST, "/api/v1/auth/login", None)
        .header("x-forwarded-for", "4.4.4.4")
        .json(&json!({"username": "admin", "password": "wrong-password"}));
    refused(forged).await;
}
crate::on_both_caches!(per_address_behind_trusted_proxies);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_enforce_one_limit_and_admins_manage_it() {
    let prefix = RedisPrefix::new("limits-replicas");
    let dir = tempfile::tempdir().unwrap();
    let configure = |s: &mut ServerArgs| {
        Backend::Redis.configure(s, &prefix);
        s.rate_limits.rate_limit_search = "5/minute".parse().unwrap();
    };
    // One database (the data directory's SQLite file), one Redis.
    let a = start(dir.path(), configure).await;
    let b = start(dir.path(), configure).await;
    let admin = a.admin_token().await;
    let user = a.user_token("frank").await;
    let me: Value = a.get_json("/api/v1/auth/me", &user, StatusCode::OK).await;
    let identity = format!("user:{}", me["id"]);

    spend(3, 2, || a.get(SEARCH, &user)).await;
    spend(2, 0, || b.get(SEARCH, &user)).await;
    refused(a.get(SEARCH, &user)).await;
    refused(b.get(SEARCH, &user)).await;

    let status = b
        .get_json("/api/v1/rate-limits/status", &admin, StatusCode::OK)
        .await;
    assert_eq!(status["backend"], "redis");
    assert_eq!(status["enabled"], true);
    let search = status["limits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["class"] == "search")
        .unwrap();
    assert_eq!(
        (search["limit"].as_u64(), search["window_seconds"].as_u64()),
        (Some(5), Some(60))
    );
    let usage = status["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["identity"] == identity.as_str() && c["class"] == "search")
        .unwrap_or_else(|| panic!("{identity} not listed: {status}"));
    assert_eq!(
        (usage["used"].as_u64(), usage["remaining"].as_u64()),
        (Some(5), Some(0))
    );
    let only = b
        .get_json(
            &format!("/api/v1/rate-limits/status?identity={identity}"),
            &admin,
            StatusCode::OK,
        )
        .await;
    assert!(only["clients"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["identity"] == identity.as_str()));

    // Only admins; identities are checked.
    for (method, path) in [
        (Method::GET, "/api/v1/rate-limits/status".to_string()),
        (
            Method::DELETE,
            format!("/api/v1/rate-limits/reset/{identity}"),
        ),
        (Method::DELETE, "/api/v1/rate-limits/reset-all".to_string()),
    ] {
        let r = a.req(method, &path, Some(&user)).send().await.unwrap();
        assert_eq!(r.status(), 403, "{path}");
    }
    let r = a
        .req(
            Method::DELETE,
            "/api/v1/rate-limits/reset/frank",
            Some(&admin),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    let r = a
        .req(
            Method::DELETE,
            &format!("/api/v1/rate-limits/reset/{identity}"),
            Some(&admin),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["reset"], 2,
        "search and default (/me) counters: {body}"
    );
    spend(5, 0, || b.get(SEARCH, &user)).await;
    refused(a.get(SEARCH, &user)).await;

    let r = b
        .req(
            Method::DELETE,
            "/api/v1/rate-limits/reset-all",
            Some(&admin),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.json::<Value>().await.unwrap()["reset"].as_u64().unwrap() >= 1);
    assert_eq!(a.get(SEARCH, &user).send().await.unwrap().status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_degrades_and_recovers_without_a_500() {
    let mut redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let url = redis.url();
    let api = start(dir.path(), |s| {
        s.redis_url = Some(url);
        s.rate_limits.rate_limit_search = "5/minute".parse().unwrap();
    })
    .await;
    let token = api.admin_token().await;
    let overview = || async {
        let r = api
            .get("/api/v1/metrics/overview", &token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.headers()["x-cache"].to_str().unwrap().to_string()
    };
    let redis_health = || async {
        let body: Value = api
            .req(Method::GET, "/health", None)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["checks"]["redis"]["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(overview().await, "MISS");
    assert_eq!(overview().await, "HIT");
    assert_eq!(redis_health().await, "healthy");
    spend(2, 3, || api.get(SEARCH, &token)).await;

    redis.stop();
    // The cache is bypassed, not an error.
    for _ in 0..3 {
        assert_eq!(overview().await, "BYPASS");
    }
    // Limits still hold, counted in this process from zero.
    spend(5, 0, || api.get(SEARCH, &token)).await;
    refused(api.get(SEARCH, &token)).await;
    wait_until(
        "/health to show Redis degraded",
        Duration::from_secs(10),
        || async {
            let s = redis_health().await;
            (s == "degraded", s)
        },
    )
    .await;
    let r = api.get("/api/v1/cache/stats", &token).send().await.unwrap();
    assert_eq!(
        r.status(),
        503,
        "statistics live in Redis: unavailable, said as JSON"
    );
    assert!(r.json::<Value>().await.unwrap()["error"].is_string());

    redis.resume();
    wait_until(
        "the cache to come back",
        Duration::from_secs(15),
        || async {
            let c = overview().await;
            (c == "MISS" || c == "HIT", c)
        },
    )
    .await;
    assert_eq!(overview().await, "HIT");
    wait_until(
        "/health to show Redis healthy",
        Duration::from_secs(10),
        || async {
            let s = redis_health().await;
            (s == "healthy", s)
        },
    )
    .await;
    // The new server remembers nothing: the shared count starts again.
    let r = api.get(SEARCH, &token).send().await.unwrap();
    assert_eq!(
        (r.status().as_u16(), header(&r, "ratelimit-remaining")),
        (200, 4)
    );
    let s = api
        .get_json("/api/v1/cache/stats", &token, StatusCode::OK)
        .await;
    assert!(s["hits"].as_u64().unwrap() >= 1, "{s}");
}
