//! The document layout of a daily index, and the conversions between a
//! [`LogRecord`] and a tantivy document.

use crate::NewRecord;
use chrono::{DateTime as ChronoDateTime, Utc};
use logflow_core::{Level, LogRecord, StoredLog};
use serde_json::{Map, Value as JsonValue};
use tantivy::schema::{
    DateOptions, DateTimePrecision, Field, IndexRecordOption, JsonObjectOptions, Schema,
    TextFieldIndexing, TextOptions, Value, FAST, INDEXED, STORED,
};
use tantivy::{DateTime, TantivyDocument};

/// Field names, shared by queries, collectors and the query syntax users
/// type (`service:api`, `fields.user_id:u-17`).
pub(crate) const ID: &str = "id";
pub(crate) const SEQ: &str = "seq";
pub(crate) const TIMESTAMP: &str = "timestamp";
pub(crate) const SERVICE: &str = "service";
pub(crate) const LEVEL: &str = "level";
pub(crate) const HOST: &str = "host";
pub(crate) const CORRELATION_ID: &str = "correlation_id";
pub(crate) const TRACE_ID: &str = "trace_id";
pub(crate) const MESSAGE: &str = "message";
pub(crate) const MESSAGE_RAW: &str = "message_raw";
pub(crate) const FIELDS: &str = "fields";
pub(crate) const FIELDS_SOURCE: &str = "fields_source";

/// The schema plus a handle for every field, built once per store.
#[derive(Clone)]
pub(crate) struct LogSchema {
    pub schema: Schema,
    pub id: Field,
    pub seq: Field,
    pub timestamp: Field,
    pub service: Field,
    pub level: Field,
    pub host: Field,
    pub correlation_id: Field,
    pub trace_id: Field,
    pub message: Field,
    pub message_raw: Field,
    pub fields: Field,
    pub fields_source: Field,
}

/// An exact-match keyword: one untokenized term, no norms (never scored).
fn keyword() -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("raw")
            .set_fieldnorms(false)
            .set_index_option(IndexRecordOption::Basic),
    )
}

/// Words with positions, so `"connection refused"` phrase queries work.
fn words() -> TextFieldIndexing {
    TextFieldIndexing::default()
        .set_tokenizer("default")
        .set_fieldnorms(false)
        .set_index_option(IndexRecordOption::WithFreqsAndPositions)
}

impl LogSchema {
    pub fn new() -> Self {
        let mut b = Schema::builder();
        let id = b.add_text_field(ID, keyword() | STORED);
        let seq = b.add_u64_field(SEQ, FAST);
        let timestamp = b.add_date_field(
            TIMESTAMP,
            DateOptions::from(INDEXED)
                .set_stored()
                .set_fast()
                .set_precision(DateTimePrecision::Microseconds),
        );
        let service = b.add_text_field(SERVICE, keyword() | STORED | FAST);
        let level = b.add_text_field(LEVEL, keyword() | STORED | FAST);
        let host = b.add_text_field(HOST, keyword() | STORED | FAST);
        let correlation_id = b.add_text_field(CORRELATION_ID, keyword() | STORED);
        let trace_id = b.add_text_field(TRACE_ID, keyword() | STORED);
        let message = b.add_text_field(
            MESSAGE,
            TextOptions::default()
                .set_indexing_options(words())
                .set_stored(),
        );
        let message_raw = b.add_text_field(MESSAGE_RAW, FAST);
        // Indexed only: tantivy's JSON storage turns RFC 3339-looking strings
        // into dates, so the exact original object is kept in FIELDS_SOURCE.
        let fields = b.add_json_field(
            FIELDS,
            JsonObjectOptions::default()
                .set_indexing_options(words())
                .set_expand_dots_enabled(),
        );
        let fields_source = b.add_text_field(FIELDS_SOURCE, STORED);
        LogSchema {
            schema: b.build(),
            id,
            seq,
            timestamp,
            service,
            level,
            host,
            correlation_id,
            trace_id,
            message,
            message_raw,
            fields,
            fields_source,
        }
    }

    /// Builds the document for one record, consuming it so that the
    /// `fields` object is moved rather than cloned.
    pub fn document(&self, new: &NewRecord) -> TantivyDocument {
        let NewRecord { id, record } = new;
        let mut doc = TantivyDocument::new();
        doc.add_text(self.id, id.to_string());
        doc.add_u64(self.seq, id.seq());
        doc.add_date(self.timestamp, to_tantivy_date(record.timestamp));
        doc.add_text(self.service, &record.service);
        doc.add_text(self.level, record.level.as_str());
        if let Some(host) = &record.host {
            doc.add_text(self.host, host);
        }
        if let Some(correlation_id) = &record.correlation_id {
            doc.add_text(self.correlation_id, correlation_id);
        }
        if let Some(trace_id) = &record.trace_id {
            doc.add_text(self.trace_id, trace_id);
        }
        doc.add_text(self.message, &record.message);
        // The fast-field dictionary key for "top errors".
        doc.add_text(
            self.message_raw,
            crate::top_errors::message_key(&record.message),
        );
        if !record.fields.is_empty() {
            let fields = JsonValue::Object(record.fields.clone());
            doc.add_text(self.fields_source, fields.to_string());
            doc.add_field_value(self.fields, &fields);
        }
        doc
    }

    /// Rebuilds the stored record; the error says which document is broken.
    pub fn stored_log(&self, doc: &TantivyDocument) -> Result<StoredLog, String> {
        let text = |field: Field| doc.get_first(field).and_then(|v| v.as_str());
        let owned = |field: Field| text(field).map(str::to_string);
        let id = owned(self.id).ok_or("document without id")?;
        let micros = doc
            .get_first(self.timestamp)
            .and_then(|v| v.as_datetime())
            .ok_or_else(|| format!("document {id} without timestamp"))?
            .into_timestamp_micros();
        let timestamp = ChronoDateTime::<Utc>::from_timestamp_micros(micros)
            .ok_or_else(|| format!("document {id} has an out-of-range timestamp"))?;
        let level: Level = text(self.level)
            .unwrap_or_default()
            .parse()
            .map_err(|e| format!("document {id}: {e}"))?;
        let fields: Map<String, JsonValue> = match text(self.fields_source) {
            Some(source) => serde_json::from_str(source)
                .map_err(|e| format!("document {id} has unreadable fields: {e}"))?,
            None => Map::new(),
        };
        let record = LogRecord {
            timestamp,
            service: owned(self.service).unwrap_or_default(),
            level,
            message: owned(self.message).unwrap_or_default(),
            host: owned(self.host),
            correlation_id: owned(self.correlation_id),
            trace_id: owned(self.trace_id),
            fields,
        };
        Ok(StoredLog { id, record })
    }
}

/// Tantivy keeps dates at the schema's microsecond precision, so records
/// come back exactly when their timestamps are whole microseconds.
pub(crate) fn to_tantivy_date(t: ChronoDateTime<Utc>) -> DateTime {
    DateTime::from_timestamp_micros(t.timestamp_micros())
}
