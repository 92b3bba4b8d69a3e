//! The Kafka message contract between whoever produces log messages (the
//! shipper, the generator, any Kafka producer) and the processor.
//!
//! The value is the raw log line or a JSON record; the key is the service
//! name, used for partitioning and as the service when the record does not
//! name one. Headers carry what the line itself cannot say.

/// The host the shipper read the line on.
pub const HEADER_HOST: &str = "logflow.host";
/// The file path the line was read from, or `stdin`.
pub const HEADER_SOURCE: &str = "logflow.source";
/// Present only on lines the shipper had to cut: the original length in
/// bytes. The processor flags such records `fields.message_truncated`.
pub const HEADER_TRUNCATED: &str = "logflow.truncated";
