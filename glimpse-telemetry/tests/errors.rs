//! ERROR events and panics reach a real Sentry envelope receiver (Spotlight) with the release,
//! environment, user, request id and trace id; WARN/INFO lines become breadcrumbs; secrets and
//! personal data stay out. A dead or failing GlitchTip does not block.

use std::time::{Duration, Instant};

use glimpse_telemetry::Config;
use glimpse_test_support::{Blackhole, LogCapture, SentryReceiver, StatusServer};
use serde_json::Value;

fn init(dsn: &str, logs: &LogCapture) -> glimpse_telemetry::TelemetryGuard {
    glimpse_telemetry::builder()
        .config(
            Config::from_vars([
                ("OTEL_SERVICE_NAME", "errors-test"),
                ("GLIMPSE_ENV", "staging"),
                ("OTEL_SDK_DISABLED", "false"),
                ("SENTRY_DSN", dsn),
            ])
            .unwrap(),
        )
        .package("errors-test", "3.1.4")
        .span_exporter(NoopExporter)
        .log_writer(logs.clone())
        .shutdown_timeout(Duration::from_secs(5))
        .init()
        .expect("init")
}

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

#[derive(Debug)]
struct PaymentError;
impl std::fmt::Display for PaymentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("card 4111 1111 1111 1111 declined")
    }
}
impl std::error::Error for PaymentError {}

fn tag<'a>(event: &'a Value, key: &str) -> Option<&'a str> {
    // Sentry sends tags as an object or as [key, value] pairs.
    match &event["tags"] {
        Value::Object(m) => m.get(key).and_then(Value::as_str),
        Value::Array(a) => a
            .iter()
            .find(|kv| kv[0] == key)
            .and_then(|kv| kv[1].as_str()),
        _ => None,
    }
}

#[test]
fn error_event_carries_release_user_request_and_trace() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let Some(sentry) = SentryReceiver::start() else {
        return;
    };
    let logs = LogCapture::default();
    let guard = init(sentry.dsn(), &logs);

    let span = tracing::info_span!(
        "POST /payments",
        request_id = "req-pay-1",
        user_id = tracing::field::Empty
    );
    span.in_scope(|| {
        assert!(glimpse_telemetry::context::set_user_id("user123"));
        tracing::info!("charging card");
        tracing::warn!(attempt = 2, "retrying the charge");
        tracing::error!(
            error = &PaymentError as &dyn std::error::Error,
            password = "hunter2",
            "payment failed"
        );
    });
    drop(span);
    guard.shutdown().expect("flushed in time");

    let events = sentry.wait_for_events(Duration::from_secs(10), |e| {
        e["message"] == "payment failed"
    });
    assert_eq!(events.len(), 1, "one event: {:?}", sentry.events());
    let e = &events[0];
    assert_eq!(e["release"], "errors-test@3.1.4");
    assert_eq!(e["environment"], "staging");
    assert_eq!(e["user"]["id"], "user123");
    assert_eq!(tag(e, "request_id"), Some("req-pay-1"));
    let line = logs
        .wait_for(Duration::from_secs(5), |l| l["message"] == "payment failed")
        .unwrap();
    let trace_id = line["traceId"].as_str().expect("log line has the trace id");
    assert_eq!(
        e["contexts"]["trace"]["trace_id"], trace_id,
        "the GlitchTip event and the log line name the same trace"
    );
    assert_eq!(tag(e, "trace_id"), Some(trace_id));
    // The error's type and a stack trace come along; the secrets do not.
    assert_eq!(e["exception"]["values"][0]["type"], "PaymentError");
    // The stack trace was resolved off the request thread; its newest frame is this test, not
    // the SDK's own machinery.
    let frames = e["exception"]["values"][0]["stacktrace"]["frames"]
        .as_array()
        .expect("a stack trace");
    let newest = frames
        .last()
        .and_then(|f| f["function"].as_str())
        .unwrap_or_default();
    assert!(
        newest.contains("error_event_carries_release_user_request_and_trace"),
        "newest frame: {newest}"
    );
    let text = e.to_string();
    assert!(
        !text.contains("hunter2") && !text.contains("4111 1111"),
        "secret leaked: {text}"
    );
    // The INFO and WARN lines before the error are its breadcrumbs.
    let crumbs: Vec<&str> = e["breadcrumbs"]["values"]
        .as_array()
        .map(|a| a.iter().filter_map(|b| b["message"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        crumbs.contains(&"charging card") && crumbs.contains(&"retrying the charge"),
        "{crumbs:?}"
    );
    // No personal data by default: no IP address, no e-mail.
    assert!(
        e["user"].get("ip_address").is_none_or(Value::is_null)
            && e["user"].get("email").is_none_or(Value::is_null)
    );
}

#[test]
fn panic_becomes_an_event_and_one_json_line() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let Some(sentry) = SentryReceiver::start() else {
        return;
    };
    let logs = LogCapture::default();
    let guard = init(sentry.dsn(), &logs);
    let handle = std::thread::spawn(|| {
        let span = tracing::info_span!("GET /boom", request_id = "req-boom");
        let _g = span.enter();
        panic!("handler exploded");
    });
    assert!(handle.join().is_err());
    guard.shutdown().unwrap();

    let events = sentry.wait_for_events(Duration::from_secs(10), |e| {
        e["exception"]["values"][0]["type"] == "panic"
    });
    assert_eq!(events.len(), 1, "{:?}", sentry.events());
    let e = &events[0];
    assert_eq!(e["exception"]["values"][0]["value"], "handler exploded");
    assert_eq!(e["exception"]["values"][0]["mechanism"]["handled"], false);
    let frames = e["exception"]["values"][0]["stacktrace"]["frames"]
        .as_array()
        .expect("a stack trace");
    let newest = frames
        .last()
        .and_then(|f| f["function"].as_str())
        .unwrap_or_default();
    assert!(
        newest.contains("panic_becomes_an_event_and_one_json_line"),
        "newest frame: {newest}"
    );
    assert_eq!(tag(e, "request_id"), Some("req-boom"));
    let line = logs
        .wait_for(Duration::from_secs(5), |l| {
            l["target"] == "glimpse_telemetry::panic"
        })
        .unwrap();
    assert_eq!(line["level"], "ERROR");
    assert_eq!(line["requestId"], "req-boom");
    assert!(
        line["panic_location"]
            .as_str()
            .unwrap()
            .contains("errors.rs")
    );
    assert_eq!(
        sentry.events().len(),
        1,
        "the panic's log line is not reported a second time"
    );
}

/// GlitchTip that answers 500 or 429, or accepts and never answers: logging an error returns at
/// once, and shutdown returns within its timeout.
/// Logs 200 errors against a broken GlitchTip at `url`; `reached` says whether it saw a request
/// (checked before shutting down, so a slow transport under load is waited for, up to 10 s).
fn broken_glitchtip(url: String, reached: impl Fn() -> bool) {
    let logs = LogCapture::default();
    let dsn = format!("http://public@{}/1", url.trim_start_matches("http://"));
    let guard = glimpse_telemetry::builder()
        .config(
            Config::from_vars([
                ("OTEL_SERVICE_NAME", "errors-broken"),
                ("SENTRY_DSN", dsn.as_str()),
            ])
            .unwrap(),
        )
        .disable_traces()
        .log_writer(logs.clone())
        .shutdown_timeout(Duration::from_secs(2))
        .init()
        .unwrap();
    let start = Instant::now();
    for i in 0..200 {
        tracing::error!(i, "failure {i}");
    }
    let logging = start.elapsed();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !reached() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(reached(), "the events were sent to the broken GlitchTip");
    let start = Instant::now();
    let _ = guard.shutdown();
    let shutdown = start.elapsed();
    // Bounds that only catch a call blocking on the network (a request to the blackhole would
    // wait for sentry's 30 s timeout); debug builds under parallel load are slow, so no tighter.
    assert!(
        logging < Duration::from_secs(15),
        "200 error events took {logging:?}"
    );
    assert!(
        shutdown < Duration::from_secs(8),
        "shutdown took {shutdown:?} with a 2 s timeout"
    );
    assert_eq!(
        logs.lines()
            .iter()
            .filter(|l| l["level"] == "ERROR")
            .count(),
        200,
        "every line was still logged"
    );
}

#[test]
fn glitchtip_answering_500_never_blocks() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let server = StatusServer::start(500);
    broken_glitchtip(server.url(), || server.requests() >= 1);
}

#[test]
fn glitchtip_answering_429_never_blocks() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let server = StatusServer::start_with_headers(429, &[("Retry-After", "60")]);
    broken_glitchtip(server.url(), || server.requests() >= 1);
}

#[test]
fn glitchtip_that_never_answers_never_blocks() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let hole = Blackhole::start();
    broken_glitchtip(hole.url(), || hole.accepted() >= 1);
}
