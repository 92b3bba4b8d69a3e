//! Alert rules and triggered alerts through the api: who may do what,
//! every invalid rule refused with the field named, acknowledge and
//! resolve with their permissions.

use crate::harness::{bare_api, Db, TestApi};
use chrono::Utc;
use logflow_store::meta::Observation;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn webhook_rule(name: &str) -> Value {
    json!({
        "name": name,
        "description": "too many checkout errors",
        "condition": "greater_than",
        "threshold": 10,
        "window_minutes": 5,
        "levels": ["ERROR"],
        "services": ["checkout"],
        "query": "card AND declined",
        "channel": "webhook",
        "channel_config": {"url": "https://hooks.example/alerts", "secret": "hook-secret"},
        "cooldown_minutes": 30,
    })
}

async fn send(
    api: &TestApi,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = api.req(method, path, Some(token));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let r = request.send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn rules_crud_and_permissions(db: Db) {
    let (api, _dir) = bare_api(db).await;
    let admin = api.admin_token().await;
    let alice = api.user_token("alice").await;
    let bob = api.user_token("bob").await;

    let (status, rule) = send(
        &api,
        Method::POST,
        "/api/v1/alerts/rules",
        &alice,
        Some(webhook_rule("checkout")),
    )
    .await;
    assert_eq!(status, 201, "{rule}");
    let id = rule["id"].as_i64().unwrap();
    assert_eq!(rule["condition"], "greater_than");
    assert_eq!(rule["levels"], json!(["ERROR"]));
    assert_eq!(rule["is_active"], true);
    assert_eq!(rule["trigger_count"], 0);
    assert_eq!(rule["channel_config"]["secret"], "hook-secret");
    let path = format!("/api/v1/alerts/rules/{id}");

    // Anyone logged in reads rules; only the owner and admins see secrets.
    let (_, as_bob) = send(&api, Method::GET, &path, &bob, None).await;
    assert_eq!(as_bob["channel_config"]["secret"], "***");
    assert_eq!(
        as_bob["channel_config"]["url"],
        "https://hooks.example/alerts"
    );
    let (_, list) = send(&api, Method::GET, "/api/v1/alerts/rules", &admin, None).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["channel_config"]["secret"], "hook-secret");

    // Only the owner or an admin changes or deletes.
    let mut changed = webhook_rule("checkout, stricter");
    changed["threshold"] = json!(5);
    let (status, _) = send(&api, Method::PUT, &path, &bob, Some(changed.clone())).await;
    assert_eq!(status, 403);
    let (status, _) = send(&api, Method::DELETE, &path, &bob, None).await;
    assert_eq!(status, 403);
    let (status, updated) = send(&api, Method::PUT, &path, &alice, Some(changed.clone())).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(
        (updated["threshold"].as_f64(), updated["name"].as_str()),
        (Some(5.0), Some("checkout, stricter"))
    );
    changed["is_active"] = json!(false);
    let (status, updated) = send(&api, Method::PUT, &path, &admin, Some(changed)).await;
    assert_eq!(
        (status.as_u16(), &updated["is_active"]),
        (200, &json!(false))
    );

    let (status, _) = send(
        &api,
        Method::GET,
        "/api/v1/alerts/rules/999999",
        &alice,
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = send(&api, Method::GET, "/api/v1/alerts/rules/abc", &alice, None).await;
    assert_eq!(status, 400);
    let r = api
        .req(Method::GET, "/api/v1/alerts/rules", None)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let (status, _) = send(&api, Method::DELETE, &path, &admin, None).await;
    assert_eq!(status, 204);
    let (status, _) = send(&api, Method::GET, &path, &alice, None).await;
    assert_eq!(status, 404);
}
crate::on_both_databases!(rules_crud_and_permissions);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_rules_are_refused_naming_the_field() {
    let (api, _dir) = bare_api(Db::Sqlite).await;
    let alice = api.user_token("alice").await;
    for (patch, field) in [
        (json!({"condition": "above"}), "condition"),
        (json!({"window_minutes": -5}), "window_minutes"),
        (
            json!({"channel_config": {"url": "ftp://hooks.example/x"}}),
            "channel_config.url",
        ),
        (json!({"channel_config": {}}), "channel_config.url"),
        (
            json!({"channel": "slack", "channel_config": {}}),
            "channel_config.webhook_url",
        ),
        (
            json!({"channel": "email", "channel_config": {"to": []}}),
            "channel_config.to",
        ),
        (json!({"channel": "carrier-pigeon"}), "channel"),
        (json!({"levels": ["LOUD"]}), "levels"),
        (json!({"query": "(unbalanced"}), "query"),
    ] {
        let mut body = webhook_rule("bad");
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, error) = send(
            &api,
            Method::POST,
            "/api/v1/alerts/rules",
            &alice,
            Some(body),
        )
        .await;
        assert_eq!(status, 422, "{patch}: {error}");
        assert_eq!(error["detail"]["field"], field, "{patch}: {error}");
    }
    // Wrong types and unknown fields are refused too, never stored.
    for body in [
        json!({"name": "x", "condition": "equals", "threshold": "ten", "window_minutes": 5, "channel": "console"}),
        json!({"name": "x", "condition": "equals", "threshold": 1, "window_minutes": 5, "channel": "console", "owner_id": 1}),
    ] {
        let (status, _) = send(
            &api,
            Method::POST,
            "/api/v1/alerts/rules",
            &alice,
            Some(body),
        )
        .await;
        assert_eq!(status, 422);
    }
    let (_, list) = send(&api, Method::GET, "/api/v1/alerts/rules", &alice, None).await;
    assert_eq!(list, json!([]));
}

async fn acknowledge_and_resolve_with_permissions(db: Db) {
    let (api, _dir) = bare_api(db).await;
    let admin = api.admin_token().await;
    let alice = api.user_token("alice").await;
    let bob = api.user_token("bob").await;
    let (_, rule) = send(
        &api,
        Method::POST,
        "/api/v1/alerts/rules",
        &alice,
        Some(webhook_rule("checkout")),
    )
    .await;
    // The engine is not part of this story: fire through the repository.
    let meta = api.meta().await;
    let stored = meta
        .alerts()
        .rule(rule["id"].as_i64().unwrap())
        .await
        .unwrap()
        .unwrap();
    let fired = meta
        .alerts()
        .fire(
            &stored,
            Observation {
                at: Utc::now(),
                observed_value: 12.0,
            },
        )
        .await
        .unwrap()
        .unwrap();

    let (status, open) = send(
        &api,
        Method::GET,
        "/api/v1/alerts/triggered?status=open",
        &bob,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(open.as_array().unwrap().len(), 1);
    assert_eq!(
        (
            open[0]["rule_name"].as_str(),
            open[0]["observed_value"].as_f64()
        ),
        (Some("checkout"), Some(12.0))
    );
    let (_, none) = send(
        &api,
        Method::GET,
        "/api/v1/alerts/triggered?status=resolved",
        &bob,
        None,
    )
    .await;
    assert_eq!(none, json!([]));
    let (_, recent) = send(
        &api,
        Method::GET,
        &format!("/api/v1/alerts/triggered?rule_id={}&from=1h", rule["id"]),
        &bob,
        None,
    )
    .await;
    assert_eq!(recent.as_array().unwrap().len(), 1);
    for bad in ["status=closed", "limit=0", "from=yesterday", "rule_id=x"] {
        let (status, error) = send(
            &api,
            Method::GET,
            &format!("/api/v1/alerts/triggered?{bad}"),
            &bob,
            None,
        )
        .await;
        assert_eq!(status, 400, "{bad}: {error}");
    }

    let ack = format!("/api/v1/alerts/triggered/{}/acknowledge", fired.id);
    let resolve = format!("/api/v1/alerts/triggered/{}/resolve", fired.id);
    let (status, _) = send(&api, Method::POST, &ack, &bob, None).await;
    assert_eq!(status, 403, "not bob's rule");
    let (status, acked) = send(&api, Method::POST, &ack, &alice, None).await;
    assert_eq!(status, 200, "{acked}");
    assert_eq!(acked["status"], "acknowledged");
    assert!(acked["acknowledged_at"].is_string());
    let (status, _) = send(&api, Method::POST, &ack, &alice, None).await;
    assert_eq!(status, 409);
    let (status, _) = send(&api, Method::POST, &resolve, &bob, None).await;
    assert_eq!(status, 403);
    let (status, resolved) = send(&api, Method::POST, &resolve, &admin, None).await;
    assert_eq!(status, 200, "{resolved}");
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(resolved["acknowledged_by"], acked["acknowledged_by"]);
    assert!(resolved["resolved_by"].as_i64().is_some());
    let (status, _) = send(&api, Method::POST, &resolve, &alice, None).await;
    assert_eq!(status, 409);
    let (status, _) = send(
        &api,
        Method::POST,
        "/api/v1/alerts/triggered/999999/resolve",
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 404);
    meta.close().await;
}
crate::on_both_databases!(acknowledge_and_resolve_with_permissions);
