//! Synthetic multi-service logs.
