//! Turns one Kafka message into a record to index, or into a dead letter
//! with the reason it could not be read.

use chrono::{DateTime, Utc};
use logflow_core::parse::{parse_record, Format, ParseContext};
use logflow_core::redact::Redactor;
use logflow_core::wire::{HEADER_HOST, HEADER_TRUNCATED};
use logflow_core::RecordId;
use logflow_store::NewRecord;
use rdkafka::message::{Headers, Message};

/// The most bytes of an unreadable message the dead-letter topic keeps: a
/// message the broker accepted may be larger than the dead-letter producer
/// may send, and a send that can never succeed would stall the pipeline.
pub const MAX_DEAD_LETTER_BYTES: usize = 512 * 1024;

/// A message that could not be turned into a record. It keeps the original
/// key and bytes (up to [`MAX_DEAD_LETTER_BYTES`]) so nothing is lost.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub origin: RecordId,
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    /// The original payload's length, when `payload` was cut.
    pub original_bytes: Option<usize>,
    /// Short stable code, e.g. `invalid_json`.
    pub reason: &'static str,
    /// Human-readable explanation.
    pub detail: String,
}

/// What became of one message.
#[derive(Debug)]
pub enum Decoded {
    Record(Box<NewRecord>),
    Dead(Box<DeadLetter>),
}

/// Decoding settings that stay the same for every message.
pub struct Decoder {
    redactor: Redactor,
    max_message_bytes: usize,
    /// Records older than this would land in an index retention is about
    /// to drop: they are dead-lettered instead of silently expiring.
    retention: chrono::Duration,
}

impl Decoder {
    pub fn new(redactor: Redactor, max_message_bytes: usize, retention_days: u32) -> Self {
        Decoder {
            redactor,
            max_message_bytes,
            retention: chrono::Duration::days(i64::from(retention_days)),
        }
    }

    /// Parses and redacts one message. The service falls back to the
    /// message key (the service name, by the wire contract).
    pub fn decode<M: Message>(&self, msg: &M, now: DateTime<Utc>) -> Decoded {
        let origin = RecordId::new(msg.topic(), msg.partition(), msg.offset());
        let payload = msg.payload().unwrap_or_default();
        let mut host = None;
        let mut truncated_from = None;
        if let Some(headers) = msg.headers() {
            for h in headers.iter() {
                let value = h.value.and_then(|v| std::str::from_utf8(v).ok());
                match h.key {
                    HEADER_HOST => host = value,
                    HEADER_TRUNCATED => truncated_from = value.and_then(|v| v.parse::<u64>().ok()),
                    _ => {}
                }
            }
        }
        let service = msg.key().and_then(|k| std::str::from_utf8(k).ok());
        let ctx = ParseContext {
            format: Format::Auto,
            service,
            host,
            now,
            max_message_bytes: self.max_message_bytes,
        };
        let dead = |reason: &'static str, detail: String| {
            let cut = payload.len().min(MAX_DEAD_LETTER_BYTES);
            Decoded::Dead(Box::new(DeadLetter {
                origin: origin.clone(),
                key: msg.key().map(<[u8]>::to_vec),
                payload: payload[..cut].to_vec(),
                original_bytes: (cut < payload.len()).then_some(payload.len()),
                reason,
                detail,
            }))
        };
        match parse_record(payload, &ctx) {
            Ok(record)
                if now
                    .checked_sub_signed(self.retention)
                    .is_some_and(|oldest| record.timestamp < oldest) =>
            {
                dead(
                    "expired",
                    format!(
                        "timestamp {} is older than the retention of {} days",
                        record.timestamp.to_rfc3339(),
                        self.retention.num_days()
                    ),
                )
            }
            Ok(mut record) => {
                if let Some(original) = truncated_from {
                    record
                        .fields
                        .insert("message_truncated".into(), true.into());
                    record
                        .fields
                        .insert("message_original_bytes".into(), original.into());
                }
                self.redactor.redact_record(&mut record);
                Decoded::Record(Box::new(NewRecord { id: origin, record }))
            }
            Err(err) => dead(err.reason(), err.to_string()),
        }
    }
}
