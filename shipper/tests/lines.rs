//! Line splitting: partial lines wait, CRLF is stripped, long lines are cut
//! and flagged, offsets point just past each line.

use logflow_shipper::lines::LineSplitter;
use proptest::prelude::*;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Owned {
    bytes: Vec<u8>,
    end_offset: u64,
    truncated_from: Option<u64>,
}

/// Feeds `chunks` one read at a time, collecting every complete line.
fn split(splitter: &mut LineSplitter, chunks: &[&[u8]]) -> Vec<Owned> {
    let mut out = Vec::new();
    for chunk in chunks {
        let mut rest = *chunk;
        while !rest.is_empty() {
            let spare = splitter.spare_mut();
            let n = spare.len().min(rest.len());
            spare[..n].copy_from_slice(&rest[..n]);
            splitter.filled(n);
            rest = &rest[n..];
            while let Some(line) = splitter.next_line() {
                out.push(Owned {
                    bytes: line.bytes.to_vec(),
                    end_offset: line.end_offset,
                    truncated_from: line.truncated_from,
                });
            }
        }
    }
    out
}

fn line(bytes: &[u8], end_offset: u64) -> Owned {
    Owned {
        bytes: bytes.to_vec(),
        end_offset,
        truncated_from: None,
    }
}

#[test]
fn partial_lines_wait_for_their_newline() {
    let mut splitter = LineSplitter::new(1024, 0);
    assert_eq!(split(&mut splitter, &[b"one\ntw"]), vec![line(b"one", 4)]);
    assert_eq!(split(&mut splitter, &[b"o"]), vec![]);
    assert_eq!(split(&mut splitter, &[b"\n"]), vec![line(b"two", 8)]);
    assert_eq!(splitter.read_offset(), 8);
}

#[test]
fn crlf_and_empty_lines() {
    let mut splitter = LineSplitter::new(1024, 0);
    let lines = split(&mut splitter, &[b"a\r\n\nb\r", b"\n\r\n"]);
    assert_eq!(
        lines,
        vec![line(b"a", 3), line(b"", 4), line(b"b", 7), line(b"", 9)]
    );
}

#[test]
fn offsets_start_where_reading_starts() {
    let mut splitter = LineSplitter::new(1024, 100);
    assert_eq!(split(&mut splitter, &[b"x\n"]), vec![line(b"x", 102)]);
}

#[test]
fn invalid_utf8_is_kept_byte_for_byte() {
    let mut splitter = LineSplitter::new(1024, 0);
    let lines = split(&mut splitter, &[b"ok \xff\xfe bad\n"]);
    assert_eq!(lines, vec![line(b"ok \xff\xfe bad", 10)]);
}

#[test]
fn a_long_line_within_the_buffer_is_cut_and_flagged() {
    let mut splitter = LineSplitter::new(4, 0);
    let lines = split(&mut splitter, &[b"abcdefgh\r\nabcd\r\nabcde\n"]);
    assert_eq!(
        lines,
        vec![
            Owned {
                bytes: b"abcd".to_vec(),
                end_offset: 10,
                truncated_from: Some(8),
            },
            line(b"abcd", 16),
            Owned {
                bytes: b"abcd".to_vec(),
                end_offset: 22,
                truncated_from: Some(5),
            },
        ]
    );
}

#[test]
fn a_line_larger_than_the_buffer_is_cut_while_reading() {
    let huge = vec![b'x'; 5 * 1024 * 1024 + 3];
    let mut splitter = LineSplitter::new(10, 0);
    // The `\r` arrives in one read and the `\n` in the next: still not
    // counted in the length.
    let lines = split(&mut splitter, &[&huge, b"\r", b"\nnext\n"]);
    let end = huge.len() as u64 + 2;
    assert_eq!(
        lines,
        vec![
            Owned {
                bytes: vec![b'x'; 10],
                end_offset: end,
                truncated_from: Some(huge.len() as u64),
            },
            line(b"next", end + 5),
        ]
    );
}

#[test]
fn a_line_of_exactly_the_limit_is_whole() {
    let max = 2 * 1024 * 1024;
    let mut data = vec![b'y'; max];
    data.extend_from_slice(b"\r\n");
    let mut splitter = LineSplitter::new(max, 0);
    let lines = split(&mut splitter, &[&data]);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].bytes.len(), max);
    assert_eq!(lines[0].truncated_from, None);
    assert_eq!(lines[0].end_offset, max as u64 + 2);
}

#[test]
fn the_rest_of_a_finished_stream_is_a_line() {
    let mut splitter = LineSplitter::new(1024, 0);
    assert_eq!(split(&mut splitter, &[b"a\nlast"]), vec![line(b"a", 2)]);
    let rest = splitter
        .take_rest()
        .map(|l| (l.bytes.to_vec(), l.end_offset));
    assert_eq!(rest, Some((b"last".to_vec(), 6)));
    assert!(splitter.take_rest().is_none());
}

#[test]
fn reset_starts_over_at_the_given_offset() {
    let mut splitter = LineSplitter::new(1024, 0);
    assert_eq!(
        split(&mut splitter, &[b"old\npartial"]),
        vec![line(b"old", 4)]
    );
    splitter.reset(0);
    assert_eq!(split(&mut splitter, &[b"new\n"]), vec![line(b"new", 4)]);
}

proptest! {
    /// Any data cut into any reads gives the lines of a naive split.
    #[test]
    fn matches_a_naive_split(
        data in prop::collection::vec(prop::sample::select(vec![b'a', b'b', b'\r', b'\n', 0xff]), 0..400),
        cuts in prop::collection::vec(0usize..400, 0..8),
        max in 1usize..12,
    ) {
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
        cuts.push(0);
        cuts.push(data.len());
        cuts.sort_unstable();
        let chunks: Vec<&[u8]> = cuts.windows(2).map(|w| &data[w[0]..w[1]]).collect();
        let mut splitter = LineSplitter::new(max, 0);
        let got = split(&mut splitter, &chunks);

        let mut expected = Vec::new();
        let mut offset = 0u64;
        let mut pieces: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
        pieces.pop(); // after the last `\n`: not a complete line
        for piece in pieces {
            offset += piece.len() as u64 + 1;
            let content = piece.strip_suffix(b"\r").unwrap_or(piece);
            expected.push(if content.len() > max {
                Owned { bytes: content[..max].to_vec(), end_offset: offset, truncated_from: Some(content.len() as u64) }
            } else {
                line(content, offset)
            });
        }
        prop_assert_eq!(got, expected);
    }
}
