//! Splitting a byte stream into lines, with the file offset where each one
//! ends (the checkpoint for it) and a hard cap on line length.
//!
//! Bytes are never decoded here: invalid UTF-8 is shipped unchanged and the
//! processor dead-letters it with a reason. The buffer is read into directly
//! and lines are borrowed from it, so a line costs no allocation.

use memchr::memchr;

/// How much is read per system call at least; large reads are what make
/// tailing cheap compared to producing.
const MIN_BUFFER: usize = 1024 * 1024;

/// One line, without its `\n` or `\r\n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    /// The line's bytes, cut to the maximum length when too long.
    pub bytes: &'a [u8],
    /// Stream offset just past the line's `\n`: where reading resumes once
    /// this line is delivered.
    pub end_offset: u64,
    /// `Some(original length)` when the line was cut.
    pub truncated_from: Option<u64>,
}

/// A line too long to keep whole: its first `max` bytes are kept, the rest
/// is only counted until the line ends.
#[derive(Debug, Default)]
struct Overlong {
    /// Bytes of the line seen so far, the kept prefix included.
    seen: u64,
    /// Whether the last byte seen was `\r` (it is not part of the length if
    /// the `\n` follows).
    ends_with_cr: bool,
}

/// Turns reads into complete lines. A partial last line stays buffered
/// until its `\n` arrives: a line being written is never shipped half.
#[derive(Debug)]
pub struct LineSplitter {
    buf: Vec<u8>,
    /// Unconsumed data is `buf[start..end]`.
    start: usize,
    end: usize,
    /// `buf[start..scanned]` is known to hold no `\n`, so a long partial
    /// line is not searched again after every read.
    scanned: usize,
    /// Stream offset of `buf[0]`.
    base_offset: u64,
    max_line_bytes: usize,
    /// Set while skipping the tail of a line longer than `max_line_bytes`.
    overlong: Option<Overlong>,
    /// The kept prefix of the current overlong line.
    cut: Vec<u8>,
}

impl LineSplitter {
    /// A splitter for a stream whose next byte is at `offset`.
    pub fn new(max_line_bytes: usize, offset: u64) -> Self {
        // Room for a whole maximal line plus `\r\n`, so a line is only cut
        // when it is really longer than the limit.
        let capacity = MIN_BUFFER.max(max_line_bytes + 2);
        LineSplitter {
            buf: vec![0; capacity],
            start: 0,
            end: 0,
            scanned: 0,
            base_offset: offset,
            max_line_bytes,
            overlong: None,
            cut: Vec::new(),
        }
    }

    /// Free space to read into; pass the number of bytes read to
    /// [`filled`](Self::filled). Never empty.
    pub fn spare_mut(&mut self) -> &mut [u8] {
        if self.end == self.buf.len() {
            self.compact();
        }
        &mut self.buf[self.end..]
    }

    /// Records that `n` bytes were read into [`spare_mut`](Self::spare_mut).
    pub fn filled(&mut self, n: usize) {
        self.end = (self.end + n).min(self.buf.len());
    }

    /// The next complete line, if one is buffered.
    pub fn next_line(&mut self) -> Option<Line<'_>> {
        let from = self.scanned.max(self.start);
        let newline = memchr(b'\n', &self.buf[from..self.end]).map(|i| from + i);
        let Some(nl) = newline else {
            self.scanned = self.end;
            self.absorb_overlong();
            return None;
        };
        let line_start = self.start;
        self.start = nl + 1;
        self.scanned = self.start;
        let end_offset = self.base_offset + self.start as u64;
        match self.overlong.take() {
            None => Some(cap(
                &self.buf[line_start..nl],
                end_offset,
                self.max_line_bytes,
            )),
            Some(overlong) => {
                let tail = &self.buf[line_start..nl];
                let cr = match tail.last() {
                    Some(&last) => last == b'\r',
                    None => overlong.ends_with_cr,
                };
                let length = overlong.seen + tail.len() as u64 - u64::from(cr);
                Some(Line {
                    bytes: &self.cut,
                    end_offset,
                    truncated_from: Some(length),
                })
            }
        }
    }

    /// At the end of a stream that will not grow (stdin), the bytes after
    /// the last `\n` are a line of their own. Never used for files, where
    /// they may be a line still being written.
    pub fn take_rest(&mut self) -> Option<Line<'_>> {
        if self.start == self.end && self.overlong.is_none() {
            return None;
        }
        let rest = self.start..self.end;
        self.start = self.end;
        self.scanned = self.end;
        let end_offset = self.base_offset + self.end as u64;
        match self.overlong.take() {
            None => Some(cap(&self.buf[rest], end_offset, self.max_line_bytes)),
            Some(overlong) => Some(Line {
                bytes: &self.cut,
                end_offset,
                truncated_from: Some(overlong.seen - u64::from(overlong.ends_with_cr)),
            }),
        }
    }

    /// Stream offset of the first byte not read yet.
    pub fn read_offset(&self) -> u64 {
        self.base_offset + self.end as u64
    }

    /// Forgets everything buffered and continues at `offset` (after the file
    /// was truncated, say).
    pub fn reset(&mut self, offset: u64) {
        self.start = 0;
        self.end = 0;
        self.scanned = 0;
        self.base_offset = offset;
        self.overlong = None;
    }

    /// Moves unconsumed bytes to the front to make room for reading.
    fn compact(&mut self) {
        self.buf.copy_within(self.start..self.end, 0);
        self.base_offset += self.start as u64;
        self.end -= self.start;
        self.scanned -= self.start;
        self.start = 0;
    }

    /// With no `\n` in sight, a partial line that is already longer than
    /// the limit (even without a trailing `\r`) is cut now: its prefix is
    /// kept and the buffer is freed for the rest of the line.
    fn absorb_overlong(&mut self) {
        let pending = self.end - self.start;
        if pending == 0 {
            return;
        }
        let last_is_cr = self.buf[self.end - 1] == b'\r';
        match &mut self.overlong {
            Some(overlong) => {
                overlong.seen += pending as u64;
                overlong.ends_with_cr = last_is_cr;
            }
            None if pending > self.max_line_bytes + 1 => {
                self.cut.clear();
                self.cut
                    .extend_from_slice(&self.buf[self.start..self.start + self.max_line_bytes]);
                self.overlong = Some(Overlong {
                    seen: pending as u64,
                    ends_with_cr: last_is_cr,
                });
            }
            None => return,
        }
        self.start = self.end;
        self.scanned = self.end;
    }
}

/// A whole line found in the buffer: drops its `\r` and cuts it when it is
/// longer than the limit (the buffer is larger than the limit, so a line
/// that fits in it may still be too long).
fn cap(line: &[u8], end_offset: u64, max_line_bytes: usize) -> Line<'_> {
    let bytes = match line {
        [rest @ .., b'\r'] => rest,
        whole => whole,
    };
    if bytes.len() > max_line_bytes {
        Line {
            bytes: &bytes[..max_line_bytes],
            end_offset,
            truncated_from: Some(bytes.len() as u64),
        }
    } else {
        Line {
            bytes,
            end_offset,
            truncated_from: None,
        }
    }
}
