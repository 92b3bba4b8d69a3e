//! One index per UTC day: records land by their own timestamp, searches
//! and aggregations merge the days, retention drops whole old days.

mod common;

use chrono::{Duration, Utc};
use common::*;
use logflow_core::{Level, LogFilter, LogRecord};
use logflow_store::{LogStore, TermCount};
use std::time::Duration as StdDuration;

/// 30 records on each of 20, 21 and 22 November (21:00 to 22:56 UTC, one
/// every 4 minutes, service `svc-<day>`), all in one batch: every third an
/// ERROR "db down".
async fn fixture(store: &impl LogStore) -> Vec<LogRecord> {
    let start = at("2026-11-20T21:00:00Z");
    let records: Vec<LogRecord> = (0..90)
        .map(|i| {
            let day = i / 30;
            let ts = start + Duration::days(day) + Duration::minutes((i % 30) * 4);
            let level = if i % 3 == 0 {
                Level::Error
            } else {
                Level::Info
            };
            let message = if level == Level::Error {
                "db down"
            } else {
                "ok"
            };
            LogRecord::new(ts, format!("svc-{day}"), level, message)
        })
        .collect();
    let outcome = store
        .write(batch(0, 0, records.clone()).into())
        .await
        .expect("write");
    assert_eq!(outcome.indexed, 90);
    records
}

#[tokio::test]
async fn records_land_in_their_days_and_searches_merge_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = writer(dir.path());
    fixture(&store).await;

    let stats = store.stats().await.expect("stats");
    assert_eq!(
        stats.indexes,
        vec!["logs-2026-11-20", "logs-2026-11-21", "logs-2026-11-22"]
    );
    assert_eq!(stats.documents, 90);
    assert!(stats.size_bytes > 0);
    for name in &stats.indexes {
        assert!(dir.path().join(name).is_dir(), "{name}");
    }

    // Pages of 20 cross the day boundaries in order.
    let pages = all_pages(&store, &LogFilter::default(), 20).await;
    let all: Vec<_> = pages.into_iter().flatten().collect();
    assert_eq!(all.len(), 90);
    assert!(all
        .windows(2)
        .all(|w| w[0].record.timestamp > w[1].record.timestamp));
    assert_eq!(all[0].id, id(0, 89));
    assert_eq!(all[89].id, id(0, 0));

    // A time range inside one day; an id from the oldest day.
    let day21 = LogFilter {
        from: Some(at("2026-11-21T00:00:00Z")),
        to: Some(at("2026-11-22T00:00:00Z")),
        ..Default::default()
    };
    assert_eq!(store.count(&day21).await.expect("count"), 30);
    let first = store.get(&id(0, 0)).await.expect("get").expect("found");
    assert_eq!(first.record.service, "svc-0");
}

#[tokio::test]
async fn aggregations_merge_the_days() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = writer(dir.path());
    fixture(&store).await;
    let all = LogFilter::default();

    assert_eq!(store.count(&all).await.expect("count"), 90);
    let tc = |key: &str, count| TermCount {
        key: key.into(),
        count,
    };
    assert_eq!(
        store.count_by_level(&all).await.expect("levels"),
        vec![tc("INFO", 60), tc("ERROR", 30)]
    );
    assert_eq!(
        store.count_by_service(&all).await.expect("services"),
        vec![tc("svc-0", 30), tc("svc-1", 30), tc("svc-2", 30)]
    );
    assert_eq!(
        store.top_errors(&all, 5).await.expect("top"),
        vec![tc("db down", 30)]
    );

    // Daily buckets are aligned to the epoch, so they are the UTC days.
    let days = store
        .histogram(&all, StdDuration::from_secs(86_400))
        .await
        .expect("histogram");
    let starts: Vec<_> = days.iter().map(|b| (b.start, b.count)).collect();
    assert_eq!(
        starts,
        vec![
            (at("2026-11-20T00:00:00Z"), 30),
            (at("2026-11-21T00:00:00Z"), 30),
            (at("2026-11-22T00:00:00Z"), 30)
        ]
    );
    assert_eq!(
        days[0].by_level,
        vec![(Level::Info, 20), (Level::Error, 10)]
    );
}

#[tokio::test]
async fn drop_before_removes_exactly_the_days_that_ended_before_the_cutoff() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = writer(dir.path());
    fixture(&store).await;

    // The 21st ends at 22T00:00, which is not before 21T23:59.
    let dropped = store
        .drop_before(at("2026-11-21T23:59:59Z"))
        .await
        .expect("drop");
    assert_eq!(dropped, vec!["logs-2026-11-20"]);
    assert!(!dir.path().join("logs-2026-11-20").exists());
    assert_eq!(store.count(&LogFilter::default()).await.expect("count"), 60);
    assert_eq!(store.get(&id(0, 0)).await.expect("get"), None);

    let dropped = store
        .drop_before(at("2026-11-22T00:00:00Z"))
        .await
        .expect("drop");
    assert_eq!(dropped, vec!["logs-2026-11-21"]);
    let stats = store.stats().await.expect("stats");
    assert_eq!(stats.indexes, vec!["logs-2026-11-22"]);
    assert_eq!(stats.documents, 30);
    assert!(store
        .drop_before(Utc::now() - Duration::days(3650))
        .await
        .expect("drop")
        .is_empty());

    // The remaining day still takes writes after its neighbours went away.
    let late = LogRecord::new(at("2026-11-22T23:00:00Z"), "svc-2", Level::Info, "late");
    store
        .write(batch(0, 90, vec![late]).into())
        .await
        .expect("write");
    assert_eq!(store.count(&LogFilter::default()).await.expect("count"), 31);
}
