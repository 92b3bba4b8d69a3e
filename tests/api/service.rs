//! Health, request ids, tracing routes, custom events through Kafka, the
//! OpenAPI document and Swagger UI, and the JSON fallbacks.

use crate::common::wait_until;
use crate::harness::{
    bare_api, dataset, pg_host_port, Db, Pipeline, TcpProxy, TestApi, ADMIN_PASSWORD,
};
use chrono::Utc;
use logflow_testkit::RedisPrefix;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_ids_tracing_and_custom_events() {
    let pipeline = Pipeline::with(&dataset(Utc::now())[..3]).await;
    let api = pipeline.api(Db::Sqlite).await;
    let admin = api.admin_token().await;
    let user = api.user_token("ada").await;

    let r = api.req(Method::GET, "/health", None).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let health: Value = r.json().await.unwrap();
    assert_eq!(health["status"], "healthy", "{health}");
    for dep in ["store", "database", "broker"] {
        assert_eq!(
            health["checks"][dep]["status"], "healthy",
            "{dep}: {health}"
        );
    }

    // Ids: generated when absent, echoed when sent, replaced when unusable.
    let r = api.req(Method::GET, "/health", None).send().await.unwrap();
    let request_id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    let correlation_id = r.headers()["x-correlation-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(request_id.len(), 36, "a UUID: {request_id}");
    assert_ne!(request_id, correlation_id);
    let r = api
        .req(Method::GET, "/api/v1/trace/context", Some(&user))
        .header("x-request-id", "req-123")
        .header("x-correlation-id", "flow-abc")
        .header(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        (
            r.headers()["x-request-id"].to_str().unwrap(),
            r.headers()["x-correlation-id"].to_str().unwrap()
        ),
        ("req-123", "flow-abc")
    );
    let ctx: Value = r.json().await.unwrap();
    assert_eq!(
        (
            ctx["request_id"].as_str(),
            ctx["correlation_id"].as_str(),
            ctx["user"].as_str()
        ),
        (Some("req-123"), Some("flow-abc"), Some("ada"))
    );
    assert!(ctx["traceparent"].as_str().unwrap().starts_with("00-0af7"));
    assert_eq!(
        ctx["path"], "/api/v1/trace/context",
        "the whole path, not the nested one"
    );
    let r = api
        .req(Method::GET, "/health", None)
        .header("x-request-id", "x".repeat(500))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"].len(), 36);
    // Errors carry the ids too.
    let r = api
        .req(Method::GET, "/api/v1/nope", None)
        .header("x-correlation-id", "c-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["x-correlation-id"], "c-1");
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "no such route");
    let r = api
        .req(Method::DELETE, "/api/v1/logs/search", Some(&user))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert!(r.headers().contains_key("x-request-id"));
    assert!(r.json::<Value>().await.unwrap()["error"].is_string());

    // Debug: admins only, credentials redacted.
    let r = api
        .req(Method::GET, "/api/v1/trace/debug", Some(&user))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let debug = api
        .get_json("/api/v1/trace/debug", &admin, StatusCode::OK)
        .await;
    assert_eq!(debug["headers"]["authorization"], "[REDACTED]");
    assert_eq!(debug["kafka_topic"], pipeline.topic.as_str());
    assert_eq!(debug["database"], "sqlite");

    // A custom event goes through Kafka and the processor into the store,
    // carrying the request's correlation id.
    let r = api
        .req(Method::POST, "/api/v1/trace/log", Some(&user))
        .header("x-correlation-id", "checkout-42")
        .json(&json!({"message": "cart abandoned", "level": "WARN", "service": "checkout-web", "fields": {"cart_items": 3}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let accepted: Value = r.json().await.unwrap();
    assert_eq!(accepted["correlation_id"], "checkout-42");
    let id = accepted["id"].as_str().unwrap().to_string();
    let log = wait_until(
        "the event to be indexed",
        Duration::from_secs(30),
        || async {
            let r = api
                .get(&format!("/api/v1/logs/{id}"), &user)
                .send()
                .await
                .unwrap();
            (
                r.status() == 200,
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        },
    )
    .await;
    assert_eq!(
        (
            log["message"].as_str(),
            log["level"].as_str(),
            log["service"].as_str()
        ),
        (Some("cart abandoned"), Some("WARN"), Some("checkout-web"))
    );
    assert_eq!(log["correlation_id"], "checkout-42");
    assert_eq!(log["fields"]["cart_items"], 3);
    assert_eq!(log["fields"]["submitted_by"], "ada");
    for (body, field) in [
        (json!({"message": ""}), Some("message")),
        (json!({"message": "x".repeat(70_000)}), Some("message")),
        (json!({"message": "x", "level": "LOUD"}), None),
        (json!({"message": "x", "colour": "red"}), None),
        (json!({"message": 5}), None),
    ] {
        let r = api
            .req(Method::POST, "/api/v1/trace/log", Some(&user))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{body}");
        if let Some(field) = field {
            assert_eq!(r.json::<Value>().await.unwrap()["detail"]["field"], field);
        }
    }

    // The broker goes away: health degrades but still answers 200, and a
    // custom event is refused with 503 rather than hanging.
    drop(pipeline.broker);
    let health = wait_until(
        "health to notice the broker is gone",
        Duration::from_secs(30),
        || async {
            let r = api.req(Method::GET, "/health", None).send().await.unwrap();
            let status = r.status();
            let body: Value = r.json().await.unwrap();
            (status == 200 && body["status"] == "degraded", body)
        },
    )
    .await;
    assert_eq!(health["checks"]["broker"]["status"], "degraded");
    assert_eq!(health["checks"]["store"]["status"], "healthy");
}

#[tokio::test]
async fn openapi_document_and_swagger_ui_work_offline() {
    let (api, _dir) = bare_api(Db::Sqlite).await;
    let doc: Value = api
        .req(Method::GET, "/api-docs/openapi.json", None)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let mut listed: Vec<String> = paths
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |m| format!("{} {path}", m.to_uppercase()))
        })
        .collect();
    listed.sort();
    assert_eq!(
        listed,
        [
            "DELETE /api/v1/alerts/rules/{id}",
            "DELETE /api/v1/cache/clear",
            "DELETE /api/v1/rate-limits/reset-all",
            "DELETE /api/v1/rate-limits/reset/{id}",
            "GET /api/v1/alerts/rules",
            "GET /api/v1/alerts/rules/{id}",
            "GET /api/v1/alerts/triggered",
            "GET /api/v1/auth/me",
            "GET /api/v1/auth/users",
            "GET /api/v1/cache/stats",
            "GET /api/v1/correlation/trace/{correlation_id}",
            "GET /api/v1/logs/export",
            "GET /api/v1/logs/recent",
            "GET /api/v1/logs/search",
            "GET /api/v1/logs/{id}",
            "GET /api/v1/metrics/overview",
            "GET /api/v1/metrics/service/{name}",
            "GET /api/v1/metrics/system",
            "GET /api/v1/metrics/timeseries",
            "GET /api/v1/rate-limits/status",
            "GET /api/v1/trace/context",
            "GET /api/v1/trace/debug",
            "GET /health",
            "GET /metrics",
            "POST /api/v1/alerts/rules",
            "POST /api/v1/alerts/triggered/{id}/acknowledge",
            "POST /api/v1/alerts/triggered/{id}/resolve",
            "POST /api/v1/auth/login",
            "POST /api/v1/auth/register",
            "POST /api/v1/trace/log",
            "PUT /api/v1/alerts/rules/{id}",
            "PUT /api/v1/auth/me",
        ]
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"],
        json!({"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    );
    // Every protected operation names the scheme and documents 401; every
    // operation documents its error body.
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            let open = path == "/health" || path == "/metrics";
            if !open && !path.ends_with("/login") && !path.ends_with("/register") {
                assert_eq!(op["security"], json!([{"bearer": []}]), "{method} {path}");
                assert!(responses.contains_key("401"), "{method} {path} lacks 401");
            }
            if !open {
                assert!(
                    responses.keys().any(|k| k.starts_with('4')),
                    "{method} {path} documents no error"
                );
                assert!(responses.contains_key("503"), "{method} {path} lacks 503");
                assert!(responses.contains_key("429"), "{method} {path} lacks 429");
            }
        }
    }

    let r = api.req(Method::GET, "/docs/", None).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    for asset in [
        "/docs/swagger-ui-bundle.js",
        "/docs/swagger-ui.css",
        "/docs/swagger-initializer.js",
    ] {
        let r = api.req(Method::GET, asset, None).send().await.unwrap();
        assert_eq!(r.status(), 200, "{asset} is not served from the binary");
        let body = r.text().await.unwrap();
        if asset.ends_with("initializer.js") {
            assert!(body.contains("/api-docs/openapi.json"), "{body}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_follows_the_database_and_redis_going_away() {
    let database = TcpProxy::start(pg_host_port()).await;
    let redis = TcpProxy::start("127.0.0.1:6379".into()).await;
    let dir = tempfile::tempdir().unwrap();
    let no_broker = format!("127.0.0.1:{}", logflow_testkit::free_port());
    let prefix = RedisPrefix::new("health");
    let api = TestApi::start_with(
        Db::PostgresVia(database.port),
        dir.path(),
        &no_broker,
        "logflow.logs",
        |server| {
            server.redis_url = Some(format!("redis://127.0.0.1:{}", redis.port));
            server.redis_key_prefix = prefix.prefix.clone();
        },
    )
    .await;
    let health = || async {
        let r = api.req(Method::GET, "/health", None).send().await.unwrap();
        let status = r.status();
        (status, r.json::<Value>().await.unwrap())
    };
    let (status, body) = health().await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "degraded", "no broker: {body}");
    assert_eq!(body["checks"]["database"]["status"], "healthy");
    assert_eq!(body["checks"]["redis"]["status"], "healthy");

    redis.cut();
    let body = wait_until(
        "Redis to show degraded",
        Duration::from_secs(30),
        || async {
            let (status, body) = health().await;
            (
                status == 200 && body["checks"]["redis"]["status"] == "degraded",
                body,
            )
        },
    )
    .await;
    assert!(body["checks"]["redis"]["detail"].is_string());

    database.cut();
    let body = wait_until(
        "the database to show down",
        Duration::from_secs(30),
        || async {
            let (status, body) = health().await;
            (status == 503 && body["status"] == "down", body)
        },
    )
    .await;
    assert_eq!(body["checks"]["database"]["status"], "down");
    // A login now needs the database: 503 with a JSON error, not a 500.
    let r = api
        .req(Method::POST, "/api/v1/auth/login", None)
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "service unavailable"
    );
}

/// Swagger UI as a person meets it: a real (headless) Chromium loads
/// `/docs/` with every network feature that could reach the internet off,
/// runs its JavaScript from the vendored assets, fetches the OpenAPI
/// document and renders the operations and the Authorize button.
#[tokio::test]
async fn swagger_ui_renders_offline_in_a_real_browser() {
    let (api, _dir) = bare_api(Db::Sqlite).await;
    let profile = tempfile::tempdir().unwrap();
    let chromium = std::env::var("CHROMIUM_BIN").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let out = tokio::process::Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=20000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(api.url("/docs/"))
        .output()
        .await
        .unwrap_or_else(|e| {
            panic!("cannot run {chromium} ({e}): browser tests need it and never skip; scripts/test.sh installs it")
        });
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("LogFlow API"),
        "the spec's title is not rendered:\n{}",
        &dom[..dom.len().min(3000)]
    );
    for operation in [
        "/api/v1/logs/search",
        "/api/v1/auth/login",
        "/api/v1/metrics/overview",
    ] {
        assert!(dom.contains(operation), "{operation} is not rendered");
    }
    assert!(dom.contains("btn authorize"), "no Authorize button");
}
