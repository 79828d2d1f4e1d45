//! "Keep errors and slow" against a real OTLP receiver, with head sampling at ratio 0 and
//! spans outside any HTTP request (a background job's root span through the `tracing`
//! bridge): failed, logged-ERROR and slow jobs arrive with their children, fine ones do not;
//! spans ending after their root follow the decision, or are counted as `late`; the per-trace
//! and process bounds hold under a flood and are counted.
//! Each test initialises telemetry, so each runs in a process of its own.

use std::time::Duration;

use glimpse_telemetry::Config;
use glimpse_telemetry::metrics::{self, Format};
use glimpse_telemetry::otel::tracing_opentelemetry::OpenTelemetrySpanExt as _;
use glimpse_test_support::{OtlpReceiver, ReceivedSpan};

fn start(otlp: &OtlpReceiver, extra: &[(&str, &str)]) -> glimpse_telemetry::TelemetryGuard {
    let mut vars = vec![
        ("OTEL_SERVICE_NAME", "keep-traces"),
        ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "0"),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ("GLIMPSE_TRACES_SLOW_THRESHOLD", "150ms"),
    ];
    vars.extend_from_slice(extra);
    glimpse_telemetry::builder()
        .config(Config::from_vars(vars).unwrap())
        .otlp_endpoint(otlp.grpc_endpoint())
        .log_writer(glimpse_test_support::LogCapture::default())
        .init()
        .expect("init")
}

/// The value of a counter or gauge series (`name{labels}` exactly), 0 when absent.
fn metric(series: &str) -> f64 {
    metrics::encode(Format::Text)
        .lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

fn decided(decision: &str) -> f64 {
    metric(&format!(
        r#"glimpse_telemetry_held_traces_total{{decision="{decision}"}}"#
    ))
}

fn discarded(reason: &str) -> f64 {
    metric(&format!(
        r#"glimpse_telemetry_held_spans_discarded_total{{reason="{reason}"}}"#
    ))
}

fn trace_id(span: &tracing::Span) -> String {
    use glimpse_telemetry::otel::trace::TraceContextExt as _;
    span.context().span().span_context().trace_id().to_string()
}

fn named<'a>(spans: &'a [ReceivedSpan], name: &str) -> Vec<&'a ReceivedSpan> {
    spans.iter().filter(|s| s.name == name).collect()
}

#[test]
fn failed_logged_and_slow_jobs_arrive_with_their_children_fine_ones_do_not() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let Some(otlp) = OtlpReceiver::start() else {
        return;
    };
    let guard = start(&otlp, &[]);

    let job = |name: &'static str, body: &dyn Fn()| {
        let root = tracing::info_span!("job", job = name);
        let id = trace_id(&root);
        root.in_scope(|| tracing::info_span!("step", job = name).in_scope(body));
        id
    };
    let fine = job("fine", &|| {});
    let failed = job("failed", &|| {
        tracing::info_span!("query", otel.status_code = "ERROR").in_scope(|| {});
    });
    let logged = job("logged", &|| tracing::error!("the job could not finish"));
    let slow = job("slow", &|| std::thread::sleep(Duration::from_millis(250)));
    assert_eq!(decided("kept_error"), 2.0);
    assert_eq!(decided("kept_slow"), 1.0);
    assert_eq!(decided("dropped"), 1.0);
    assert_eq!(metric("glimpse_telemetry_held_spans"), 0.0);
    guard.shutdown().expect("shutdown");

    let spans = otlp.wait_until(Duration::from_secs(15), |s| s.len() >= 7);
    let of = |trace: &str| -> Vec<&ReceivedSpan> {
        spans.iter().filter(|s| s.trace_id == trace).collect()
    };
    for (trace, what, n) in [
        (&failed, "failed", 3),
        (&logged, "logged", 2),
        (&slow, "slow", 2),
    ] {
        let got = of(trace);
        assert_eq!(got.len(), n, "{what}: {got:?}\nall: {spans:?}");
        let root = got.iter().find(|s| s.name == "job").expect("the root");
        assert!(root.is_root(), "{what}: {root:?}");
        let step = got.iter().find(|s| s.name == "step").expect("the child");
        assert_eq!(step.parent_span_id.as_ref(), Some(&root.span_id));
    }
    assert!(
        of(&fine).is_empty(),
        "the fine job was exported: {:?}",
        of(&fine)
    );
    assert_eq!(spans.len(), 7, "{spans:?}");
}

#[test]
fn spans_ending_after_their_root_follow_its_decision_or_are_counted_late() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let Some(otlp) = OtlpReceiver::start() else {
        return;
    };
    let guard = start(&otlp, &[]);

    // `tracing` closes a parent only after its children, so the late children are built with
    // the tracer, as the HTTP layer builds its server span.
    use glimpse_telemetry::otel::Context;
    use glimpse_telemetry::otel::trace::{Span as _, Status, TraceContextExt as _, Tracer as _};
    let tracer = glimpse_telemetry::traces::tracer().expect("a tracer");
    let root_and_child = |root: &'static str, child: &'static str| {
        let root = tracer.start_with_context(root, &Context::new());
        let cx = Context::new().with_span(root);
        let child = tracer.start_with_context(child, &cx);
        (cx, child)
    };

    // A child that outlives a failed root: exported with it.
    let (root, mut late_kept) = root_and_child("failing root", "late of kept");
    root.span().set_status(Status::error("failed"));
    root.span().end();
    late_kept.end();

    // A child that outlives a fine root: dropped with it, and not counted as lost.
    let (root, mut late_dropped) = root_and_child("fine root", "late of dropped");
    root.span().end();
    late_dropped.end();
    assert_eq!(discarded("late"), 0.0);

    // A child whose root's decision is long forgotten (thousands of traces later): lost, and
    // counted.
    let (root, mut late_forgotten) = root_and_child("forgotten root", "late of forgotten");
    root.span().end();
    let before = decided("dropped");
    for _ in 0..4000 {
        tracing::info_span!("filler").in_scope(|| {});
    }
    assert_eq!(decided("dropped") - before, 4000.0, "every filler decided");
    late_forgotten.end();
    assert_eq!(discarded("late"), 1.0);
    guard.shutdown().expect("shutdown");

    let spans = otlp.wait_until(Duration::from_secs(15), |s| {
        !named(s, "late of kept").is_empty()
    });
    assert_eq!(named(&spans, "failing root").len(), 1, "{spans:?}");
    assert_eq!(named(&spans, "late of kept").len(), 1, "{spans:?}");
    assert_eq!(spans.len(), 2, "nothing else exported: {spans:?}");
}

#[test]
fn bounds_hold_under_a_flood_and_are_counted() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let Some(otlp) = OtlpReceiver::start() else {
        return;
    };
    let guard = start(
        &otlp,
        &[
            ("GLIMPSE_TRACES_KEEP_MAX_SPANS_PER_TRACE", "20"),
            ("GLIMPSE_TRACES_KEEP_MAX_SPANS", "320"),
        ],
    );

    // One trace with more children than it may hold: the first 20 and the root are kept.
    let root = tracing::info_span!("wide root");
    let wide = trace_id(&root);
    root.in_scope(|| {
        for _ in 0..50 {
            tracing::info_span!("wide child").in_scope(|| {});
        }
        tracing::error!("failed after 50 children");
    });
    drop(root);
    assert_eq!(discarded("trace_limit"), 30.0);

    // A flood of 200 requests in flight at once, 10 children each: the process holds at most
    // 320 spans (20 per shard), whatever the flood.
    let roots: Vec<tracing::Span> = (0..200)
        .map(|_| {
            let root = tracing::info_span!("flood root");
            root.in_scope(|| {
                for _ in 0..10 {
                    tracing::info_span!("flood child").in_scope(|| {});
                }
            });
            root
        })
        .collect();
    let held = metric("glimpse_telemetry_held_spans");
    assert!(held > 0.0, "the flood's spans reached the store");
    assert!(held <= 320.0, "held {held} > 320");
    assert_eq!(
        discarded("process_limit") + held,
        2000.0,
        "every child was held or counted"
    );
    drop(roots);
    assert_eq!(metric("glimpse_telemetry_held_spans"), 0.0, "all released");
    assert_eq!(decided("dropped"), 200.0);
    guard.shutdown().expect("shutdown");

    let spans = otlp.wait_until(Duration::from_secs(15), |s| {
        s.iter().filter(|s| s.trace_id == wide).count() >= 21
    });
    let wide_spans = spans.iter().filter(|s| s.trace_id == wide).count();
    assert_eq!(wide_spans, 21, "root and 20 children");
    assert!(named(&spans, "flood root").is_empty());
}
