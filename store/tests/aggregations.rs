//! Aggregations are exact on a known data set.

mod common;

use common::*;
use logflow_core::{Level, LogFilter, LogRecord};
use logflow_store::{HistogramBucket, LogStore, TermCount};
use std::time::Duration;

/// (minute past 10:00, service, level, message)
const DATA: &[(u32, &str, Level, &str)] = &[
    (1, "api", Level::Info, "ok"),
    (1, "api", Level::Error, "timeout calling db"),
    (2, "api", Level::Error, "timeout calling db"),
    (4, "payment", Level::Critical, "ledger corrupt"),
    (4, "payment", Level::Error, "timeout calling db"),
    (7, "payment", Level::Warn, "slow"),
    (8, "auth", Level::Error, "bad token"),
    (21, "auth", Level::Error, "bad token"),
    (22, "api", Level::Info, "ok"),
    (24, "api", Level::Debug, "cache miss"),
];

async fn fixture(store: &impl LogStore) {
    let records: Vec<LogRecord> = DATA
        .iter()
        .map(|&(minute, service, level, message)| {
            let ts = at(&format!("2026-11-22T10:{minute:02}:30Z"));
            LogRecord::new(ts, service, level, message)
        })
        .collect();
    store
        .write(batch(0, 0, records).into())
        .await
        .expect("write");
}

fn tc(key: &str, count: u64) -> TermCount {
    TermCount {
        key: key.into(),
        count,
    }
}

#[tokio::test]
async fn counts_by_level_and_service_are_exact_and_most_frequent_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = writer(dir.path());
    fixture(&store).await;
    let all = LogFilter::default();

    assert_eq!(store.count(&all).await.expect("count"), 10);
    assert_eq!(
        store.count_by_level(&all).await.expect("levels"),
        vec![
            tc("ERROR", 5),
            tc("INFO", 2),
            tc("CRITICAL", 1),
            tc("DEBUG", 1),
            tc("WARN", 1)
        ]
    );
    assert_eq!(
        store.count_by_service(&all).await.expect("services"),
        vec![tc("api", 5), tc("payment", 3), tc("auth", 2)]
    );
    let payment = LogFilter {
        services: vec!["payment".into()],
        ..Default::default()
    };
    assert_eq!(
        store.count_by_level(&payment).await.expect("levels"),
        vec![tc("CRITICAL", 1), tc("ERROR", 1), tc("WARN", 1)]
    );
}

#[tokio::test]
async fn histogram_buckets_align_to_the_interval_and_omit_empty_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = writer(dir.path());
    fixture(&store).await;

    let buckets = store
        .histogram(&LogFilter::default(), Duration::from_secs(300))
        .await
        .expect("histogram");
    let bucket = |minute: u32, by_level: Vec<(Level, u64)>| HistogramBucket {
        start: at(&format!("2026-11-22T10:{minute:02}:00Z")),
        count: by_level.iter().map(|(_, c)| c).sum(),
        by_level,
    };
    assert_eq!(
        buckets,
        vec![
            bucket(
                0,
                vec![(Level::Info, 1), (Level::Error, 3), (Level::Critical, 1)]
            ),
            bucket(5, vec![(Level::Warn, 1), (Level::Error, 1)]),
            bucket(
                20,
                vec![(Level::Debug, 1), (Level::Info, 1), (Level::Error, 1)]
            ),
        ]
    );

    let errors_from_10_02_30 = LogFilter {
        levels: vec![Level::Error],
        from: Some(at("2026-11-22T10:02:30Z")),
        ..Default::default()
    };
    let buckets = store
        .histogram(&errors_from_10_02_30, Duration::from_secs(3600))
        .await
        .expect("histogram");
    assert_eq!(buckets.len(), 1);
    assert_eq!(buckets[0].start, at("2026-11-22T10:00:00Z"));
    assert_eq!(buckets[0].by_level, vec![(Level::Error, 4)]);
}

#[tokio::test]
async fn top_errors_counts_error_and_critical_messages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = writer(dir.path());
    fixture(&store).await;
    let all = LogFilter::default();

    assert_eq!(
        store.top_errors(&all, 10).await.expect("top"),
        vec![
            tc("timeout calling db", 3),
            tc("bad token", 2),
            tc("ledger corrupt", 1)
        ]
    );
    assert_eq!(
        store.top_errors(&all, 1).await.expect("top"),
        vec![tc("timeout calling db", 3)]
    );
    let payment = LogFilter {
        services: vec!["payment".into()],
        ..Default::default()
    };
    assert_eq!(
        store.top_errors(&payment, 10).await.expect("top"),
        vec![tc("ledger corrupt", 1), tc("timeout calling db", 1)]
    );
    let critical = LogFilter {
        levels: vec![Level::Critical, Level::Info],
        ..Default::default()
    };
    assert_eq!(
        store.top_errors(&critical, 10).await.expect("top"),
        vec![tc("ledger corrupt", 1)]
    );
    let info = LogFilter {
        levels: vec![Level::Info],
        ..Default::default()
    };
    assert!(store.top_errors(&info, 10).await.expect("top").is_empty());
}

#[tokio::test]
async fn top_errors_groups_long_messages_by_their_first_256_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = writer(dir.path());
    let prefix = "é".repeat(200); // 400 bytes: the cut lands mid-character
    let records = ["a", "b"]
        .iter()
        .map(|tail| {
            LogRecord::new(
                at("2026-11-22T10:00:00Z"),
                "api",
                Level::Error,
                format!("{prefix}{tail}"),
            )
        })
        .collect();
    store
        .write(batch(0, 0, records).into())
        .await
        .expect("write");
    let top = store
        .top_errors(&LogFilter::default(), 10)
        .await
        .expect("top");
    assert_eq!(top, vec![tc(&"é".repeat(128), 2)]);
    // The stored message itself is whole.
    let page = store.search(&Default::default()).await.expect("search");
    assert!(page.hits.iter().all(|h| h.record.message.len() == 401));
}

/// A filter restricting only time counts the segments it covers whole from
/// their term dictionaries; the answer must equal counting every document.
#[tokio::test]
async fn covered_segments_count_the_same_as_visited_ones() {
    let dir = tempfile::tempdir().unwrap();
    let store = writer(dir.path());
    // Three writes, three segments: 10:00–10:09, 10:20–10:29, 10:40–10:49.
    for (band, first) in [(0u32, 0i64), (20, 100), (40, 200)] {
        let records: Vec<LogRecord> = (0..10)
            .map(|i| {
                let ts = format!("2026-11-22T10:{:02}:00Z", band + i);
                let (service, level) = if i % 3 == 0 {
                    ("api", Level::Error)
                } else {
                    ("auth", Level::Info)
                };
                record(&ts, service, level, "m")
            })
            .collect();
        store.write(batch(0, first, records).into()).await.unwrap();
    }
    // Covers the middle segment whole and the last one in part (10:40–10:44).
    let time_only = LogFilter {
        from: Some(at("2026-11-22T10:15:00Z")),
        to: Some(at("2026-11-22T10:45:00Z")),
        ..LogFilter::default()
    };
    let every_service = LogFilter {
        services: vec!["api".into(), "auth".into()],
        ..time_only.clone()
    };
    let levels = store.count_by_level(&time_only).await.unwrap();
    assert_eq!(levels, [tc("INFO", 9), tc("ERROR", 6)]);
    assert_eq!(levels, store.count_by_level(&every_service).await.unwrap());
    let services = store.count_by_service(&time_only).await.unwrap();
    assert_eq!(services, [tc("auth", 9), tc("api", 6)]);
    assert_eq!(
        services,
        store.count_by_service(&every_service).await.unwrap()
    );
    // Other filters on a covered segment drop only the time clause.
    let api_only = LogFilter {
        services: vec!["api".into()],
        ..time_only.clone()
    };
    assert_eq!(store.count(&api_only).await.unwrap(), 6);
    assert_eq!(
        store.count_by_level(&api_only).await.unwrap(),
        [tc("ERROR", 6)]
    );
    assert_eq!(store.count(&time_only).await.unwrap(), 15);
    assert_eq!(store.top_errors(&time_only, 5).await.unwrap(), [tc("m", 6)]);
    let minutes = store
        .histogram(&time_only, Duration::from_secs(600))
        .await
        .unwrap();
    let counts: Vec<u64> = minutes.iter().map(|b| b.count).collect();
    assert_eq!(counts, [10, 5], "10:20–10:29 whole, 10:40–10:44 in part");
    assert_eq!(
        minutes,
        store
            .histogram(&every_service, Duration::from_secs(600))
            .await
            .unwrap()
    );
    let everything = store.count_by_level(&LogFilter::default()).await.unwrap();
    assert_eq!(everything, [tc("INFO", 18), tc("ERROR", 12)]);
}
