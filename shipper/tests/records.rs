//! Lines into records: what is joined, what ships alone, and the offset
//! each record lets the checkpoint move to.

use std::path::Path;

use logflow_shipper::lines::Line;
use logflow_shipper::records::{Assembler, Record};
use logflow_shipper::tail::service_for_path;

/// Pushes lines (each ending at the given offset) and returns the records
/// as (text, end offset, truncated from).
fn assemble(assembler: &mut Assembler, lines: &[(&[u8], u64)]) -> Vec<(Vec<u8>, u64, Option<u64>)> {
    let mut out = Vec::new();
    for &(bytes, end_offset) in lines {
        let line = Line {
            bytes,
            end_offset,
            truncated_from: None,
        };
        out.extend(assembler.push(line).into_iter().flatten().map(own));
    }
    out
}

fn own(record: Record<'_>) -> (Vec<u8>, u64, Option<u64>) {
    (
        record.payload.into_owned(),
        record.end_offset,
        record.truncated_from,
    )
}

#[test]
fn without_multiline_every_line_is_a_record() {
    let mut assembler = Assembler::new(false, 1024, 0);
    let out = assemble(&mut assembler, &[(b"a", 2), (b"  b", 6)]);
    assert_eq!(
        out,
        vec![(b"a".to_vec(), 2, None), (b"  b".to_vec(), 6, None)]
    );
    assert!(assembler.flush().is_none());
}

#[test]
fn a_joined_record_ends_where_the_next_record_starts() {
    let mut assembler = Assembler::new(true, 1024, 100);
    let out = assemble(
        &mut assembler,
        &[
            (b"ERROR boom", 111),
            (b"\tat a.B(B.java:1)", 129),
            (b"INFO next", 139),
        ],
    );
    assert_eq!(
        out,
        vec![(b"ERROR boom\n\tat a.B(B.java:1)".to_vec(), 129, None)]
    );
    assert!(assembler.is_holding());
    assert_eq!(
        assembler.flush().map(own),
        Some((b"INFO next".to_vec(), 139, None))
    );
    assert!(!assembler.is_holding());
}

#[test]
fn lines_that_cannot_be_joined_ship_alone_after_what_is_held() {
    let mut assembler = Assembler::new(true, 1024, 0);
    let mut out = assemble(&mut assembler, &[(b"first", 6)]);
    out.extend(
        assembler
            .push(Line {
                bytes: b"\xff\xfe",
                end_offset: 9,
                truncated_from: None,
            })
            .into_iter()
            .flatten()
            .map(own),
    );
    out.extend(
        assembler
            .push(Line {
                bytes: b"cut",
                end_offset: 100,
                truncated_from: Some(90),
            })
            .into_iter()
            .flatten()
            .map(own),
    );
    assert_eq!(
        out,
        vec![
            (b"first".to_vec(), 6, None),
            (b"\xff\xfe".to_vec(), 9, None),
            (b"cut".to_vec(), 100, Some(90)),
        ]
    );
    assert!(!assembler.is_holding());
}

#[test]
fn after_a_reset_offsets_restart() {
    let mut assembler = Assembler::new(true, 1024, 0);
    assemble(&mut assembler, &[(b"old", 50)]);
    assert_eq!(assembler.flush().map(|r| r.end_offset), Some(50));
    assembler.reset(0);
    let out = assemble(&mut assembler, &[(b"new", 4), (b"newer", 10)]);
    assert_eq!(out, vec![(b"new".to_vec(), 4, None)]);
}

#[test]
fn service_names_come_from_file_names() {
    let cases = [
        ("/var/log/payment-service.log", "payment-service"),
        ("payment-service.log.1", "payment-service"),
        ("api.log.2026-11-22.gz", "api"),
        ("worker.out", "worker"),
        ("api.v2.txt", "api.v2"),
        ("syslog", "syslog"),
        (".log", ".log"),
    ];
    for (path, service) in cases {
        assert_eq!(service_for_path(Path::new(path)), service, "{path}");
    }
}
