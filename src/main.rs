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

// Parsed once at start-up and moved into its role: the variants' sizes
// do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Tail files or stdin into Kafka.
    Shipper(logflow_shipper::Config),
    /// Consume Kafka, parse, redact and index into the store.
    Processor(logflow_processor::Config),
    /// Produce realistic synthetic logs (to Kafka, stdout or a file).
    Generator(logflow_generator::Config),
    /// Serve the REST API (search, metrics, users) and Swagger UI at /docs.
    Api(logflow_api::Config),
    /// Evaluate the alert rules and send notifications.
    Alerting(logflow_alerting::Config),
    /// Run every server role (processor, api and alert engine) in one process.
    Standalone(StandaloneConfig),
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
        Command::Api(config) => {
            spawn_signal_handler(shutdown.clone());
            logflow_api::run(config, shutdown).await?;
        }
        Command::Alerting(config) => {
            spawn_signal_handler(shutdown.clone());
            logflow_alerting::run(config, shutdown).await?;
        }
        Command::Standalone(config) => {
            spawn_signal_handler(shutdown.clone());
            standalone(config, shutdown).await?;
        }
        Command::Generator(config) => {
            spawn_signal_handler(shutdown.clone());
            logflow_generator::run(config, shutdown).await?;
        }
    }
    Ok(())
}

/// `logflow standalone`: the processor's flags plus the api's own; the two
/// share the broker, topic, data directory and consumer group.
#[derive(Debug, clap::Args)]
struct StandaloneConfig {
    #[command(flatten)]
    processor: logflow_processor::Config,
    #[command(flatten)]
    server: logflow_api::ServerArgs,
    #[command(flatten)]
    engine: logflow_alerting::EngineArgs,
}

/// Runs processor, api and alert engine as tasks of one process. Any one
/// stopping (an error, or the shutdown signal) stops the others, so the
/// process never lingers half-alive.
async fn standalone(config: StandaloneConfig, shutdown: CancellationToken) -> anyhow::Result<()> {
    tracing::info!("standalone: processor, api and alert engine in one process");
    let data_dir = config.processor.data_dir.clone();
    let engine_args = config.engine;
    let store_args = config.processor.store.clone();
    let api_config = logflow_api::Config {
        kafka: config.processor.kafka.clone(),
        data_dir: config.processor.data_dir.clone(),
        group_id: config.processor.group_id.clone(),
        store: config.processor.store.clone(),
        server: config.server,
    };
    // The database is opened (and migrated) here, before the api opens it;
    // the default SQLite file lives in the data directory.
    std::fs::create_dir_all(&data_dir).map_err(|e| {
        anyhow::anyhow!("cannot create LOGFLOW_DATA_DIR {}: {e}", data_dir.display())
    })?;
    let db = logflow_store::meta::MetaDb::connect(&api_config.database_url()).await?;
    let processor = {
        let shutdown = shutdown.clone();
        async move {
            let outcome = logflow_processor::run(config.processor, shutdown.clone()).await;
            shutdown.cancel();
            outcome.map_err(anyhow::Error::from)
        }
    };
    let api = {
        let shutdown = shutdown.clone();
        async move {
            let outcome = logflow_api::run(api_config, shutdown.clone()).await;
            shutdown.cancel();
            outcome.map_err(anyhow::Error::from)
        }
    };
    let engine = {
        let shutdown = shutdown.clone();
        async move {
            let outcome = logflow_alerting::serve(
                &db,
                &data_dir,
                &store_args,
                &engine_args,
                shutdown.clone(),
            )
            .await;
            shutdown.cancel();
            db.close().await;
            outcome.map_err(anyhow::Error::from)
        }
    };
    let (processor, api, engine) = tokio::join!(processor, api, engine);
    processor.and(api).and(engine)
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
