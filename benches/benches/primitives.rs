//! The per-operation costs behind the per-request figures: one histogram observation (held
//! handle, known label set, new label set, past the series limit) and one JSON log line.
//!
//! `cargo bench -p glimpse-benches --bench primitives`

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use glimpse_telemetry::metrics::{self, Unit};
use glimpse_telemetry::tracing;

const LABELS: [&str; 4] = ["GET", "/users/{id}", "200", ""];

fn fresh_family(max_series: usize) -> metrics::Family<metrics::Histogram> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    metrics::histogram(format!("bench_duration_{n}_seconds"), "Bench.")
        .unit(Unit::Seconds)
        .labels([
            "http_request_method",
            "http_route",
            "http_response_status_code",
            "error_type",
        ])
        .max_series(max_series)
        .register()
        .expect("register")
}

fn histograms(c: &mut Criterion) {
    let mut g = c.benchmark_group("histogram");
    let family = fresh_family(1000);
    let handle = family.get_or_create(&LABELS);
    g.bench_function("held_handle_observe", |b| {
        b.iter(|| handle.observe_without_exemplar(black_box(0.0042)))
    });
    g.bench_function("held_handle_observe_checking_span", |b| {
        b.iter(|| handle.observe(black_box(0.0042)))
    });
    g.bench_function("known_label_set_get_and_observe", |b| {
        b.iter(|| {
            family
                .get_or_create(black_box(&LABELS))
                .observe_without_exemplar(black_box(0.0042))
        })
    });
    g.bench_function("new_label_set", |b| {
        b.iter_custom(|iters| {
            // A fresh family per sample, so every lookup really creates a series.
            let f = fresh_family(usize::MAX);
            let routes: Vec<String> = (0..iters).map(|i| format!("/route/{i}")).collect();
            let start = Instant::now();
            for r in &routes {
                f.get_or_create(&["GET", r, "200", ""])
                    .observe_without_exemplar(0.0042);
            }
            start.elapsed()
        })
    });
    let full = fresh_family(1);
    full.get_or_create(&["GET", "/only", "200", ""]);
    g.bench_function("past_the_series_limit", |b| {
        b.iter(|| {
            full.get_or_create(black_box(&["GET", "/random/7f3a", "404", ""]))
                .observe_without_exemplar(0.0042)
        })
    });
    g.finish();
}

fn logs(c: &mut Criterion) {
    let (dispatch, _guard) = glimpse_telemetry::builder()
        .service_name("bench")
        .disable_traces()
        .log_writer(std::io::sink())
        .build()
        .expect("telemetry");
    let mut g = c.benchmark_group("log_line");
    g.measurement_time(Duration::from_secs(3));
    tracing::dispatcher::with_default(&dispatch, || {
        g.bench_function("json_10_fields", |b| {
            b.iter(|| {
                tracing::info!(
                    method = "GET",
                    route = "/users/{id}",
                    path = "/users/42",
                    http_status = 200u16,
                    response_time = 3.25f64,
                    bytes = 57u64,
                    user_agent = "curl/8.5.0",
                    cache = "miss",
                    rows = 1u32,
                    retried = false,
                    "GET /users/{{id}} 200"
                )
            })
        });
        let span = tracing::info_span!(
            "request",
            request_id = "01935d0e-4c1a-7e55-9c1b-0a8f2d3e4b5c",
            user_id = "user123",
            http.route = "/users/{id}"
        );
        let _g = span.enter();
        g.bench_function("json_10_fields_in_request_span", |b| {
            b.iter(|| {
                tracing::info!(
                    method = "GET",
                    route = "/users/{id}",
                    path = "/users/42",
                    http_status = 200u16,
                    response_time = 3.25f64,
                    bytes = 57u64,
                    user_agent = "curl/8.5.0",
                    cache = "miss",
                    rows = 1u32,
                    retried = false,
                    "GET /users/{{id}} 200"
                )
            })
        });
    });
    g.finish();
}

criterion_group!(benches, histograms, logs);
criterion_main!(benches);
