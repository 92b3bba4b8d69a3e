//! One writer per store directory: a second processor on the same data
//! directory fails at start with a clear error instead of stalling later.

use logflow_store::tantivy_store::{OpenMode, TantivyStore, WriterOptions};
use logflow_store::StoreError;

fn open_rw(dir: &std::path::Path) -> Result<TantivyStore, StoreError> {
    TantivyStore::open(dir, OpenMode::ReadWrite(WriterOptions::default()))
}

#[test]
fn a_second_writer_is_refused_while_readers_are_welcome() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = open_rw(dir.path()).expect("first writer");
    let err = match open_rw(dir.path()) {
        Ok(_) => panic!("a second writer must be refused"),
        Err(err) => err,
    };
    assert!(
        err.to_string().contains("already writes this store"),
        "{err}"
    );
    TantivyStore::open(dir.path(), OpenMode::ReadOnly).expect("readers are not locked out");

    drop(first);
    open_rw(dir.path()).expect("the lock is released with the writer");
}
