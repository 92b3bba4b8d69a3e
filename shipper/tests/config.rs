//! Flags, their defaults and environment fallbacks, and configuration
//! errors reported before anything starts.

mod common;

use std::path::PathBuf;

use common::parse;
use logflow_shipper::{run, Compression, ShipperError};
use tokio_util::sync::CancellationToken;

#[test]
fn defaults_ship_files_whole_with_multiline_on() -> anyhow::Result<()> {
    let config = parse(&["--file", "/var/log/*.log", "--data-dir", "/srv/logflow"])?;
    assert_eq!(config.files, vec!["/var/log/*.log"]);
    assert!(config.from_beginning);
    assert!(config.multiline);
    assert!(!config.stdin);
    assert_eq!(config.max_line_bytes, 1024 * 1024);
    assert_eq!(config.poll_interval_ms, 200);
    assert_eq!(
        config.checkpoint_dir(),
        PathBuf::from("/srv/logflow/shipper")
    );
    Ok(())
}

#[test]
fn switches_take_on_off_values() -> anyhow::Result<()> {
    let config = parse(&[
        "--file",
        "a.log",
        "--file",
        "b/*.log",
        "--multiline",
        "off",
        "--from-beginning",
        "false",
        "--compression",
        "zstd",
        "--max-in-flight",
        "10",
        "--service",
        "billing",
        "--checkpoint-dir",
        "/tmp/ckpt",
    ])?;
    assert_eq!(config.files, vec!["a.log", "b/*.log"]);
    assert!(!config.multiline);
    assert!(!config.from_beginning);
    assert_eq!(config.compression, Compression::Zstd);
    assert_eq!(config.max_in_flight, 10);
    assert_eq!(config.service.as_deref(), Some("billing"));
    assert_eq!(config.checkpoint_dir(), PathBuf::from("/tmp/ckpt"));
    // A bare switch means on.
    assert!(parse(&["--stdin", "--multiline"])?.multiline);
    Ok(())
}

#[test]
fn bad_values_are_rejected_by_name() {
    let error = parse(&["--stdin", "--max-in-flight", "0"])
        .err()
        .map(|e| e.to_string());
    assert!(error.is_some_and(|e| e.contains("--max-in-flight")));
    let error = parse(&["--stdin", "--compression", "gzip"])
        .err()
        .map(|e| e.to_string());
    assert!(error.is_some_and(|e| e.contains("--compression")));
}

#[tokio::test]
async fn nothing_to_ship_is_an_error() -> anyhow::Result<()> {
    let mut config = parse(&["--stdin"])?;
    config.stdin = false;
    config.files.clear();
    let result = run(config, CancellationToken::new()).await;
    assert!(matches!(result, Err(ShipperError::NoSource)), "{result:?}");
    Ok(())
}

#[tokio::test]
async fn a_bad_pattern_is_an_error_naming_it() -> anyhow::Result<()> {
    let result = run(
        parse(&["--file", "logs/[unclosed"])?,
        CancellationToken::new(),
    )
    .await;
    match result {
        Err(error @ ShipperError::Pattern { .. }) => {
            assert!(error.to_string().contains("logs/[unclosed"))
        }
        other => panic!("expected a pattern error, got {other:?}"),
    }
    Ok(())
}
