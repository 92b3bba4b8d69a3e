//! Handing records to the Kafka producer without waiting for them.
//!
//! Each source owns a [`SourceSender`]. It takes a permit per record (at
//! most `--max-in-flight` records await acknowledgement, which bounds
//! memory and makes reading wait while Kafka is slow or down), sends, and
//! passes the delivery future to the acknowledgement task in batches, so the
//! reader never awaits a delivery and no lock is taken per line.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use tokio::sync::{mpsc, Semaphore, TryAcquireError};
use tokio_util::sync::CancellationToken;

use crate::checkpoint::FileKey;
use crate::lines::LineSplitter;
use crate::metrics;
use crate::records::{Assembler, Record};
use crate::ShipperError;

pub use logflow_core::wire::{HEADER_HOST, HEADER_SOURCE, HEADER_TRUNCATED};

/// Delivery futures are handed over this many at a time: large enough that
/// the channel costs nothing per record, small enough that acknowledgements
/// (and checkpoints) keep flowing during a long read.
const BATCH: usize = 1024;

/// How long to wait when librdkafka's own queue is full (its byte limit can
/// be reached before our record limit when lines are large).
const QUEUE_FULL_BACKOFF: Duration = Duration::from_millis(10);

/// Numbers sources for the acknowledgement task.
pub(crate) type SourceId = u64;

/// What sources tell the acknowledgement task, in send order per source.
pub(crate) enum Event {
    /// A source starts at `offset`. `key` is `None` for stdin, which is
    /// not checkpointed. `stop` ends the source if Kafka refuses a record.
    Opened {
        source: SourceId,
        key: Option<FileKey>,
        name: String,
        offset: u64,
        stop: CancellationToken,
    },
    Sent {
        source: SourceId,
        records: Vec<Sent>,
    },
    /// The source was truncated and is read again from 0.
    Truncated { source: SourceId },
    /// The source ended. `retired`: its file is gone from the patterns and
    /// was read to its end, so its checkpoint can be forgotten once every
    /// record is acknowledged.
    Closed { source: SourceId, retired: bool },
}

/// One record handed to the producer.
pub(crate) struct Sent {
    pub end_offset: u64,
    /// The delivery report to come, or why the producer refused the record
    /// at once.
    pub delivery: Result<DeliveryFuture, KafkaError>,
}

/// Why a source stopped before its end.
#[derive(Debug)]
pub(crate) enum Halt {
    /// Shutdown was requested, or Kafka refused one of its records (the
    /// acknowledgement task reports that error).
    Stopped,
    Failed(ShipperError),
}

impl From<ShipperError> for Halt {
    fn from(error: ShipperError) -> Self {
        Halt::Failed(error)
    }
}

/// What every source shares.
pub(crate) struct SendContext {
    producer: FutureProducer,
    topic: String,
    host: String,
    permits: Arc<Semaphore>,
    events: mpsc::UnboundedSender<Event>,
    next_source: AtomicU64,
}

impl SendContext {
    pub fn new(
        producer: FutureProducer,
        topic: String,
        host: String,
        permits: Arc<Semaphore>,
        events: mpsc::UnboundedSender<Event>,
    ) -> Self {
        SendContext {
            producer,
            topic,
            host,
            permits,
            events,
            next_source: AtomicU64::new(0),
        }
    }
}

/// One source's sending end. Dropping it tells the acknowledgement task
/// the source ended.
pub(crate) struct SourceSender {
    ctx: Arc<SendContext>,
    source: SourceId,
    name: String,
    service: String,
    headers: OwnedHeaders,
    batch: Vec<Sent>,
    batch_bytes: u64,
    stop: CancellationToken,
    retired: bool,
}

impl SourceSender {
    /// Registers a source with the acknowledgement task. `name` is the file
    /// path or `stdin` (header `logflow.source`), `offset` where it starts.
    pub fn open(
        ctx: Arc<SendContext>,
        key: Option<FileKey>,
        name: String,
        service: String,
        offset: u64,
        stop: CancellationToken,
    ) -> Self {
        let source = ctx.next_source.fetch_add(1, Ordering::Relaxed);
        // The service is the message key; headers say only what the key
        // and the line cannot.
        let headers = OwnedHeaders::new_with_capacity(3)
            .insert(Header {
                key: HEADER_HOST,
                value: Some(&ctx.host),
            })
            .insert(Header {
                key: HEADER_SOURCE,
                value: Some(&name),
            });
        // A closed channel means the acknowledgement task is gone; every
        // send below notices that and stops the source.
        let _ = ctx.events.send(Event::Opened {
            source,
            key,
            name: name.clone(),
            offset,
            stop: stop.clone(),
        });
        SourceSender {
            ctx,
            source,
            name,
            service,
            headers,
            batch: Vec::with_capacity(BATCH),
            batch_bytes: 0,
            stop,
            retired: false,
        }
    }

    /// Sends every complete line buffered in `lines`.
    pub async fn ship_lines(
        &mut self,
        lines: &mut LineSplitter,
        records: &mut Assembler,
    ) -> Result<(), Halt> {
        while let Some(line) = lines.next_line() {
            for record in records.push(line).into_iter().flatten() {
                self.send(record).await?;
            }
        }
        Ok(())
    }

    /// Sends what `records` holds back, if anything.
    pub async fn ship_held(&mut self, records: &mut Assembler) -> Result<(), Halt> {
        match records.flush() {
            Some(record) => self.send(record).await,
            None => Ok(()),
        }
    }

    /// Hands one record to the producer; waits only for a permit.
    pub async fn send(&mut self, record: Record<'_>) -> Result<(), Halt> {
        self.acquire().await?;
        let headers = match record.truncated_from {
            None => self.headers.clone(),
            Some(length) => {
                metrics::add_truncated();
                tracing::warn!(
                    source = %self.name,
                    end_offset = record.end_offset,
                    length,
                    "line longer than --max-line-bytes: cut and flagged logflow.truncated"
                );
                self.headers.clone().insert(Header {
                    key: HEADER_TRUNCATED,
                    value: Some(&length.to_string()),
                })
            }
        };
        let payload: &[u8] = &record.payload;
        let mut kafka_record = FutureRecord::to(&self.ctx.topic)
            .key(self.service.as_bytes())
            .payload(payload)
            .headers(headers);
        let delivery = loop {
            match self.ctx.producer.send_result(kafka_record) {
                Ok(delivery) => break Ok(delivery),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    kafka_record = back;
                    hand_over(
                        &self.ctx,
                        self.source,
                        &mut self.batch,
                        &mut self.batch_bytes,
                    );
                    tokio::select! {
                        _ = tokio::time::sleep(QUEUE_FULL_BACKOFF) => {}
                        _ = self.stop.cancelled() => {
                            self.ctx.permits.add_permits(1);
                            return Err(Halt::Stopped);
                        }
                    }
                }
                Err((error, _)) => break Err(error),
            }
        };
        self.batch_bytes += payload.len() as u64;
        self.batch.push(Sent {
            end_offset: record.end_offset,
            delivery,
        });
        if self.batch.len() >= BATCH {
            self.flush()?;
        }
        Ok(())
    }

    /// Passes the records sent so far to the acknowledgement task. Called
    /// whenever the reader is about to wait, so acknowledgements flow.
    pub fn flush(&mut self) -> Result<(), Halt> {
        if hand_over(
            &self.ctx,
            self.source,
            &mut self.batch,
            &mut self.batch_bytes,
        ) {
            Ok(())
        } else {
            Err(Halt::Stopped)
        }
    }

    /// The source was truncated; what is sent next starts at offset 0.
    pub fn truncated(&mut self) -> Result<(), Halt> {
        self.flush()?;
        self.ctx
            .events
            .send(Event::Truncated {
                source: self.source,
            })
            .map_err(|_| Halt::Stopped)
    }

    /// Marks the source as read to its end for good (see [`Event::Closed`]).
    pub fn retire(&mut self) {
        self.retired = true;
    }

    /// Takes one in-flight permit, handing the batch over before waiting so
    /// the permits it holds can come back.
    async fn acquire(&mut self) -> Result<(), Halt> {
        match self.ctx.permits.try_acquire() {
            Ok(permit) => {
                permit.forget();
                return Ok(());
            }
            Err(TryAcquireError::NoPermits) => {}
            Err(TryAcquireError::Closed) => return Err(Halt::Stopped),
        }
        self.flush()?;
        tokio::select! {
            permit = self.ctx.permits.acquire() => match permit {
                Ok(permit) => {
                    permit.forget();
                    Ok(())
                }
                Err(_) => Err(Halt::Stopped),
            },
            _ = self.stop.cancelled() => Err(Halt::Stopped),
        }
    }
}

impl Drop for SourceSender {
    fn drop(&mut self) {
        hand_over(
            &self.ctx,
            self.source,
            &mut self.batch,
            &mut self.batch_bytes,
        );
        let _ = self.ctx.events.send(Event::Closed {
            source: self.source,
            retired: self.retired,
        });
    }
}

/// Sends the batch to the acknowledgement task and counts it; false when
/// that task is gone. A free function so it can run while a record borrows
/// other fields of the sender.
fn hand_over(ctx: &SendContext, source: SourceId, batch: &mut Vec<Sent>, bytes: &mut u64) -> bool {
    if batch.is_empty() {
        return true;
    }
    metrics::add_sent(batch.len() as u64, *bytes);
    *bytes = 0;
    let records = std::mem::replace(batch, Vec::with_capacity(BATCH));
    ctx.events.send(Event::Sent { source, records }).is_ok()
}
