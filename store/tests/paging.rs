//! Paging with cursors: every record exactly once, in a total order, even
//! when many records share one timestamp.

mod common;

use chrono::Duration;
use common::*;
use logflow_core::{Level, LogFilter, LogRecord, RecordId, StoredLog};
use logflow_store::LogStore;
use std::collections::HashSet;

/// 2,500 records: 1,000 at one shared instant, 1,500 spread over the
/// minutes before it, written as three batches on three partitions.
async fn fixture(store: &impl LogStore) {
    let shared = at("2026-11-22T12:00:00.5Z");
    for partition in 0..3 {
        let records: Vec<LogRecord> = (0..834)
            .filter(|i| partition * 834 + i < 2500)
            .map(|i| {
                let n = partition * 834 + i;
                let ts = if n % 5 < 2 {
                    shared
                } else {
                    shared - Duration::milliseconds(i64::from(n) * 37)
                };
                let level = if n % 2 == 0 { Level::Info } else { Level::Warn };
                LogRecord::new(ts, "api", level, format!("request {n}"))
            })
            .collect();
        store
            .write(batch(partition, 0, records).into())
            .await
            .expect("write");
    }
}

fn key(log: &StoredLog) -> (i64, u64) {
    let id: RecordId = log.id.parse().expect("record id");
    (log.record.timestamp.timestamp_micros(), id.seq())
}

fn assert_strictly_newest_first(pages: &[Vec<StoredLog>]) {
    let all: Vec<&StoredLog> = pages.iter().flatten().collect();
    for pair in all.windows(2) {
        assert!(
            key(pair[0]) > key(pair[1]),
            "{} then {}",
            pair[0].id,
            pair[1].id
        );
    }
    let unique: HashSet<&str> = all.iter().map(|log| log.id.as_str()).collect();
    assert_eq!(unique.len(), all.len(), "a record appeared twice");
}

#[tokio::test]
async fn paging_returns_every_record_once_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = writer(dir.path());
    fixture(&store).await;

    let pages = all_pages(&store, &LogFilter::default(), 1000).await;
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![1000, 1000, 500]);
    assert_strictly_newest_first(&pages);
    let shared = pages
        .iter()
        .flatten()
        .filter(|l| l.record.timestamp == at("2026-11-22T12:00:00.5Z"));
    assert_eq!(shared.count(), 1000);

    // Small pages cut through the run of equal timestamps many times.
    let pages = all_pages(&store, &LogFilter::default(), 7).await;
    assert_eq!(pages.iter().map(Vec::len).sum::<usize>(), 2500);
    assert_strictly_newest_first(&pages);
}

#[tokio::test]
async fn paging_keeps_the_filter_and_ends_without_a_cursor_on_an_exact_fit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = writer(dir.path());
    fixture(&store).await;

    let info = LogFilter {
        levels: vec![Level::Info],
        ..Default::default()
    };
    let pages = all_pages(&store, &info, 1000).await;
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![1000, 250]);
    assert!(pages
        .iter()
        .flatten()
        .all(|l| l.record.level == Level::Info));
    assert_strictly_newest_first(&pages);

    // Exactly one full page: no cursor to an empty second page.
    let pages = all_pages(&store, &info, 625).await;
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![625, 625]);
}

#[tokio::test]
async fn paging_is_exact_across_many_segments_with_overlapping_times() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = writer(dir.path());
    // 20 batches (one segment each until merged); batch b holds seconds
    // b, b+20, b+40, ... so every segment spans almost the whole range, and
    // the last batches also repeat earlier instants.
    let base = at("2026-11-22T08:00:00Z");
    for b in 0..20i64 {
        let records: Vec<LogRecord> = (0..50i64)
            .map(|i| {
                let second = if b >= 15 { i * 3 } else { b + i * 20 };
                LogRecord::new(base + Duration::seconds(second), "api", Level::Info, "tick")
            })
            .collect();
        store
            .write(batch(0, b * 50, records).into())
            .await
            .expect("write");
    }
    let pages = all_pages(&store, &LogFilter::default(), 30).await;
    assert_eq!(pages.iter().map(Vec::len).sum::<usize>(), 1000);
    assert_strictly_newest_first(&pages);
}
