//! The metadata database: users, alert rules, triggered alerts and system
//! configuration, on SQLite (the embedded default, one file) or PostgreSQL,
//! chosen by the URL's scheme.
//!
//! One implementation serves both backends: every query goes through sqlx's
//! `Any` driver in SQL that both dialects accept (`$1` placeholders,
//! `RETURNING`, `ON CONFLICT`), so behaviour cannot drift between two copies.
//! Only the DDL differs (identity columns, booleans), hence one migration
//! directory per backend. Timestamps are stored as unix microseconds and JSON
//! as text, because `Any` knows neither a date nor a JSON type.
//!
//! Callers hold the repositories as `Arc<dyn …>` from [`MetaDb`].

mod alerts;
mod config;
mod rows;
mod users;

pub use alerts::{
    AlertFilter, AlertRepository, AlertRule, AlertStatus, Channel, Condition, Delivery,
    Observation, RuleSpec, TriggeredAlert, UnknownName,
};
pub use config::ConfigRepository;
pub use users::{NewUser, Role, UnknownRole, User, UserRepository, UserUpdate, UserWithHash};

use alerts::SqlAlertRepository;
use config::SqlConfigRepository;
use serde::Serialize;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::AnyPool;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use url::Url;
use users::SqlUserRepository;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// How long a query waits for a free pooled connection. Short, so that
/// `/health` and requests report a dead database instead of hanging on it.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// What can go wrong in the metadata database, with the input that caused it.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    /// A unique column already holds the value (`"username"` or `"email"`).
    #[error("{field} is already taken")]
    Conflict { field: &'static str },
    #[error("no such record")]
    NotFound,
    /// `url` has its password replaced by `***`.
    #[error("cannot connect to the metadata database {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("metadata database migration failed: {0}")]
    Migrate(#[source] MigrateError),
    #[error("metadata query {operation} failed: {source}")]
    Query {
        operation: &'static str,
        #[source]
        source: sqlx::Error,
    },
    /// A stored value this code cannot read back, such as an unknown role.
    #[error("corrupt metadata: {what}")]
    Corrupt { what: String },
}

/// Which database a [`MetaDb`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DbBackend {
    Sqlite,
    Postgres,
}

impl DbBackend {
    pub fn as_str(self) -> &'static str {
        match self {
            DbBackend::Sqlite => "sqlite",
            DbBackend::Postgres => "postgres",
        }
    }

    fn from_scheme(scheme: &str) -> Option<DbBackend> {
        match scheme {
            "sqlite" => Some(DbBackend::Sqlite),
            "postgres" | "postgresql" => Some(DbBackend::Postgres),
            _ => None,
        }
    }

    fn migrations(self) -> &'static Migrator {
        match self {
            DbBackend::Sqlite => &SQLITE_MIGRATIONS,
            DbBackend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }
}

impl fmt::Display for DbBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A pool on the metadata database and the repositories over it. Cloning is
/// cheap and shares the pool.
#[derive(Debug, Clone)]
pub struct MetaDb {
    pool: AnyPool,
    backend: DbBackend,
    users: Arc<SqlUserRepository>,
    config: Arc<SqlConfigRepository>,
    alerts: Arc<SqlAlertRepository>,
}

impl MetaDb {
    /// Connects (creating the SQLite file if missing) and runs migrations.
    ///
    /// `url` is `sqlite://path` (the file and its directory are created unless
    /// the URL sets another `mode`) or `postgres://…`; a PostgreSQL schema
    /// other than `public` is chosen with `?options=-c%20search_path%3Dname`.
    pub async fn connect(url: &str) -> Result<MetaDb, MetaError> {
        metrics::describe_counter!(
            "database_queries_total",
            "Metadata database queries, by repository operation"
        );
        let connect_error = |source| MetaError::Connect {
            url: redact_password(url),
            source,
        };
        let (backend, url) = prepare_url(url).map_err(connect_error)?;
        // Idempotent; the drivers are compiled in by this crate's features.
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url.as_str())
            .await
            .map_err(connect_error)?;
        if backend == DbBackend::Sqlite {
            // Readers then never block the writer (api and alerting share the
            // file in standalone mode). The mode is stored in the file itself.
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await
                .map_err(connect_error)?;
        }
        backend
            .migrations()
            .run(&pool)
            .await
            .map_err(MetaError::Migrate)?;
        Ok(MetaDb {
            users: Arc::new(SqlUserRepository::new(pool.clone())),
            config: Arc::new(SqlConfigRepository::new(pool.clone())),
            alerts: Arc::new(SqlAlertRepository::new(pool.clone())),
            pool,
            backend,
        })
    }

    pub fn backend(&self) -> DbBackend {
        self.backend
    }

    /// One round trip to the database, for `/health`.
    pub async fn ping(&self) -> Result<(), MetaError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(rows::query_error("ping"))
    }

    pub fn users(&self) -> Arc<dyn UserRepository> {
        self.users.clone()
    }

    pub fn config(&self) -> Arc<dyn ConfigRepository> {
        self.config.clone()
    }

    pub fn alerts(&self) -> Arc<dyn AlertRepository> {
        self.alerts.clone()
    }

    /// Closes every pooled connection and waits for them to finish; later
    /// queries fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The embedded default: the SQLite file `logflow.db` in the data
/// directory (every role that opens the metadata database agrees on it).
pub fn default_sqlite_url(data_dir: &std::path::Path) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("logflow.db").display()
    )
}

/// The backend a URL names, and the URL to hand to sqlx. A SQLite URL
/// without a `mode` gets `mode=rwc` and its directory is created, so that a
/// fresh data directory works on first start.
fn prepare_url(raw: &str) -> Result<(DbBackend, Url), sqlx::Error> {
    let config_error = |error: UrlError| sqlx::Error::Configuration(Box::new(error));
    let mut url = Url::parse(raw).map_err(|e| sqlx::Error::Configuration(Box::new(e)))?;
    let backend = DbBackend::from_scheme(url.scheme())
        .ok_or_else(|| config_error(UrlError::UnsupportedScheme(url.scheme().to_string())))?;
    if backend == DbBackend::Sqlite && !url.query_pairs().any(|(key, _)| key == "mode") {
        url.query_pairs_mut().append_pair("mode", "rwc");
        let options: sqlx::sqlite::SqliteConnectOptions = raw.parse()?;
        if let Some(dir) = options.get_filename().parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|source| {
                    config_error(UrlError::CreateDir {
                        dir: dir.display().to_string(),
                        source,
                    })
                })?;
            }
        }
    }
    Ok((backend, url))
}

#[derive(Debug, thiserror::Error)]
enum UrlError {
    #[error("unsupported database URL scheme {0:?}: use sqlite:// or postgres://")]
    UnsupportedScheme(String),
    #[error("cannot create the directory {dir} for the SQLite file: {source}")]
    CreateDir {
        dir: String,
        #[source]
        source: std::io::Error,
    },
}

/// The URL with its password (in the authority or a `password` parameter)
/// replaced by `***`, fit for errors and logs. An unparsable URL is shown
/// without anything after its scheme, since it cannot be redacted reliably.
fn redact_password(raw: &str) -> String {
    let Ok(mut url) = Url::parse(raw) else {
        let scheme = raw.split_once(':').map_or("", |(scheme, _)| scheme);
        return format!("{scheme}:<unparsable URL>");
    };
    if url.password().is_some() {
        // Fails only for URLs that cannot have a password, which have none.
        let _ = url.set_password(Some("***"));
    }
    if url.query_pairs().any(|(key, _)| key == "password") {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(key, value)| {
                let value = if key == "password" {
                    "***".to_string()
                } else {
                    value.into_owned()
                };
                (key.into_owned(), value)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_wherever_they_are() {
        assert_eq!(
            redact_password("postgres://app:s3cret@db:5432/logflow"),
            "postgres://app:***@db:5432/logflow"
        );
        assert_eq!(
            redact_password("postgres://db/logflow?user=app&password=s3cret&sslmode=disable"),
            "postgres://db/logflow?user=app&password=***&sslmode=disable"
        );
        assert_eq!(
            redact_password("sqlite:///data/meta.db?mode=rwc"),
            "sqlite:///data/meta.db?mode=rwc"
        );
        assert_eq!(
            redact_password("postgres://app:s3cret@[db/logflow"),
            "postgres:<unparsable URL>"
        );
    }

    #[test]
    fn backend_follows_the_scheme() {
        let (backend, url) = prepare_url("postgresql://db/logflow").expect("postgres URL");
        assert_eq!(backend, DbBackend::Postgres);
        assert_eq!(url.as_str(), "postgresql://db/logflow");
        assert!(prepare_url("mysql://db/logflow").is_err());
    }

    #[test]
    fn sqlite_url_without_mode_creates_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let raw = format!("sqlite://{}/nested/meta.db", dir.path().display());
        let (backend, url) = prepare_url(&raw).expect("sqlite URL");
        assert_eq!(backend, DbBackend::Sqlite);
        assert_eq!(url.as_str(), format!("{raw}?mode=rwc"));
        assert!(dir.path().join("nested").is_dir());

        let (_, url) = prepare_url("sqlite:meta.db").expect("relative path");
        assert_eq!(url.as_str(), "sqlite:meta.db?mode=rwc");

        let read_only = format!("sqlite://{}/ro/meta.db?mode=ro", dir.path().display());
        let (_, url) = prepare_url(&read_only).expect("sqlite URL");
        assert_eq!(url.as_str(), read_only);
        assert!(!dir.path().join("ro").exists());
    }
}
