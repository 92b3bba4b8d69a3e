//! Turning lines into records: one line each, or several lines joined into
//! one multi-line record (a stack trace with its message), each with the
//! offset its delivery lets the checkpoint move to.
//!
//! A joined record is only known to be complete when the line after it
//! arrives, so its end is where that next line starts, not where the next
//! line ends.

use std::borrow::Cow;
use std::time::Duration;

use logflow_core::multiline::MultilineJoiner;

use crate::lines::Line;

/// Most lines one multi-line record may join (the joiner also caps its
/// bytes at `--max-line-bytes`).
pub const MAX_JOINED_LINES: usize = 500;

/// How long a multi-line record waits for more lines once its source is
/// quiet before it is sent as it is.
pub const IDLE_FLUSH: Duration = Duration::from_secs(1);

/// A record ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    /// The Kafka message value: the line's bytes as read, or joined lines.
    pub payload: Cow<'a, [u8]>,
    /// Stream offset just past the record's last line.
    pub end_offset: u64,
    /// `Some(original length)` when the line was cut.
    pub truncated_from: Option<u64>,
}

impl<'a> Record<'a> {
    fn line(line: Line<'a>) -> Self {
        Record {
            payload: Cow::Borrowed(line.bytes),
            end_offset: line.end_offset,
            truncated_from: line.truncated_from,
        }
    }

    fn joined(text: String, end_offset: u64) -> Self {
        Record {
            payload: Cow::Owned(text.into_bytes()),
            end_offset,
            truncated_from: None,
        }
    }
}

/// Feeds lines through the multi-line joiner (when enabled) and tracks the
/// offsets of what it holds back.
pub struct Assembler {
    joiner: Option<MultilineJoiner>,
    /// End of the last line given to the joiner: where the record it holds
    /// ends.
    held_end: u64,
    /// End of the last line seen: where the next line starts.
    last_end: u64,
}

impl Assembler {
    /// `max_bytes` caps joined records; `multiline` off ships each line as
    /// its own record. `offset` is where the stream starts.
    pub fn new(multiline: bool, max_bytes: usize, offset: u64) -> Self {
        Assembler {
            joiner: multiline.then(|| MultilineJoiner::new(MAX_JOINED_LINES, max_bytes)),
            held_end: offset,
            last_end: offset,
        }
    }

    /// Takes one line; returns the records it completes, in order (at most
    /// two: a held-back record and a line that cannot be joined).
    pub fn push<'a>(&mut self, line: Line<'a>) -> [Option<Record<'a>>; 2] {
        let line_start = std::mem::replace(&mut self.last_end, line.end_offset);
        let Some(joiner) = &mut self.joiner else {
            return [Some(Record::line(line)), None];
        };
        // Cut lines and invalid UTF-8 are shipped exactly as read, on their
        // own; what the joiner holds goes first to keep the order.
        let text = match line.truncated_from {
            None => std::str::from_utf8(line.bytes).ok(),
            Some(_) => None,
        };
        let Some(text) = text else {
            let held = joiner
                .flush()
                .map(|text| Record::joined(text, self.held_end));
            return [held, Some(Record::line(line))];
        };
        let done = joiner.push(text);
        let record = done.map(|text| {
            if joiner.is_empty() {
                // The joiner returned everything, this line included.
                Record::joined(text, line.end_offset)
            } else {
                Record::joined(text, line_start)
            }
        });
        self.held_end = line.end_offset;
        [record, None]
    }

    /// Gives up waiting for more lines of the record held back (the source
    /// was idle, or ended).
    pub fn flush(&mut self) -> Option<Record<'static>> {
        let text = self.joiner.as_mut()?.flush()?;
        Some(Record::joined(text, self.held_end))
    }

    /// Whether a record is held back waiting for more lines.
    pub fn is_holding(&self) -> bool {
        self.joiner.as_ref().is_some_and(|j| !j.is_empty())
    }

    /// The stream starts over at `offset` (the file was truncated); call
    /// [`flush`](Self::flush) first to keep what is held.
    pub fn reset(&mut self, offset: u64) {
        self.held_end = offset;
        self.last_end = offset;
    }
}
