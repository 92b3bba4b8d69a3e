//! The embedded tantivy backend (being written).
