//! Environment variables as the fallback for flags. A binary of its own:
//! the environment is per process, and other tests parse flags in parallel.

mod common;

use common::parse;

#[test]
fn environment_variables_are_the_fallback() -> anyhow::Result<()> {
    std::env::set_var("LOGFLOW_SHIPPER_FILES", "x.log,y/*.log");
    std::env::set_var("LOGFLOW_SHIPPER_MULTILINE", "off");
    let from_env = parse(&[]);
    let flag_wins = parse(&["--multiline", "on"]);
    std::env::remove_var("LOGFLOW_SHIPPER_FILES");
    std::env::remove_var("LOGFLOW_SHIPPER_MULTILINE");
    let from_env = from_env?;
    assert_eq!(from_env.files, vec!["x.log", "y/*.log"]);
    assert!(!from_env.multiline);
    assert!(flag_wins?.multiline);
    Ok(())
}
