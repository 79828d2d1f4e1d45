//! A collector that refuses connections, accepts and never answers, or is slow: recording spans
//! never waits for it, the queue stays bounded (drops are counted), nothing panics, the failure
//! is logged once, and shutdown returns within its timeout.

use std::time::{Duration, Instant};

use glimpse_telemetry::testing::metric_value;
use glimpse_telemetry::{Config, Protocol};
use glimpse_test_support::{Blackhole, LogCapture, refused_url};

const QUEUE: usize = 64;

fn run_against(endpoint: String, protocol: Protocol) -> (LogCapture, Duration) {
    let logs = LogCapture::default();
    let guard = glimpse_telemetry::builder()
        .config(
            Config::from_vars([
                ("OTEL_SERVICE_NAME", "faults"),
                ("OTEL_BSP_MAX_QUEUE_SIZE", &QUEUE.to_string()),
                ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "16"),
                ("OTEL_BSP_SCHEDULE_DELAY", "50"),
                ("OTEL_EXPORTER_OTLP_TIMEOUT", "30000"),
            ])
            .unwrap(),
        )
        .protocol(protocol)
        .otlp_endpoint(endpoint)
        .log_writer(logs.clone())
        .shutdown_timeout(Duration::from_secs(1))
        .init()
        .unwrap();

    for i in 0..5_000 {
        tracing::info_span!("work", i).in_scope(|| {});
    }
    // Give the batch thread time to hit the collector and fail (or hang) at least once.
    std::thread::sleep(Duration::from_millis(300));
    let start = Instant::now();
    let result = guard.shutdown();
    let took = start.elapsed();
    let _ = result; // Ok or ShutdownTimeout: both are fine, the bound is what matters
    (logs, took)
}

fn spans(outcome: &str) -> f64 {
    metric_value("glimpse_telemetry_spans_total", &[("outcome", outcome)]).unwrap_or(0.0)
}

fn assert_bounded(took: Duration) {
    // The configured timeout is 1 s; allow for debug builds under parallel load, but catch a wait
    // on the 30 s
    // export timeout.
    assert!(
        took < Duration::from_secs(6),
        "shutdown took {took:?} with a 1 s timeout"
    );
    let dropped = spans("dropped");
    let in_queue_at_most = 5_000.0 - dropped - spans("exported") - spans("failed");
    assert!(
        dropped >= 5_000.0 - (QUEUE as f64) * 2.0,
        "the queue is bounded: dropped {dropped}"
    );
    assert!(
        in_queue_at_most <= QUEUE as f64,
        "at most the queue size in flight: {in_queue_at_most}"
    );
}

#[test]
fn blackholed_grpc_collector() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let hole = Blackhole::start();
    let (_logs, took) = run_against(hole.url(), Protocol::Grpc);
    assert_bounded(took);
    assert!(hole.accepted() >= 1, "the exporter did connect");
}

#[test]
fn blackholed_http_collector() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let hole = Blackhole::start();
    let (_logs, took) = run_against(format!("{}/v1/traces", hole.url()), Protocol::HttpProtobuf);
    assert_bounded(took);
    assert!(hole.accepted() >= 1);
}

#[test]
fn refused_collector_is_logged_once() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let (logs, took) = run_against(refused_url(), Protocol::Grpc);
    assert!(took < Duration::from_secs(6), "{took:?}");
    assert!(spans("failed") >= 1.0, "failures are counted");
    let failures = logs
        .lines()
        .into_iter()
        .filter(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("trace export failed"))
        })
        .count();
    assert_eq!(
        failures,
        1,
        "one line about the unreachable collector, not one per attempt:\n{}",
        logs.text()
    );
}
