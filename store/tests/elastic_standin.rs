//! The Elasticsearch backend against a stand-in: an HTTP server of the
//! test's own that records the exact method, path and body of every
//! request and answers with bodies shaped as Elasticsearch documents them
//! (bulk items with per-item statuses, partial failures and 429s, search
//! hits with sort values, aggregations, `_cat` and `_stats`). A change in
//! the shape of what we send fails these tests. The real thing is covered
//! by the contract suite when `ELASTICSEARCH_HOSTS` is set.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use chrono::{DateTime, Utc};
use logflow_core::{Cursor, Level, LogFilter, LogQuery, LogRecord, RecordId};
use logflow_store::elastic::ElasticStore;
use logflow_store::{LogStore, NewRecord, Rejected, StoreError};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    /// Path and query string, as sent.
    target: String,
    body: String,
}

impl Seen {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    fn ndjson(&self) -> Vec<Value> {
        self.body
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

#[derive(Default)]
struct Script {
    seen: Vec<Seen>,
    answers: VecDeque<(u16, Value)>,
}

struct StandIn {
    url: String,
    script: Arc<Mutex<Script>>,
}

impl StandIn {
    async fn start(answers: Vec<(u16, Value)>) -> StandIn {
        let script = Arc::new(Mutex::new(Script {
            seen: Vec::new(),
            answers: answers.into(),
        }));
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        StandIn { url, script }
    }

    fn store(&self) -> ElasticStore {
        ElasticStore::new(&self.url, "logflow").unwrap()
    }

    fn seen(&self) -> Vec<Seen> {
        self.script.lock().unwrap().seen.clone()
    }
}

async fn answer(
    State(script): State<Arc<Mutex<Script>>>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> (StatusCode, [(&'static str, &'static str); 1], String) {
    let mut script = script.lock().unwrap();
    script.seen.push(Seen {
        method,
        target: uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default(),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let (status, body) = script.answers.pop_front().unwrap_or((200, json!({})));
    (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", "application/json")],
        body.to_string(),
    )
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn record(offset: i64, timestamp: &str, level: Level, message: &str) -> NewRecord {
    let mut record = LogRecord::new(at(timestamp), "checkout", level, message);
    record.host = Some("web-3".into());
    record.fields.insert("user_id".into(), json!("u-17"));
    NewRecord {
        id: RecordId::new("logflow.logs", 0, offset),
        record,
    }
}

fn bulk_item(status: u16, error: Option<(&str, &str)>) -> Value {
    let mut item = json!({"_index": "logflow-2026.11.22", "_id": "x", "status": status});
    if let Some((kind, reason)) = error {
        item["error"] = json!({"type": kind, "reason": reason});
    }
    json!({"create": item})
}

#[tokio::test]
async fn the_template_has_explicit_mappings_and_the_alias() {
    let es = StandIn::start(vec![(200, json!({"acknowledged": true}))]).await;
    es.store().ensure_template().await.unwrap();
    let seen = es.seen();
    assert_eq!(seen[0].method, Method::PUT);
    assert_eq!(seen[0].target, "/_index_template/logflow");
    let body = seen[0].json();
    assert_eq!(body["index_patterns"], json!(["logflow-*"]));
    assert_eq!(body["template"]["aliases"], json!({"logflow": {}}));
    let props = &body["template"]["mappings"]["properties"];
    for (field, kind) in [
        ("timestamp", "date_nanos"),
        ("service", "keyword"),
        ("level", "keyword"),
        ("host", "keyword"),
        ("correlation_id", "keyword"),
        ("trace_id", "keyword"),
        ("message", "text"),
        ("message_key", "keyword"),
        ("seq", "unsigned_long"),
        ("fields", "flattened"),
    ] {
        assert_eq!(props[field]["type"], kind, "{field}");
    }
}

#[tokio::test]
async fn bulk_items_are_read_one_by_one_and_only_the_refused_for_now_are_retried() {
    let es = StandIn::start(vec![
        (
            200,
            json!({"took": 3, "errors": true, "items": [
                bulk_item(201, None),
                bulk_item(409, Some(("version_conflict_engine_exception", "document already exists"))),
                bulk_item(429, Some(("es_rejected_execution_exception", "rejected execution"))),
                bulk_item(400, Some(("document_parsing_exception", "failed to parse field [fields.user_id] of type [long]"))),
                bulk_item(503, Some(("unavailable_shards_exception", "primary shard is not active"))),
            ]}),
        ),
        (
            200,
            json!({"took": 1, "errors": false, "items": [bulk_item(201, None), bulk_item(201, None)]}),
        ),
    ])
    .await;
    let batch: Vec<NewRecord> = (0..5)
        .map(|i| {
            record(
                i,
                "2026-11-22T10:00:00.000123Z",
                Level::Error,
                "card declined",
            )
        })
        .collect();
    let outcome = es.store().write(batch.clone().into()).await.unwrap();
    assert_eq!(outcome.indexed, 3);
    assert_eq!(outcome.duplicates, 1);
    assert_eq!(
        outcome.rejected,
        [Rejected {
            id: RecordId::new("logflow.logs", 0, 3),
            reason:
                "document_parsing_exception: failed to parse field [fields.user_id] of type [long]"
                    .into(),
        }]
    );

    let seen = es.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].method, Method::POST);
    assert_eq!(seen[0].target, "/_bulk?refresh=wait_for");
    let lines = seen[0].ndjson();
    assert_eq!(lines.len(), 10, "an action and a document per record");
    assert_eq!(
        lines[0],
        json!({"create": {"_index": "logflow-2026.11.22", "_id": "logflow.logs-0-0"}})
    );
    assert_eq!(
        lines[1],
        json!({
            "timestamp": "2026-11-22T10:00:00.000123Z",
            "service": "checkout",
            "level": "ERROR",
            "message": "card declined",
            "message_key": "card declined",
            "host": "web-3",
            "correlation_id": null,
            "trace_id": null,
            "seq": batch[0].id.seq(),
            "fields": {"user_id": "u-17"},
        })
    );
    // The retry carries only the 429 and the 503 items, in order.
    let retried: Vec<Value> = seen[1].ndjson().into_iter().step_by(2).collect();
    assert_eq!(
        retried,
        [
            json!({"create": {"_index": "logflow-2026.11.22", "_id": "logflow.logs-0-2"}}),
            json!({"create": {"_index": "logflow-2026.11.22", "_id": "logflow.logs-0-4"}}),
        ]
    );
}

#[tokio::test]
async fn a_bulk_that_keeps_being_refused_fails_the_batch() {
    let refused = json!({"errors": true, "items": [bulk_item(429, Some(("es_rejected_execution_exception", "queue full")))]});
    let es = StandIn::start(vec![(200, refused); 10]).await;
    let batch = vec![record(0, "2026-11-22T10:00:00Z", Level::Info, "x")];
    let err = es.store().write(batch.into()).await.unwrap_err();
    assert!(err.to_string().contains("still refused"), "{err}");
    assert_eq!(es.seen().len(), 7, "the first try and six retries");
}

#[tokio::test]
async fn a_search_sends_the_filter_sort_and_cursor_and_reads_hits_and_the_next_cursor() {
    let hit = |offset: i64, nanos: i64, seq: u64| {
        json!({"_index": "logflow-2026.11.22", "_id": format!("logflow.logs-0-{offset}"),
               "_source": {"timestamp": "2026-11-22T10:00:00.000123Z", "service": "checkout", "level": "ERROR",
                           "message": "card declined", "message_key": "card declined", "host": "web-3",
                           "correlation_id": "c-1", "trace_id": null, "seq": seq, "fields": {"user_id": "u-17"}},
               "sort": [nanos, seq]})
    };
    let es = StandIn::start(vec![(
        200,
        json!({"took": 2, "timed_out": false, "hits": {"hits": [
            hit(9, 1_763_805_600_000_123_000, 77),
            hit(8, 1_763_805_600_000_100_000, 66),
            hit(7, 1_763_805_599_000_000_000, 55),
        ]}}),
    )])
    .await;
    let filter = LogFilter {
        text: Some("card AND declined".into()),
        services: vec!["checkout".into()],
        levels: vec![Level::Error, Level::Critical],
        host: Some("web-3".into()),
        correlation_id: Some("c-1".into()),
        from: Some(at("2026-11-22T09:00:00Z")),
        to: Some(at("2026-11-22T11:00:00.5Z")),
    };
    let cursor = Cursor {
        timestamp_micros: 1_763_805_700_000_001,
        seq: 99,
    };
    let query = LogQuery::new(filter, 2, Some(cursor)).unwrap();
    let page = es.store().search(&query).await.unwrap();

    let seen = &es.seen()[0];
    assert_eq!(seen.method, Method::POST);
    assert_eq!(
        seen.target,
        "/logflow-*,-logflow-*-*/_search?ignore_unavailable=true"
    );
    assert_eq!(
        seen.json(),
        json!({
            "query": {"bool": {
                "must": [{"query_string": {"query": "card AND declined", "default_field": "message", "default_operator": "AND",
                                           "allow_leading_wildcard": false, "lenient": true}}],
                "filter": [
                    {"terms": {"service": ["checkout"]}},
                    {"terms": {"level": ["ERROR", "CRITICAL"]}},
                    {"term": {"host": "web-3"}},
                    {"term": {"correlation_id": "c-1"}},
                    {"range": {"timestamp": {"gte": "2026-11-22T09:00:00.000000Z", "lt": "2026-11-22T11:00:00.500000Z"}}},
                ],
            }},
            "size": 3,
            "sort": [{"timestamp": {"order": "desc"}}, {"seq": {"order": "desc"}}],
            "track_total_hits": false,
            "search_after": [1_763_805_700_000_001_000_i64, 99],
        })
    );
    let ids: Vec<&str> = page.hits.iter().map(|h| h.id.as_str()).collect();
    assert_eq!(ids, ["logflow.logs-0-9", "logflow.logs-0-8"]);
    assert_eq!(page.hits[0].record.fields["user_id"], "u-17");
    assert_eq!(page.hits[0].record.correlation_id.as_deref(), Some("c-1"));
    let next = Cursor::decode(page.next_cursor.as_deref().unwrap()).unwrap();
    assert_eq!(
        next,
        Cursor {
            timestamp_micros: 1_763_805_600_000_100,
            seq: 66
        }
    );
}

#[tokio::test]
async fn counts_aggregations_and_lookups_are_expressed_in_the_dsl() {
    let es = StandIn::start(vec![
        (200, json!({"count": 42, "_shards": {"total": 1}})),
        (200, json!({"hits": {"hits": []}, "aggregations": {"terms": {"buckets": [
            {"key": "ERROR", "doc_count": 30}, {"key": "INFO", "doc_count": 12}]}}})),
        (200, json!({"hits": {"hits": []}, "aggregations": {"terms": {"buckets": [
            {"key": "card declined", "doc_count": 9}]}}})),
        (200, json!({"hits": {"hits": []}, "aggregations": {"buckets": {"buckets": [
            {"key_as_string": "2026-11-22T10:00:00.000Z", "key": 1_795_341_600_000_i64, "doc_count": 5,
             "levels": {"buckets": [{"key": "INFO", "doc_count": 3}, {"key": "ERROR", "doc_count": 2}]}}]}}})),
        (200, json!({"hits": {"hits": []}})),
    ])
    .await;
    let store = es.store();
    let filter = LogFilter {
        services: vec!["checkout".into()],
        ..Default::default()
    };
    assert_eq!(store.count(&filter).await.unwrap(), 42);
    let levels = store.count_by_level(&filter).await.unwrap();
    assert_eq!((levels[0].key.as_str(), levels[0].count), ("ERROR", 30));
    let top = store.top_errors(&filter, 5).await.unwrap();
    assert_eq!((top[0].key.as_str(), top[0].count), ("card declined", 9));
    let buckets = store
        .histogram(&filter, Duration::from_secs(300))
        .await
        .unwrap();
    assert_eq!(buckets[0].start, at("2026-11-22T10:00:00Z"));
    assert_eq!(buckets[0].count, 5);
    assert_eq!(buckets[0].by_level, [(Level::Info, 3), (Level::Error, 2)]);
    assert_eq!(store.get("logflow.logs-0-1").await.unwrap(), None);

    let seen = es.seen();
    let services = json!({"bool": {"must": [], "filter": [{"terms": {"service": ["checkout"]}}]}});
    assert_eq!(
        seen[0].target,
        "/logflow-*,-logflow-*-*/_count?ignore_unavailable=true"
    );
    assert_eq!(seen[0].json(), json!({"query": services}));
    assert_eq!(
        seen[1].json(),
        json!({"query": services, "size": 0, "aggs": {"terms": {"terms": {
            "field": "level", "size": 6, "shard_size": 10000, "order": [{"_count": "desc"}, {"_key": "asc"}]}}}})
    );
    assert_eq!(
        seen[2].json()["query"]["bool"]["filter"][1],
        json!({"terms": {"level": ["ERROR", "CRITICAL"]}}),
        "top errors count errors only"
    );
    assert_eq!(
        seen[2].json()["aggs"]["terms"]["terms"]["field"],
        "message_key"
    );
    assert_eq!(
        seen[3].json()["aggs"],
        json!({"buckets": {
            "date_histogram": {"field": "timestamp", "fixed_interval": "300000ms", "min_doc_count": 1},
            "aggs": {"levels": {"terms": {"field": "level", "size": 6}}},
        }})
    );
    assert_eq!(
        seen[4].json(),
        json!({"query": {"ids": {"values": ["logflow.logs-0-1"]}}, "size": 1})
    );
}

#[tokio::test]
async fn retention_deletes_whole_day_indices_and_stats_are_read() {
    let es = StandIn::start(vec![
        (200, json!([{"index": "logflow-2026.11.20"}, {"index": "logflow-2026.11.22"}, {"index": "logflow-2026.11.21"}])),
        (200, json!({"acknowledged": true})),
        (200, json!({"acknowledged": true})),
        (200, json!({"_all": {"primaries": {"docs": {"count": 1234}, "store": {"size_in_bytes": 56789}}},
                     "indices": {"logflow-2026.11.22": {}}})),
    ])
    .await;
    let store = es.store();
    let dropped = store.drop_before(at("2026-11-22T00:00:00Z")).await.unwrap();
    assert_eq!(dropped, ["logflow-2026.11.20", "logflow-2026.11.21"]);
    let stats = store.stats().await.unwrap();
    assert_eq!((stats.documents, stats.size_bytes), (1234, 56789));
    assert_eq!(stats.indexes, ["logflow-2026.11.22"]);

    let seen = es.seen();
    let requests: Vec<(Method, &str)> = seen
        .iter()
        .map(|s| (s.method.clone(), s.target.as_str()))
        .collect();
    assert_eq!(
        requests,
        [
            (
                Method::GET,
                "/_cat/indices/logflow-*,-logflow-*-*?format=json&h=index"
            ),
            (
                Method::DELETE,
                "/logflow-2026.11.20?ignore_unavailable=true"
            ),
            (
                Method::DELETE,
                "/logflow-2026.11.21?ignore_unavailable=true"
            ),
            (Method::GET, "/logflow-*,-logflow-*-*/_stats/docs,store"),
        ]
    );
}

#[tokio::test]
async fn a_refused_query_is_the_callers_error_and_a_dead_cluster_is_not_a_panic() {
    let es = StandIn::start(vec![(
        400,
        json!({"error": {"root_cause": [{"type": "query_shard_exception", "reason": "Failed to parse query [card AND]"}],
                         "type": "search_phase_execution_exception", "reason": "all shards failed"}, "status": 400}),
    )])
    .await;
    let filter = LogFilter {
        text: Some("card AND".into()),
        ..Default::default()
    };
    match es.store().count(&filter).await {
        Err(StoreError::InvalidQuery { query, reason }) => {
            assert_eq!(query, "card AND");
            assert!(reason.contains("Failed to parse query"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let nobody = format!("http://127.0.0.1:{}", logflow_testkit::free_port());
    let err = ElasticStore::new(&nobody, "logflow")
        .unwrap()
        .count(&LogFilter::default())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Index { .. }), "{err:?}");
    assert!(ElasticStore::new("ftp://es:9200", "logflow").is_err());
}

#[tokio::test]
async fn an_item_refused_for_another_reason_fails_the_batch_and_partial_answers_are_errors() {
    let blocked = json!({"errors": true, "items": [bulk_item(403, Some(("cluster_block_exception", "index [logflow-2026.11.22] blocked by: [FORBIDDEN/8/index write (api)]")))]});
    let partial = json!({"_shards": {"total": 3, "successful": 2, "failed": 1,
        "failures": [{"reason": {"type": "query_shard_exception", "reason": "failed to create query"}}]},
        "hits": {"hits": []}});
    let es = StandIn::start(vec![(200, blocked), (200, partial)]).await;
    let store = es.store();
    let batch = vec![record(0, "2026-11-22T10:00:00Z", Level::Info, "x")];
    let err = store.write(batch.into()).await.unwrap_err();
    assert!(
        err.to_string().contains("item answered 403"),
        "not dead-lettered: {err}"
    );
    let err = store
        .search(&LogQuery::new(LogFilter::default(), 10, None).unwrap())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("1 shards failed"), "{err}");
    assert!(
        ElasticStore::new(&es.url, "Logs*").is_err(),
        "an invalid prefix is refused"
    );
}
