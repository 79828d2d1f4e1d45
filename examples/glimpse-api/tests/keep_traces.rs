//! "Keep errors and slow", end to end: the example service with head sampling at ratio 0
//! (`parentbased_traceidratio`, argument 0), a real OTLP receiver and a real Sentry envelope
//! receiver. A 5xx, a panic and a request slower than the threshold reach the collector with
//! their child (SQL) spans; fast 200s do not; the GlitchTip events name traces the collector
//! has; the `traceparent` returned still carries the head decision; a downstream call whose
//! caller did not sample keeps its own error; metrics count every request.

mod common;

use std::time::Duration;

use common::{Service, header, http, register};
use glimpse_test_support::{OtlpReceiver, ReceivedSpan, SentryReceiver};

/// The trace id and the flags of a `traceparent`.
fn trace_of(headers: &[(String, String)]) -> (String, String) {
    let tp = header(headers, "traceparent").expect("a traceparent on every response");
    let parts: Vec<&str> = tp.split('-').collect();
    assert_eq!(parts.len(), 4, "{tp}");
    (parts[1].to_owned(), parts[3].to_owned())
}

fn in_trace<'a>(spans: &'a [ReceivedSpan], trace: &str) -> Vec<&'a ReceivedSpan> {
    spans.iter().filter(|s| s.trace_id == trace).collect()
}

/// The sum of the samples of `name` whose labels contain every one of `labels`.
fn sample(exposition: &str, name: &str, labels: &[&str]) -> f64 {
    exposition
        .lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with('{'))
        .filter(|l| labels.iter().all(|label| l.contains(label)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn failed_and_slow_requests_keep_their_traces_at_ratio_zero() {
    let (Some(otlp), Some(sentry)) = (OtlpReceiver::start(), SentryReceiver::start()) else {
        return;
    };
    let service = Service::start(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.grpc_endpoint()),
        ("OTEL_BSP_SCHEDULE_DELAY", "200"),
        ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "0"),
        ("GLIMPSE_TRACES_SLOW_THRESHOLD", "400ms"),
        ("SENTRY_DSN", sentry.dsn()),
    ]);
    let addr = service.addr;

    // Fast and fine: recorded, then dropped.
    let user = register(addr, "Ada");
    let mut fast = Vec::new();
    for _ in 0..5 {
        let (status, headers, body) = http(addr, "GET", &format!("/users/{user}"), &[], "");
        assert_eq!(status, 200, "{body}");
        let (trace, flags) = trace_of(&headers);
        assert_eq!(flags, "00", "the traceparent carries the head decision");
        fast.push(trace);
    }

    let (status, headers, _) = http(addr, "GET", "/debug/error", &[], "");
    assert_eq!(status, 500);
    let (error_trace, flags) = trace_of(&headers);
    assert_eq!(
        flags, "00",
        "kept later, but the head decision is what was propagated"
    );

    let (status, headers, _) = http(addr, "GET", "/debug/panic", &[], "");
    assert_eq!(status, 500);
    let (panic_trace, _) = trace_of(&headers);

    let (status, headers, body) = http(addr, "GET", "/reports/slow?ms=600", &[], "");
    assert_eq!(status, 200, "{body}");
    let (slow_trace, _) = trace_of(&headers);

    // A caller that did not sample: this service still keeps its own failure, under the
    // caller's trace and parent.
    let caller_trace = "5bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "10f067aa0ba902b7";
    let incoming = format!("00-{caller_trace}-{caller_span}-00");
    let (status, _, _) = http(
        addr,
        "GET",
        "/debug/error",
        &[("traceparent", incoming.as_str())],
        "",
    );
    assert_eq!(status, 500);

    let wanted = [&error_trace, &panic_trace, &slow_trace];
    let spans = otlp.wait_until(Duration::from_secs(20), |spans| {
        wanted.iter().all(|t| {
            spans
                .iter()
                .any(|s| &&s.trace_id == t && s.kind == "SPAN_KIND_SERVER")
        }) && spans.iter().any(|s| s.trace_id == caller_trace)
    });

    let server = |trace: &str, name: &str| -> ReceivedSpan {
        in_trace(&spans, trace)
            .into_iter()
            .find(|s| s.kind == "SPAN_KIND_SERVER")
            .cloned()
            .unwrap_or_else(|| {
                panic!(
                    "no server span of {name} ({trace}) in {:?}\nreceiver stderr:\n{}",
                    spans
                        .iter()
                        .map(|s| (&s.trace_id, &s.name))
                        .collect::<Vec<_>>(),
                    otlp.stderr()
                )
            })
    };
    let error_server = server(&error_trace, "/debug/error");
    assert_eq!(error_server.name, "GET /debug/error");
    assert_eq!(
        error_server.status_code.as_deref(),
        Some("STATUS_CODE_ERROR")
    );
    assert!(
        in_trace(&spans, &error_trace)
            .iter()
            .any(|s| s.kind == "SPAN_KIND_CLIENT"),
        "the failed query's span came with the 5xx: {:?}",
        in_trace(&spans, &error_trace)
    );
    assert_eq!(
        server(&panic_trace, "/debug/panic").name,
        "GET /debug/panic"
    );
    let slow_server = server(&slow_trace, "/reports/slow");
    assert_eq!(slow_server.name, "GET /reports/slow");
    assert!(
        in_trace(&spans, &slow_trace)
            .iter()
            .any(|s| s.kind == "SPAN_KIND_CLIENT"),
        "the slow query's span came with the slow request: {:?}",
        in_trace(&spans, &slow_trace)
    );
    let downstream = server(caller_trace, "/debug/error under an unsampled caller");
    assert_eq!(downstream.parent_span_id.as_deref(), Some(caller_span));

    // Nothing of the fast requests, even after another export round.
    std::thread::sleep(Duration::from_millis(800));
    let spans = otlp.spans();
    for trace in &fast {
        assert!(
            in_trace(&spans, trace).is_empty(),
            "a fast 200's trace was exported: {:?}",
            in_trace(&spans, trace)
        );
    }

    // The GlitchTip events of both 5xx name traces the collector has.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let event_traces = loop {
        let traces: Vec<String> = sentry
            .events()
            .iter()
            .filter_map(|e| {
                e["contexts"]["trace"]["trace_id"]
                    .as_str()
                    .map(str::to_owned)
            })
            .collect();
        let both = [&error_trace, &panic_trace]
            .iter()
            .all(|t| traces.contains(t));
        if both || std::time::Instant::now() > deadline {
            break traces;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    for trace in [&error_trace, &panic_trace] {
        assert!(
            event_traces.contains(trace),
            "no GlitchTip event for {trace}: {event_traces:?}"
        );
        assert!(!in_trace(&spans, trace).is_empty());
    }

    // Metrics still count every request, and the decisions were counted.
    let (_, _, exposition) = http(addr, "GET", "/metrics", &[], "");
    let users = sample(
        &exposition,
        "http_server_request_duration_seconds_count",
        &[
            r#"http_request_method="GET""#,
            r#"http_route="/users/{id}""#,
            r#"http_response_status_code="200""#,
        ],
    );
    assert_eq!(users, 5.0, "every fast request counted:\n{exposition}");
    let decided = |d: &str| {
        sample(
            &exposition,
            "glimpse_telemetry_held_traces_total",
            &[&format!(r#"decision="{d}""#)],
        )
    };
    assert!(decided("kept_error") >= 3.0, "{exposition}");
    assert!(decided("kept_slow") >= 1.0, "{exposition}");
    assert!(decided("dropped") >= 6.0, "{exposition}");
}
