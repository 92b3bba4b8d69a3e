//! Benchmark baseline: sends a file's lines to Kafka with exactly the
//! shipper's librdkafka settings and no parsing, tailing or checkpoints —
//! what `kcat -P -l` does — and prints records/s once all are acknowledged.
//!
//! `cargo run --release --example bare_producer -- BOOTSTRAP TOPIC FILE`

use futures::stream::{FuturesUnordered, StreamExt};
use logflow_kafka::{ensure_topics, producer, KafkaArgs, ProducerTuning};
use rdkafka::producer::FutureRecord;
use std::io::BufRead;
use std::time::Instant;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, bootstrap, topic, file] = args.as_slice() else {
        anyhow::bail!("usage: bare_producer BOOTSTRAP TOPIC FILE");
    };
    let kafka = KafkaArgs {
        bootstrap_servers: bootstrap.clone(),
        topic: topic.clone(),
        partitions: 3,
        replication_factor: 1,
    };
    ensure_topics(&kafka, &[topic.as_str()]).await?;
    let producer = producer(&kafka, ProducerTuning::default())?;
    let reader = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(file)?);
    let start = Instant::now();
    let mut in_flight = FuturesUnordered::new();
    let mut sent = 0u64;
    for line in reader.split(b'\n') {
        let line = line?;
        loop {
            match producer.send_result(FutureRecord::to(topic).key("bench").payload(&line)) {
                Ok(delivery) => {
                    in_flight.push(delivery);
                    break;
                }
                Err(_) => {
                    if let Some(done) = in_flight.next().await {
                        done?.map_err(|(e, _)| e)?;
                    }
                }
            }
        }
        sent += 1;
        while in_flight.len() >= 100_000 {
            if let Some(done) = in_flight.next().await {
                done?.map_err(|(e, _)| e)?;
            }
        }
    }
    while let Some(done) = in_flight.next().await {
        done?.map_err(|(e, _)| e)?;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{sent} records in {secs:.2}s = {:.0} records/s",
        sent as f64 / secs
    );
    Ok(())
}
