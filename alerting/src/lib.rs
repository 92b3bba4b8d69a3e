//! `logflow alerting`: evaluates every active alert rule against the store
//! every `ALERT_CHECK_INTERVAL`, records what fires and notifies.
//!
//! Several engines may run (replicas, or `standalone` beside a separate
//! one): a lease in the metadata database decides which one evaluates, and
//! the database refuses a second unresolved alert per rule, so a rule
//! never fires twice.

mod engine;
mod metrics;
pub mod notify;

pub use engine::{Engine, Tick};
pub use notify::{Notifier, NotifyArgs};

use clap::Args;
use logflow_store::meta::{MetaDb, MetaError};
use logflow_store::tantivy_store::OpenMode;
use logflow_store::{StoreArgs, StoreError};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Everything `logflow alerting` needs.
#[derive(Debug, Clone, Args)]
pub struct Config {
    #[command(flatten)]
    pub metrics: logflow_metrics::MetricsArgs,

    #[command(flatten)]
    pub store: StoreArgs,

    /// Where the processor keeps the indexes (under `indexes/`) and where
    /// the default SQLite database lives.
    #[arg(long, env = "LOGFLOW_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// Metadata database with the rules (`postgres://…` or `sqlite://…`).
    /// Unset: `logflow.db` in the data directory.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    #[command(flatten)]
    pub engine: EngineArgs,
}

/// The engine's own settings (`logflow standalone` takes these beside the
/// api's, whose database it shares).
#[derive(Debug, Clone, Args)]
pub struct EngineArgs {
    /// How often every active rule is evaluated.
    #[arg(long, env = "ALERT_CHECK_INTERVAL", default_value = "60s", value_parser = parse_interval)]
    pub alert_check_interval: Duration,

    #[command(flatten)]
    pub notify: NotifyArgs,
}

fn parse_interval(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s)
        .ok()
        .filter(|d| *d >= Duration::from_secs(1) && *d <= Duration::from_secs(24 * 3600))
        .ok_or_else(|| format!("invalid interval {s:?}: expected 1s to 24h, such as 30s or 1m"))
}

/// Why the engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum AlertingError {
    #[error(transparent)]
    Database(#[from] MetaError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Notify(#[from] notify::NotifyError),
    #[error(transparent)]
    Metrics(#[from] logflow_metrics::ListenError),
}

impl Config {
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| logflow_store::meta::default_sqlite_url(&self.data_dir))
    }
}

/// Evaluates the rules until `shutdown`.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), AlertingError> {
    logflow_metrics::spawn_listener(&config.metrics, shutdown.clone()).await?;
    // The default SQLite file lives in the data directory.
    std::fs::create_dir_all(&config.data_dir).map_err(|source| StoreError::Io {
        path: config.data_dir.display().to_string(),
        source,
    })?;
    let db = MetaDb::connect(&config.database_url()).await?;
    let outcome = serve(
        &db,
        &config.data_dir,
        &config.store,
        &config.engine,
        shutdown,
    )
    .await;
    db.close().await;
    outcome
}

/// Evaluates the rules in `db` against the store under `data_dir` until
/// `shutdown` (`logflow standalone` passes the database it opened first,
/// so that only one task runs its migrations).
pub async fn serve(
    db: &MetaDb,
    data_dir: &Path,
    store: &StoreArgs,
    args: &EngineArgs,
    shutdown: CancellationToken,
) -> Result<(), AlertingError> {
    let store = store
        .open(&data_dir.join("indexes"), OpenMode::ReadOnly)
        .await?;
    metrics::describe();
    let notifier = Notifier::new(&args.notify)?;
    let engine = Engine::new(store, db.alerts(), notifier, args.alert_check_interval);
    tracing::info!(
        holder = engine.holder(),
        interval = %humantime::format_duration(args.alert_check_interval),
        "alert engine started"
    );
    engine.run(shutdown).await;
    Ok(())
}
