//! The dead-letter topic: messages that could not be parsed or indexed go
//! there with the reason in headers, so they are counted, inspectable and
//! never block their partition.

use crate::decode::DeadLetter;
use futures::future::try_join_all;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;

/// Header with the short reason code, e.g. `invalid_json`.
pub const HEADER_REASON: &str = "logflow.dlq.reason";
/// Header with the full explanation.
pub const HEADER_DETAIL: &str = "logflow.dlq.detail";
/// Header with the original `topic-partition-offset`.
pub const HEADER_ORIGIN: &str = "logflow.dlq.origin";
/// Header with the original payload length, present when it was cut.
pub const HEADER_ORIGINAL_BYTES: &str = "logflow.dlq.original_bytes";

#[derive(Debug, thiserror::Error)]
#[error("cannot write {origin} to dead-letter topic {topic}: {reason}")]
pub struct DlqError {
    pub topic: String,
    pub origin: String,
    pub reason: String,
}

/// Sends every dead letter and waits until Kafka acknowledged all of them:
/// the source offsets may only be committed after that.
pub async fn send_all(
    producer: &FutureProducer,
    topic: &str,
    letters: &[DeadLetter],
) -> Result<(), DlqError> {
    let sends = letters.iter().map(|letter| async move {
        let origin = letter.origin.to_string();
        let original_bytes = letter.original_bytes.map(|n| n.to_string());
        let mut headers = OwnedHeaders::new()
            .insert(Header {
                key: HEADER_REASON,
                value: Some(letter.reason),
            })
            .insert(Header {
                key: HEADER_DETAIL,
                value: Some(&letter.detail),
            })
            .insert(Header {
                key: HEADER_ORIGIN,
                value: Some(&origin),
            });
        if let Some(n) = &original_bytes {
            headers = headers.insert(Header {
                key: HEADER_ORIGINAL_BYTES,
                value: Some(n),
            });
        }
        let mut record = FutureRecord::to(topic)
            .payload(&letter.payload)
            .headers(headers);
        if let Some(key) = &letter.key {
            record = record.key(key);
        }
        producer
            .send(record, Timeout::Never)
            .await
            .map(|_| ())
            .map_err(|(err, _)| DlqError {
                topic: topic.to_string(),
                origin,
                reason: err.to_string(),
            })
    });
    try_join_all(sends).await.map(|_| ())
}
