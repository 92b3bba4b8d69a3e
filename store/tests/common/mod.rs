//! Shared helpers: stores in temp dirs and records built in one line.
#![allow(dead_code)] // each test file uses its own subset

use chrono::{DateTime, Utc};
use logflow_core::{Cursor, Level, LogFilter, LogQuery, LogRecord, RecordId, StoredLog};
use logflow_store::tantivy_store::{OpenMode, TantivyStore, WriterOptions};
use logflow_store::{LogStore, NewRecord};
use std::path::Path;

pub const TOPIC: &str = "logflow.logs";

pub fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("test timestamp")
}

pub fn record(ts: &str, service: &str, level: Level, message: &str) -> LogRecord {
    LogRecord::new(at(ts), service, level, message)
}

/// Gives `records` consecutive offsets on one partition, from `first`.
pub fn batch(partition: i32, first: i64, records: Vec<LogRecord>) -> Vec<NewRecord> {
    records
        .into_iter()
        .zip(first..)
        .map(|(record, offset)| NewRecord {
            id: RecordId::new(TOPIC, partition, offset),
            record,
        })
        .collect()
}

pub fn writer(dir: &Path) -> TantivyStore {
    TantivyStore::open(dir, OpenMode::ReadWrite(WriterOptions::default())).expect("open store")
}

pub fn reader(dir: &Path) -> TantivyStore {
    TantivyStore::open(dir, OpenMode::ReadOnly).expect("open read-only store")
}

pub fn text(q: &str) -> LogFilter {
    LogFilter {
        text: Some(q.to_string()),
        ..Default::default()
    }
}

/// Every page of a search, following cursors to the end.
pub async fn all_pages(
    store: &impl LogStore,
    filter: &LogFilter,
    limit: usize,
) -> Vec<Vec<StoredLog>> {
    let mut pages = Vec::new();
    let mut cursor = None;
    loop {
        let query = LogQuery::new(filter.clone(), limit, cursor).expect("valid query");
        let page = store.search(&query).await.expect("search");
        pages.push(page.hits);
        match page.next_cursor {
            Some(next) => cursor = Some(Cursor::decode(&next).expect("cursor")),
            None => return pages,
        }
    }
}

/// The ids of every match, newest first.
pub async fn ids(store: &impl LogStore, filter: &LogFilter) -> Vec<String> {
    all_pages(store, filter, 1000)
        .await
        .into_iter()
        .flatten()
        .map(|log| log.id)
        .collect()
}

pub fn id(partition: i32, offset: i64) -> String {
    RecordId::new(TOPIC, partition, offset).to_string()
}
