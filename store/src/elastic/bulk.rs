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

/// The two NDJSON lines of one record, each ending in a newline.
fn lines(prefix: &str, record: &NewRecord) -> String {
    let action = json!({"create": {
        "_index": dsl::index_for(prefix, record.record.timestamp),
        "_id": record.id.to_string(),
    }});
    format!("{action}\n{}\n", dsl::document(record))
}

/// Most bytes of NDJSON in one `_bulk` request (Elasticsearch refuses
/// bodies over 100 MB by default, and smaller requests spread better).
const MAX_REQUEST_BYTES: usize = 8 << 20;

/// `pending`'s records as `_bulk` requests of at most [`MAX_REQUEST_BYTES`]
/// (a record larger than that goes alone): the records' positions and the
/// NDJSON body of each, every record serialised once.
fn requests(prefix: &str, batch: &[NewRecord], pending: &[usize]) -> Vec<(Vec<usize>, String)> {
    let mut requests = Vec::new();
    let (mut positions, mut body) = (Vec::new(), String::new());
    for &i in pending {
        let record = lines(prefix, &batch[i]);
        if body.len() + record.len() > MAX_REQUEST_BYTES && !positions.is_empty() {
            requests.push((std::mem::take(&mut positions), std::mem::take(&mut body)));
        }
        positions.push(i);
        body.push_str(&record);
    }
    if !positions.is_empty() {
        requests.push((positions, body));
    }
    requests
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
            // A parse or mapping error: this record will never be taken.
            400 => {
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
            // A write block, a missing index, no status: not the record's
            // fault, so nothing is dead-lettered and nothing committed.
            status => {
                return Err(StoreError::Index {
                    index: "_bulk".into(),
                    reason: format!(
                        "item answered {status}: {}",
                        result["error"]["reason"]
                            .as_str()
                            .unwrap_or("no reason given")
                    ),
                })
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
        let mut again = Vec::new();
        for (positions, body) in requests(store.prefix(), batch, &pending) {
            let answer = store.send_bulk(body).await.map_err(Round::Failed)?;
            let mut guard = lock();
            let outcome = &mut guard.1;
            again.extend(sort_items(&answer, &positions, batch, outcome).map_err(Round::Failed)?);
        }
        let left = again.len();
        lock().0 = again;
        match left {
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
