//! The REST API (axum): built in the API issue.
