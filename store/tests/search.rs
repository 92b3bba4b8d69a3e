//! Searching what was written: round trips, every filter, query syntax.

mod common;

use common::*;
use logflow_core::{Level, LogFilter, LogQuery};
use logflow_store::{LogStore, StoreError};
use serde_json::json;

/// Six records, one per second from 10:00:00, offsets 0..6 on partition 0.
async fn fixture(store: &impl LogStore) {
    let mut r = vec![
        record("2026-11-22T10:00:00Z", "api", Level::Info, "user logged in"),
        record(
            "2026-11-22T10:00:01Z",
            "payment",
            Level::Error,
            "card declined by issuer",
        ),
        record(
            "2026-11-22T10:00:02Z",
            "payment",
            Level::Warn,
            "connection refused, retrying",
        ),
        record(
            "2026-11-22T10:00:03Z",
            "api",
            Level::Error,
            "connection timed out, refused",
        ),
        record(
            "2026-11-22T10:00:04Z",
            "auth",
            Level::Debug,
            "token refreshed",
        ),
        record("2026-11-22T10:00:05Z", "api", Level::Critical, "disk full"),
    ];
    r[0].host = Some("web-1".into());
    r[1].host = Some("web-2".into());
    r[2].host = Some("web-1".into());
    r[5].host = Some("web-3".into());
    r[0].correlation_id = Some("c-1".into());
    r[4].correlation_id = Some("c-1".into());
    r[1].correlation_id = Some("c-2".into());
    r[0].fields.insert("user_id".into(), json!("u-17"));
    r[1].fields.insert("user_id".into(), json!("u-18"));
    r[1].fields.insert("http.status".into(), json!(502));
    let outcome = store.write(batch(0, 0, r).into()).await.expect("write");
    assert_eq!(outcome.indexed, 6);
}

async fn matches(store: &impl LogStore, filter: LogFilter) -> Vec<i64> {
    let found = ids(store, &filter).await;
    assert_eq!(
        store.count(&filter).await.expect("count"),
        found.len() as u64,
        "count and search disagree for {filter:?}"
    );
    found
        .iter()
        .map(|id| {
            id.rsplit('-')
                .next()
                .and_then(|o| o.parse().ok())
                .expect("offset")
        })
        .collect()
}

#[tokio::test]
async fn a_written_record_comes_back_exactly_by_search_and_by_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = writer(dir.path());
    let mut r = record(
        "2026-11-22T10:00:00.123456Z",
        "payment-service",
        Level::Error,
        "card declined",
    );
    r.host = Some("web-3".into());
    r.correlation_id = Some("c0ffee".into());
    r.trace_id = Some("trace-9".into());
    r.fields = json!({
        "user_id": "u-17",
        "http.status": 502,
        "ratio": 0.25,
        "big": u64::MAX,
        "negative": -3,
        "started": "2026-11-22T09:00:00+01:00",
        "nested": {"tags": ["a", 1, null, true]},
    })
    .as_object()
    .cloned()
    .expect("object");
    store
        .write(batch(3, 42, vec![r.clone()]).into())
        .await
        .expect("write");

    let page = store.search(&LogQuery::default()).await.expect("search");
    assert_eq!(page.hits.len(), 1);
    assert_eq!(page.hits[0].id, "logflow.logs-3-42");
    assert_eq!(page.hits[0].record, r);
    assert_eq!(page.next_cursor, None);

    let got = store.get("logflow.logs-3-42").await.expect("get");
    assert_eq!(got.map(|log| log.record), Some(r));
    assert_eq!(store.get("logflow.logs-3-43").await.expect("get"), None);
}

#[tokio::test]
async fn keyword_filters_are_or_within_and_and_across() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = writer(dir.path());
    fixture(&store).await;

    let f = |services: &[&str], levels: &[Level]| LogFilter {
        services: services.iter().map(|s| s.to_string()).collect(),
        levels: levels.to_vec(),
        ..Default::default()
    };
    assert_eq!(matches(&store, f(&[], &[])).await, vec![5, 4, 3, 2, 1, 0]);
    assert_eq!(matches(&store, f(&["payment"], &[])).await, vec![2, 1]);
    assert_eq!(
        matches(&store, f(&["payment", "auth"], &[])).await,
        vec![4, 2, 1]
    );
    assert_eq!(matches(&store, f(&[], &[Level::Error])).await, vec![3, 1]);
    assert_eq!(
        matches(&store, f(&[], &[Level::Error, Level::Critical])).await,
        vec![5, 3, 1]
    );
    assert_eq!(matches(&store, f(&["api"], &[Level::Error])).await, vec![3]);
    assert_eq!(
        matches(&store, f(&["nobody"], &[])).await,
        Vec::<i64>::new()
    );

    let host = LogFilter {
        host: Some("web-1".into()),
        ..Default::default()
    };
    assert_eq!(matches(&store, host).await, vec![2, 0]);
    let corr = LogFilter {
        correlation_id: Some("c-1".into()),
        ..Default::default()
    };
    assert_eq!(matches(&store, corr).await, vec![4, 0]);
}

#[tokio::test]
async fn time_range_includes_from_and_excludes_to_to_the_microsecond() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = writer(dir.path());
    fixture(&store).await;

    let range = |from: Option<&str>, to: Option<&str>| LogFilter {
        from: from.map(at),
        to: to.map(at),
        ..Default::default()
    };
    let t = |s: &str| format!("2026-11-22T10:00:{s}Z");
    assert_eq!(
        matches(&store, range(Some(&t("01")), Some(&t("03")))).await,
        vec![2, 1]
    );
    assert_eq!(
        matches(&store, range(Some(&t("01.000001")), Some(&t("03.000001")))).await,
        vec![3, 2]
    );
    assert_eq!(
        matches(&store, range(Some(&t("04")), None)).await,
        vec![5, 4]
    );
    assert_eq!(matches(&store, range(None, Some(&t("01")))).await, vec![0]);
    assert_eq!(
        matches(&store, range(Some(&t("03")), Some(&t("03")))).await,
        Vec::<i64>::new()
    );
}

#[tokio::test]
async fn message_queries_support_words_phrases_booleans_and_fields() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = writer(dir.path());
    fixture(&store).await;

    assert_eq!(matches(&store, text("refused")).await, vec![3, 2]);
    // Words are ANDed by default; a phrase needs the words in order.
    assert_eq!(
        matches(&store, text("connection refused")).await,
        vec![3, 2]
    );
    assert_eq!(
        matches(&store, text("\"connection refused\"")).await,
        vec![2]
    );
    assert_eq!(matches(&store, text("disk OR declined")).await, vec![5, 1]);
    // tantivy reads `a AND NOT b` as `a AND (nothing but not-b)`, which
    // matches nothing; `a NOT b` and `a -b` are the working spellings.
    assert_eq!(matches(&store, text("refused NOT timed")).await, vec![2]);
    assert_eq!(matches(&store, text("refused -timed")).await, vec![2]);
    assert_eq!(matches(&store, text("CONNECTION")).await, vec![3, 2]);
    assert_eq!(matches(&store, text("fields.user_id:u-17")).await, vec![0]);
    assert_eq!(
        matches(&store, text("fields.http.status:502")).await,
        vec![1]
    );
    assert_eq!(matches(&store, text("service:auth")).await, vec![4]);
    assert_eq!(matches(&store, text("correlation_id:c-2")).await, vec![1]);
    assert_eq!(matches(&store, text("id:logflow.logs-0-3")).await, vec![3]);
    assert_eq!(
        matches(&store, text("level:CRITICAL OR host:web-2")).await,
        vec![5, 1]
    );
    let combined = LogFilter {
        services: vec!["api".into()],
        ..text("refused")
    };
    assert_eq!(matches(&store, combined).await, vec![3]);
    assert_eq!(matches(&store, text("   ")).await, vec![5, 4, 3, 2, 1, 0]);
}

#[tokio::test]
async fn bad_query_syntax_is_an_invalid_query_naming_the_query() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = writer(dir.path());
    fixture(&store).await;

    for bad in ["\"unclosed phrase", "(refused", "nosuchfield:x"] {
        let query = LogQuery {
            filter: text(bad),
            ..Default::default()
        };
        match store.search(&query).await {
            Err(e @ StoreError::InvalidQuery { .. }) => {
                assert!(e.to_string().contains(bad), "{e}")
            }
            other => panic!("{bad:?} gave {other:?}"),
        }
        assert!(matches!(
            store.count(&text(bad)).await,
            Err(StoreError::InvalidQuery { .. })
        ));
    }
}

#[tokio::test]
async fn an_empty_store_finds_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = writer(dir.path());
    let page = store.search(&LogQuery::default()).await.expect("search");
    assert!(page.hits.is_empty());
    assert_eq!(page.next_cursor, None);
    assert_eq!(store.count(&LogFilter::default()).await.expect("count"), 0);
    assert!(
        store
            .write(Vec::new().into())
            .await
            .expect("empty write")
            .indexed
            == 0
    );
}
