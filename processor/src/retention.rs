//! Retention: daily indexes older than `RETENTION_DAYS` are dropped whole,
//! which is how a day-partitioned store frees space cheaply.

use chrono::{Duration as ChronoDuration, Utc};
use logflow_store::LogStore;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Applies retention now and then every `every`, until shutdown.
pub async fn run(
    store: Arc<dyn LogStore>,
    retention_days: u32,
    every: Duration,
    shutdown: CancellationToken,
) {
    let mut ticker = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let Some(cutoff) =
            Utc::now().checked_sub_signed(ChronoDuration::days(i64::from(retention_days)))
        else {
            return;
        };
        match store.drop_before(cutoff).await {
            Ok(dropped) if !dropped.is_empty() => {
                tracing::info!(?dropped, retention_days, "retention dropped old indexes")
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(%err, "retention failed; will try again"),
        }
    }
}
