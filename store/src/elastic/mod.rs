//! The scale-out log store: Elasticsearch 8 (or OpenSearch), selected by
//! `ELASTICSEARCH_HOSTS`. One index per UTC day (`logflow-YYYY.MM.DD`)
//! made from one index template with explicit mappings, an alias
//! `logflow` over them, `_bulk` writes whose per-item outcomes are read,
//! searches paged with `search_after`, and retention by deleting whole day
//! indices. Request bodies live in [`dsl`], the bulk protocol in [`bulk`].

pub mod bulk;
pub mod dsl;

use crate::{
    HistogramBucket, LogStore, NewRecord, SearchPage, StoreError, StoreStats, TermCount,
    WriteOutcome,
};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use elasticsearch::http::headers::HeaderMap;
use elasticsearch::http::request::JsonBody;
use elasticsearch::http::transport::{MultiNodeConnectionPool, TransportBuilder};
use elasticsearch::http::{Method, Url};
use elasticsearch::Elasticsearch;
use logflow_core::{Level, LogFilter, LogQuery, LogRecord, StoredLog};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The Elasticsearch backend.
pub struct ElasticStore {
    client: Elasticsearch,
    hosts: String,
    prefix: String,
}

fn unreachable(hosts: &str, reason: impl std::fmt::Display) -> StoreError {
    StoreError::Index {
        index: format!("Elasticsearch at {hosts}"),
        reason: reason.to_string(),
    }
}

impl ElasticStore {
    /// A client for `hosts` (comma-separated URLs, tried round robin),
    /// with day indices `<prefix>-YYYY.MM.DD`. Connects lazily;
    /// [`ElasticStore::ensure_template`] is a writer's first call.
    pub fn new(hosts: &str, prefix: &str) -> Result<ElasticStore, StoreError> {
        let valid_prefix = !prefix.is_empty()
            && prefix.len() <= 200
            && prefix
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
            && !prefix.starts_with(['-', '_', '.']);
        if !valid_prefix {
            return Err(unreachable(
                hosts,
                format!("invalid ELASTICSEARCH_INDEX_PREFIX {prefix:?}: lowercase letters, digits, '.', '_' and '-', not first"),
            ));
        }
        let urls = hosts
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(|h| {
                Url::parse(h)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https"))
                    .ok_or_else(|| {
                        unreachable(hosts, format!("invalid ELASTICSEARCH_HOSTS entry {h:?}: expected http(s)://host:port"))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if urls.is_empty() {
            return Err(unreachable(hosts, "ELASTICSEARCH_HOSTS names no host"));
        }
        let transport = TransportBuilder::new(MultiNodeConnectionPool::round_robin(urls, None))
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| unreachable(hosts, e))?;
        Ok(ElasticStore {
            client: Elasticsearch::new(transport),
            hosts: hosts.to_string(),
            prefix: prefix.to_string(),
        })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Installs (or updates) the index template, so every day index gets
    /// our mappings and the alias.
    pub async fn ensure_template(&self) -> Result<(), StoreError> {
        self.json(
            Method::Put,
            &format!("/_index_template/{}", self.prefix),
            None,
            Some(dsl::index_template(&self.prefix)),
        )
        .await
        .map(drop)
    }

    /// One JSON request; a non-2xx answer is an error carrying
    /// Elasticsearch's own reason.
    async fn json(
        &self,
        method: Method,
        path: &str,
        query: Option<&[(&str, &str)]>,
        body: Option<Value>,
    ) -> Result<Value, StoreError> {
        let response = self
            .client
            .send(
                method,
                path,
                HeaderMap::new(),
                query,
                body.map(JsonBody::new),
                None,
            )
            .await
            .map_err(|e| unreachable(&self.hosts, e))?;
        read(&self.hosts, path, response).await
    }

    /// `_bulk` with the NDJSON body of one request; the parsed answer.
    pub(crate) async fn send_bulk(&self, body: String) -> Result<Value, StoreError> {
        let response = self
            .client
            .send(
                Method::Post,
                "/_bulk",
                HeaderMap::new(),
                Some(&[("refresh", "wait_for")]),
                Some(body),
                None,
            )
            .await
            .map_err(|e| unreachable(&self.hosts, e))?;
        read(&self.hosts, "/_bulk", response).await
    }

    /// A search over every day index; a 400 is the caller's bad query.
    async fn search_json(&self, body: Value, text: Option<&str>) -> Result<Value, StoreError> {
        let path = format!("/{}/_search", dsl::pattern(&self.prefix));
        let answer = self
            .json(
                Method::Post,
                &path,
                Some(&[("ignore_unavailable", "true")]),
                Some(body),
            )
            .await
            .map_err(|e| invalid_query(e, text))?;
        complete(&self.hosts, answer)
    }

    async fn terms(
        &self,
        filter: &LogFilter,
        levels: &[Level],
        field: &str,
        size: usize,
    ) -> Result<Vec<TermCount>, StoreError> {
        let answer = self
            .search_json(
                dsl::terms_body(filter, levels, field, size),
                filter.text.as_deref(),
            )
            .await?;
        Ok(answer["aggregations"]["terms"]["buckets"]
            .as_array()
            .map(|buckets| {
                buckets
                    .iter()
                    .filter_map(|b| {
                        Some(TermCount {
                            key: b["key"].as_str()?.to_string(),
                            count: b["doc_count"].as_u64()?,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Day indices by name.
    async fn day_indices(&self) -> Result<Vec<String>, StoreError> {
        let answer = self
            .json(
                Method::Get,
                &format!("/_cat/indices/{}", dsl::pattern(&self.prefix)),
                Some(&[("format", "json"), ("h", "index")]),
                None,
            )
            .await?;
        let mut names: Vec<String> = answer
            .as_array()
            .map(|rows| {
                rows.iter()
                    .filter_map(|r| r["index"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        Ok(names)
    }
}

/// Refuses an answer that some shards failed to give: a partial count or
/// page must not pass for the whole.
fn complete(hosts: &str, answer: Value) -> Result<Value, StoreError> {
    let failed = answer["_shards"]["failed"].as_u64().unwrap_or(0);
    if failed > 0 || answer["timed_out"] == true {
        let reason = answer["_shards"]["failures"][0]["reason"]["reason"]
            .as_str()
            .unwrap_or("timed out");
        return Err(unreachable(
            hosts,
            format!("{failed} shards failed to answer: {reason}"),
        ));
    }
    Ok(answer)
}

/// A query Elasticsearch refused (400) is the caller's bad query text.
fn invalid_query(error: StoreError, text: Option<&str>) -> StoreError {
    match error {
        StoreError::Index { reason, .. } if reason.starts_with("400") => StoreError::InvalidQuery {
            query: text.unwrap_or_default().to_string(),
            reason,
        },
        other => other,
    }
}

async fn read(
    hosts: &str,
    path: &str,
    response: elasticsearch::http::response::Response,
) -> Result<Value, StoreError> {
    let status = response.status_code();
    let text = response.text().await.map_err(|e| unreachable(hosts, e))?;
    if !status.is_success() {
        let reason = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| {
                let e = &v["error"];
                e["root_cause"][0]["reason"]
                    .as_str()
                    .or_else(|| e["reason"].as_str())
                    .map(String::from)
            })
            .unwrap_or(text);
        return Err(StoreError::Index {
            index: format!("{hosts}{path}"),
            reason: format!("{} {reason}", status.as_u16()),
        });
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A hit's `_source` back into a record.
fn stored_log(hit: &Value) -> Option<StoredLog> {
    let id = hit["_id"].as_str()?.to_string();
    let source = &hit["_source"];
    let record = LogRecord {
        timestamp: source["timestamp"].as_str()?.parse().ok()?,
        service: source["service"].as_str()?.to_string(),
        level: source["level"].as_str()?.parse().ok()?,
        message: source["message"].as_str().unwrap_or_default().to_string(),
        host: source["host"].as_str().map(String::from),
        correlation_id: source["correlation_id"].as_str().map(String::from),
        trace_id: source["trace_id"].as_str().map(String::from),
        fields: source["fields"].as_object().cloned().unwrap_or_default(),
    };
    Some(StoredLog { id, record })
}

/// The UTC day of a `<prefix>-YYYY.MM.DD` index.
fn day_of(prefix: &str, index: &str) -> Option<NaiveDate> {
    let date = index.strip_prefix(prefix)?.strip_prefix('-')?;
    NaiveDate::parse_from_str(date, "%Y.%m.%d").ok()
}

#[async_trait]
impl LogStore for ElasticStore {
    async fn write(&self, batch: Arc<[NewRecord]>) -> Result<WriteOutcome, StoreError> {
        bulk::write(self, &batch).await
    }

    async fn search(&self, query: &LogQuery) -> Result<SearchPage, StoreError> {
        let answer = self
            .search_json(dsl::search_body(query), query.filter.text.as_deref())
            .await?;
        let hits = answer["hits"]["hits"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let limit = dsl::page_size(query);
        let next_cursor = (hits.len() > limit)
            .then(|| dsl::cursor_of(&hits[limit - 1]["sort"]))
            .flatten()
            .map(|c| c.encode());
        Ok(SearchPage {
            hits: hits.iter().take(limit).filter_map(stored_log).collect(),
            next_cursor,
        })
    }

    async fn get(&self, id: &str) -> Result<Option<StoredLog>, StoreError> {
        let answer = self.search_json(dsl::by_id_body(id), None).await?;
        Ok(answer["hits"]["hits"].get(0).and_then(stored_log))
    }

    async fn count(&self, filter: &LogFilter) -> Result<u64, StoreError> {
        let path = format!("/{}/_count", dsl::pattern(&self.prefix));
        let answer = self
            .json(
                Method::Post,
                &path,
                Some(&[("ignore_unavailable", "true")]),
                Some(dsl::count_body(filter)),
            )
            .await
            .map_err(|e| invalid_query(e, filter.text.as_deref()))?;
        Ok(complete(&self.hosts, answer)?["count"]
            .as_u64()
            .unwrap_or(0))
    }

    async fn count_by_level(&self, filter: &LogFilter) -> Result<Vec<TermCount>, StoreError> {
        self.terms(filter, &filter.levels, "level", Level::ALL.len())
            .await
    }

    async fn count_by_service(&self, filter: &LogFilter) -> Result<Vec<TermCount>, StoreError> {
        self.terms(filter, &filter.levels, "service", dsl::MAX_TERMS)
            .await
    }

    async fn histogram(
        &self,
        filter: &LogFilter,
        interval: Duration,
    ) -> Result<Vec<HistogramBucket>, StoreError> {
        let answer = self
            .search_json(
                dsl::histogram_body(filter, interval),
                filter.text.as_deref(),
            )
            .await?;
        let buckets = answer["aggregations"]["buckets"]["buckets"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        Ok(buckets
            .iter()
            .filter_map(|b| {
                let start = Utc.timestamp_millis_opt(b["key"].as_i64()?).single()?;
                let mut by_level: Vec<(Level, u64)> = b["levels"]["buckets"]
                    .as_array()?
                    .iter()
                    .filter_map(|l| {
                        Some((l["key"].as_str()?.parse().ok()?, l["doc_count"].as_u64()?))
                    })
                    .collect();
                by_level.sort();
                Some(HistogramBucket {
                    start,
                    count: b["doc_count"].as_u64()?,
                    by_level,
                })
            })
            .collect())
    }

    async fn top_errors(&self, filter: &LogFilter, n: usize) -> Result<Vec<TermCount>, StoreError> {
        let levels = crate::top_errors::levels(filter);
        if levels.is_empty() || n == 0 {
            return Ok(Vec::new());
        }
        self.terms(filter, &levels, "message_key", n).await
    }

    async fn drop_before(&self, cutoff: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        let mut dropped = Vec::new();
        for index in self.day_indices().await? {
            let Some(day) = day_of(&self.prefix, &index) else {
                continue;
            };
            let Some(end) = day.succ_opt().and_then(|d| d.and_hms_opt(0, 0, 0)) else {
                continue;
            };
            if end.and_utc() <= cutoff {
                // Another processor's retention may have dropped it first.
                self.json(
                    Method::Delete,
                    &format!("/{index}"),
                    Some(&[("ignore_unavailable", "true")]),
                    None,
                )
                .await?;
                dropped.push(index);
            }
        }
        Ok(dropped)
    }

    async fn stats(&self) -> Result<StoreStats, StoreError> {
        let answer = self
            .json(
                Method::Get,
                &format!("/{}/_stats/docs,store", dsl::pattern(&self.prefix)),
                None,
                None,
            )
            .await?;
        let all = &answer["_all"]["primaries"];
        let mut indexes: Vec<String> = answer["indices"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        indexes.sort();
        Ok(StoreStats {
            documents: all["docs"]["count"].as_u64().unwrap_or(0),
            size_bytes: all["store"]["size_in_bytes"].as_u64().unwrap_or(0),
            indexes,
        })
    }
}
