//! LogFlow's core: the record every part of the pipeline agrees on, the
//! parsers that turn raw lines into records, redaction of secrets, and the
//! query model shared by the store, the CLI and the API.
//!
//! Nothing in this crate does network or disk I/O, so every part of it can be
//! tested (and property-tested) as plain functions.

pub mod level;
pub mod multiline;
pub mod parse;
pub mod query;
pub mod record;
pub mod redact;
pub mod wire;

pub use level::Level;
pub use query::{Cursor, LogFilter, LogQuery, QueryError, TimeSpec};
pub use record::{LogRecord, RecordId, StoredLog};
