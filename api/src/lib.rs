//! `logflow api`: the REST API over the store the processor fills. It opens
//! the store read-only (it sees the processor's commits within a second),
//! keeps users in the metadata database, and publishes custom events to
//! Kafka.

pub mod alerts;
pub mod auth;
pub mod broker;
pub mod cache;
pub mod config;
pub mod correlation;
pub mod error;
pub mod export;
pub mod extract;
pub mod health;
pub mod logs;
pub mod metrics;
pub mod params;
pub mod prometheus;
pub mod ratelimit;
pub mod request_context;
pub mod router;
pub mod state;
pub mod trace;

use auth::bootstrap::{ensure_admin, Bootstrap, BootstrapError};
use auth::password::Passwords;
use auth::token::{TokenKeys, WeakSecret};
use broker::Broker;
use cache::ResponseCache;
pub use config::{Config, ServerArgs};
use logflow_store::cache::{Cache, MemoryCache, RedisCache};
use logflow_store::meta::{MetaDb, MetaError};
use logflow_store::ratelimit::{DegradingLimiter, MemoryLimiter, RateLimiter, RedisLimiter};
use logflow_store::redis::{RedisError, RedisPool};
use logflow_store::tantivy_store::OpenMode;
use logflow_store::StoreError;
use ratelimit::RateLimits;
use state::AppState;
use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Instant;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// How long requests in flight may take to finish after shutdown starts.
const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Why the api could not start or stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum ApiStartError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Database(#[from] MetaError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secret(#[from] WeakSecret),
    #[error(transparent)]
    Redis(#[from] RedisError),
    #[error(transparent)]
    Admin(#[from] BootstrapError),
    #[error("cannot create the Kafka client for {servers}: {source}")]
    Kafka {
        servers: String,
        source: rdkafka::error::KafkaError,
    },
    #[error("the HTTP server failed: {0}")]
    Serve(std::io::Error),
}

/// Binds the configured address and serves until `shutdown`.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), ApiStartError> {
    let addr = config.server.addr;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ApiStartError::Bind { addr, source })?;
    serve(config, listener, shutdown).await
}

/// Serves on an already bound listener (tests bind port 0) until
/// `shutdown`, then finishes the requests in flight.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), ApiStartError> {
    prometheus::describe();
    let state = connect(&config).await?;
    let db = state.db.clone();
    tokio::spawn(prometheus::refresh_lag(state.clone(), shutdown.clone()));
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, docs = %format!("http://{addr}/docs"), "api listening");
    }
    let serve = axum::serve(
        listener,
        router::app(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown.clone().cancelled_owned())
    .into_future();
    // Requests in flight get a bounded time to finish once shutdown starts;
    // a slow client reading a long export must not keep the process alive.
    let drained = async {
        shutdown.cancelled().await;
        tokio::time::sleep(DRAIN_TIMEOUT).await;
    };
    let served = tokio::select! {
        served = serve => served,
        () = drained => {
            tracing::warn!(seconds = DRAIN_TIMEOUT.as_secs(), "requests still in flight after the drain timeout were cut");
            Ok(())
        }
    };
    db.close().await;
    served.map_err(ApiStartError::Serve)
}

/// Opens everything the handlers use; says once which defaults it chose.
async fn connect(config: &Config) -> Result<AppState, ApiStartError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|source| ApiStartError::DataDir {
        path: config.data_dir.display().to_string(),
        source,
    })?;
    if config.server.database_url.is_none() {
        tracing::info!(
            path = %config.data_dir.join("logflow.db").display(),
            "DATABASE_URL is not set: using the embedded SQLite database"
        );
    }
    let db = Arc::new(MetaDb::connect(&config.database_url()).await?);
    let tokens = match &config.server.secret_key {
        Some(secret) => TokenKeys::from_secret(secret, config.server.access_token_expire_minutes)?,
        None => {
            tracing::warn!(
                "SECRET_KEY is not set: a random signing key was generated; tokens will not survive a restart"
            );
            TokenKeys::random(config.server.access_token_expire_minutes)
        }
    };
    let passwords = Passwords::new(config.server.bcrypt_cost);
    let users = db.users();
    let bootstrap = ensure_admin(
        users.as_ref(),
        passwords.clone(),
        &config.server.admin_username,
        config.server.admin_password.as_deref(),
    )
    .await?;
    announce_admin(&config.server.admin_username, &bootstrap);
    let redis = match &config.server.redis_url {
        Some(url) => Some(RedisPool::new(url, &config.server.redis_key_prefix)?),
        None => {
            tracing::info!("REDIS_URL is not set: the cache and rate limits are in-process");
            None
        }
    };
    let (cache, limits) = cache_and_limits(&config.server, redis.as_ref());
    let store = config
        .store
        .open(&config.index_dir(), OpenMode::ReadOnly)
        .await?;
    let broker =
        Broker::new(&config.kafka, &config.group_id).map_err(|source| ApiStartError::Kafka {
            servers: config.kafka.bootstrap_servers.clone(),
            source,
        })?;
    Ok(AppState {
        store,
        db,
        users,
        tokens: Arc::new(tokens),
        passwords,
        broker: Arc::new(broker),
        redis,
        cache: Arc::new(cache),
        limits: Arc::new(limits),
        started: Instant::now(),
        health: Arc::default(),
    })
}

/// The cache and rate-limit backends: in Redis when it is configured
/// (the limiter falling back to in-process counts while Redis is down),
/// else in this process.
fn cache_and_limits(server: &ServerArgs, redis: Option<&RedisPool>) -> (ResponseCache, RateLimits) {
    let (cache, limiter, backend): (Arc<dyn Cache>, Arc<dyn RateLimiter>, _) = match redis {
        Some(redis) => (
            Arc::new(RedisCache::new(redis.clone())),
            Arc::new(DegradingLimiter::new(RedisLimiter::new(redis.clone()))),
            "redis",
        ),
        None => (
            Arc::new(MemoryCache::new(server.cache.cache_max_mb << 20)),
            Arc::new(MemoryLimiter::default()),
            "memory",
        ),
    };
    if !server.rate_limits.rate_limit_enabled {
        tracing::warn!("RATE_LIMIT_ENABLED=false: requests are not rate limited");
    }
    (
        ResponseCache::new(cache, server.cache.clone()),
        RateLimits::new(limiter, backend, server.rate_limits.clone()),
    )
}

/// A generated admin password is printed once, to the terminal, not to the
/// structured log (which may be shipped and indexed).
fn announce_admin(username: &str, bootstrap: &Bootstrap) {
    match bootstrap {
        Bootstrap::Existing => {}
        Bootstrap::Configured => {
            tracing::info!(%username, "created the first admin with LOGFLOW_ADMIN_PASSWORD")
        }
        Bootstrap::Generated(password) => {
            tracing::warn!(%username, "created the first admin with a generated password, printed once on stderr");
            eprintln!(
                "\n==================================================================\n \
                 LogFlow created the first admin account.\n   username: {username}\n   password: {password}\n \
                 It is shown only this once. Change it with PUT /api/v1/auth/me,\n \
                 or set LOGFLOW_ADMIN_PASSWORD before the first start.\n\
                 ==================================================================\n"
            );
        }
    }
}
