//! Spans reach a real OTLP receiver over gRPC and HTTP/protobuf with the resource and the
//! remote parent of an incoming `traceparent`, and log lines carry exactly the exported ids.
//! Library events more verbose than `RUST_LOG` are off at their callsite.
//! Each test initialises telemetry, so run them with nextest (one process per test).

use std::time::Duration;

use glimpse_telemetry::otel::tracing_opentelemetry::OpenTelemetrySpanExt as _;
use glimpse_telemetry::{Config, Protocol, propagation};
use glimpse_test_support::{LogCapture, OtlpReceiver, ReceivedSpan};

const REMOTE_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const REMOTE_SPAN: &str = "00f067aa0ba902b7";

fn export_one_request(
    otlp: &OtlpReceiver,
    protocol: Protocol,
    service: &str,
) -> (ReceivedSpan, LogCapture) {
    let logs = LogCapture::default();
    let endpoint = match protocol {
        Protocol::Grpc => otlp.grpc_endpoint().to_owned(),
        _ => otlp.http_traces_url(),
    };
    let guard = glimpse_telemetry::builder()
        .config(
            Config::from_vars([
                ("OTEL_SERVICE_NAME", service),
                (
                    "OTEL_RESOURCE_ATTRIBUTES",
                    "team=core,service.version=9.9.9",
                ),
                ("GLIMPSE_ENV", "staging"),
                ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ])
            .unwrap(),
        )
        .package("pkg-name", "1.2.3")
        .protocol(protocol)
        .otlp_endpoint(endpoint)
        .log_writer(logs.clone())
        .init()
        .expect("init");

    let mut headers = http::HeaderMap::new();
    headers.insert(
        "traceparent",
        format!("00-{REMOTE_TRACE}-{REMOTE_SPAN}-01")
            .parse()
            .unwrap(),
    );
    headers.insert("baggage", "tenant=acme".parse().unwrap());
    let span = tracing::info_span!(
        "GET /users/{id}",
        otel.kind = "server",
        http.route = "/users/{id}",
        request_id = "req-42"
    );
    span.set_parent(propagation::extract(&headers)).unwrap();
    span.in_scope(|| {
        tracing::info!(rows = 1, "user fetched");
        let child = tracing::info_span!("load profile");
        child.in_scope(|| tracing::info!("in child"));
    });
    drop(span);
    guard.shutdown().expect("shutdown within its timeout");

    let spans = otlp.wait_for_spans(Duration::from_secs(15), |s| s.name == "GET /users/{id}");
    assert_eq!(
        spans.len(),
        1,
        "exactly one request span; got {:?}\nreceiver stderr:\n{}",
        otlp.spans(),
        otlp.stderr()
    );
    (spans[0].clone(), logs)
}

fn check(otlp: &OtlpReceiver, span: &ReceivedSpan, logs: &LogCapture, service: &str) {
    // The remote parent.
    assert_eq!(span.trace_id, REMOTE_TRACE);
    assert_eq!(span.parent_span_id.as_deref(), Some(REMOTE_SPAN));
    assert_eq!(span.kind, "SPAN_KIND_SERVER");
    assert_eq!(span.attr_str("http.route"), Some("/users/{id}"));
    // The resource: the environment wins over the package name; the explicit version from
    // OTEL_RESOURCE_ATTRIBUTES wins over the package version.
    assert_eq!(span.resource_str("service.name"), Some(service));
    assert_eq!(span.resource_str("service.version"), Some("9.9.9"));
    assert_eq!(
        span.resource_str("deployment.environment.name"),
        Some("staging")
    );
    assert_eq!(span.resource_str("team"), Some("core"));
    assert!(
        span.resource_str("host.name")
            .is_some_and(|h| !h.is_empty())
    );
    // The child is a child of the request span.
    let child = otlp.wait_for_spans(Duration::from_secs(5), |s| s.name == "load profile");
    assert_eq!(child.len(), 1);
    assert_eq!(
        child[0].parent_span_id.as_deref(),
        Some(span.span_id.as_str())
    );
    assert_eq!(child[0].trace_id, REMOTE_TRACE);

    // The log lines name exactly the exported spans.
    let line = logs
        .wait_for(Duration::from_secs(5), |l| l["message"] == "user fetched")
        .expect("log line");
    assert_eq!(line["traceId"], span.trace_id.as_str());
    assert_eq!(line["spanId"], span.span_id.as_str());
    assert_eq!(line["requestId"], "req-42");
    assert_eq!(line["service"], service);
    let inner = logs
        .wait_for(Duration::from_secs(5), |l| l["message"] == "in child")
        .expect("child line");
    assert_eq!(inner["spanId"], child[0].span_id.as_str());
    assert_eq!(
        inner["requestId"], "req-42",
        "request id inherited from the parent span"
    );
}

#[test]
fn grpc_export_carries_resource_and_remote_parent() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let Some(otlp) = OtlpReceiver::start() else {
        return;
    };
    let (span, logs) = export_one_request(&otlp, Protocol::Grpc, "traces-grpc");
    check(&otlp, &span, &logs, "traces-grpc");
}

#[test]
fn http_protobuf_export_carries_resource_and_remote_parent() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let Some(otlp) = OtlpReceiver::start() else {
        return;
    };
    let (span, logs) = export_one_request(&otlp, Protocol::HttpProtobuf, "traces-http");
    check(&otlp, &span, &logs, "traces-http");
}

#[test]
fn environment_endpoint_and_protocol_are_used() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let Some(otlp) = OtlpReceiver::start() else {
        return;
    };
    // The generic endpoint gets /v1/traces appended for HTTP, as the specification says.
    let guard = glimpse_telemetry::builder()
        .config(
            Config::from_vars([
                ("OTEL_SERVICE_NAME", "traces-env"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.http_endpoint()),
                ("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=acme"),
            ])
            .unwrap(),
        )
        .log_writer(std::io::sink())
        .init()
        .unwrap();
    tracing::info_span!("job").in_scope(|| {});
    guard.shutdown().unwrap();
    let spans = otlp.wait_for_spans(Duration::from_secs(15), |s| s.name == "job");
    assert_eq!(spans.len(), 1);
    assert!(spans[0].is_root());
    assert_eq!(spans[0].resource_str("service.name"), Some("traces-env"));
}

#[test]
fn sampled_out_traces_are_not_exported_but_logs_keep_their_ids() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let Some(otlp) = OtlpReceiver::start() else {
        return;
    };
    let logs = LogCapture::default();
    let guard = glimpse_telemetry::builder()
        .config(
            Config::from_vars([
                ("OTEL_SERVICE_NAME", "traces-off"),
                ("OTEL_TRACES_SAMPLER", "always_off"),
            ])
            .unwrap(),
        )
        .otlp_endpoint(otlp.grpc_endpoint())
        .log_writer(logs.clone())
        .init()
        .unwrap();
    tracing::info_span!("unsampled").in_scope(|| tracing::info!("inside"));
    tracing::info_span!("marker-after").in_scope(|| {});
    guard.shutdown().unwrap();
    let line = logs
        .wait_for(Duration::from_secs(5), |l| l["message"] == "inside")
        .unwrap();
    assert_eq!(
        line["traceId"].as_str().map(str::len),
        Some(32),
        "log correlation works unsampled: {line}"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        otlp.spans().is_empty(),
        "nothing exported: {:?}",
        otlp.spans()
    );
}

#[test]
fn rust_log_quiets_logs_but_not_traces_or_ids() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let Some(otlp) = OtlpReceiver::start() else {
        return;
    };
    let logs = LogCapture::default();
    let guard = glimpse_telemetry::builder()
        .config(
            Config::from_vars([("OTEL_SERVICE_NAME", "traces-warn"), ("RUST_LOG", "warn")])
                .unwrap(),
        )
        .otlp_endpoint(otlp.grpc_endpoint())
        .log_writer(logs.clone())
        .init()
        .unwrap();
    tracing::info_span!("request", request_id = "req-w").in_scope(|| {
        tracing::info!("hidden");
        tracing::warn!("shown");
    });
    guard.shutdown().unwrap();
    let shown = logs
        .wait_for(Duration::from_secs(5), |l| l["message"] == "shown")
        .unwrap();
    assert_eq!(shown["requestId"], "req-w");
    assert!(logs.lines().iter().all(|l| l["message"] != "hidden"));
    assert_eq!(
        otlp.wait_for_spans(Duration::from_secs(15), |s| s.name == "request")
            .len(),
        1
    );
}

/// With traces on, an event more verbose than `RUST_LOG` allows is off at its callsite (the
/// global maximum level, or the callsite's cached interest), not built and offered to each
/// layer's filter to be dropped there: a `debug!` on hyper's or sqlx's hot path, or the access
/// line at `RUST_LOG=warn`, costs a comparison. (`Capture` assembles the same layers as `init`,
/// the tracer's included.)
#[test]
fn events_more_verbose_than_rust_log_are_off_at_the_callsite() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    for (rust_log, hyper_debug, app_info) in [
        ("info", false, true),
        ("warn", false, false),
        ("info,hyper=debug", true, true),
    ] {
        let capture = glimpse_telemetry::testing::Capture::with_filter(rust_log);
        let (debug, info) = capture.run(|| {
            (
                tracing::enabled!(target: "hyper::proto::h1::io", tracing::Level::DEBUG),
                tracing::enabled!(target: "my_service::routes", tracing::Level::INFO),
            )
        });
        assert_eq!(
            (debug, info),
            (hyper_debug, app_info),
            "RUST_LOG={rust_log}"
        );
    }
}

/// A span is recorded by every layer even right after a dynamic `enabled` check that every
/// filter refused (what `log::log_enabled!` does through tracing-log, with metadata no callsite
/// cache knows). tracing-subscriber keeps per-layer filter decisions in a thread-local between
/// `enabled` and the span: a callsite cached as always-enabled would skip `enabled` and read
/// the refused check's leftovers, and the span would silently vanish from the layers
/// (tokio-rs/tracing#2519).
#[test]
fn a_refused_dynamic_check_does_not_drop_the_next_span() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    use tracing::callsite::{Callsite, Identifier};
    use tracing::field::FieldSet;
    use tracing::metadata::Kind;
    use tracing::subscriber::Interest;
    use tracing::{Level, Metadata};

    struct LogCallsite;
    impl Callsite for LogCallsite {
        fn set_interest(&self, _: Interest) {}
        fn metadata(&self) -> &Metadata<'_> {
            &REFUSED
        }
    }
    static LOG_CALLSITE: LogCallsite = LogCallsite;
    // `sqlx::query` at INFO: below the SDK's default `sqlx::query=error`, refused by every layer.
    static REFUSED: Metadata<'static> = Metadata::new(
        "log event",
        "sqlx::query",
        Level::INFO,
        None,
        None,
        None,
        FieldSet::new(&[], Identifier(&LOG_CALLSITE)),
        Kind::EVENT,
    );

    let capture = glimpse_telemetry::testing::Capture::with_filter("info");
    capture.run(|| {
        for i in 0..3 {
            // Each filter says no (the dispatcher's own answer is not the point).
            tracing::dispatcher::get_default(|d| d.enabled(&REFUSED));
            let span = tracing::info_span!("nightly job", job.run = i);
            let _entered = span.enter();
            tracing::info!("job step");
        }
    });
    let lines: Vec<_> = capture
        .log_lines()
        .into_iter()
        .filter(|l| l["message"] == "job step")
        .collect();
    assert_eq!(lines.len(), 3);
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(
            line["job_run"], i as u64,
            "the span's field is in its log line: {line}"
        );
    }
    let spans = capture.spans();
    assert_eq!(
        spans.iter().filter(|s| s.name == "nightly job").count(),
        3,
        "every span exported"
    );
}
