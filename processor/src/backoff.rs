//! Retrying an operation against a dependency that may be down (the store,
//! the dead-letter topic) with exponential backoff, until it succeeds or we
//! shut down.

use backon::{ExponentialBuilder, Retryable};
use std::fmt::Display;
use std::future::Future;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long work in hand may still take after shutdown was asked for.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Runs `op` with exponential backoff between failures (100 ms doubling to
/// 10 s, jittered) and a warning per failure naming `what`. Work in hand at
/// shutdown gets [`SHUTDOWN_GRACE`] to finish, so a batch is still stored
/// when the store is healthy, and the process still exits when a dependency
/// is down. Returns `None` when it gave up because of shutdown.
pub async fn retry_until_shutdown<T, E, Fut, F>(
    what: &str,
    shutdown: &CancellationToken,
    op: F,
) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: Display,
{
    let policy = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(10))
        .with_jitter()
        .without_max_times();
    let attempts = op.retry(policy).notify(|err: &E, wait: Duration| {
        tracing::warn!(%err, retry_in = ?wait, "{what} failed; retrying");
    });
    let stop = async {
        shutdown.cancelled().await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        result = attempts => result.ok(),
        _ = stop => {
            tracing::warn!("{what}: gave up at shutdown; the batch will be read again after restart");
            None
        }
    }
}
