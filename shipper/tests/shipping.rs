//! The shipper against a real Kafka-protocol broker (tansu): every line
//! arrives, once, through appends, rotation, truncation, restarts and a
//! broker that is down at start-up.

mod common;

use std::fs;
use std::time::Duration;

use common::{append, as_file, numbered, texts, Tailing, WITHIN};
use logflow_shipper::{HEADER_HOST, HEADER_SOURCE, HEADER_TRUNCATED};

/// Long enough for anything wrongly shipped to show up.
const QUIET: Duration = Duration::from_millis(1500);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_is_shipped_exactly_with_key_and_headers() -> anyhow::Result<()> {
    let tailing = Tailing::new("exact").await;
    let path = tailing.log("payment-service.log");
    let lines = numbered("pay", 0, 5000);
    // One line ends in CRLF: shipped without its `\r`.
    fs::write(&path, as_file(&lines).replacen("\n", "\r\n", 1))?;

    let shipper = tailing.ship("*.log", &[]);
    let reader = tailing.reader().await;
    let records = reader.read(lines.len(), WITHIN).await;
    assert_eq!(texts(&records), lines);
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    for record in &records {
        assert_eq!(record.key.as_deref(), Some(&b"payment-service"[..]));
        assert_eq!(
            record.header(HEADER_SOURCE),
            Some(path.display().to_string())
        );
        assert_eq!(record.header(HEADER_HOST).as_deref(), Some(host.as_str()));
        assert_eq!(record.header(HEADER_TRUNCATED), None);
    }
    assert!(
        reader.read_rest(QUIET).await.is_empty(),
        "a record came twice"
    );
    shipper.stop().await?;

    let metrics = logflow_shipper::metrics_snapshot();
    assert!(metrics.records_acked >= lines.len() as u64, "{metrics:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appended_lines_arrive_and_partial_lines_wait() -> anyhow::Result<()> {
    let tailing = Tailing::new("append").await;
    let path = tailing.log("api.log");
    fs::write(&path, "one\ntwo\n")?;

    let shipper = tailing.ship("api.log", &[]);
    let reader = tailing.reader().await;
    assert_eq!(texts(&reader.read(2, WITHIN).await), ["one", "two"]);

    append(&path, "three\nfo");
    assert_eq!(texts(&reader.read(1, WITHIN).await), ["three"]);
    assert!(
        reader.read_rest(QUIET).await.is_empty(),
        "a partial line was shipped"
    );
    append(&path, "ur\n");
    assert_eq!(texts(&reader.read(1, WITHIN).await), ["four"]);
    shipper.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_by_rename_loses_nothing_and_keeps_order() -> anyhow::Result<()> {
    let tailing = Tailing::new("rename").await;
    let path = tailing.log("app.log");
    let before = numbered("old", 0, 1000);
    fs::write(&path, as_file(&before))?;

    let shipper = tailing.ship("app.log", &[]);
    let reader = tailing.reader().await;
    assert_eq!(texts(&reader.read(before.len(), WITHIN).await), before);

    // The application writes, the file is renamed away (out of the glob),
    // the application still writes to its open handle, then reopens.
    let mut still_open = fs::OpenOptions::new().append(true).open(&path)?;
    let tail = numbered("old", 1000, 500);
    std::io::Write::write_all(&mut still_open, as_file(&tail[..250]).as_bytes())?;
    fs::rename(&path, tailing.log("app.log.1"))?;
    std::io::Write::write_all(&mut still_open, as_file(&tail[250..]).as_bytes())?;
    let fresh = numbered("new", 0, 1000);
    fs::write(&path, as_file(&fresh))?;

    let records = texts(&reader.read(tail.len() + fresh.len(), WITHIN).await);
    let expected: Vec<String> = tail.iter().chain(&fresh).cloned().collect();
    assert_eq!(records, expected, "old file first, then the new one");
    assert!(reader.read_rest(QUIET).await.is_empty());
    shipper.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncation_starts_the_file_over() -> anyhow::Result<()> {
    let tailing = Tailing::new("truncate").await;
    let path = tailing.log("app.log");
    let before = numbered("before", 0, 500);
    fs::write(&path, as_file(&before))?;

    let shipper = tailing.ship("*.log", &[]);
    let reader = tailing.reader().await;
    assert_eq!(texts(&reader.read(before.len(), WITHIN).await), before);

    // copytruncate: same file, emptied, then written again (shorter).
    let after = numbered("after", 0, 20);
    fs::write(&path, as_file(&after))?;
    assert_eq!(texts(&reader.read(after.len(), WITHIN).await), after);
    assert!(reader.read_rest(QUIET).await.is_empty());
    shipper.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_files_matching_the_glob_are_picked_up() -> anyhow::Result<()> {
    let tailing = Tailing::new("newfile").await;
    fs::write(tailing.log("orders.log"), "first order\n")?;

    let shipper = tailing.ship("*.log", &[]);
    let reader = tailing.reader().await;
    assert_eq!(texts(&reader.read(1, WITHIN).await), ["first order"]);

    fs::write(tailing.log("users.log"), "user signed up\n")?;
    fs::write(tailing.log("notes.txt"), "not a log\n")?;
    let records = reader.read(1, WITHIN).await;
    assert_eq!(texts(&records), ["user signed up"]);
    assert_eq!(records[0].key.as_deref(), Some(&b"users"[..]));
    assert!(
        reader.read_rest(QUIET).await.is_empty(),
        "notes.txt does not match"
    );
    shipper.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_resumes_from_the_checkpoint() -> anyhow::Result<()> {
    let tailing = Tailing::new("restart").await;
    let path = tailing.log("app.log");
    let checkpoints = tailing.checkpoints();
    let start = || tailing.ship("*.log", &[]);
    let all = numbered("app", 0, 3000);
    fs::write(&path, as_file(&all[..1000]))?;

    let shipper = start();
    let reader = tailing.reader().await;
    assert_eq!(texts(&reader.read(1000, WITHIN).await), all[..1000]);
    shipper.stop().await?;
    // Kept to play a crash later: the checkpoint as it was at this point.
    let older = fs::read(checkpoints.join("checkpoints.json"))?;

    // Stopped cleanly, everything acknowledged: only new lines come.
    append(&path, &as_file(&all[1000..2000]));
    let shipper = start();
    assert_eq!(texts(&reader.read(1000, WITHIN).await), all[1000..2000]);
    assert!(
        reader.read_rest(QUIET).await.is_empty(),
        "a line was sent again"
    );
    shipper.stop().await?;

    // A crash loses the checkpoint writes since `older`: the records after
    // it come again, and nothing is missing.
    fs::write(checkpoints.join("checkpoints.json"), older)?;
    append(&path, &as_file(&all[2000..]));
    let shipper = start();
    assert_eq!(texts(&reader.read(2000, WITHIN).await), all[1000..]);
    assert!(reader.read_rest(QUIET).await.is_empty());
    shipper.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_down_at_start_is_waited_for() -> anyhow::Result<()> {
    let mut tailing = Tailing::broker_down("down");
    let lines = numbered("waiting", 0, 2000);
    fs::write(tailing.log("app.log"), as_file(&lines))?;

    // Few permits: reading must wait for the broker, not buffer it all.
    let shipper = tailing.ship("*.log", &["--max-in-flight", "100"]);
    tokio::time::sleep(Duration::from_secs(3)).await;

    tailing.start_broker().await;
    let reader = tailing.reader().await;
    assert_eq!(texts(&reader.read(lines.len(), WITHIN).await), lines);
    assert!(reader.read_rest(QUIET).await.is_empty());
    shipper.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_are_joined_cut_and_passed_through_as_needed() -> anyhow::Result<()> {
    let tailing = Tailing::new("shapes").await;
    let path = tailing.log("worker.log");
    let long = "x".repeat(300);
    let mut data = Vec::new();
    data.extend_from_slice(b"ERROR charge failed\njava.lang.IllegalStateException: declined\n");
    data.extend_from_slice(b"\tat a.B.c(B.java:1)\nINFO next\n");
    data.extend_from_slice(format!("{long}\n").as_bytes());
    data.extend_from_slice(b"bad \xff\xfe bytes\nINFO last\n");
    fs::write(&path, data)?;

    let shipper = tailing.ship("*.log", &["--max-line-bytes", "100"]);
    let reader = tailing.reader().await;
    // The last record is held until the file has been quiet for a second.
    let records = reader.read(5, WITHIN).await;
    let payloads: Vec<&[u8]> = records.iter().map(|r| r.payload.as_slice()).collect();
    assert_eq!(
        payloads,
        [
            &b"ERROR charge failed\njava.lang.IllegalStateException: declined\n\tat a.B.c(B.java:1)"[..],
            b"INFO next",
            &long.as_bytes()[..100],
            b"bad \xff\xfe bytes",
            b"INFO last",
        ]
    );
    assert_eq!(records[2].header(HEADER_TRUNCATED).as_deref(), Some("300"));
    assert_eq!(records[3].header(HEADER_TRUNCATED), None);
    shipper.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starting_at_the_end_ships_only_what_comes_next() -> anyhow::Result<()> {
    let tailing = Tailing::new("at-end").await;
    let path = tailing.log("app.log");
    fs::write(&path, "old one\nold two\nbeing writ")?;

    let flags = ["--from-beginning", "false", "--multiline", "off"];
    let shipper = tailing.ship("*.log", &flags);
    let reader = tailing.reader().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    append(&path, "ten\nnew\n");
    let records = texts(&reader.read(2, WITHIN).await);
    assert_eq!(records, ["being written", "new"]);
    assert!(reader.read_rest(QUIET).await.is_empty());
    shipper.stop().await?;

    // The starting point was checkpointed: a restart does not skip ahead.
    append(&path, "after restart\n");
    let shipper = tailing.ship("*.log", &flags);
    assert_eq!(texts(&reader.read(1, WITHIN).await), ["after restart"]);
    shipper.stop().await?;
    Ok(())
}
