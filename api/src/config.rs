//! The api's configuration. Flags and environment variables are one
//! definition (clap `env`), so `logflow api --help` lists both.

use crate::cache::CacheArgs;
use crate::ratelimit::RateLimitArgs;
use clap::Args;
use logflow_kafka::KafkaArgs;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything `logflow api` needs.
#[derive(Debug, Clone, Args)]
pub struct Config {
    #[command(flatten)]
    pub kafka: KafkaArgs,

    /// Where the processor keeps the tantivy indexes (under `indexes/`) and
    /// where the default SQLite database lives.
    #[arg(long, env = "LOGFLOW_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// The processors' consumer group, whose lag `/api/v1/metrics/system`
    /// reports.
    #[arg(
        long,
        env = "LOGFLOW_CONSUMER_GROUP",
        default_value = "logflow-processor"
    )]
    pub group_id: String,

    #[command(flatten)]
    pub store: logflow_store::StoreArgs,

    #[command(flatten)]
    pub server: ServerArgs,
}

/// The api's own settings, apart from the ones it shares with the processor
/// (so `logflow standalone` can take both without a clash).
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Address the HTTP server listens on.
    #[arg(long, env = "LOGFLOW_API_ADDR", default_value = "127.0.0.1:8000")]
    pub addr: SocketAddr,

    /// Metadata database (users, alert rules): `postgres://…` or
    /// `sqlite://…`. Unset: a SQLite file `logflow.db` in the data directory.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Redis, shared by api replicas (`redis://host:6379`): the response
    /// cache and the rate limits live there. Unset: both in-process.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,

    /// Prefix of every key LogFlow writes to Redis, so deployments can
    /// share one server.
    #[arg(long, env = "REDIS_KEY_PREFIX", default_value = "logflow:")]
    pub redis_key_prefix: String,

    /// Key that signs access tokens (HS256). Unset: a random key per start,
    /// so tokens do not survive a restart.
    #[arg(long, env = "SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,

    /// Lifetime of an access token in minutes.
    #[arg(long, env = "ACCESS_TOKEN_EXPIRE_MINUTES", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(1..=525_600))]
    pub access_token_expire_minutes: u32,

    /// Name of the first admin, created when the database has no admin.
    #[arg(long, env = "LOGFLOW_ADMIN_USERNAME", default_value = "admin")]
    pub admin_username: String,

    /// Password of the first admin. Unset: a random one, printed once.
    #[arg(long, env = "LOGFLOW_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,

    /// bcrypt work factor for password hashes (4–31; each step doubles the
    /// time a guess costs, and a login's).
    #[arg(long, env = "LOGFLOW_BCRYPT_COST", default_value_t = 12,
          value_parser = clap::value_parser!(u32).range(4..=31))]
    pub bcrypt_cost: u32,

    #[command(flatten)]
    pub cache: CacheArgs,

    #[command(flatten)]
    pub rate_limits: RateLimitArgs,
}

impl Config {
    /// The database URL, defaulting to SQLite in the data directory.
    pub fn database_url(&self) -> String {
        self.server
            .database_url
            .clone()
            .unwrap_or_else(|| logflow_store::meta::default_sqlite_url(&self.data_dir))
    }

    /// Where the processor's indexes are.
    pub fn index_dir(&self) -> PathBuf {
        self.data_dir.join("indexes")
    }
}
