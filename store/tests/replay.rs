//! Replays after a crash never duplicate, and readers in other processes
//! see what the writer commits.

mod common;

use common::*;
use logflow_core::{Level, LogFilter, LogRecord};
use logflow_store::{LogStore, StoreError, WriteOutcome};
use std::time::{Duration, Instant};

fn records(n: usize, day: &str) -> Vec<LogRecord> {
    (0..n)
        .map(|i| {
            let ts = at(&format!("{day}T10:00:00Z")) + chrono::Duration::seconds(i as i64);
            LogRecord::new(ts, "api", Level::Info, format!("line {i}"))
        })
        .collect()
}

async fn count(store: &impl LogStore) -> u64 {
    store.count(&LogFilter::default()).await.expect("count")
}

#[tokio::test]
async fn replaying_a_batch_counts_duplicates_and_adds_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = writer(dir.path());
    let first = batch(0, 0, records(100, "2026-11-22"));

    let outcome = store.write(first.clone().into()).await.expect("write");
    assert_eq!(
        outcome,
        WriteOutcome {
            indexed: 100,
            duplicates: 0,
            ..Default::default()
        }
    );
    let outcome = store.write(first.clone().into()).await.expect("replay");
    assert_eq!(
        outcome,
        WriteOutcome {
            indexed: 0,
            duplicates: 100,
            ..Default::default()
        }
    );
    assert_eq!(count(&store).await, 100);

    // Offsets 50..150: half replayed, half new.
    let overlap = batch(0, 50, records(100, "2026-11-22"));
    let outcome = store.write(overlap.into()).await.expect("overlap");
    assert_eq!(
        outcome,
        WriteOutcome {
            indexed: 50,
            duplicates: 50,
            ..Default::default()
        }
    );
    assert_eq!(count(&store).await, 150);

    // Another partition's offsets are its own.
    let other = batch(1, 0, records(10, "2026-11-22"));
    assert_eq!(store.write(other.into()).await.expect("p1").indexed, 10);
    assert_eq!(count(&store).await, 160);
}

#[tokio::test]
async fn dedupe_survives_a_restart_and_works_per_day() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut two_days = records(20, "2026-11-21");
    two_days.extend(records(20, "2026-11-22"));
    let two_days = batch(0, 0, two_days);
    {
        let store = writer(dir.path());
        assert_eq!(
            store
                .write(two_days.clone().into())
                .await
                .expect("write")
                .indexed,
            40
        );
    }
    // A new process: the offsets come back from the commit payloads.
    let store = writer(dir.path());
    let outcome = store.write(two_days.into()).await.expect("replay");
    assert_eq!(
        outcome,
        WriteOutcome {
            indexed: 0,
            duplicates: 40,
            ..Default::default()
        }
    );
    assert_eq!(count(&store).await, 40);
    // Duplicates inside one batch are caught too.
    let mut twice = batch(0, 40, records(5, "2026-11-22"));
    twice.extend(twice.clone());
    let outcome = store.write(twice.into()).await.expect("write");
    assert_eq!(
        outcome,
        WriteOutcome {
            indexed: 5,
            duplicates: 5,
            ..Default::default()
        }
    );
}

#[tokio::test]
async fn a_read_only_store_sees_later_commits_and_new_days() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("indexes");
    // The reader may start before the processor has created anything.
    let ro = reader(&root);
    assert_eq!(count(&ro).await, 0);
    let rw = writer(&root);
    rw.write(batch(0, 0, records(10, "2026-11-21")).into())
        .await
        .expect("write");
    wait_for_count(&ro, 10).await;
    rw.write(batch(0, 10, records(10, "2026-11-21")).into())
        .await
        .expect("write");
    wait_for_count(&ro, 20).await;
    rw.write(batch(0, 20, records(10, "2026-11-22")).into())
        .await
        .expect("write");
    wait_for_count(&ro, 30).await;

    assert!(matches!(
        ro.write(batch(0, 30, records(1, "2026-11-22")).into())
            .await,
        Err(StoreError::ReadOnly)
    ));
    assert!(matches!(
        ro.drop_before(at("2030-01-01T00:00:00Z")).await,
        Err(StoreError::ReadOnly)
    ));
    // A reader opened later sees everything at once.
    assert_eq!(count(&reader(&root)).await, 30);
}

/// Polls until the reader sees `want` records; fails after 3 s.
async fn wait_for_count(store: &impl LogStore, want: u64) {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let seen = count(store).await;
        if seen == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "reader saw {seen} records, expected {want}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
