//! End-to-end stories of the log path with the real broker and the real
//! `logflow` binary: shipper → Kafka → processor → store.

mod common;

use common::*;
use logflow_testkit::{unique_topic, Broker, Reader};
use std::io::Write;
use std::time::Duration;

/// Writes `n` JSON log lines, each with a unique `seq`, to `path`.
fn write_numbered_lines(path: &std::path::Path, n: usize) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("log file"));
    for i in 0..n {
        writeln!(
            out,
            r#"{{"timestamp":"2026-11-22T10:00:00Z","level":"info","service":"checkout","message":"line {i:06}","seq":{i}}}"#
        )
        .expect("write line");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shipped_file_is_searchable_exactly_and_bad_lines_go_to_the_dlq() {
    let broker = Broker::start().await;
    let topic = unique_topic("e2e");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let logs = dir.path().join("app.log");
    const N: u64 = 20_000;

    let mut generate = logflow("generator", &broker, &topic, &data);
    generate.args([
        "generator",
        "--output",
        "file",
        "--rate",
        "0",
        "--count",
        &N.to_string(),
    ]);
    generate.arg("--file").arg(&logs);
    run_ok("generator", generate);
    // Two lines nobody can parse, in the middle of good ones; a bracketed
    // line is plain text, not broken JSON.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&logs)
        .unwrap();
    f.write_all(b"{\"message\": \"broken json\n").unwrap();
    f.write_all(b"\xff\xfe not utf-8 \xc3\x28\n").unwrap();
    f.write_all(b"[1, 2, 3]\n").unwrap();
    f.write_all(
        b"{\"message\":\"after the bad ones\",\"level\":\"warning\",\"service\":\"tail\"}\n",
    )
    .unwrap();
    drop(f);

    let mut processor = logflow("processor", &broker, &topic, &data);
    processor.arg("processor");
    let mut processor = spawn("processor", processor);
    let mut shipper = logflow("shipper", &broker, &topic, &data);
    shipper.arg("shipper").arg("--file").arg(&logs);
    let mut shipper = spawn("shipper", shipper);

    let expected = N + 2;
    let count = wait_until(
        "every good record indexed",
        Duration::from_secs(120),
        || async {
            let c = stored_count(&data).await;
            (c >= expected, c)
        },
    )
    .await;
    assert_eq!(count, expected);

    let dead = Reader::new(&broker.bootstrap(), &format!("{topic}.dlq"))
        .await
        .read(2, Duration::from_secs(30))
        .await;
    let mut reasons: Vec<String> = dead
        .iter()
        .filter_map(|m| m.header("logflow.dlq.reason"))
        .collect();
    reasons.sort();
    assert_eq!(reasons, ["invalid_json", "invalid_utf8"]);
    let payloads: Vec<&[u8]> = dead.iter().map(|m| m.payload.as_slice()).collect();
    assert!(
        payloads.contains(&&b"\xff\xfe not utf-8 \xc3\x28"[..]),
        "original bytes kept: {payloads:?}"
    );

    // Stop both cleanly (SIGTERM): nothing more can arrive, and nothing
    // more did: exactly N + 2.
    assert!(
        shipper.terminate().success(),
        "shipper exits cleanly on SIGTERM"
    );
    assert!(
        processor.terminate().success(),
        "processor exits cleanly on SIGTERM"
    );
    assert_eq!(stored_count(&data).await, expected);

    // The CLI finds the record that came after the bad lines, level mapped.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_logflow"))
        .args([
            "search",
            "after",
            "--service",
            "tail",
            "--level",
            "warn",
            "--json",
        ])
        .env("LOGFLOW_DATA_DIR", &data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = out
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["message"], "after the bad ones");
    assert_eq!(lines[0]["level"], "WARN");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processor_killed_mid_stream_ends_with_exactly_n() {
    let broker = Broker::start().await;
    let topic = unique_topic("kill-processor");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    const N: u64 = 150_000;

    let mut generate = logflow("generator", &broker, &topic, &data);
    generate.args([
        "generator",
        "--output",
        "kafka",
        "--rate",
        "0",
        "--count",
        &N.to_string(),
    ]);
    run_ok("generator", generate);

    let start_processor = || {
        let mut cmd = logflow("processor", &broker, &topic, &data);
        // Small batches so a kill lands between store commit and offset commit.
        cmd.args(["processor", "--batch-size", "5000"]);
        spawn("processor", cmd)
    };
    let mut first = start_processor();
    let seen = wait_until(
        "the processor to index part of the stream",
        Duration::from_secs(120),
        || async {
            let c = stored_count(&data).await;
            (c >= N / 4, c)
        },
    )
    .await;
    first.kill9();
    assert!(seen < N, "the kill should land mid-stream (saw {seen})");

    let mut second = start_processor();
    let count = wait_until(
        "all records after the restart",
        Duration::from_secs(120),
        || async {
            let c = stored_count(&data).await;
            (c >= N, c)
        },
    )
    .await;
    assert_eq!(count, N);
    // A clean stop (SIGTERM) finishes in time, and nothing more arrived.
    assert!(
        second.terminate().success(),
        "processor exits cleanly on SIGTERM"
    );
    assert_eq!(stored_count(&data).await, N, "no duplicates arrived later");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shipper_killed_mid_file_loses_nothing() {
    let broker = Broker::start().await;
    let topic = unique_topic("kill-shipper");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let logs = dir.path().join("checkout.log");
    const N: usize = 200_000;
    write_numbered_lines(&logs, N);

    let start_shipper = || {
        let mut cmd = logflow("shipper", &broker, &topic, &data);
        cmd.arg("shipper").arg("--file").arg(&logs);
        spawn("shipper", cmd)
    };
    let mut first = start_shipper();
    // Kill once a good part of the file was acknowledged by Kafka.
    Reader::new(&broker.bootstrap(), &topic)
        .await
        .read(N / 10, Duration::from_secs(60))
        .await;
    first.kill9();
    let _second = start_shipper();

    let reader = Reader::new(&broker.bootstrap(), &topic).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let mut times_sent = vec![0u32; N];
    let mut unique = 0;
    let mut count = |payload: &[u8]| {
        let value: serde_json::Value = serde_json::from_slice(payload).unwrap();
        let i = value["seq"].as_u64().unwrap() as usize;
        times_sent[i] += 1;
        times_sent[i] == 1
    };
    while unique < N {
        let Some(msg) = reader.try_next(deadline).await else {
            break;
        };
        unique += usize::from(count(&msg.payload));
    }
    // Whatever the restart re-sent and is still arriving.
    for msg in reader.read_rest(Duration::from_secs(3)).await {
        count(&msg.payload);
    }
    let missing: Vec<usize> = (0..N).filter(|&i| times_sent[i] == 0).take(10).collect();
    assert!(
        missing.is_empty(),
        "{} lines lost after the kill, first: {missing:?}",
        N - unique
    );
    // One kill re-sends at most the tail that was not yet checkpointed:
    // no line arrives more than twice.
    let most = times_sent.iter().max().copied().unwrap_or(0);
    assert!(most <= 2, "a line arrived {most} times after one kill");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdin_is_shipped_and_the_shipper_exits_once_acknowledged() {
    let broker = Broker::start().await;
    let topic = unique_topic("stdin");
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = logflow("shipper", &broker, &topic, dir.path());
    cmd.args(["shipper", "--stdin", "--service", "cli"])
        .stdin(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("start shipper");
    {
        let mut stdin = child.stdin.take().expect("stdin");
        // The last line has no newline: at EOF it is still shipped.
        stdin.write_all(b"first line\nsecond line").unwrap();
    }
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "shipper --stdin exited with {status}");

    let messages = Reader::new(&broker.bootstrap(), &topic)
        .await
        .read(2, Duration::from_secs(30))
        .await;
    let mut payloads: Vec<String> = messages.iter().map(|m| m.text()).collect();
    payloads.sort();
    assert_eq!(payloads, ["first line", "second line"]);
    assert!(messages
        .iter()
        .all(|m| m.key.as_deref() == Some(&b"cli"[..])));
    assert_eq!(
        messages[0].header("logflow.source").as_deref(),
        Some("stdin")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_stdin_pipe_is_acknowledged_as_it_goes() {
    let broker = Broker::start().await;
    let topic = unique_topic("stdin-open");
    let dir = tempfile::tempdir().unwrap();
    let port = logflow_testkit::free_port();
    let mut cmd = logflow("shipper", &broker, &topic, dir.path());
    cmd.args(["shipper", "--stdin", "--service", "cli"])
        .env("LOGFLOW_METRICS_ADDR", format!("127.0.0.1:{port}"))
        .stdin(std::process::Stdio::piped());
    let mut shipper = spawn("shipper", cmd);
    let mut stdin = shipper.child.stdin.take().expect("stdin");
    // A steady trickle, never quiet for the shipper's idle second and far
    // from a full batch, as from `tail -f app.log | logflow shipper --stdin`.
    let writer = std::thread::spawn(move || {
        for i in 0..100 {
            if writeln!(stdin, "line {i}")
                .and_then(|()| stdin.flush())
                .is_err()
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    // Records are counted as sent and acknowledged as they go, not only at
    // a pause or at the end.
    let url = format!("http://127.0.0.1:{port}/metrics");
    let acked = wait_until(
        "20 records acknowledged",
        Duration::from_secs(4),
        || async {
            let text = match reqwest::get(&url).await {
                Ok(r) => r.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            let acked = metric_value(&text, "shipper_records_acked_total").unwrap_or(0.0);
            (acked >= 20.0, acked)
        },
    )
    .await;
    assert!(acked < 100.0, "still writing: {acked}");
    shipper.kill9();
    let _ = writer.join();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_generators_file_is_readable_while_it_runs() {
    let broker = Broker::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("live.log");
    let mut cmd = logflow("generator", &broker, "unused", dir.path());
    cmd.args([
        "generator",
        "--output",
        "file",
        "--rate",
        "100",
        "--duration",
        "60s",
    ])
    .arg("--file")
    .arg(&file);
    let _generator = spawn("generator", cmd);
    // Long before the run ends, a tailing shipper can read whole lines.
    let lines = wait_until("lines in the file", Duration::from_secs(10), || async {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let lines = text.lines().count();
        (lines >= 50, lines)
    })
    .await;
    assert!(lines >= 50);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.ends_with('\n'), "only whole lines are written out");
}

/// What an Elasticsearch stand-in was sent: every `_bulk` document.
#[derive(Default)]
struct Indexed {
    documents: Vec<serde_json::Value>,
}

/// A stand-in for Elasticsearch enough for a processor: it accepts the
/// index template, answers retention's `_cat/indices` with none, and
/// answers `_bulk` item by item as Elasticsearch does — 201 for every
/// `create`, but 400 `document_parsing_exception` for a record whose
/// message is "poison".
async fn elastic_stand_in() -> (String, std::sync::Arc<std::sync::Mutex<Indexed>>) {
    use axum::extract::State;
    use axum::http::{Method, Uri};
    use serde_json::json;
    use std::sync::{Arc, Mutex};
    let seen = Arc::new(Mutex::new(Indexed::default()));
    async fn answer(
        State(seen): State<Arc<Mutex<Indexed>>>,
        method: Method,
        uri: Uri,
        body: String,
    ) -> axum::Json<serde_json::Value> {
        if method == Method::GET && uri.path().starts_with("/_cat/indices") {
            return axum::Json(json!([]));
        }
        if uri.path() != "/_bulk" {
            return axum::Json(json!({"acknowledged": true}));
        }
        let lines: Vec<serde_json::Value> = body
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let mut items = Vec::new();
        for pair in lines.chunks(2) {
            let doc = &pair[1];
            if doc["message"] == "poison" {
                items.push(json!({"create": {"status": 400, "error": {
                    "type": "document_parsing_exception",
                    "reason": "[1:90] failed to parse field [fields.n] of type [long]"}}}));
            } else {
                seen.lock().unwrap().documents.push(doc.clone());
                items.push(json!({"create": {"status": 201, "result": "created"}}));
            }
        }
        axum::Json(json!({"took": 1, "errors": true, "items": items}))
    }
    let app = axum::Router::new()
        .fallback(answer)
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_elasticsearch_refuses_goes_to_the_dlq_and_the_rest_is_stored() {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let broker = Broker::start().await;
    let topic = unique_topic("es");
    let dir = tempfile::tempdir().unwrap();
    let (es, indexed) = elastic_stand_in().await;
    let mut cmd = logflow("processor", &broker, &topic, dir.path());
    cmd.arg("processor")
        .env("ELASTICSEARCH_HOSTS", &es)
        .env("LOGFLOW_BATCH_WAIT", "100ms");
    let _processor = spawn("processor", cmd);

    let producer: FutureProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .create()
        .unwrap();
    for message in ["first", "poison", "last"] {
        let payload = format!(r#"{{"service":"svc","level":"info","message":"{message}"}}"#);
        producer
            .send(
                FutureRecord::to(&topic).key("svc").payload(&payload),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
    }
    let dead = Reader::new(&broker.bootstrap(), &format!("{topic}.dlq"))
        .await
        .read(1, Duration::from_secs(60))
        .await;
    assert_eq!(dead.len(), 1);
    assert_eq!(
        dead[0].header("logflow.dlq.reason").as_deref(),
        Some("store_rejected")
    );
    assert!(dead[0]
        .header("logflow.dlq.detail")
        .unwrap()
        .contains("document_parsing_exception"));
    let record: serde_json::Value = serde_json::from_str(&dead[0].text()).unwrap();
    assert_eq!(
        record["message"], "poison",
        "the record as it would have been stored"
    );
    let stored: Vec<String> =
        wait_until("the other two stored", Duration::from_secs(30), || async {
            let messages: Vec<String> = indexed
                .lock()
                .unwrap()
                .documents
                .iter()
                .map(|d| d["message"].as_str().unwrap().to_string())
                .collect();
            (messages.len() == 2, messages)
        })
        .await;
    assert_eq!(stored, ["first", "last"]);
}
