//! The exposition passes `promtool check metrics`, carries trace exemplars in OpenMetrics only,
//! and a real Prometheus scrapes the SDK's own `/metrics` (`GLIMPSE_METRICS_ADDR`), storing the
//! exemplars.

use std::time::Duration;

use glimpse_telemetry::Config;
use glimpse_telemetry::metrics::{self, Format, Unit};
use glimpse_test_support::{LogCapture, Prometheus, promtool, promtool_check_metrics};

#[derive(Debug)]
struct NoopExporter;
impl glimpse_telemetry::otel::sdk::trace::SpanExporter for NoopExporter {
    async fn export(
        &self,
        _: Vec<glimpse_telemetry::otel::sdk::trace::SpanData>,
    ) -> glimpse_telemetry::otel::sdk::error::OTelSdkResult {
        Ok(())
    }
}

fn init(metrics_addr: Option<&str>) -> glimpse_telemetry::TelemetryGuard {
    let mut vars = vec![
        ("OTEL_SERVICE_NAME", "metrics-test"),
        ("GLIMPSE_ENV", "production"),
    ];
    if let Some(a) = metrics_addr {
        vars.push(("GLIMPSE_METRICS_ADDR", a));
    }
    glimpse_telemetry::builder()
        .config(Config::from_vars(vars).unwrap())
        .package("metrics-test", "0.4.2")
        .span_exporter(NoopExporter)
        .log_writer(LogCapture::default())
        .init()
        .unwrap()
}

/// Registers one family of each kind and records into them inside a sampled span.
fn record() -> String {
    let h = metrics::histogram("test_job_duration_seconds", "Job durations.")
        .unit(Unit::Seconds)
        .labels(["queue"])
        .register()
        .unwrap();
    let c = metrics::counter("test_jobs", "Jobs run.")
        .labels(["queue", "outcome"])
        .register()
        .unwrap();
    let g = metrics::gauge("test_queue_depth", "Jobs waiting.")
        .labels(["queue"])
        .register()
        .unwrap();
    let span = tracing::info_span!("job");
    let trace_id = span.in_scope(|| {
        h.get_or_create(&["email"]).observe(0.2);
        c.get_or_create(&["email", "ok"]).inc();
        g.get_or_create(&["email"]).set(3);
        glimpse_telemetry::context::current()
            .trace_id
            .unwrap()
            .to_string()
    });
    glimpse_telemetry::business::payment_processed(
        glimpse_telemetry::business::PaymentOutcome::Failed,
    );
    trace_id
}

#[test]
fn exposition_passes_promtool_and_carries_exemplars_only_in_openmetrics() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let _guard = init(None);
    let trace_id = record();

    let text = metrics::encode(Format::Text);
    let om = metrics::encode(Format::OpenMetrics);
    // The exemplar names the span's trace, in OpenMetrics only.
    assert!(om.contains(&format!("trace_id=\"{trace_id}\"")), "{om}");
    assert!(!text.contains(" # {"), "no exemplars in the classic format");
    // target_info carries the resource; process metrics and the business families are there.
    assert!(text.contains("target_info{service_name=\"metrics-test\",service_version=\"0.4.2\",deployment_environment_name=\"production\""), "{text}");
    for name in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_virtual_memory_bytes",
        "process_open_fds",
        "process_max_fds",
        "process_start_time_seconds",
        "process_threads",
        "glimpse_user_registrations_total 0",
        "glimpse_payments_processed_total{outcome=\"failed\"} 1",
        "glimpse_payments_processed_total{outcome=\"succeeded\"} 0",
        "glimpse_log_events_total{level=\"INFO\"}",
    ] {
        assert!(text.contains(name), "{name} missing:\n{text}");
    }
    if promtool().is_some() {
        promtool_check_metrics(&text)
            .unwrap_or_else(|findings| panic!("promtool: {findings}\n{text}"));
    }
}

#[test]
fn real_prometheus_scrapes_the_sdk_endpoint_and_stores_exemplars() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let guard = init(Some("127.0.0.1:0"));
    let addr = guard.metrics_addr().expect("the SDK serves /metrics");
    let trace_id = record();
    let Some(prom) = Prometheus::start(&[addr], &[]) else {
        return;
    };

    let up = prom
        .wait_for_data("up{job=\"glimpse\"} == 1", Duration::from_secs(20))
        .unwrap();
    assert_eq!(up.len(), 1, "target up: {:?}", prom.targets());
    let jobs = prom
        .wait_for_data(
            "test_jobs_total{queue=\"email\",outcome=\"ok\"}",
            Duration::from_secs(10),
        )
        .unwrap();
    assert_eq!(jobs[0]["value"][1], "1");
    let info = prom.query("target_info").unwrap();
    assert_eq!(info[0]["metric"]["service_name"], "metrics-test");

    // Prometheus asked for OpenMetrics and kept the exemplar pointing at the trace.
    let mut found = false;
    for _ in 0..40 {
        let ex = prom
            .exemplars("test_job_duration_seconds_bucket", Duration::from_secs(600))
            .unwrap();
        let text = serde_json::to_string(&ex).unwrap();
        if text.contains(&trace_id) {
            found = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(found, "exemplar with trace {trace_id} stored by Prometheus");
}

#[test]
fn a_taken_metrics_port_is_a_clear_error() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let err = glimpse_telemetry::builder()
        .config(Config::from_vars([("GLIMPSE_METRICS_ADDR", addr.as_str())]).unwrap())
        .log_writer(LogCapture::default())
        .disable_traces()
        .init()
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("GLIMPSE_METRICS_ADDR") && msg.contains(&addr),
        "{msg}"
    );
}
