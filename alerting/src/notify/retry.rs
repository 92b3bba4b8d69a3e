//! Delivery with retries: each attempt is recorded as a [`Delivery`], a
//! failure that may pass (a network error, a timeout, a 5xx or 429, an
//! SMTP 4xx) is retried with exponential backoff, one that will not (a
//! 4xx, a refused recipient) ends the delivery at once.

use backon::{ExponentialBuilder, Retryable};
use chrono::Utc;
use logflow_store::meta::{Channel, Delivery};
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

/// The longest pause between two attempts before jitter (which may add
/// as much again).
const MAX_PAUSE: Duration = Duration::from_secs(30);

/// How often and how patiently a notification is retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts after the first.
    pub retries: usize,
    /// The pause before the first retry; it doubles after each (jittered,
    /// at most a minute: 30 s before jitter, which adds up to as much).
    pub first_pause: Duration,
}

/// A failed attempt.
#[derive(Debug)]
pub struct Failure {
    pub transient: bool,
    pub detail: String,
}

impl Failure {
    pub fn transient(detail: impl Into<String>) -> Failure {
        Failure {
            transient: true,
            detail: detail.into(),
        }
    }

    pub fn permanent(detail: impl Into<String>) -> Failure {
        Failure {
            transient: false,
            detail: detail.into(),
        }
    }
}

/// Calls `send` until it succeeds, fails for good, or the retries are
/// spent, handing each attempt to `on_attempt` as soon as it is known (so
/// it is recorded even if the process dies before the next); every
/// attempt, in order.
pub async fn deliver_with_retries<F, Fut, R, RFut>(
    channel: Channel,
    policy: RetryPolicy,
    send: F,
    on_attempt: R,
) -> Vec<Delivery>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<String, Failure>>,
    R: Fn(Delivery) -> RFut,
    RFut: Future<Output = ()>,
{
    let attempts = Mutex::new(Vec::new());
    let record = |succeeded: bool, detail: String| {
        let mut attempts = attempts.lock().unwrap_or_else(|e| e.into_inner());
        let delivery = Delivery {
            attempt: attempts.len() as i64 + 1,
            channel,
            attempted_at: Utc::now(),
            succeeded,
            detail: Some(detail),
        };
        attempts.push(delivery.clone());
        delivery
    };
    let backoff = ExponentialBuilder::default()
        .with_min_delay(policy.first_pause)
        .with_max_delay(MAX_PAUSE)
        .with_max_times(policy.retries)
        .with_jitter();
    let attempt = || async {
        let outcome = send().await;
        let delivery = match &outcome {
            Ok(detail) => record(true, detail.clone()),
            Err(failure) => record(false, failure.detail.clone()),
        };
        on_attempt(delivery).await;
        outcome.map(drop)
    };
    let _ = attempt
        .retry(backoff)
        .when(|failure: &Failure| failure.transient)
        .notify(|failure: &Failure, pause: Duration| {
            tracing::warn!(%channel, detail = %failure.detail, retry_in = ?pause, "notification failed; retrying");
        })
        .await;
    attempts.into_inner().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const QUICK: RetryPolicy = RetryPolicy {
        retries: 3,
        first_pause: Duration::from_millis(1),
    };

    #[tokio::test]
    async fn transient_failures_are_retried_until_success_and_each_is_recorded() {
        let calls = AtomicUsize::new(0);
        let attempts = deliver_with_retries(
            Channel::Webhook,
            QUICK,
            || async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 | 1 => Err(Failure::transient("HTTP 503")),
                    _ => Ok("HTTP 200".to_string()),
                }
            },
            |_| async {},
        )
        .await;
        let outcomes: Vec<(i64, bool)> =
            attempts.iter().map(|d| (d.attempt, d.succeeded)).collect();
        assert_eq!(outcomes, [(1, false), (2, false), (3, true)]);
        assert_eq!(attempts[0].detail.as_deref(), Some("HTTP 503"));
    }

    #[tokio::test]
    async fn a_permanent_failure_is_not_retried_and_retries_are_bounded() {
        let attempts = deliver_with_retries(
            Channel::Slack,
            QUICK,
            || async { Err::<String, _>(Failure::permanent("HTTP 404")) },
            |_| async {},
        )
        .await;
        assert_eq!(attempts.len(), 1);
        let attempts = deliver_with_retries(
            Channel::Email,
            QUICK,
            || async { Err::<String, _>(Failure::transient("connection refused")) },
            |_| async {},
        )
        .await;
        assert_eq!(attempts.len(), 4, "the first attempt and three retries");
        assert!(attempts.iter().all(|d| !d.succeeded));
    }
}
