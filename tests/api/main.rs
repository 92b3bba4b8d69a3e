//! The REST API, tested as its users meet it: a real server on a random
//! port, a store filled through the real pipeline, SQLite and PostgreSQL.

#[allow(dead_code)] // each test binary uses its own part of the harness
#[path = "../common/mod.rs"]
mod common;
mod harness;

mod alert_burst;
mod alerts;
mod auth;
mod caching;
mod cli;
mod limits;
mod logs;
mod metrics;
mod prometheus;
mod service;

/// Generates one `#[tokio::test]` per metadata database from an async
/// `fn(Db)`, so the same story runs on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! on_both_databases {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::harness::Db::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::harness::Db::Postgres).await
            }
        }
    };
}

/// Generates one `#[tokio::test]` per cache and rate-limit backend from an
/// async `fn(Backend)`: in-process and a real Redis.
#[macro_export]
macro_rules! on_both_caches {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn memory() {
                super::$name($crate::harness::Backend::Memory).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn redis() {
                super::$name($crate::harness::Backend::Redis).await
            }
        }
    };
}
