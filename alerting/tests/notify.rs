//! Notifications reaching real receivers on this machine: an HTTP server of
//! the test's own for webhooks and Slack (checking the exact requests we
//! send), and aiosmtpd (PyPI) as the SMTP server, with and without
//! STARTTLS.

use chrono::Utc;
use clap::Parser;
use hmac::{Hmac, Mac};
use logflow_alerting::{Notifier, NotifyArgs};
use logflow_core::Level;
use logflow_store::meta::{
    AlertRule, AlertStatus, Channel, Condition, Delivery, RuleSpec, TriggeredAlert,
};
use logflow_testkit::{Answer, Receiver};
use serde_json::{json, Value};
use sha2::Sha256;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    notify: NotifyArgs,
}

/// A notifier with quick retries, configured as on the command line.
fn notifier(args: &[&str]) -> Notifier {
    let mut argv = vec!["logflow", "--alert-notify-backoff", "20ms"];
    argv.extend_from_slice(args);
    Notifier::new(&Cli::parse_from(argv).notify).unwrap()
}

fn rule(channel: Channel, channel_config: Value) -> AlertRule {
    let now = Utc::now();
    AlertRule {
        id: 7,
        spec: RuleSpec {
            name: "checkout errors".into(),
            description: Some("Card payments are failing.".into()),
            condition: Condition::GreaterThan,
            threshold: 100.0,
            window_minutes: 5,
            levels: vec![Level::Error, Level::Critical],
            services: vec!["checkout".into()],
            query: Some("declined".into()),
            channel,
            channel_config,
            is_active: true,
            cooldown_minutes: 15,
        },
        owner_id: Some(1),
        created_at: now,
        updated_at: now,
        last_checked_at: None,
        last_triggered_at: None,
        trigger_count: 0,
    }
}

fn alert() -> TriggeredAlert {
    TriggeredAlert {
        id: 42,
        rule_id: 7,
        rule_name: "checkout errors".into(),
        triggered_at: Utc::now(),
        observed_value: 412.0,
        threshold: 100.0,
        window_minutes: 5,
        status: AlertStatus::Open,
        acknowledged_by: None,
        acknowledged_at: None,
        resolved_by: None,
        resolved_at: None,
        deliveries: vec![],
    }
}

fn outcomes(deliveries: &[Delivery]) -> Vec<(i64, bool)> {
    deliveries
        .iter()
        .map(|d| (d.attempt, d.succeeded))
        .collect()
}

#[tokio::test]
async fn a_signed_webhook_arrives_with_the_alert() {
    let receiver = Receiver::start(&[]).await;
    let rule = rule(
        Channel::Webhook,
        json!({"url": receiver.url, "secret": "s3cr3t"}),
    );
    let deliveries = notifier(&[]).deliver(&rule, &alert()).await;
    assert_eq!(outcomes(&deliveries), [(1, true)]);
    assert_eq!(deliveries[0].detail.as_deref(), Some("HTTP 200: ok"));

    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    let (headers, body) = (&requests[0].headers, &requests[0].body);
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["x-logflow-event"], "alert.triggered");
    // The receiver recomputes the signature over the exact bytes it got.
    let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cr3t").unwrap();
    mac.update(body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(headers["x-logflow-signature"].to_str().unwrap(), expected);

    let body: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(body["event"], "alert.triggered");
    assert_eq!(body["alert"]["id"], 42);
    assert_eq!(body["alert"]["observed_value"], 412.0);
    assert_eq!(body["alert"]["threshold"], 100.0);
    assert_eq!(body["alert"]["window_minutes"], 5);
    assert_eq!(body["alert"]["status"], "open");
    assert_eq!(body["rule"]["name"], "checkout errors");
    assert_eq!(body["rule"]["condition"], "greater_than");
    assert_eq!(body["rule"]["levels"], json!(["ERROR", "CRITICAL"]));
    assert_eq!(
        body["summary"],
        "checkout errors: 412 logs in 5 min (greater_than 100)"
    );
    assert!(
        !String::from_utf8_lossy(&requests[0].body).contains("s3cr3t"),
        "the secret is never sent"
    );
}

#[tokio::test]
async fn without_a_secret_there_is_no_signature() {
    let receiver = Receiver::start(&[]).await;
    let rule = rule(Channel::Webhook, json!({"url": receiver.url}));
    notifier(&[]).deliver(&rule, &alert()).await;
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    assert!(requests[0].headers.get("x-logflow-signature").is_none());
}

#[tokio::test]
async fn a_receiver_failing_twice_gets_one_successful_delivery_after_retries() {
    let receiver = Receiver::start(&[Answer::Status(503), Answer::Status(500)]).await;
    let rule = rule(Channel::Webhook, json!({"url": receiver.url}));
    let started = Instant::now();
    let deliveries = notifier(&[]).deliver(&rule, &alert()).await;
    assert_eq!(outcomes(&deliveries), [(1, false), (2, false), (3, true)]);
    assert_eq!(deliveries[0].detail.as_deref(), Some("HTTP 503: not now"));
    assert_eq!(receiver.requests().len(), 3, "no request after the success");
    // Backoff: at least 20 ms, then at least 40 ms between attempts.
    assert!(started.elapsed() >= Duration::from_millis(60));
    let gaps: Vec<_> = deliveries
        .windows(2)
        .map(|w| w[1].attempted_at - w[0].attempted_at)
        .collect();
    // 20–40 ms, then 40–80 ms (jittered doubling).
    assert!(gaps[1] >= gaps[0], "pauses grow: {gaps:?}");
}

#[tokio::test]
async fn a_client_error_is_not_retried_and_retries_are_bounded() {
    let refusing = Receiver::start(&[Answer::Status(404)]).await;
    let rule_404 = rule(Channel::Webhook, json!({"url": refusing.url}));
    let deliveries = notifier(&[]).deliver(&rule_404, &alert()).await;
    assert_eq!(outcomes(&deliveries), [(1, false)]);
    assert_eq!(refusing.requests().len(), 1);

    let failing = Receiver::start(&[Answer::Status(502); 10]).await;
    let rule_502 = rule(Channel::Webhook, json!({"url": failing.url}));
    let deliveries = notifier(&["--alert-notify-retries", "2"])
        .deliver(&rule_502, &alert())
        .await;
    assert_eq!(outcomes(&deliveries), [(1, false), (2, false), (3, false)]);
    assert_eq!(failing.requests().len(), 3);
}

#[tokio::test]
async fn network_errors_and_timeouts_are_retried() {
    // Nothing listens on this port.
    let url = format!("http://127.0.0.1:{}/hook", logflow_testkit::free_port());
    let rule_down = rule(Channel::Webhook, json!({"url": url}));
    let deliveries = notifier(&["--alert-notify-retries", "1"])
        .deliver(&rule_down, &alert())
        .await;
    assert_eq!(outcomes(&deliveries), [(1, false), (2, false)]);
    assert!(
        deliveries[0]
            .detail
            .as_deref()
            .unwrap()
            .starts_with("could not reach the receiver"),
        "{deliveries:?}"
    );

    let slow = Receiver::start(&[Answer::Hang(Duration::from_secs(3))]).await;
    let rule_slow = rule(
        Channel::Webhook,
        json!({"url": slow.url, "timeout_seconds": 1}),
    );
    let deliveries = notifier(&["--alert-notify-retries", "1"])
        .deliver(&rule_slow, &alert())
        .await;
    assert_eq!(outcomes(&deliveries), [(1, false), (2, true)]);
    assert_eq!(
        deliveries[0].detail.as_deref(),
        Some("no answer within 1 s")
    );
}

/// Slack's documented incoming-webhook shape: `text` (the notification
/// fallback) and Block Kit `blocks`: a `header` with `plain_text` of at
/// most 150 characters, `section`s with `mrkdwn` text (at most 3000) or at
/// most 10 `fields` (each at most 2000), `context` with at most 10
/// elements; at most 50 blocks.
fn assert_slack_shape(body: &Value) {
    assert!(body["text"].as_str().is_some_and(|t| !t.is_empty()));
    let blocks = body["blocks"].as_array().expect("blocks");
    assert!(!blocks.is_empty() && blocks.len() <= 50);
    let keys = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let text_object = |t: &Value, kind: &str, max: usize| {
        assert_eq!(t["type"], kind, "{t}");
        let text = t["text"].as_str().expect("text");
        assert!(!text.is_empty() && text.chars().count() <= max, "{t}");
    };
    for block in blocks {
        match block["type"].as_str().unwrap() {
            "header" => {
                assert_eq!(keys(block), ["text", "type"]);
                text_object(&block["text"], "plain_text", 150);
            }
            "section" => {
                if let Some(fields) = block.get("fields") {
                    let fields = fields.as_array().unwrap();
                    assert!(!fields.is_empty() && fields.len() <= 10);
                    fields.iter().for_each(|f| text_object(f, "mrkdwn", 2000));
                } else {
                    text_object(&block["text"], "mrkdwn", 3000);
                }
            }
            "context" => {
                let elements = block["elements"].as_array().unwrap();
                assert!(!elements.is_empty() && elements.len() <= 10);
                elements.iter().for_each(|e| text_object(e, "mrkdwn", 3000));
            }
            other => panic!("unexpected block type {other}"),
        }
    }
}

#[tokio::test]
async fn slack_gets_an_incoming_webhook_message() {
    let receiver = Receiver::start(&[]).await;
    let rule = rule(Channel::Slack, json!({"webhook_url": receiver.url}));
    let deliveries = notifier(&[]).deliver(&rule, &alert()).await;
    assert_eq!(outcomes(&deliveries), [(1, true)]);
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].headers["content-type"], "application/json");
    assert!(requests[0].headers.get("x-logflow-signature").is_none());
    let body: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_slack_shape(&body);
    assert_eq!(
        body["text"],
        "LogFlow alert — checkout errors: 412 logs in 5 min (greater_than 100)"
    );
    let blocks = body["blocks"].as_array().unwrap();
    assert_eq!(
        blocks[0]["text"]["text"],
        ":rotating_light: checkout errors"
    );
    let fields: Vec<&str> = blocks
        .iter()
        .filter_map(|b| b["fields"].as_array())
        .flatten()
        .map(|f| f["text"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"*Observed*\n412"), "{fields:?}");
    assert!(fields.contains(&"*Services*\ncheckout"), "{fields:?}");

    // A rule name longer than Slack allows in a header is cut to fit.
    let mut long = rule.clone();
    long.spec.name = "n".repeat(500);
    notifier(&[]).deliver(&long, &alert()).await;
    let body: Value = serde_json::from_slice(&receiver.requests()[1].body).unwrap();
    assert_slack_shape(&body);
}

/// aiosmtpd on a free port, writing what it accepts to `out`.
struct SmtpSink {
    child: Child,
    port: u16,
}

impl SmtpSink {
    fn start(out: &Path, tls: Option<(&Path, &Path)>) -> SmtpSink {
        let port = logflow_testkit::free_port();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp_sink.py");
        let mut cmd = Command::new("python3");
        cmd.arg(script).arg(port.to_string()).arg(out);
        if let Some((cert, key)) = tls {
            cmd.arg(cert).arg(key);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the SMTP sink");
        let mut ready = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
            &mut ready,
        )
        .unwrap();
        assert_eq!(
            ready.trim(),
            "ready",
            "the SMTP sink needs aiosmtpd (pip install aiosmtpd; scripts/test.sh installs it)"
        );
        SmtpSink { child, port }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn received(out: &Path) -> Vec<Value> {
    let mut files: Vec<_> = std::fs::read_dir(out)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect()
}

/// A notifier sending mail to the sink on `port`, with `args` beside.
fn smtp_notifier(port: u16, args: &[&str]) -> Notifier {
    let port = port.to_string();
    let mut argv = vec!["--smtp-host", "127.0.0.1", "--smtp-port", &port];
    argv.extend_from_slice(args);
    notifier(&argv)
}

fn email_rule() -> AlertRule {
    rule(
        Channel::Email,
        json!({"to": ["ops@example.com", "Oncall <oncall@example.com>"], "subject_prefix": "[prod]"}),
    )
}

#[tokio::test]
async fn email_reaches_the_smtp_server() {
    let out = tempfile::tempdir().unwrap();
    let sink = SmtpSink::start(out.path(), None);
    // The sink offers no STARTTLS: the default upgrades only when offered.
    let notifier = smtp_notifier(
        sink.port,
        &["--smtp-from", "LogFlow Alerts <alerts@logflow.test>"],
    );
    let deliveries = notifier.deliver(&email_rule(), &alert()).await;
    assert_eq!(outcomes(&deliveries), [(1, true)], "{deliveries:?}");
    assert!(deliveries[0]
        .detail
        .as_deref()
        .unwrap()
        .contains("OK queued as test-1"));

    let mail = received(out.path());
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0]["mail_from"], "alerts@logflow.test");
    assert_eq!(
        mail[0]["rcpt_tos"],
        json!(["ops@example.com", "oncall@example.com"])
    );
    assert_eq!(mail[0]["tls"], false);
    let data = mail[0]["data"].as_str().unwrap();
    assert!(
        data.contains("Subject: [prod] checkout errors: 412 logs in 5 min (greater_than 100)"),
        "{data}"
    );
    assert!(
        data.contains("From: \"LogFlow Alerts\" <alerts@logflow.test>"),
        "{data}"
    );
    assert!(data.contains("Observed:   412 logs"), "{data}");
    assert!(data.contains("Services:   checkout"), "{data}");
    assert!(
        data.contains("/api/v1/alerts/triggered/42/acknowledge"),
        "{data}"
    );
}

#[tokio::test]
async fn email_uses_starttls_when_the_server_offers_it() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl makes a test certificate");
    assert!(made.success());
    let out = dir.path().join("mail");
    std::fs::create_dir(&out).unwrap();
    let sink = SmtpSink::start(&out, Some((&cert, &key)));
    let ca = cert.to_str().unwrap();

    for mode in ["starttls", "required"] {
        let deliveries = smtp_notifier(sink.port, &["--smtp-tls", mode, "--smtp-ca-file", ca])
            .deliver(&email_rule(), &alert())
            .await;
        assert_eq!(outcomes(&deliveries), [(1, true)], "{mode}: {deliveries:?}");
    }
    let mail = received(&out);
    assert_eq!(mail.len(), 2);
    assert!(mail.iter().all(|m| m["tls"] == true), "both sent encrypted");

    // Without trusting the certificate, STARTTLS fails and nothing is sent
    // in the clear instead.
    let deliveries = smtp_notifier(sink.port, &["--alert-notify-retries", "0"])
        .deliver(&email_rule(), &alert())
        .await;
    assert_eq!(outcomes(&deliveries), [(1, false)], "{deliveries:?}");
    assert_eq!(received(&out).len(), 2);
}

#[tokio::test]
async fn email_without_a_server_or_starttls_fails_clearly() {
    let deliveries = notifier(&[]).deliver(&email_rule(), &alert()).await;
    assert_eq!(outcomes(&deliveries), [(1, false)]);
    assert!(deliveries[0]
        .detail
        .as_deref()
        .unwrap()
        .contains("SMTP_HOST"));

    // STARTTLS demanded of a server that does not offer it: not sent.
    let out = tempfile::tempdir().unwrap();
    let sink = SmtpSink::start(out.path(), None);
    let deliveries = smtp_notifier(
        sink.port,
        &["--smtp-tls", "required", "--alert-notify-retries", "0"],
    )
    .deliver(&email_rule(), &alert())
    .await;
    assert_eq!(outcomes(&deliveries), [(1, false)], "{deliveries:?}");
    assert!(received(out.path()).is_empty());
}

#[tokio::test]
async fn a_stalled_smtp_server_times_out() {
    // Accepts connections and never says a word.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let deliveries = smtp_notifier(
        port,
        &["--smtp-timeout", "1s", "--alert-notify-retries", "1"],
    )
    .deliver(&email_rule(), &alert())
    .await;
    assert_eq!(outcomes(&deliveries), [(1, false), (2, false)]);
    assert_eq!(
        deliveries[0].detail.as_deref(),
        Some("the SMTP server did not finish within 1 s")
    );
    held.abort();
}

#[test]
fn a_username_without_a_password_is_refused_at_start() {
    let args = Cli::parse_from([
        "logflow",
        "--smtp-host",
        "mail.test",
        "--smtp-username",
        "me",
    ]);
    let err = Notifier::new(&args.notify).err().expect("refused");
    assert!(
        err.to_string().contains("SMTP_USERNAME and SMTP_PASSWORD"),
        "{err}"
    );
}
