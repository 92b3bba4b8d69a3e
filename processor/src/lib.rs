//! Kafka consumer → parse → redact → index → commit.
