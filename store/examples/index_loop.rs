//! Benchmark baseline for the processor: indexes the records of a JSON-lines
//! file (as `logflow generator --output file` writes them) straight into
//! the tantivy store in batches of 10,000 through `LogStore::write`, as the
//! processor does, but without Kafka, parsing or redaction. Prints
//! records per second.
//!
//! `cargo run --release -p logflow-store --example index_loop -- FILE [DIR]`
//!
//! Without DIR the index goes to a temporary directory removed at the end.

use logflow_core::{LogFilter, LogRecord, RecordId};
use logflow_store::tantivy_store::{OpenMode, TantivyStore, WriterOptions};
use logflow_store::{LogStore, NewRecord};
use std::io::BufRead;
use std::time::Instant;

const BATCH: usize = 10_000;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let file = args.next().ok_or("usage: index_loop FILE [DIR]")?;
    let temp;
    let dir = match args.next() {
        Some(dir) => std::path::PathBuf::from(dir),
        None => {
            temp = tempfile::tempdir()?;
            temp.path().to_path_buf()
        }
    };
    let records: Vec<LogRecord> = std::io::BufReader::new(std::fs::File::open(&file)?)
        .lines()
        .map(|line| Ok(serde_json::from_str(&line?)?))
        .collect::<Result<_, Box<dyn std::error::Error>>>()?;
    let n = records.len();
    let store = TantivyStore::open(&dir, OpenMode::ReadWrite(WriterOptions::default()))?;
    let start = Instant::now();
    let mut batch = Vec::with_capacity(BATCH);
    for (offset, record) in records.into_iter().enumerate() {
        batch.push(NewRecord {
            id: RecordId::new("bench", 0, offset as i64),
            record,
        });
        if batch.len() == BATCH {
            store.write(std::mem::take(&mut batch).into()).await?;
        }
    }
    if !batch.is_empty() {
        store.write(batch.into()).await?;
    }
    let secs = start.elapsed().as_secs_f64();
    let stored = store.count(&LogFilter::default()).await?;
    println!(
        "{stored} of {n} records in {secs:.2}s = {:.0} records/s",
        n as f64 / secs
    );
    Ok(())
}
