//! Indexing throughput: writes N synthetic records (default 1,000,000) in
//! batches of 10,000 through `LogStore::write`, as the processor does, and
//! prints records per second.
//!
//! `cargo run --release -p logflow-store --example index_loop -- 1000000 [DIR]`
//!
//! Without DIR the index goes to a temporary directory removed at the end.

use chrono::{Duration, Utc};
use logflow_core::{Level, LogFilter, LogQuery, LogRecord, RecordId};
use logflow_store::tantivy_store::{OpenMode, TantivyStore, WriterOptions};
use logflow_store::{LogStore, NewRecord};
use serde_json::json;
use std::time::Instant;

const BATCH: usize = 10_000;
const SERVICES: [&str; 6] = [
    "api-gateway",
    "payment-service",
    "auth-service",
    "orders",
    "search",
    "mailer",
];
const MESSAGES: [&str; 6] = [
    "request completed",
    "user logged in",
    "cache miss for key",
    "upstream responded slowly",
    "connection refused by upstream",
    "payment declined by issuer",
];

fn synthetic(n: usize) -> NewRecord {
    let base = Utc::now() - Duration::hours(1);
    let level = match n % 20 {
        0 => Level::Error,
        1 | 2 => Level::Warn,
        3..=5 => Level::Debug,
        _ => Level::Info,
    };
    let mut record = LogRecord::new(
        base + Duration::microseconds(n as i64 * 50),
        SERVICES[n % SERVICES.len()],
        level,
        format!(
            "{} id={} took {}ms",
            MESSAGES[n % MESSAGES.len()],
            n,
            n % 997
        ),
    );
    record.host = Some(format!("web-{}", n % 8));
    record.correlation_id = Some(format!("{:016x}", n.wrapping_mul(0x9e37_79b9)));
    record
        .fields
        .insert("user_id".into(), json!(format!("u-{}", n % 5000)));
    record.fields.insert(
        "http.status".into(),
        json!(if level == Level::Error { 502 } else { 200 }),
    );
    NewRecord {
        id: RecordId::new("logflow.logs", (n % 4) as i32, (n / 4) as i64),
        record,
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let total: usize = match args.next() {
        Some(n) => n.parse().map_err(|e| format!("record count {n:?}: {e}"))?,
        None => 1_000_000,
    };
    let temp = tempfile::tempdir()?;
    let dir = args
        .next()
        .map_or_else(|| temp.path().to_path_buf(), Into::into);
    let store = TantivyStore::open(&dir, OpenMode::ReadWrite(WriterOptions::default()))?;

    let started = Instant::now();
    let mut in_write = std::time::Duration::ZERO;
    let mut indexed = 0;
    for first in (0..total).step_by(BATCH) {
        let batch: Vec<NewRecord> = (first..(first + BATCH).min(total)).map(synthetic).collect();
        let write_started = Instant::now();
        indexed += store.write(batch).await?.indexed;
        in_write += write_started.elapsed();
    }
    let elapsed = started.elapsed();
    let stats = store.stats().await?;
    println!(
        "indexed {indexed} records in {:.2}s: {:.0} records/s end to end ({:.0} records/s inside write), {} documents, {:.1} MiB on disk in {:?}",
        elapsed.as_secs_f64(),
        indexed as f64 / elapsed.as_secs_f64(),
        indexed as f64 / in_write.as_secs_f64(),
        stats.documents,
        stats.size_bytes as f64 / (1024.0 * 1024.0),
        stats.indexes,
    );

    // For a feel of read latency on what was just written.
    let timed = Instant::now();
    let page = store.search(&LogQuery::default()).await?;
    let search_ms = timed.elapsed().as_secs_f64() * 1e3;
    let timed = Instant::now();
    let levels = store.count_by_level(&LogFilter::default()).await?;
    let levels_ms = timed.elapsed().as_secs_f64() * 1e3;
    println!(
        "newest {} of all: {search_ms:.1} ms; count by level ({} levels): {levels_ms:.1} ms",
        page.hits.len(),
        levels.len(),
    );
    Ok(())
}
