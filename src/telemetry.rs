//! Logging for LogFlow's own processes: human-readable on a terminal, JSON
//! lines otherwise (for log shippers, including our own), always on stderr
//! so that stdout stays free for data.

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

pub fn init(level: &str) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(level)
        .map_err(|e| anyhow::anyhow!("invalid LOG_LEVEL {level:?}: {e}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::io::stderr().is_terminal() {
        builder.init();
    } else {
        builder.json().with_current_span(true).init();
    }
    Ok(())
}
