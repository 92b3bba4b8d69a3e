//! Writing a batch with `_bulk`: one `create` per record under its
//! (topic, partition, offset) id, so a replayed batch answers 409 for what
//! is already stored and nothing is duplicated. Every item's outcome is
//! read: 201 stored, 409 a duplicate, 429 and 5xx retried (only those
//! items, with backoff), anything else — a mapping clash — rejected for
//! the dead-letter topic. The batch is done only when every item is
//! stored, a duplicate or rejected; until then the processor commits
//! nothing.

use super::{dsl, ElasticStore};
use crate::{NewRecord, Rejected, StoreError, WriteOutcome};
use backon::{ExponentialBuilder, Retryable};
use serde_json::{json, Value};
use std::sync::Mutex;
use std::time::Duration;

/// Rounds of item retries before the batch as a whole is failed (the
/// processor then retries it, and what was stored answers 409).
const ITEM_RETRIES: usize = 6;

/// The two NDJSON lines of one record.
pub fn lines(prefix: &str, record: &NewRecord) -> [Value; 2] {
    [
        json!({"create": {
            "_index": dsl::index_for(prefix, record.record.timestamp),
            "_id": record.id.to_string(),
        }}),
        dsl::document(record),
    ]
}

/// What one round left to do.
#[derive(Debug)]
enum Round {
    /// These items answered 429 or 5xx.
    Unfinished(usize),
    /// The request as a whole failed.
    Failed(StoreError),
}

/// Sorts one round's answers into `outcome`; the positions (into
/// `pending`) of the items to send again.
pub fn sort_items(
    answer: &Value,
    pending: &[usize],
    batch: &[NewRecord],
    outcome: &mut WriteOutcome,
) -> Result<Vec<usize>, StoreError> {
    let items = answer["items"]
        .as_array()
        .filter(|i| i.len() == pending.len())
        .ok_or_else(|| StoreError::Index {
            index: "_bulk".into(),
            reason: format!("expected {} items in the answer", pending.len()),
        })?;
    let mut again = Vec::new();
    for (item, &i) in items.iter().zip(pending) {
        let result = &item["create"];
        match result["status"].as_u64().unwrap_or(0) {
            200..=299 => outcome.indexed += 1,
            409 => outcome.duplicates += 1,
            429 | 500..=599 => again.push(i),
            _ => {
                let error = &result["error"];
                outcome.rejected.push(Rejected {
                    id: batch[i].id.clone(),
                    reason: format!(
                        "{}: {}",
                        error["type"].as_str().unwrap_or("rejected"),
                        error["reason"].as_str().unwrap_or("no reason given")
                    ),
                });
            }
        }
    }
    Ok(again)
}

pub async fn write(store: &ElasticStore, batch: &[NewRecord]) -> Result<WriteOutcome, StoreError> {
    if batch.is_empty() {
        return Ok(WriteOutcome::default());
    }
    let state = Mutex::new((
        (0..batch.len()).collect::<Vec<usize>>(),
        WriteOutcome::default(),
    ));
    let lock = || state.lock().unwrap_or_else(|e| e.into_inner());
    let round = || async {
        let pending = lock().0.clone();
        let lines: Vec<Value> = pending
            .iter()
            .flat_map(|&i| lines(store.prefix(), &batch[i]))
            .collect();
        let answer = store.send_bulk(lines).await.map_err(Round::Failed)?;
        let mut guard = lock();
        let (pending_now, outcome) = &mut *guard;
        let again = sort_items(&answer, pending_now, batch, outcome).map_err(Round::Failed)?;
        *pending_now = again;
        match pending_now.len() {
            0 => Ok(()),
            n => Err(Round::Unfinished(n)),
        }
    };
    let backoff = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(5))
        .with_max_times(ITEM_RETRIES)
        .with_jitter();
    let finished = round
        .retry(backoff)
        .when(|r| matches!(r, Round::Unfinished(_)))
        .notify(|r, pause| tracing::warn!(?r, retry_in = ?pause, "Elasticsearch refused items for now; retrying them"))
        .await;
    match finished {
        Ok(()) => Ok(state.into_inner().unwrap_or_else(|e| e.into_inner()).1),
        Err(Round::Failed(e)) => Err(e),
        Err(Round::Unfinished(n)) => Err(StoreError::Index {
            index: "_bulk".into(),
            reason: format!("{n} records still refused (429/5xx) after {ITEM_RETRIES} retries"),
        }),
    }
}
