//! Retrying an operation against a dependency that may be down (broker,
//! store) with exponential backoff, until it succeeds or we shut down.

use backon::{ExponentialBuilder, Retryable};
use std::fmt::Display;
use std::future::Future;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Runs `op` once, then retries it with exponential backoff (100 ms doubling
/// to 10 s, jittered) and a warning per failure naming `what`. The first
/// attempt always runs, so work in hand at shutdown is still tried once.
/// Returns `None` only when `shutdown` fired before a success.
pub async fn retry_until_shutdown<T, E, Fut, F>(
    what: &str,
    shutdown: &CancellationToken,
    op: F,
) -> Option<T>
where
    F: FnMut() -> Fut + Clone,
    Fut: Future<Output = Result<T, E>>,
    E: Display,
{
    let mut first = op.clone();
    let err = match first().await {
        Ok(value) => return Some(value),
        Err(err) => err,
    };
    tracing::warn!(%err, "{what} failed; retrying");
    let policy = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(10))
        .with_jitter()
        .without_max_times();
    let attempts = op.retry(policy).notify(|err: &E, wait: Duration| {
        tracing::warn!(%err, retry_in = ?wait, "{what} failed; retrying");
    });
    tokio::select! {
        _ = shutdown.cancelled() => None,
        result = attempts => result.ok(),
    }
}
