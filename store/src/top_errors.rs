//! What "top errors" counts, the same on every backend: ERROR and CRITICAL
//! records (those of them the filter's own levels allow), grouped by the
//! first [`MESSAGE_KEY_BYTES`] bytes of their message.

use logflow_core::{Level, LogFilter};

/// The grouping key is capped: it keeps the embedded store's fast-field
/// dictionary small when messages are huge, and two messages that agree
/// on their first 256 bytes are the same error anyway.
pub(crate) const MESSAGE_KEY_BYTES: usize = 256;

/// The message's grouping key: its first [`MESSAGE_KEY_BYTES`] bytes, never
/// splitting a character.
pub(crate) fn message_key(message: &str) -> &str {
    &message[..message.floor_char_boundary(MESSAGE_KEY_BYTES)]
}

/// The error levels `filter` lets through; empty: nothing to count.
pub(crate) fn levels(filter: &LogFilter) -> Vec<Level> {
    [Level::Error, Level::Critical]
        .into_iter()
        .filter(|l| filter.levels.is_empty() || filter.levels.contains(l))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_never_splits_a_character() {
        let long = format!("{}é", "x".repeat(MESSAGE_KEY_BYTES - 1));
        assert_eq!(message_key(&long), "x".repeat(MESSAGE_KEY_BYTES - 1));
        assert_eq!(message_key("abc"), "abc");
    }

    #[test]
    fn only_error_levels_the_filter_allows_count() {
        let only_errors = LogFilter {
            levels: vec![Level::Error, Level::Info],
            ..Default::default()
        };
        assert_eq!(levels(&only_errors), [Level::Error]);
        assert_eq!(
            levels(&LogFilter::default()),
            [Level::Error, Level::Critical]
        );
        let info = LogFilter {
            levels: vec![Level::Info],
            ..Default::default()
        };
        assert!(levels(&info).is_empty());
    }
}
