//! Where generated records are written: Kafka, stdout or a file.

use futures::stream::{FuturesUnordered, StreamExt};
use logflow_core::LogRecord;
use logflow_kafka::{KafkaArgs, ProducerTuning};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use std::io::Write;
use std::path::Path;
use tokio_util::sync::CancellationToken;

/// Records in flight to Kafka before the generator waits for acks.
const MAX_IN_FLIGHT: usize = 50_000;

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("cannot write generated logs to {target}: {source}")]
    Io {
        target: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    KafkaSetup(#[from] logflow_kafka::KafkaSetupError),
    #[error("Kafka did not accept a generated record for {topic}: {reason}")]
    Kafka { topic: String, reason: String },
}

pub enum Sink {
    Lines {
        target: String,
        out: Box<dyn Write + Send>,
    },
    Kafka {
        producer: FutureProducer,
        topic: String,
        in_flight: FuturesUnordered<DeliveryFuture>,
    },
}

impl Sink {
    pub fn stdout() -> Sink {
        Sink::Lines {
            target: "stdout".into(),
            out: Box::new(std::io::BufWriter::new(std::io::stdout())),
        }
    }

    /// Appends to `path`, creating it when missing.
    pub fn file(path: &Path) -> Result<Sink, SinkError> {
        let target = path.display().to_string();
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| SinkError::Io {
                target: target.clone(),
                source,
            })?;
        Ok(Sink::Lines {
            target,
            out: Box::new(std::io::BufWriter::with_capacity(1 << 20, file)),
        })
    }

    /// Produces to the log topic, creating it first when missing (waiting
    /// for the broker like every other role).
    pub async fn kafka(kafka: &KafkaArgs, shutdown: &CancellationToken) -> Result<Sink, SinkError> {
        if !logflow_kafka::wait_for_topics(kafka, &[kafka.topic.as_str()], shutdown).await {
            return Err(SinkError::Kafka {
                topic: kafka.topic.clone(),
                reason: "shut down before the topic could be created".into(),
            });
        }
        Ok(Sink::Kafka {
            producer: logflow_kafka::producer(kafka, ProducerTuning::default())?,
            topic: kafka.topic.clone(),
            in_flight: FuturesUnordered::new(),
        })
    }

    pub async fn write(&mut self, record: &LogRecord) -> Result<(), SinkError> {
        match self {
            Sink::Lines { target, out } => serde_json::to_writer(&mut *out, record)
                .map_err(std::io::Error::from)
                .and_then(|()| out.write_all(b"\n"))
                .map_err(|source| SinkError::Io {
                    target: target.clone(),
                    source,
                }),
            Sink::Kafka {
                producer,
                topic,
                in_flight,
            } => {
                while in_flight.len() >= MAX_IN_FLIGHT {
                    ack(in_flight.next().await, topic)?;
                }
                let payload = serde_json::to_vec(record).map_err(|e| SinkError::Kafka {
                    topic: topic.clone(),
                    reason: e.to_string(),
                })?;
                let mut pending = FutureRecord::to(topic)
                    .key(&record.service)
                    .payload(&payload);
                loop {
                    match producer.send_result(pending) {
                        Ok(delivery) => {
                            in_flight.push(delivery);
                            return Ok(());
                        }
                        // The local queue is full: wait for acks, then retry.
                        Err((
                            KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull),
                            rejected,
                        )) => {
                            pending = rejected;
                            match in_flight.next().await {
                                Some(done) => ack(Some(done), topic)?,
                                None => {
                                    tokio::time::sleep(std::time::Duration::from_millis(10)).await
                                }
                            }
                        }
                        Err((err, _)) => {
                            return Err(SinkError::Kafka {
                                topic: topic.clone(),
                                reason: err.to_string(),
                            })
                        }
                    }
                }
            }
        }
    }

    /// Writes out what a file or stdout holds buffered, so a reader (a
    /// shipper tailing the file) sees records as they are made; Kafka
    /// sends on its own.
    pub fn flush(&mut self) -> Result<(), SinkError> {
        match self {
            Sink::Lines { target, out } => out.flush().map_err(|source| SinkError::Io {
                target: target.clone(),
                source,
            }),
            Sink::Kafka { .. } => Ok(()),
        }
    }

    /// Writes out buffers and waits until Kafka acknowledged every record.
    pub async fn finish(&mut self) -> Result<(), SinkError> {
        match self {
            Sink::Lines { target, out } => out.flush().map_err(|source| SinkError::Io {
                target: target.clone(),
                source,
            }),
            Sink::Kafka {
                in_flight, topic, ..
            } => {
                while let Some(done) = in_flight.next().await {
                    ack(Some(done), topic)?;
                }
                Ok(())
            }
        }
    }
}

fn ack(
    done: Option<
        Result<
            rdkafka::producer::future_producer::OwnedDeliveryResult,
            futures::channel::oneshot::Canceled,
        >,
    >,
    topic: &str,
) -> Result<(), SinkError> {
    match done {
        None | Some(Ok(Ok(_))) => Ok(()),
        Some(Ok(Err((err, _)))) => Err(SinkError::Kafka {
            topic: topic.into(),
            reason: err.to_string(),
        }),
        Some(Err(_)) => Err(SinkError::Kafka {
            topic: topic.into(),
            reason: "producer dropped the record".into(),
        }),
    }
}
