//! Exports stream page by page: memory stays at one page however many
//! records are exported, and the first bytes leave before the last page is
//! read.

use crate::error::ApiError;
use bytes::Bytes;
use futures::stream::{self, Stream, StreamExt};
use logflow_core::query::MAX_LIMIT;
use logflow_core::{Cursor, LogFilter, LogQuery, StoredLog};
use logflow_store::{LogStore, SearchPage, StoreError};
use serde::Deserialize;
use std::sync::Arc;

/// The download formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Csv,
    Json,
    Ndjson,
}

impl ExportFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Json => "application/json",
            ExportFormat::Ndjson => "application/x-ndjson",
        }
    }

    pub fn content_disposition(self) -> &'static str {
        match self {
            ExportFormat::Csv => "attachment; filename=\"logflow-export.csv\"",
            ExportFormat::Json => "attachment; filename=\"logflow-export.json\"",
            ExportFormat::Ndjson => "attachment; filename=\"logflow-export.ndjson\"",
        }
    }
}

/// The CSV columns; `fields` holds the record's extra fields as JSON.
const CSV_HEADER: [&str; 9] = [
    "id",
    "timestamp",
    "service",
    "level",
    "host",
    "correlation_id",
    "trace_id",
    "message",
    "fields",
];

/// Where the export is between pages.
struct Progress {
    store: Arc<dyn LogStore>,
    filter: LogFilter,
    remaining: usize,
    format: ExportFormat,
    /// The page read but not yet sent; the first one is read before the
    /// response starts, so a bad query is still a 400.
    pending: Option<SearchPage>,
    cursor: Option<Cursor>,
    first: bool,
    done: bool,
}

/// The body of an export: reads the first page now (errors become the
/// response), the rest while streaming.
pub async fn export_stream(
    store: Arc<dyn LogStore>,
    filter: LogFilter,
    limit: usize,
    format: ExportFormat,
) -> Result<impl Stream<Item = Result<Bytes, StoreError>>, ApiError> {
    let first = store
        .search(&LogQuery::new(filter.clone(), limit.min(MAX_LIMIT), None)?)
        .await?;
    let progress = Progress {
        store,
        filter,
        remaining: limit,
        format,
        pending: Some(first),
        cursor: None,
        first: true,
        done: false,
    };
    let body = stream::unfold(progress, next_chunk).chain(stream::once(async move {
        Ok(Bytes::from_static(match format {
            ExportFormat::Json => b"]\n",
            _ => b"",
        }))
    }));
    Ok(body)
}

async fn next_chunk(mut p: Progress) -> Option<(Result<Bytes, StoreError>, Progress)> {
    if p.done {
        return None;
    }
    let page = match p.pending.take() {
        Some(page) => page,
        None => {
            if p.remaining == 0 || p.cursor.is_none() {
                return None;
            }
            let query = LogQuery {
                filter: p.filter.clone(),
                limit: p.remaining.min(MAX_LIMIT),
                cursor: p.cursor,
            };
            match p.store.search(&query).await {
                Ok(page) => page,
                Err(e) => {
                    // The status is sent; cutting the body short is the only
                    // way left to tell the client.
                    tracing::error!(error = %e, "export stopped: the store failed");
                    p.done = true;
                    return Some((Err(e), p));
                }
            }
        }
    };
    let hits = &page.hits[..page.hits.len().min(p.remaining)];
    p.remaining -= hits.len();
    p.cursor = page
        .next_cursor
        .as_deref()
        .and_then(|c| Cursor::decode(c).ok());
    let chunk = render(p.format, hits, p.first);
    p.first = false;
    Some((Ok(Bytes::from(chunk)), p))
}

/// One page in the format; `first` adds the CSV header or the JSON `[`.
fn render(format: ExportFormat, hits: &[StoredLog], first: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(hits.len() * 256);
    match format {
        ExportFormat::Ndjson => {
            for log in hits {
                // Serialising our own structs cannot fail.
                serde_json::to_writer(&mut out, log).expect("a log serialises");
                out.push(b'\n');
            }
        }
        ExportFormat::Json => {
            for (i, log) in hits.iter().enumerate() {
                out.extend_from_slice(if first && i == 0 { b"[\n" } else { b",\n" });
                serde_json::to_writer(&mut out, log).expect("a log serialises");
            }
            if first && hits.is_empty() {
                out.extend_from_slice(b"[");
            }
        }
        ExportFormat::Csv => {
            let mut w = csv::Writer::from_writer(&mut out);
            let rows = hits.iter().map(csv_row);
            let written: Result<(), csv::Error> = (|| {
                if first {
                    w.write_record(CSV_HEADER)?;
                }
                for row in rows {
                    w.write_record(&row)?;
                }
                w.flush()?;
                Ok(())
            })();
            // Writing into a Vec only fails on a bug in the csv crate.
            written.expect("CSV into memory");
            drop(w);
        }
    }
    out
}

fn csv_row(log: &StoredLog) -> [String; 9] {
    let r = &log.record;
    [
        log.id.clone(),
        r.timestamp
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        defuse(&r.service),
        r.level.as_str().to_string(),
        defuse(r.host.as_deref().unwrap_or_default()),
        defuse(r.correlation_id.as_deref().unwrap_or_default()),
        defuse(r.trace_id.as_deref().unwrap_or_default()),
        defuse(&r.message),
        if r.fields.is_empty() {
            String::new()
        } else {
            serde_json::Value::Object(r.fields.clone()).to_string()
        },
    ]
}

/// Log text is written by whoever logged it; a cell starting with `=`, `+`,
/// `-`, `@`, tab or CR would run as a formula when the export is opened in
/// a spreadsheet. Such cells get a leading `'` (OWASP's CSV injection
/// advice); other cells are unchanged.
fn defuse(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logflow_core::{Level, LogRecord};

    fn log(message: &str) -> StoredLog {
        StoredLog {
            id: "t-0-1".into(),
            record: LogRecord::new(
                "2026-11-22T10:00:00Z".parse().unwrap(),
                "svc",
                Level::Error,
                message,
            ),
        }
    }

    #[test]
    fn csv_quotes_commas_quotes_and_newlines() {
        let out = render(ExportFormat::Csv, &[log("a, \"b\"\nc")], true);
        let text = String::from_utf8(out).unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let row = reader.records().next().unwrap().unwrap();
        assert_eq!(&row[7], "a, \"b\"\nc");
        assert!(text.contains("\"a, \"\"b\"\"\nc\""), "{text}");
    }

    #[test]
    fn csv_cells_cannot_become_formulas() {
        let out = render(ExportFormat::Csv, &[log("=HYPERLINK(\"http://x\")")], true);
        let text = String::from_utf8(out).unwrap();
        let row = csv::Reader::from_reader(text.as_bytes())
            .records()
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(&row[7], "'=HYPERLINK(\"http://x\")");
        assert_eq!(defuse("order placed"), "order placed");
    }

    #[tokio::test]
    async fn exports_run_across_store_pages_exactly_once() {
        use logflow_core::RecordId;
        use logflow_store::tantivy_store::{OpenMode, TantivyStore, WriterOptions};
        use logflow_store::NewRecord;

        let dir = tempfile::tempdir().unwrap();
        let store =
            TantivyStore::open(dir.path(), OpenMode::ReadWrite(WriterOptions::default())).unwrap();
        let start: chrono::DateTime<chrono::Utc> = "2026-11-22T10:00:00Z".parse().unwrap();
        let batch: Vec<NewRecord> = (0..2_500)
            .map(|i| NewRecord {
                id: RecordId::new("t", 0, i),
                record: LogRecord::new(
                    start + chrono::Duration::milliseconds(i),
                    "svc",
                    Level::Info,
                    format!("line {i}"),
                ),
            })
            .collect();
        store.write(batch.into()).await.unwrap();
        let store: Arc<dyn LogStore> = Arc::new(store);

        for (limit, want) in [(2_400, 2_400), (5_000, 2_500)] {
            let body: Vec<Bytes> = export_stream(
                store.clone(),
                LogFilter::default(),
                limit,
                ExportFormat::Ndjson,
            )
            .await
            .unwrap()
            .map(Result::unwrap)
            .collect()
            .await;
            let text = String::from_utf8(body.concat()).unwrap();
            let logs: Vec<StoredLog> = text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            assert_eq!(logs.len(), want);
            let ids: std::collections::HashSet<_> = logs.iter().map(|l| l.id.clone()).collect();
            assert_eq!(ids.len(), want, "a record was exported twice");
            assert!(logs
                .windows(2)
                .all(|w| w[0].record.timestamp > w[1].record.timestamp));
        }
    }

    #[test]
    fn json_pages_join_into_one_array() {
        let mut body = render(ExportFormat::Json, &[log("x"), log("y")], true);
        body.extend(render(ExportFormat::Json, &[log("z")], false));
        body.extend_from_slice(b"]\n");
        let v: Vec<StoredLog> = serde_json::from_slice(&body).unwrap();
        assert_eq!(v.len(), 3);
        let empty = [render(ExportFormat::Json, &[], true), b"]\n".to_vec()].concat();
        let v: Vec<StoredLog> = serde_json::from_slice(&empty).unwrap();
        assert!(v.is_empty());
    }
}
