//! The acknowledgement task: the one place that learns which records Kafka
//! acknowledged, moves each source's checkpoint over the acknowledged
//! prefix, gives permits back, and persists checkpoints.
//!
//! Owning all of this in one task means trackers need no lock, and the
//! checkpoint file has a single writer.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use rdkafka::error::KafkaError;
use rdkafka::producer::DeliveryFuture;
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::checkpoint::{Checkpoint, CheckpointFile, FileKey};
use crate::error::Failures;
use crate::metrics;
use crate::progress::{AckTracker, Seq};
use crate::send::{Event, Sent, SourceId};
use crate::ShipperError;

/// How often changed checkpoints are written.
const SAVE_INTERVAL: Duration = Duration::from_millis(500);

struct TrackedSource {
    tracker: AckTracker,
    key: Option<FileKey>,
    name: String,
    stop: CancellationToken,
    retired: bool,
    failed: bool,
}

pub(crate) struct Acknowledger {
    sources: HashMap<SourceId, TrackedSource>,
    in_flight: FuturesUnordered<InFlight>,
    /// `None` when only stdin is shipped: nothing to checkpoint, and the
    /// file of a file-tailing shipper sharing the directory stays untouched.
    checkpoints: Option<CheckpointFile>,
    dirty: bool,
    permits: Arc<Semaphore>,
    failures: Arc<Failures>,
}

impl Acknowledger {
    pub fn new(
        checkpoints: Option<CheckpointFile>,
        permits: Arc<Semaphore>,
        failures: Arc<Failures>,
    ) -> Self {
        Acknowledger {
            sources: HashMap::new(),
            in_flight: FuturesUnordered::new(),
            checkpoints,
            dirty: false,
            permits,
            failures,
        }
    }

    /// Runs until every source has closed and every record is settled, or
    /// until `give_up` (shutdown took too long); then writes the final
    /// checkpoints (if anything changed: a run that opened nothing must not
    /// overwrite the previous run's checkpoints).
    pub async fn run(
        mut self,
        mut events: mpsc::UnboundedReceiver<Event>,
        give_up: CancellationToken,
    ) -> Result<(), ShipperError> {
        let mut save = tokio::time::interval(SAVE_INTERVAL);
        save.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut sources_open = true;
        while sources_open || !self.in_flight.is_empty() {
            tokio::select! {
                _ = give_up.cancelled() => {
                    tracing::warn!(
                        unacknowledged = self.in_flight.len(),
                        "shutdown timeout: writing checkpoints without waiting for the rest; \
                         those records are sent again by the next run"
                    );
                    break;
                }
                Some(done) = self.in_flight.next(), if !self.in_flight.is_empty() => {
                    self.settle_burst(done);
                }
                event = events.recv(), if sources_open => match event {
                    Some(event) => self.handle(event),
                    None => sources_open = false,
                },
                _ = save.tick() => {
                    if let Err(error) = self.save().await {
                        tracing::warn!(%error, "checkpoint write failed; retrying");
                    }
                }
            }
        }
        self.save().await
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Opened {
                source,
                key,
                name,
                offset,
                stop,
            } => {
                self.sources.insert(
                    source,
                    TrackedSource {
                        tracker: AckTracker::new(offset),
                        key,
                        name,
                        stop,
                        retired: false,
                        failed: false,
                    },
                );
                // Persist the starting point too: a file started at its end
                // must not be started at a later end after a crash.
                self.dirty |= key.is_some();
            }
            Event::Sent { source, records } => {
                let Some(tracked) = self.sources.get_mut(&source) else {
                    // Unreachable by construction (Opened comes first); give
                    // the permits back rather than leak them.
                    self.permits.add_permits(records.len());
                    return;
                };
                for Sent {
                    end_offset,
                    delivery,
                } in records
                {
                    let seq = tracked.tracker.sent(end_offset);
                    self.in_flight.push(InFlight {
                        source,
                        seq,
                        delivery: delivery.map_err(Some),
                    });
                }
            }
            Event::Truncated { source } => {
                if let Some(tracked) = self.sources.get_mut(&source) {
                    tracked.tracker.truncated();
                    self.dirty = true;
                }
            }
            Event::Closed { source, retired } => {
                if let Some(tracked) = self.sources.get_mut(&source) {
                    tracked.retired = retired;
                    self.forget_if_done(source);
                }
            }
        }
    }

    /// Settles `first` and every other delivery already complete, then
    /// returns their permits at once (one semaphore lock per burst).
    fn settle_burst(&mut self, first: Settled) {
        let mut settled = 1;
        self.settle(first);
        while let Some(Some(done)) = self.in_flight.next().now_or_never() {
            self.settle(done);
            settled += 1;
        }
        self.permits.add_permits(settled);
    }

    fn settle(&mut self, (source, seq, result): Settled) {
        let Some(tracked) = self.sources.get_mut(&source) else {
            return;
        };
        match result {
            Ok(()) => {
                metrics::add_acked(1);
                self.dirty |= tracked.tracker.acked(seq);
                self.forget_if_done(source);
            }
            Err(error) => {
                metrics::add_delivery_error();
                let end_offset = tracked.tracker.failed(seq).unwrap_or_default();
                if tracked.failed {
                    return;
                }
                tracked.failed = true;
                tracked.stop.cancel();
                let error = ShipperError::Delivery {
                    source_name: tracked.name.clone(),
                    end_offset,
                    checkpoint: tracked.tracker.committed(),
                    source: error,
                };
                tracing::error!(%error, "stopping this source");
                self.failures.record(error);
            }
        }
    }

    /// A retired source whose records are all acknowledged needs no
    /// checkpoint any more.
    fn forget_if_done(&mut self, source: SourceId) {
        let done = self
            .sources
            .get(&source)
            .is_some_and(|s| s.retired && s.tracker.in_flight() == 0);
        if done {
            self.sources.remove(&source);
            self.dirty = true;
        }
    }

    /// Writes the checkpoints if they changed since the last write.
    async fn save(&mut self) -> Result<(), ShipperError> {
        let Some(file) = &self.checkpoints else {
            return Ok(());
        };
        if !self.dirty {
            return Ok(());
        }
        // One entry per file; if a file was reopened, the later source wins.
        let mut latest: HashMap<FileKey, (SourceId, Checkpoint)> = HashMap::new();
        for (&source, tracked) in &self.sources {
            let Some(key) = tracked.key else { continue };
            let checkpoint = Checkpoint {
                key,
                path: tracked.name.clone(),
                offset: tracked.tracker.committed(),
            };
            let entry = latest.entry(key).or_insert((source, checkpoint.clone()));
            if entry.0 < source {
                *entry = (source, checkpoint);
            }
        }
        let mut checkpoints: Vec<Checkpoint> = latest.into_values().map(|(_, c)| c).collect();
        checkpoints.sort_by(|a, b| a.path.cmp(&b.path));
        let file = file.clone();
        self.dirty = false;
        let written = tokio::task::spawn_blocking(move || file.save(checkpoints)).await;
        let result = written.map_err(ShipperError::from).and_then(|r| r);
        if result.is_err() {
            self.dirty = true;
        }
        result
    }
}

/// A settled delivery: which source, which record, and Kafka's verdict.
type Settled = (SourceId, Seq, Result<(), KafkaError>);

/// One record awaiting its delivery report.
struct InFlight {
    source: SourceId,
    seq: Seq,
    /// `Err(Some(_))`: the producer refused the record when it was sent.
    delivery: Result<DeliveryFuture, Option<KafkaError>>,
}

impl Future for InFlight {
    type Output = Settled;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Settled> {
        let this = &mut *self;
        let result = match &mut this.delivery {
            Ok(delivery) => match Pin::new(delivery).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(Ok(_))) => Ok(()),
                Poll::Ready(Ok(Err((error, _message)))) => Err(error),
                // The producer went away before reporting.
                Poll::Ready(Err(_canceled)) => Err(KafkaError::Canceled),
            },
            Err(refused) => Err(refused.take().unwrap_or(KafkaError::Canceled)),
        };
        Poll::Ready((this.source, this.seq, result))
    }
}
