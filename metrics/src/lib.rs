//! Prometheus metrics for every role. Each crate records through the
//! `metrics` facade (`counter!`, `histogram!`, `gauge!`), naming and
//! describing its own metrics in one module; this crate installs the one
//! recorder of the process and renders it in the text exposition format:
//! on the api's `/metrics`, and for the processor, shipper and alert engine
//! on a small listener of their own (`LOGFLOW_METRICS_ADDR`).
//!
//! Label values must be bounded: route templates, enum names, and for
//! values that come from outside (service names, rule names) a
//! [`BoundedLabel`] that folds everything past its first N values into
//! `_other`.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use clap::Args;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Mutex, OnceLock};
use tokio_util::sync::CancellationToken;

pub use metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};

/// The Content-Type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Bucket bounds of every `*_duration_seconds` histogram: 1 ms to 10 s,
/// fine where an api answer or a store query usually lands.
const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process's recorder (once; later calls return the same
/// handle). Call it before recording: values recorded before it are lost.
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = || {
            PrometheusBuilder::new()
                .set_buckets(&LATENCY_BUCKETS)
                .expect("the bucket list is not empty")
        };
        builder().install_recorder().unwrap_or_else(|err| {
            tracing::warn!(%err, "another metrics recorder is installed; /metrics will be empty");
            builder().build_recorder().handle()
        })
    })
}

/// Every metric of the process, in the text exposition format.
pub fn render() -> String {
    let handle = install();
    handle.run_upkeep();
    handle.render()
}

/// The metrics listener of the processor, shipper and alert engine.
#[derive(Debug, Clone, Args)]
pub struct MetricsArgs {
    /// Serve Prometheus metrics at http://ADDR/metrics (e.g. 0.0.0.0:9100).
    /// Unset: no listener (the api always serves /metrics itself).
    #[arg(long, env = "LOGFLOW_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
}

/// Why the metrics listener could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on LOGFLOW_METRICS_ADDR {addr}: {source}")]
pub struct ListenError {
    pub addr: SocketAddr,
    pub source: std::io::Error,
}

/// The `/metrics` answer.
pub async fn scrape() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], render())
}

/// Binds `args.metrics_addr` (when set) and serves `/metrics` there until
/// `shutdown`, in a task of its own. Binding happens now, so a taken port
/// is an error at start-up rather than a silent gap in the graphs.
pub async fn spawn_listener(
    args: &MetricsArgs,
    shutdown: CancellationToken,
) -> Result<Option<SocketAddr>, ListenError> {
    install();
    let Some(addr) = args.metrics_addr else {
        return Ok(None);
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ListenError { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| ListenError { addr, source })?;
    let app = axum::Router::new().route("/metrics", get(scrape));
    tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned());
        if let Err(err) = serve.await {
            tracing::warn!(%err, "the metrics listener stopped");
        }
    });
    tracing::info!(addr = %bound, "serving Prometheus metrics at /metrics");
    Ok(Some(bound))
}

/// A label whose values come from outside (service names, rule names):
/// the first `max` distinct values are kept, later ones count as `_other`,
/// so a flood of new names cannot grow the series without bound.
pub struct BoundedLabel {
    max: usize,
    seen: Mutex<BTreeSet<String>>,
}

impl BoundedLabel {
    pub const OTHER: &'static str = "_other";

    pub const fn new(max: usize) -> BoundedLabel {
        BoundedLabel {
            max,
            seen: Mutex::new(BTreeSet::new()),
        }
    }

    /// The label value to record for `value`.
    pub fn value(&self, value: &str) -> String {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.contains(value) {
            return value.to_string();
        }
        if seen.len() < self.max {
            seen.insert(value.to_string());
            return value.to_string();
        }
        Self::OTHER.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bounded_label_folds_values_past_its_bound() {
        let label = BoundedLabel::new(2);
        assert_eq!(label.value("a"), "a");
        assert_eq!(label.value("b"), "b");
        assert_eq!(label.value("c"), "_other");
        assert_eq!(label.value("a"), "a", "known values stay");
    }

    #[tokio::test]
    async fn the_listener_serves_what_was_recorded() {
        install();
        counter!("test_listener_total", "kind" => "x").increment(3);
        let args = MetricsArgs {
            metrics_addr: Some("127.0.0.1:0".parse().unwrap()),
        };
        let shutdown = CancellationToken::new();
        let addr = spawn_listener(&args, shutdown.clone())
            .await
            .unwrap()
            .unwrap();
        let r = reqwest::get(format!("http://{addr}/metrics"))
            .await
            .unwrap();
        assert_eq!(r.headers()["content-type"], CONTENT_TYPE);
        let text = r.text().await.unwrap();
        assert!(text.contains("test_listener_total{kind=\"x\"} 3"), "{text}");
        shutdown.cancel();
    }
}
