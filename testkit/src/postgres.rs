//! A PostgreSQL schema of one test's own, so tests on one server run in
//! parallel and leave nothing behind. PostgreSQL must be reachable: a test
//! that needs it fails, never skips, without it.

use sqlx::{AssertSqlSafe, Connection, PgConnection};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Where tests connect; override with `LOGFLOW_TEST_PG_URL`.
const DEFAULT_PG_URL: &str = "postgres://root@127.0.0.1:5432/test";

pub fn pg_base_url() -> String {
    std::env::var("LOGFLOW_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG_URL.to_string())
}

/// A schema created for one test and dropped, with everything in it, when
/// the guard drops, also when the test panics.
pub struct PgSchema {
    pub base_url: String,
    pub name: String,
}

impl PgSchema {
    pub async fn create() -> PgSchema {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .subsec_nanos();
        let name = format!(
            "t_{}_{}_{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let base_url = pg_base_url();
        let mut conn = PgConnection::connect(&base_url).await.unwrap_or_else(|e| {
            panic!("PostgreSQL must be reachable at {base_url} (set LOGFLOW_TEST_PG_URL): {e}")
        });
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&mut conn)
            .await
            .expect("create test schema");
        conn.close().await.expect("close");
        PgSchema { base_url, name }
    }

    /// The base URL with the schema first on the search path.
    pub fn url(&self) -> String {
        let separator = if self.base_url.contains('?') {
            '&'
        } else {
            '?'
        };
        format!(
            "{}{separator}options=-c%20search_path%3D{}",
            self.base_url, self.name
        )
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        // Drop cannot await, and the test's runtime may be unwinding: drop
        // the schema from a runtime of its own on another thread.
        let base_url = self.base_url.clone();
        let sql = format!("DROP SCHEMA {} CASCADE", self.name);
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let mut conn = PgConnection::connect(&base_url).await?;
                sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut conn).await?;
                conn.close().await
            })?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test schema {}: {dropped:?}", self.name);
        }
    }
}
