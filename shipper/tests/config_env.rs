//! Environment variables as the fallback for flags. A binary of its own:
//! the environment is per process, and other tests parse flags in parallel.

use clap::Parser;
use logflow_shipper::Config;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    config: Config,
}

fn parse(args: &[&str]) -> Result<Config, clap::Error> {
    Cli::try_parse_from(std::iter::once("shipper").chain(args.iter().copied())).map(|c| c.config)
}

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
