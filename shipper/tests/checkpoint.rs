//! The checkpoint file: round trip, atomic replacement, and refusing to
//! guess when it is damaged.

use std::fs;

use logflow_shipper::checkpoint::{Checkpoint, CheckpointFile, FileKey};
use logflow_shipper::ShipperError;

fn entry(ino: u64, offset: u64) -> Checkpoint {
    Checkpoint {
        key: FileKey { dev: 1, ino },
        path: format!("/var/log/app-{ino}.log"),
        offset,
    }
}

#[test]
fn nothing_saved_yet_means_no_checkpoints() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let file = CheckpointFile::new(dir.path().join("not-created-yet"));
    assert!(file.load()?.is_empty());
    Ok(())
}

#[test]
fn saved_checkpoints_load_back() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let file = CheckpointFile::new(dir.path().join("shipper"));
    file.save(vec![entry(1, 10), entry(2, u64::MAX)])?;
    let loaded = file.load()?;
    assert_eq!(loaded.len(), 2);
    assert_eq!(loaded[&FileKey { dev: 1, ino: 1 }], entry(1, 10));
    assert_eq!(loaded[&FileKey { dev: 1, ino: 2 }], entry(2, u64::MAX));
    Ok(())
}

#[test]
fn a_save_replaces_everything_and_leaves_no_temporary_file() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let file = CheckpointFile::new(dir.path());
    file.save(vec![entry(1, 10), entry(2, 20)])?;
    file.save(vec![entry(2, 25)])?;
    let loaded = file.load()?;
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[&FileKey { dev: 1, ino: 2 }].offset, 25);
    let names: Vec<_> = fs::read_dir(dir.path())?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()?;
    assert_eq!(names, vec![std::ffi::OsString::from("checkpoints.json")]);
    Ok(())
}

#[test]
fn a_torn_temporary_file_from_a_crash_changes_nothing() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let file = CheckpointFile::new(dir.path());
    file.save(vec![entry(1, 10)])?;
    // A crash in the middle of a save leaves a half-written temporary file.
    fs::write(
        dir.path().join("checkpoints.json.tmp"),
        b"{\"version\":1,\"fil",
    )?;
    assert_eq!(file.load()?[&FileKey { dev: 1, ino: 1 }].offset, 10);
    file.save(vec![entry(1, 20)])?;
    assert_eq!(file.load()?[&FileKey { dev: 1, ino: 1 }].offset, 20);
    Ok(())
}

#[test]
fn a_damaged_file_is_an_error_naming_it() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let file = CheckpointFile::new(dir.path());
    fs::write(file.path(), b"not json")?;
    let error = file.load().err().map(|e| (e.to_string(), e));
    match error {
        Some((message, ShipperError::CheckpointCorrupt { .. })) => {
            assert!(
                message.contains(&file.path().display().to_string()),
                "{message}"
            );
        }
        other => panic!("expected CheckpointCorrupt, got {other:?}"),
    }
    fs::write(file.path(), br#"{"version": 99, "files": []}"#)?;
    assert!(matches!(
        file.load(),
        Err(ShipperError::CheckpointCorrupt { .. })
    ));
    Ok(())
}

#[test]
fn files_are_identified_by_inode_not_path() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("app.log");
    fs::write(&path, b"a\n")?;
    let before = FileKey::of(&fs::metadata(&path)?);
    let rotated = dir.path().join("app.log.1");
    fs::rename(&path, &rotated)?;
    fs::write(&path, b"b\n")?;
    assert_eq!(FileKey::of(&fs::metadata(&rotated)?), before);
    assert_ne!(FileKey::of(&fs::metadata(&path)?), before);
    Ok(())
}
