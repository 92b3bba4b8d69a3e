//! Tails files and stdin into Kafka.
