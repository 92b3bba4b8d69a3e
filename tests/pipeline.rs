//! End-to-end stories of the log path with the real broker and the real
//! `logflow` binary: shipper → Kafka → processor → store.

mod common;

use common::*;
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
    let broker = Broker::start();
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
    // Three lines nobody can parse, in the middle of good ones.
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
    let _processor = spawn("processor", processor);
    let mut shipper = logflow("shipper", &broker, &topic, &data);
    shipper.arg("shipper").arg("--file").arg(&logs);
    let _shipper = spawn("shipper", shipper);

    let expected = N + 1;
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

    let dead = read_topic(&broker, &format!("{topic}.dlq"), 3, Duration::from_secs(30)).await;
    let mut reasons: Vec<String> = dead
        .iter()
        .filter_map(|m| header(m, "logflow.dlq.reason"))
        .collect();
    reasons.sort();
    assert_eq!(reasons, ["invalid_json", "invalid_utf8", "not_an_object"]);
    let payloads: Vec<&[u8]> = dead
        .iter()
        .filter_map(|m| rdkafka::Message::payload(m))
        .collect();
    assert!(
        payloads.contains(&&b"\xff\xfe not utf-8 \xc3\x28"[..]),
        "original bytes kept: {payloads:?}"
    );

    // Nothing more arrives later: exactly N + 1.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(stored_count(&data).await, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processor_killed_mid_stream_ends_with_exactly_n() {
    let broker = Broker::start();
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

    let _second = start_processor();
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
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(stored_count(&data).await, N, "no duplicates arrive later");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shipper_killed_mid_file_loses_nothing() {
    let broker = Broker::start();
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
    // Kill once some records were acknowledged and checkpointed.
    let checkpoints = data.join("shipper");
    wait_until("a first checkpoint", Duration::from_secs(60), || async {
        let any = std::fs::read_dir(&checkpoints)
            .map(|d| d.count() > 0)
            .unwrap_or(false);
        (any, ())
    })
    .await;
    first.kill9();
    let _second = start_shipper();

    let reader = TopicReader::new(&broker, &topic);
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let mut seen = vec![false; N];
    let (mut unique, mut total) = (0, 0);
    while unique < N {
        let Some(msg) = reader.try_next(deadline).await else {
            break;
        };
        let value: serde_json::Value =
            serde_json::from_slice(rdkafka::Message::payload(&msg).unwrap()).unwrap();
        let i = value["seq"].as_u64().unwrap() as usize;
        total += 1;
        if !std::mem::replace(&mut seen[i], true) {
            unique += 1;
        }
    }
    let missing: Vec<usize> = (0..N).filter(|&i| !seen[i]).take(10).collect();
    assert!(
        missing.is_empty(),
        "{} lines lost after the kill, first: {missing:?}",
        N - unique
    );
    // At most the unacknowledged tail is sent twice.
    assert!(total - N <= 100_000, "resent {} lines", total - N);
}
