//! Guarding the resume position of each partition against gaps.
//!
//! A consumer resumes a partition at its committed offset, which usually
//! lies in the middle of a record batch written by a producer. Kafka answers
//! such a fetch with the whole batch and the client drops the records before
//! the offset. Some Kafka-protocol brokers (seen with tansu 0.6's memory
//! engine) instead answer with the *next* batch, silently skipping the rest
//! of the one containing the committed offset: every restart would lose up
//! to a producer batch of records. So whenever a partition's position jumps
//! (first message after start or a rebalance), the first offset read is
//! checked against the committed one; if records were skipped, the partition
//! is rewound far enough to land on a batch boundary and the records before
//! the committed offset (already stored) are dropped on the way back up.

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// How far before the committed offset a rewind starts: more than any
/// producer batch holds (our producers send at most 10,000 per batch).
pub const REWIND: i64 = 100_000;

const TIMEOUT: Duration = Duration::from_secs(10);

/// What to do with a message just read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    /// Already stored, or read before a rewind took effect.
    Drop,
}

/// A partition being rewound.
#[derive(Debug, Clone, Copy)]
struct Rewind {
    /// The committed offset: the first message to accept.
    resume: i64,
    /// The first offset read before the rewind; messages at or past it
    /// were fetched before the seek took effect.
    first_read: i64,
    /// Stale messages dropped so far; bounded so a partition can never be
    /// dropped forever.
    stale: i64,
}

/// Per partition: the next offset expected, and the rewinds in progress.
#[derive(Default)]
pub struct Positions {
    expected: HashMap<i32, i64>,
    rewinds: HashMap<i32, Rewind>,
}

impl Positions {
    /// Checks one message's offset, rewinding its partition if the broker
    /// skipped records. Cheap when the offset is the expected one.
    pub async fn check(
        &mut self,
        consumer: &Arc<StreamConsumer>,
        topic: &str,
        partition: i32,
        offset: i64,
    ) -> Verdict {
        if let Some(rewind) = self.rewinds.get_mut(&partition) {
            if offset < rewind.resume {
                return Verdict::Drop;
            }
            if offset >= rewind.first_read && rewind.stale < REWIND {
                rewind.stale += 1;
                return Verdict::Drop;
            }
            // The committed offset itself, or (if the log no longer holds
            // it) the first offset after it that the broker has.
            self.rewinds.remove(&partition);
            self.expected.insert(partition, offset + 1);
            return Verdict::Accept;
        }
        if self.expected.get(&partition) == Some(&offset) {
            self.expected.insert(partition, offset + 1);
            return Verdict::Accept;
        }
        // The position jumped: compare with the committed offset.
        match committed(consumer, topic, partition).await {
            Some(committed) if offset > committed => {
                let from = (committed - REWIND).max(0);
                tracing::warn!(
                    partition,
                    committed,
                    first_read = offset,
                    rewind_to = from,
                    "the broker skipped records after the committed offset; rewinding"
                );
                if seek(consumer, topic, partition, from).await {
                    let rewind = Rewind {
                        resume: committed,
                        first_read: offset,
                        stale: 0,
                    };
                    self.rewinds.insert(partition, rewind);
                    self.expected.remove(&partition);
                    return Verdict::Drop;
                }
                tracing::error!(
                    partition,
                    committed,
                    first_read = offset,
                    "cannot rewind; records {committed}..{offset} may be missing"
                );
            }
            _ => {}
        }
        self.expected.insert(partition, offset + 1);
        Verdict::Accept
    }
}

async fn committed(consumer: &Arc<StreamConsumer>, topic: &str, partition: i32) -> Option<i64> {
    let consumer = consumer.clone();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, partition);
    let topic = topic.to_string();
    let list = tokio::task::spawn_blocking(move || consumer.committed_offsets(tpl, TIMEOUT))
        .await
        .ok()?
        .map_err(|err| tracing::warn!(%err, partition, "cannot read the committed offset"))
        .ok()?;
    match list.find_partition(&topic, partition)?.offset() {
        Offset::Offset(o) => Some(o),
        _ => None,
    }
}

async fn seek(consumer: &Arc<StreamConsumer>, topic: &str, partition: i32, to: i64) -> bool {
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
