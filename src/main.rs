//! `logflow`: the one command line for every LogFlow role.

mod search;
mod telemetry;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Parser)]
#[command(
    name = "logflow",
    version,
    about = "LogFlow: ship, process, index, search and alert on logs"
)]
struct Cli {
    /// Log verbosity for LogFlow's own logs (a tracing filter, e.g. info or logflow_processor=debug).
    #[arg(long, env = "LOG_LEVEL", default_value = "info", global = true)]
    log_level: String,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Tail files or stdin into Kafka.
    Shipper(logflow_shipper::Config),
    /// Consume Kafka, parse, redact and index into the store.
    Processor(logflow_processor::Config),
    /// Produce realistic synthetic logs (to Kafka, stdout or a file).
    Generator(logflow_generator::Config),
    /// Run every server role (today: the processor) in one process.
    Standalone(logflow_processor::Config),
    /// Search the store directly and print the matching logs.
    Search(search::SearchArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(run(cli));
    // A blocking call still waiting on a dependency that is down (a Kafka
    // commit, say) must not keep a finished process alive.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            // `{:#}` prints the whole cause chain on one line, without a
            // backtrace: these are user-facing errors, not crashes.
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    telemetry::init(&cli.log_level)?;
    let shutdown = CancellationToken::new();
    match cli.command {
        Command::Search(args) => return search::run(args).await,
        Command::Shipper(config) => {
            spawn_signal_handler(shutdown.clone());
            logflow_shipper::run(config, shutdown).await?;
        }
        Command::Processor(config) => {
            spawn_signal_handler(shutdown.clone());
            logflow_processor::run(config, shutdown).await?;
        }
        Command::Standalone(config) => {
            spawn_signal_handler(shutdown.clone());
            tracing::info!("standalone: processor (api and alerting join as they are built)");
            logflow_processor::run(config, shutdown).await?;
        }
        Command::Generator(config) => {
            spawn_signal_handler(shutdown.clone());
            logflow_generator::run(config, shutdown).await?;
        }
    }
    Ok(())
}

/// Cancels `token` on SIGTERM or SIGINT so every role can finish its work in
/// hand (flush, commit) and exit cleanly.
fn spawn_signal_handler(token: CancellationToken) {
    tokio::spawn(async move {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut sig) => {
                    sig.recv().await;
                }
                Err(err) => {
                    tracing::warn!(%err, "cannot listen for SIGTERM");
                    std::future::pending::<()>().await;
                }
            }
        };
        tokio::select! {
            _ = terminate => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        tracing::info!("shutting down");
        token.cancel();
    });
}
