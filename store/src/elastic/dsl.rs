//! The Elasticsearch documents and request bodies for what the embedded
//! store does: pure functions of our query model, so the stand-in tests
//! can assert the exact JSON we send.
//!
//! Mapping: keywords for service, level, host, correlation and trace ids
//! (exact match, aggregations), `date_nanos` for the timestamp (the
//! microseconds of our cursors survive sorting), text for the message with
//! its first 256 bytes as a keyword for "top errors", `unsigned_long` for
//! the paging tie-breaker `seq`, and `fields` as one `flattened` field:
//! every leaf searchable as `fields.user_id:u-17` (as on tantivy) without a
//! mapping per key, so no key or type clash can push a record out.

use crate::NewRecord;
use chrono::{DateTime, Utc};
use logflow_core::{Cursor, Level, LogFilter, LogQuery};
use serde_json::{json, Value};
use std::time::Duration;

/// The default name of the alias; every day index is `<prefix>-YYYY.MM.DD`.
pub const DEFAULT_PREFIX: &str = "logflow";
/// Most services or levels one terms aggregation returns.
pub const MAX_TERMS: usize = 10_000;

/// The day index a record belongs to: `logflow-YYYY.MM.DD` (UTC).
pub fn index_for(prefix: &str, timestamp: DateTime<Utc>) -> String {
    format!("{prefix}-{}", timestamp.format("%Y.%m.%d"))
}

/// The pattern over every day index, where searches and counts go: day
/// names have no dash after the prefix, so another prefix that starts
/// with ours (`logflow-test-…`) is left out.
pub fn pattern(prefix: &str) -> String {
    format!("{prefix}-*,-{prefix}-*-*")
}

/// `PUT _index_template/<prefix>`: explicit mappings for every day index
/// and the `<prefix>` alias over them.
pub fn index_template(prefix: &str) -> Value {
    json!({
        "index_patterns": [format!("{prefix}-*")],
        // A longer prefix wins where patterns overlap (`logflow-*` also
        // matches `logflow-test-*`); equal priorities would be refused.
        "priority": 100 + prefix.len(),
        "template": {
            "settings": {"number_of_shards": 1, "refresh_interval": "1s"},
            "aliases": {prefix: {}},
            "mappings": {
                "dynamic": "strict",
                "properties": {
                    "timestamp": {"type": "date_nanos"},
                    "service": {"type": "keyword"},
                    "level": {"type": "keyword"},
                    "message": {"type": "text"},
                    "message_key": {"type": "keyword", "ignore_above": 1024},
                    "host": {"type": "keyword"},
                    "correlation_id": {"type": "keyword"},
                    "trace_id": {"type": "keyword"},
                    "seq": {"type": "unsigned_long"},
                    "fields": {"type": "flattened"},
                },
            },
        },
    })
}

/// The stored document of one record.
pub fn document(record: &NewRecord) -> Value {
    let r = &record.record;
    json!({
        "timestamp": r.timestamp.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "service": r.service,
        "level": r.level,
        "message": r.message,
        "message_key": crate::top_errors::message_key(&r.message),
        "host": r.host,
        "correlation_id": r.correlation_id,
        "trace_id": r.trace_id,
        "seq": record.id.seq(),
        "fields": r.fields,
    })
}

/// The filter as a `bool` query: the text through `query_string` over the
/// message (words ANDed, as on tantivy), everything else as filters.
pub fn filter_query(filter: &LogFilter) -> Value {
    bool_query(filter, &filter.levels)
}

fn bool_query(filter: &LogFilter, levels: &[Level]) -> Value {
    let mut must = Vec::new();
    let mut filters = Vec::new();
    if let Some(text) = filter.text.as_deref().filter(|t| !t.trim().is_empty()) {
        must.push(json!({"query_string": {
            "query": text,
            "default_field": "message",
            "default_operator": "AND",
            "allow_leading_wildcard": false,
            "lenient": true,
        }}));
    }
    if !filter.services.is_empty() {
        filters.push(json!({"terms": {"service": filter.services}}));
    }
    if !levels.is_empty() {
        filters.push(json!({"terms": {"level": levels}}));
    }
    if let Some(host) = &filter.host {
        filters.push(json!({"term": {"host": host}}));
    }
    if let Some(id) = &filter.correlation_id {
        filters.push(json!({"term": {"correlation_id": id}}));
    }
    if filter.from.is_some() || filter.to.is_some() {
        let mut range = serde_json::Map::new();
        if let Some(from) = filter.from {
            range.insert("gte".into(), json!(micros_text(from)));
        }
        if let Some(to) = filter.to {
            range.insert("lt".into(), json!(micros_text(to)));
        }
        filters.push(json!({"range": {"timestamp": range}}));
    }
    json!({"bool": {"must": must, "filter": filters}})
}

fn micros_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// A page of a search, newest first; one more than the limit is asked for
/// so the page knows whether another follows.
pub fn search_body(query: &LogQuery) -> Value {
    let mut body = json!({
        "query": filter_query(&query.filter),
        "size": page_size(query) + 1,
        "sort": [{"timestamp": {"order": "desc"}}, {"seq": {"order": "desc"}}],
        "track_total_hits": false,
    });
    if let Some(cursor) = &query.cursor {
        // A cursor past date_nanos' range (year 2262) stays at its end.
        let nanos = cursor.timestamp_micros.saturating_mul(1000);
        body["search_after"] = json!([nanos, cursor.seq]);
    }
    body
}

/// The page size, bounded as on tantivy.
pub fn page_size(query: &LogQuery) -> usize {
    query.limit.clamp(1, logflow_core::query::MAX_LIMIT)
}

/// The cursor after a hit, from its sort values (nanoseconds, seq).
pub fn cursor_of(sort: &Value) -> Option<Cursor> {
    let nanos = sort.get(0)?.as_i64()?;
    let seq = sort.get(1)?.as_u64()?;
    Some(Cursor {
        timestamp_micros: nanos.div_euclid(1000),
        seq,
    })
}

/// `_count`.
pub fn count_body(filter: &LogFilter) -> Value {
    json!({"query": filter_query(filter)})
}

/// Counts per value of `field`, most frequent first, ties by key.
pub fn terms_body(filter: &LogFilter, levels: &[Level], field: &str, size: usize) -> Value {
    json!({
        "query": bool_query(filter, levels),
        "size": 0,
        "aggs": {"terms": {"terms": {
            "field": field,
            "size": size,
            // One shard per day: without a deep shard size, counts over
            // many days would be approximate (tantivy's are exact).
            "shard_size": size.max(MAX_TERMS),
            "order": [{"_count": "desc"}, {"_key": "asc"}],
        }}},
    })
}

/// Counts per bucket of `interval` (aligned to the epoch) split by level;
/// empty buckets are left out, as on tantivy.
pub fn histogram_body(filter: &LogFilter, interval: Duration) -> Value {
    json!({
        "query": filter_query(filter),
        "size": 0,
        "aggs": {"buckets": {
            "date_histogram": {
                "field": "timestamp",
                "fixed_interval": format!("{}ms", interval.as_millis().max(1)),
                "min_doc_count": 1,
            },
            "aggs": {"levels": {"terms": {"field": "level", "size": Level::ALL.len()}}},
        }},
    })
}

/// One record by its id, whichever day it is in.
pub fn by_id_body(id: &str) -> Value {
    json!({"query": {"ids": {"values": [id]}}, "size": 1})
}
