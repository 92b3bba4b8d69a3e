//! The alerting story end to end, as an operator meets it: `logflow
//! standalone` (processor, api and alert engine), the generator's
//! error-burst scenario through the real broker, rules made over the api,
//! and a webhook receiver of the test's own.

use crate::cli::{admin_token, start_standalone};
use crate::common::{logflow, run_ok, wait_until};
use hmac::{Hmac, Mac};
use logflow_testkit::{unique_topic, Broker, Receiver};
use serde_json::{json, Value};
use sha2::Sha256;
use std::time::Duration;

/// Logs the generator sends; every error among them is in the burst.
const RECORDS: u64 = 3000;
/// The threshold of the rule the burst must not reach.
const UNDER: u64 = 1500;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_burst_fires_the_rule_over_it_once_and_the_rule_under_it_never() {
    let broker = Broker::start().await;
    let topic = unique_topic("burst");
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(&[]).await;
    let (mut standalone, base) = start_standalone(
        &broker,
        &topic,
        dir.path(),
        &[("ALERT_CHECK_INTERVAL", "1s")],
    )
    .await;
    let http = reqwest::Client::new();
    let token = admin_token(&base).await;
    let create = |rule: Value| {
        let (http, token, base) = (&http, &token, &base);
        async move {
            let r = http
                .post(format!("{base}/api/v1/alerts/rules"))
                .bearer_auth(token)
                .json(&rule)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
            r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
        }
    };
    let errors = json!(["ERROR", "CRITICAL"]);
    let over = create(json!({
        "name": "error burst", "condition": "greater_than", "threshold": 50,
        "window_minutes": 10, "levels": errors, "channel": "webhook",
        "channel_config": {"url": receiver.url, "secret": "burst-secret"},
    }))
    .await;
    // Above the burst (about 600 errors) yet below the logs in all.
    let under = create(json!({
        "name": "beyond the burst", "condition": "greater_than_or_equal",
        "threshold": UNDER, "window_minutes": 10, "levels": errors,
        "channel": "console",
    }))
    .await;

    // Calm, then a 2-second burst where 60% of the logs are errors, then calm.
    let mut gen = logflow("generator", &broker, &topic, dir.path());
    gen.args([
        "generator",
        "--rate",
        "500",
        "--count",
        &RECORDS.to_string(),
    ])
    .args(["--error-ratio", "0", "--error-burst", "2s"])
    .args(["--error-burst-duration", "2s", "--error-burst-ratio", "0.6"]);
    run_ok("generator", gen);

    let search = |query: String| {
        let (http, token, base) = (&http, &token, &base);
        async move {
            http.get(format!("{base}{query}"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    wait_until("every log indexed", Duration::from_secs(90), || async {
        let total = search("/api/v1/logs/search?limit=1".into()).await["total"].clone();
        (total == RECORDS, total)
    })
    .await;
    let burst_errors = search("/api/v1/logs/search?limit=1&level=ERROR,CRITICAL".into()).await
        ["total"]
        .as_u64()
        .unwrap();
    assert!(
        burst_errors > 200 && burst_errors < UNDER,
        "the burst made {burst_errors} errors"
    );

    // The engine has seen the whole burst once its check comes after the
    // last record; give it a few more rounds to (not) fire again.
    wait_until("the burst alert", Duration::from_secs(30), || async {
        let alerts = search(format!("/api/v1/alerts/triggered?rule_id={over}")).await;
        (alerts.as_array().is_some_and(|a| !a.is_empty()), alerts)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let alerts = search(format!("/api/v1/alerts/triggered?rule_id={over}")).await;
    let alerts = alerts.as_array().unwrap();
    assert_eq!(alerts.len(), 1, "fired once: {alerts:?}");
    let alert = &alerts[0];
    assert_eq!(alert["status"], "open");
    assert!(alert["observed_value"].as_f64().unwrap() > 50.0);
    assert!(alert["observed_value"].as_f64().unwrap() <= burst_errors as f64);
    let deliveries = alert["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    assert_eq!(deliveries[0]["channel"], "webhook");
    assert_eq!(deliveries[0]["succeeded"], true);

    let under_alerts = search(format!("/api/v1/alerts/triggered?rule_id={under}")).await;
    assert_eq!(
        under_alerts,
        json!([]),
        "the rule under the burst never fires"
    );
    let rules = search("/api/v1/alerts/rules".into()).await;
    let stats = |id: i64| {
        rules
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(stats(over)["trigger_count"], 1);
    assert_eq!(stats(under)["trigger_count"], 0);
    assert!(stats(under)["last_checked_at"].is_string());

    // Exactly one webhook arrived, signed over its exact bytes.
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    let mut mac = Hmac::<Sha256>::new_from_slice(b"burst-secret").unwrap();
    mac.update(&requests[0].body);
    assert_eq!(
        requests[0].headers["x-logflow-signature"].to_str().unwrap(),
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    );
    let body: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(body["alert"]["id"], alert["id"]);
    assert_eq!(body["rule"]["name"], "error burst");

    let status = standalone.terminate();
    assert!(status.success(), "standalone exited with {status}");
}
