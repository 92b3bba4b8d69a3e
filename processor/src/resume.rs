//! Guarding the resume position of each partition against skipped records.
//!
//! A consumer resumes a partition at its committed offset, which usually
//! lies in the middle of a record batch written by a producer. Kafka answers
//! such a fetch with the whole batch and the client drops the records before
//! the offset. Some Kafka-protocol brokers (seen with tansu 0.6's memory
//! engine) instead answer with the *next* batch, silently skipping the rest
//! of the one holding the committed offset: every restart would lose up to
//! a producer batch. So the first message read from a partition after it is
//! assigned is checked against the committed offset; if records were
//! skipped, the partition is rewound to before that batch and the messages
//! below the committed offset (already stored) are dropped on the way back.
//!
//! Only the first message after an assignment is checked: later jumps in a
//! partition that is read contiguously are real gaps (transaction markers,
//! compaction), not this fault.

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How far before the committed offset a rewind starts: more than any
/// producer batch holds (our producers send at most 10,000 per batch).
pub const REWIND_DISTANCE: i64 = 100_000;

/// Most messages fetched before a rewind took effect that are dropped
/// before the rewind is given up (so a partition is never dropped forever).
const MAX_STALE: u32 = 50_000;

const TIMEOUT: Duration = Duration::from_secs(5);

/// The consumer's context: remembers which partitions were assigned since
/// the consume loop last looked, so their first message is checked.
#[derive(Default)]
pub struct ResumeContext {
    assigned: Mutex<HashSet<i32>>,
    /// Set with `assigned`, so the per-message check is one atomic load
    /// rather than a lock.
    pending: AtomicBool,
}

impl ClientContext for ResumeContext {}

impl ConsumerContext for ResumeContext {
    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        // Logged at info: a member that never gets partitions (a stalled
        // group join) is otherwise silent.
        match rebalance {
            Rebalance::Assign(list) => {
                let partitions: Vec<i32> = list.elements().iter().map(|e| e.partition()).collect();
                tracing::info!(?partitions, "partitions assigned");
            }
            Rebalance::Revoke(list) => {
                let partitions: Vec<i32> = list.elements().iter().map(|e| e.partition()).collect();
                tracing::info!(?partitions, "partitions revoked");
            }
            Rebalance::Error(err) => tracing::warn!(%err, "rebalance failed"),
        }
        if let Rebalance::Assign(list) = rebalance {
            if let Ok(mut assigned) = self.assigned.lock() {
                assigned.extend(list.elements().iter().map(|e| e.partition()));
                self.pending.store(true, Ordering::Release);
            }
        }
    }
}

impl ResumeContext {
    fn take_assigned(&self) -> HashSet<i32> {
        if !self.pending.swap(false, Ordering::Acquire) {
            return HashSet::new();
        }
        self.assigned
            .lock()
            .map(|mut a| std::mem::take(&mut *a))
            .unwrap_or_default()
    }
}

pub type LogConsumer = StreamConsumer<ResumeContext>;

/// What to do with a message just read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    /// Already stored, or fetched before a rewind took effect.
    Drop,
    /// The first message after an assignment: compare with the committed
    /// offset (see [`Positions::first_after_assignment`]).
    Check,
}

/// A partition being rewound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rewind {
    /// The committed offset: the first message to accept.
    resume: i64,
    /// The first offset read before the rewind.
    first_read: i64,
    /// Set once a message below `first_read` arrived: the seek took effect
    /// and everything from `resume` on is accepted, gaps included.
    took_effect: bool,
    stale: u32,
}

/// Per partition: whether it is being read contiguously, and the rewinds in
/// progress. The decisions are pure; [`guard`] does the broker calls.
#[derive(Debug, Default)]
pub struct Positions {
    reading: HashSet<i32>,
    rewinds: HashMap<i32, Rewind>,
}

impl Positions {
    /// Forgets the partitions just (re)assigned: their next message is
    /// checked again.
    pub fn assigned(&mut self, partitions: impl IntoIterator<Item = i32>) {
        for p in partitions {
            self.reading.remove(&p);
            self.rewinds.remove(&p);
        }
    }

    pub fn verdict(&mut self, partition: i32, offset: i64) -> Verdict {
        if let Some(rewind) = self.rewinds.get_mut(&partition) {
            if offset < rewind.first_read {
                rewind.took_effect = true;
            }
            if offset < rewind.resume {
                return Verdict::Drop;
            }
            if !rewind.took_effect && rewind.stale < MAX_STALE {
                rewind.stale += 1;
                return Verdict::Drop;
            }
            self.rewinds.remove(&partition);
            self.reading.insert(partition);
            return Verdict::Accept;
        }
        if self.reading.contains(&partition) {
            Verdict::Accept
        } else {
            Verdict::Check
        }
    }

    /// Decides on the first message after an assignment, given the
    /// committed offset and the partition's low watermark. Returns where to
    /// rewind to, if the broker skipped records that still exist.
    pub fn first_after_assignment(
        &mut self,
        partition: i32,
        offset: i64,
        committed: Option<i64>,
        low_watermark: i64,
    ) -> Option<i64> {
        match committed {
            Some(committed) if offset > committed && committed >= low_watermark => {
                self.rewinds.insert(
                    partition,
                    Rewind {
                        resume: committed,
                        first_read: offset,
                        took_effect: false,
                        stale: 0,
                    },
                );
                Some((committed - REWIND_DISTANCE).max(low_watermark))
            }
            _ => {
                self.reading.insert(partition);
                None
            }
        }
    }

    /// The rewind could not be started: accept from here on.
    pub fn rewind_failed(&mut self, partition: i32) {
        self.rewinds.remove(&partition);
        self.reading.insert(partition);
    }
}

/// Checks one message's offset, rewinding its partition if the broker
/// skipped records; cheap except for the first message after an assignment.
pub async fn guard(
    positions: &mut Positions,
    consumer: &Arc<LogConsumer>,
    topic: &str,
    partition: i32,
    offset: i64,
) -> Verdict {
    positions.assigned(consumer.context().take_assigned());
    let verdict = positions.verdict(partition, offset);
    if verdict != Verdict::Check {
        return verdict;
    }
    let (committed, low) = committed_and_low(consumer, topic, partition).await;
    let Some(to) = positions.first_after_assignment(partition, offset, committed, low) else {
        return Verdict::Accept;
    };
    tracing::warn!(
        partition,
        ?committed,
        first_read = offset,
        rewind_to = to,
        "the broker skipped records after the committed offset; rewinding"
    );
    if seek(consumer, topic, partition, to).await {
        Verdict::Drop
    } else {
        tracing::error!(
            partition,
            ?committed,
            first_read = offset,
            "cannot rewind; records before {offset} may be missing"
        );
        positions.rewind_failed(partition);
        Verdict::Accept
    }
}

/// The committed offset (None when unknown) and the low watermark.
async fn committed_and_low(
    consumer: &Arc<LogConsumer>,
    topic: &str,
    partition: i32,
) -> (Option<i64>, i64) {
    let consumer = consumer.clone();
    let topic = topic.to_string();
    let looked_up = tokio::task::spawn_blocking(move || {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(&topic, partition);
        let committed = consumer
            .committed_offsets(tpl, TIMEOUT)
            .ok()
            .and_then(
                |list| match list.find_partition(&topic, partition)?.offset() {
                    Offset::Offset(o) => Some(o),
                    _ => None,
                },
            );
        let low = consumer
            .fetch_watermarks(&topic, partition, TIMEOUT)
            .map(|(low, _)| low)
            .unwrap_or(0);
        (committed, low)
    })
    .await;
    looked_up.unwrap_or((None, 0))
}

async fn seek(consumer: &Arc<LogConsumer>, topic: &str, partition: i32, to: i64) -> bool {
    let consumer = consumer.clone();
    let topic = topic.to_string();
    let done = tokio::task::spawn_blocking(move || {
        consumer.seek(&topic, partition, Offset::Offset(to), TIMEOUT)
    })
    .await;
    match done {
        Ok(Ok(())) => true,
        Ok(Err(err)) => {
            tracing::warn!(%err, partition, "seek failed");
            false
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resume_past_the_committed_offset_rewinds_and_drops_what_is_stored() {
        let mut p = Positions::default();
        assert_eq!(p.verdict(1, 12_580), Verdict::Check);
        // Committed 11,543 but the broker answered from 12,580.
        assert_eq!(
            p.first_after_assignment(1, 12_580, Some(11_543), 0),
            Some(0)
        );
        // A message fetched before the seek took effect is dropped...
        assert_eq!(p.verdict(1, 12_581), Verdict::Drop);
        // ...then the rewound stream: stored records dropped, the rest kept.
        assert_eq!(p.verdict(1, 5), Verdict::Drop);
        assert_eq!(p.verdict(1, 11_542), Verdict::Drop);
        assert_eq!(p.verdict(1, 11_543), Verdict::Accept);
        assert_eq!(p.verdict(1, 11_544), Verdict::Accept);
        assert_eq!(p.verdict(1, 12_580), Verdict::Accept);
    }

    #[test]
    fn a_real_gap_after_the_rewind_is_accepted() {
        let mut p = Positions::default();
        p.first_after_assignment(0, 200_000, Some(150_000), 0);
        assert_eq!(p.verdict(0, 140_000), Verdict::Drop);
        // Offset 150,000 is a transaction marker: 150,001 comes next.
        assert_eq!(p.verdict(0, 150_001), Verdict::Accept);
    }

    #[test]
    fn an_exact_resume_and_a_contiguous_stream_are_accepted_without_checks() {
        let mut p = Positions::default();
        assert_eq!(p.first_after_assignment(2, 500, Some(500), 0), None);
        assert_eq!(p.verdict(2, 501), Verdict::Accept);
        // A later jump on a partition read contiguously is a real gap.
        assert_eq!(p.verdict(2, 900), Verdict::Accept);
        // After a new assignment, the next message is checked again.
        p.assigned([2]);
        assert_eq!(p.verdict(2, 901), Verdict::Check);
    }

    #[test]
    fn no_rewind_when_the_records_are_gone_or_the_offset_unknown() {
        let mut p = Positions::default();
        // Retention deleted past the committed offset: start where the log starts.
        assert_eq!(p.first_after_assignment(0, 7_000, Some(100), 7_000), None);
        assert_eq!(p.verdict(0, 7_001), Verdict::Accept);
        // No committed offset yet (a new group): nothing to compare with.
        assert_eq!(p.first_after_assignment(1, 0, None, 0), None);
    }

    #[test]
    fn stale_messages_are_dropped_only_a_bounded_number_of_times() {
        let mut p = Positions::default();
        p.first_after_assignment(0, 1_000, Some(10), 0);
        for i in 0..MAX_STALE {
            assert_eq!(p.verdict(0, 1_000 + i64::from(i)), Verdict::Drop);
        }
        assert_eq!(p.verdict(0, 99_999), Verdict::Accept);
    }
}
