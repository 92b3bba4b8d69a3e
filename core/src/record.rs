//! The canonical log record: one JSON object per Kafka message and one
//! document in the store.

use crate::Level;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;
use std::str::FromStr;

/// One log record after parsing and normalisation.
///
/// Known keys are first-class fields; everything else a service logged is
/// kept under `fields` so it stays searchable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LogRecord {
    pub timestamp: DateTime<Utc>,
    pub service: String,
    pub level: Level,
    pub message: String,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub correlation_id: Option<String>,
    #[serde(default)]
    pub trace_id: Option<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub fields: Map<String, Value>,
}

impl LogRecord {
    /// A record with only the mandatory parts; the rest empty.
    pub fn new(
        timestamp: DateTime<Utc>,
        service: impl Into<String>,
        level: Level,
        message: impl Into<String>,
    ) -> Self {
        LogRecord {
            timestamp,
            service: service.into(),
            level,
            message: message.into(),
            host: None,
            correlation_id: None,
            trace_id: None,
            fields: Map::new(),
        }
    }
}

/// Where a record came from in Kafka. The store derives the document id from
/// it, so a batch replayed after a crash overwrites itself instead of
/// duplicating.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordId {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

/// A document id that is not `TOPIC-PARTITION-OFFSET`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid log id {0:?}: expected TOPIC-PARTITION-OFFSET")]
pub struct InvalidRecordId(pub String);

impl RecordId {
    pub fn new(topic: impl Into<String>, partition: i32, offset: i64) -> Self {
        RecordId {
            topic: topic.into(),
            partition,
            offset,
        }
    }
}

impl RecordId {
    /// A stable 64-bit number for this id (FNV-1a of its text), used as the
    /// tie-breaker when records share a timestamp so that paging has a total
    /// order. Stable across processes and versions: never change it.
    pub fn seq(&self) -> u64 {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in self.to_string().bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        hash
    }
}

impl fmt::Display for RecordId {
    /// `logflow.logs-0-12345`: Kafka's own `topic-partition` naming plus the
    /// offset; URL-safe for any legal topic name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.topic, self.partition, self.offset)
    }
}

impl FromStr for RecordId {
    type Err = InvalidRecordId;

    /// Parses from the right, so topics that contain `-` still round-trip.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || InvalidRecordId(s.to_string());
        let (rest, offset) = s.rsplit_once('-').ok_or_else(bad)?;
        let (topic, partition) = rest.rsplit_once('-').ok_or_else(bad)?;
        if topic.is_empty() {
            return Err(bad());
        }
        Ok(RecordId {
            topic: topic.to_string(),
            partition: partition.parse().map_err(|_| bad())?,
            offset: offset.parse().map_err(|_| bad())?,
        })
    }
}

/// A record as read back from the store, with its document id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StoredLog {
    pub id: String,
    #[serde(flatten)]
    pub record: LogRecord,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_id_round_trips_with_dashes_in_topic() {
        let id = RecordId::new("my-app.logs", 3, 42);
        assert_eq!(id.to_string(), "my-app.logs-3-42");
        assert_eq!(id.to_string().parse::<RecordId>().unwrap(), id);
        assert!("nope".parse::<RecordId>().is_err());
        assert!("-1-2".parse::<RecordId>().is_err());
    }

    #[test]
    fn record_serialises_to_the_documented_shape() {
        let ts = "2026-11-22T10:00:00.123Z".parse().unwrap();
        let mut r = LogRecord::new(ts, "payment-service", Level::Error, "card declined");
        r.fields.insert("http.status".into(), 502.into());
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["level"], "ERROR");
        assert_eq!(v["timestamp"], "2026-11-22T10:00:00.123Z");
        assert_eq!(v["fields"]["http.status"], 502);
        let back: LogRecord = serde_json::from_value(v).unwrap();
        assert_eq!(back, r);
    }
}
