//! What one request costs with each instrumentation layer, against the same router without any,
//! all in one criterion run so the ratios compare. The router has one route, `GET /users/{id}`,
//! returning a short string; each request goes through `tower::Service::call` in-process and its
//! body is read to the end (the setup of `../shared/reference/peer-overhead.md`).
//!
//! `cargo bench -p glimpse-benches --bench overhead`; `docs/performance.md` has the results.

use std::hint::black_box;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use criterion::{
    BenchmarkGroup, Criterion, criterion_group, criterion_main, measurement::WallTime,
};
use glimpse_telemetry::otel::sdk::error::OTelSdkResult;
use glimpse_telemetry::otel::sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use glimpse_telemetry::{Config, tracing};
use http::Request;
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

/// An exporter that drops what it gets: the cost measured is the SDK's, not a collector's.
#[derive(Debug)]
struct Drop;
impl SpanExporter for Drop {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

/// A metric exporter that drops what it gets (the contrib layer records into a real SDK meter).
struct DropMetrics;
impl glimpse_telemetry::otel::sdk::metrics::exporter::PushMetricExporter for DropMetrics {
    async fn export(
        &self,
        _: &glimpse_telemetry::otel::sdk::metrics::data::ResourceMetrics,
    ) -> OTelSdkResult {
        Ok(())
    }
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _: Duration) -> OTelSdkResult {
        Ok(())
    }
    fn temporality(&self) -> glimpse_telemetry::otel::sdk::metrics::Temporality {
        glimpse_telemetry::otel::sdk::metrics::Temporality::Cumulative
    }
}

/// The floors under a layer like ours, each alone: the OpenTelemetry SDK's server span (started
/// with the request's attributes, ended with the response's, exported through a batch processor)
/// or a `tracing` span in a bare registry (created, entered on each poll, closed). What the
/// glimpse cases add over their sum is the SDK's own work.
mod floor {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use glimpse_telemetry::otel::KeyValue;
    use glimpse_telemetry::otel::sdk::trace::{SdkTracer, Span as SdkSpan};
    use glimpse_telemetry::otel::trace::{Span as _, SpanKind, Tracer as _};
    use glimpse_telemetry::tracing;

    const REQUEST_ID: &str = "0192f6a8-7c3e-7d4a-9b1c-2d3e4f5a6b7c";
    const REQUEST_ID_FIELD: &str = "request_id";

    #[derive(Clone)]
    pub struct Floor<S> {
        pub inner: S,
        /// Export an SDK span per request.
        pub tracer: Option<SdkTracer>,
        /// Make a `tracing` span per request.
        pub tracing_span: bool,
    }

    impl<S> tower::Service<http::Request<axum::body::Body>> for Floor<S>
    where
        S: tower::Service<http::Request<axum::body::Body>, Response = axum::response::Response>,
        S::Future: Unpin,
    {
        type Response = S::Response;
        type Error = S::Error;
        type Future = FloorFuture<S::Future>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
            self.inner.poll_ready(cx)
        }

        fn call(&mut self, req: http::Request<axum::body::Body>) -> Self::Future {
            // The attributes the glimpse server span gets for this request.
            let otel = self.tracer.as_ref().map(|tracer| {
                let mut attributes = Vec::with_capacity(16);
                attributes.extend([
                    KeyValue::new("http.request.method", "GET"),
                    KeyValue::new("http.route", "/users/{id}"),
                    KeyValue::new("url.scheme", "http"),
                    KeyValue::new("url.path", req.uri().path().to_owned()),
                    KeyValue::new("network.protocol.version", "1.1"),
                ]);
                tracer
                    .span_builder(format!("{} {}", req.method(), "/users/{id}"))
                    .with_kind(SpanKind::Server)
                    .with_attributes(attributes)
                    .start(tracer)
            });
            let span = if self.tracing_span {
                tracing::info_span!("HTTP request", request_id = REQUEST_ID)
            } else {
                tracing::Span::none()
            };
            FloorFuture {
                inner: self.inner.call(req),
                otel,
                span,
            }
        }
    }

    pub struct FloorFuture<F> {
        inner: F,
        otel: Option<SdkSpan>,
        span: tracing::Span,
    }

    impl<F, E> Future for FloorFuture<F>
    where
        F: Future<Output = Result<axum::response::Response, E>> + Unpin,
    {
        type Output = F::Output;

        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
            let this = &mut *self;
            let polled = {
                let _entered = this.span.enter();
                Pin::new(&mut this.inner).poll(cx)
            };
            if let Poll::Ready(Ok(response)) = &polled
                && let Some(mut otel) = this.otel.take()
            {
                otel.set_attributes([
                    KeyValue::new(
                        "http.response.status_code",
                        i64::from(response.status().as_u16()),
                    ),
                    KeyValue::new(REQUEST_ID_FIELD, REQUEST_ID.to_owned()),
                ]);
                otel.end();
            }
            polled
        }
    }
}

/// Below the SDK's floor, as issue 12 asks to consider: the server span as a plain record of
/// our own (ids, times, the same attributes as plain fields), kept in a per-thread batch and
/// handed to an export thread 64 at a time; that thread turns each record into the SDK's
/// `SpanData` (what the OTLP encoder reads) and drops it. A prototype to measure what the
/// request thread would pay, not a product path: no context is attached (as in the SDK floor),
/// and nothing flushes a batch a thread leaves behind.
mod record {
    use std::cell::{Cell, RefCell};
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::mpsc;
    use std::task::{Context, Poll};
    use std::time::SystemTime;

    use glimpse_telemetry::otel::KeyValue;
    use glimpse_telemetry::otel::sdk::trace::{SpanData, SpanEvents, SpanLinks};
    use glimpse_telemetry::otel::trace::{
        SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
    };

    const REQUEST_ID: &[u8; 36] = b"0192f6a8-7c3e-7d4a-9b1c-2d3e4f5a6b7c";
    const BATCH: usize = 64;

    /// One server span, as the request thread leaves it.
    pub struct Record {
        trace_id: u128,
        span_id: u64,
        start: SystemTime,
        end: SystemTime,
        name: &'static str,
        method: &'static str,
        route: &'static str,
        path: String,
        status: u16,
        request_id: [u8; 36],
    }

    impl Record {
        /// What the export thread makes of it: the SDK's span data, attributes and all.
        fn into_span_data(self) -> SpanData {
            let request_id = String::from_utf8_lossy(&self.request_id).into_owned();
            SpanData {
                span_context: SpanContext::new(
                    TraceId::from(self.trace_id),
                    SpanId::from(self.span_id),
                    TraceFlags::SAMPLED,
                    false,
                    TraceState::default(),
                ),
                parent_span_id: SpanId::INVALID,
                parent_span_is_remote: false,
                span_kind: SpanKind::Server,
                name: self.name.into(),
                start_time: self.start,
                end_time: self.end,
                attributes: vec![
                    KeyValue::new("http.request.method", self.method),
                    KeyValue::new("http.route", self.route),
                    KeyValue::new("url.scheme", "http"),
                    KeyValue::new("url.path", self.path),
                    KeyValue::new("network.protocol.version", "1.1"),
                    KeyValue::new("http.response.status_code", i64::from(self.status)),
                    KeyValue::new("request_id", request_id),
                ],
                dropped_attributes_count: 0,
                events: SpanEvents::default(),
                links: SpanLinks::default(),
                status: Status::Unset,
                instrumentation_scope: Default::default(),
            }
        }
    }

    /// The export thread's end of the batches.
    pub fn export_thread() -> mpsc::Sender<Vec<Record>> {
        let (tx, rx) = mpsc::channel::<Vec<Record>>();
        std::thread::spawn(move || {
            for batch in rx {
                for r in batch {
                    std::hint::black_box(r.into_span_data());
                }
            }
        });
        tx
    }

    thread_local! {
        static PENDING: RefCell<Vec<Record>> = RefCell::new(Vec::with_capacity(BATCH));
        static RNG: Cell<u64> = const { Cell::new(0x9e37_79b9_7f4a_7c15) };
    }

    fn next_u64() -> u64 {
        RNG.with(|r| {
            let mut x = r.get();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            r.set(x);
            x
        })
    }

    fn push(record: Record, tx: &mpsc::Sender<Vec<Record>>) {
        PENDING.with(|p| {
            let mut p = p.borrow_mut();
            p.push(record);
            if p.len() == BATCH {
                let full = std::mem::replace(&mut *p, Vec::with_capacity(BATCH));
                let _ = tx.send(full);
            }
        });
    }

    #[derive(Clone)]
    pub struct OwnRecord<S> {
        pub inner: S,
        pub tx: mpsc::Sender<Vec<Record>>,
    }

    impl<S> tower::Service<http::Request<axum::body::Body>> for OwnRecord<S>
    where
        S: tower::Service<http::Request<axum::body::Body>, Response = axum::response::Response>,
        S::Future: Unpin,
    {
        type Response = S::Response;
        type Error = S::Error;
        type Future = RecordFuture<S::Future>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
            self.inner.poll_ready(cx)
        }

        fn call(&mut self, req: http::Request<axum::body::Body>) -> Self::Future {
            let record = Record {
                trace_id: (u128::from(next_u64()) << 64) | u128::from(next_u64()),
                span_id: next_u64(),
                start: SystemTime::now(),
                end: SystemTime::UNIX_EPOCH,
                name: "GET /users/{id}",
                method: "GET",
                route: "/users/{id}",
                path: req.uri().path().to_owned(),
                status: 0,
                request_id: *REQUEST_ID,
            };
            RecordFuture {
                inner: self.inner.call(req),
                record: Some(record),
                tx: self.tx.clone(),
            }
        }
    }

    pub struct RecordFuture<F> {
        inner: F,
        record: Option<Record>,
        tx: mpsc::Sender<Vec<Record>>,
    }

    impl<F, E> Future for RecordFuture<F>
    where
        F: Future<Output = Result<axum::response::Response, E>> + Unpin,
    {
        type Output = F::Output;

        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
            let this = &mut *self;
            let polled = Pin::new(&mut this.inner).poll(cx);
            if let Poll::Ready(Ok(response)) = &polled
                && let Some(mut record) = this.record.take()
            {
                record.status = response.status().as_u16();
                record.end = SystemTime::now();
                push(record, &this.tx);
            }
            polled
        }
    }
}

fn routes() -> Router {
    Router::new().route("/users/{id}", get(|| async { "user 42" }))
}

fn request() -> Request<Body> {
    Request::get("/users/42")
        .body(Body::empty())
        .expect("request")
}

fn run(
    g: &mut BenchmarkGroup<'_, WallTime>,
    rt: &tokio::runtime::Runtime,
    name: &str,
    app: Router,
    dispatch: &tracing::Dispatch,
) {
    // As `axum::serve` does for a `Router`: every handler turned into its (layered) route once,
    // not again for every request (which `oneshot` on a stateless router would measure).
    let app: Router = app.with_state(());
    // `OVERHEAD_PROFILE="<case> <n>"`: run n requests of one case without criterion (for
    // callgrind, which counts instructions reproducibly on a noisy machine).
    if let Ok(spec) = std::env::var("OVERHEAD_PROFILE") {
        let (case, n) = spec.split_once(' ').unwrap_or((spec.as_str(), "10000"));
        if case == name {
            let n: usize = n.parse().unwrap_or(10_000);
            tracing::dispatcher::with_default(dispatch, || {
                rt.block_on(async {
                    for _ in 0..n {
                        let response = app.clone().oneshot(request()).await.expect("response");
                        black_box(response.into_body().collect().await.expect("body"));
                    }
                })
            });
        }
        return;
    }
    tracing::dispatcher::with_default(dispatch, || {
        g.bench_function(name, |b| {
            b.to_async(rt).iter(|| async {
                let response = app.clone().oneshot(request()).await.expect("response");
                black_box(response.into_body().collect().await.expect("body"));
            })
        });
    });
}

/// The glimpse layer under a subscriber built by the SDK (not installed globally). At
/// `RUST_LOG=warn` the access log line (INFO) is filtered out; at `info` it is written.
/// `sampler` is an `OTEL_TRACES_SAMPLER` value, optionally `:<OTEL_TRACES_SAMPLER_ARG>`
/// (`parentbased_traceidratio:0.1`: a ratio sampler, so "keep errors and slow" is on).
fn glimpse(
    sampler: &str,
    rust_log: &str,
) -> (tracing::Dispatch, glimpse_telemetry::TelemetryGuard) {
    let (sampler, arg) = sampler.split_once(':').unwrap_or((sampler, "1.0"));
    glimpse_telemetry::builder()
        .config(
            Config::from_vars([
                ("OTEL_SERVICE_NAME", "bench"),
                ("OTEL_TRACES_SAMPLER", sampler),
                ("OTEL_TRACES_SAMPLER_ARG", arg),
                ("RUST_LOG", rust_log),
            ])
            .expect("config"),
        )
        .span_exporter(Drop)
        .log_writer(std::io::sink())
        .build()
        .expect("telemetry")
}

/// The SDK with `OTEL_SDK_DISABLED=true RUST_LOG=off`: metrics and request ids only.
fn glimpse_off() -> (tracing::Dispatch, glimpse_telemetry::TelemetryGuard) {
    glimpse_telemetry::builder()
        .config(
            Config::from_vars([
                ("OTEL_SERVICE_NAME", "bench"),
                ("OTEL_SDK_DISABLED", "true"),
                ("RUST_LOG", "off"),
            ])
            .expect("config"),
        )
        .log_writer(std::io::sink())
        .build()
        .expect("telemetry")
}

fn tracer_provider() -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_batch_exporter(Drop)
        .build()
}

fn overhead(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let none = tracing::Dispatch::none();
    let mut g = c.benchmark_group("request");
    g.measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));

    // The baseline, and what any layer costs for being a layer.
    run(&mut g, &rt, "bare_router", routes(), &none);
    run(
        &mut g,
        &rt,
        "identity_layer",
        routes().layer(tower::layer::layer_fn(|s| s)),
        &none,
    );

    // The floors, alone (see `floor`).
    let floor_provider = tracer_provider();
    let floor_tracer =
        glimpse_telemetry::otel::trace::TracerProvider::tracer(&floor_provider, "floor");
    run(
        &mut g,
        &rt,
        "floor_sdk_span_exported",
        routes().layer(tower::layer::layer_fn(move |inner| floor::Floor {
            inner,
            tracer: Some(floor_tracer.clone()),
            tracing_span: false,
        })),
        &none,
    );
    let records = record::export_thread();
    run(
        &mut g,
        &rt,
        "floor_own_span_record_batched",
        routes().layer(tower::layer::layer_fn(move |inner| record::OwnRecord {
            inner,
            tx: records.clone(),
        })),
        &none,
    );
    // At INFO, as a service runs: without a level filter the registry would lift the global
    // maximum level to TRACE while it lives, and every case would pay for `trace!` callsites.
    {
        use tracing_subscriber::layer::SubscriberExt as _;
        let registry = tracing::Dispatch::new(
            tracing_subscriber::registry().with(tracing::level_filters::LevelFilter::INFO),
        );
        run(
            &mut g,
            &rt,
            "floor_tracing_span_in_registry",
            routes().layer(tower::layer::layer_fn(|inner| floor::Floor {
                inner,
                tracer: None,
                tracing_span: true,
            })),
            &registry,
        );
    }

    // glimpse-telemetry-axum.
    run(
        &mut g,
        &rt,
        "glimpse_metrics_request_id_no_tracing",
        routes().layer(glimpse_telemetry_axum::TelemetryLayer::new()),
        &none,
    );
    // As `scripts/load-stacks` runs "telemetry off": `OTEL_SDK_DISABLED=true RUST_LOG=off`, the
    // subscriber still built (the request span carries the ids handlers read).
    let (off, _g0) = glimpse_off();
    run(
        &mut g,
        &rt,
        "glimpse_telemetry_off",
        routes().layer(glimpse_telemetry_axum::TelemetryLayer::new()),
        &off,
    );
    let (sampled_out, _g1) = glimpse("parentbased_always_off", "warn");
    run(
        &mut g,
        &rt,
        "glimpse_full_sampled_out",
        routes().layer(glimpse_telemetry_axum::TelemetryLayer::new()),
        &sampled_out,
    );
    let (sampled_in, _g2) = glimpse("parentbased_always_on", "warn");
    run(
        &mut g,
        &rt,
        "glimpse_full_sampled_in_exported",
        routes().layer(glimpse_telemetry_axum::TelemetryLayer::new()),
        &sampled_in,
    );
    // Keep errors and slow: ratio 0 (every request recorded, held until it ends, dropped) and
    // the production setting (ratio 0.1: one in ten exported, the rest held and dropped).
    let (keep_only, _g4) = glimpse("parentbased_traceidratio:0", "warn");
    run(
        &mut g,
        &rt,
        "glimpse_full_ratio_0_keep_errors_slow",
        routes().layer(glimpse_telemetry_axum::TelemetryLayer::new()),
        &keep_only,
    );
    let (production, _g5) = glimpse("parentbased_traceidratio:0.1", "warn");
    run(
        &mut g,
        &rt,
        "glimpse_full_ratio_0_1_keep_errors_slow",
        routes().layer(glimpse_telemetry_axum::TelemetryLayer::new()),
        &production,
    );
    let (with_log, _g3) = glimpse("parentbased_always_on", "info");
    run(
        &mut g,
        &rt,
        "glimpse_full_sampled_in_with_json_access_log",
        routes().layer(glimpse_telemetry_axum::TelemetryLayer::new()),
        &with_log,
    );

    // tower-http.
    let trace = || tower_http::trace::TraceLayer::new_for_http();
    run(
        &mut g,
        &rt,
        "tower_http_trace_no_subscriber",
        routes().layer(trace()),
        &none,
    );
    let json = tracing::Dispatch::new(
        tracing_subscriber::fmt()
            .json()
            .with_writer(std::io::sink)
            .with_max_level(tracing::Level::INFO)
            .finish(),
    );
    let trace_info = tower_http::trace::TraceLayer::new_for_http()
        .make_span_with(tower_http::trace::DefaultMakeSpan::new().level(tracing::Level::INFO))
        .on_request(tower_http::trace::DefaultOnRequest::new().level(tracing::Level::INFO))
        .on_response(tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO));
    run(
        &mut g,
        &rt,
        "tower_http_trace_json_at_info",
        routes().layer(trace_info),
        &json,
    );
    let request_id = tower::ServiceBuilder::new()
        .layer(tower_http::request_id::SetRequestIdLayer::x_request_id(
            tower_http::request_id::MakeRequestUuid,
        ))
        .layer(tower_http::request_id::PropagateRequestIdLayer::x_request_id());
    run(
        &mut g,
        &rt,
        "tower_http_request_id_uuid_v4",
        routes().layer(request_id),
        &none,
    );

    // axum-prometheus (metrics only; its recorder is process-wide).
    let (prometheus, _handle) = {
        let _in_runtime = rt.enter(); // the exporter's handle spawns its upkeep task
        axum_prometheus::PrometheusMetricLayer::pair()
    };
    run(
        &mut g,
        &rt,
        "axum_prometheus",
        routes().layer(prometheus),
        &none,
    );

    // The OpenTelemetry contrib layer: metrics and spans, always on, exported nowhere.
    let provider = tracer_provider();
    glimpse_telemetry::otel::global::set_tracer_provider(provider.clone());
    glimpse_telemetry::otel::global::set_meter_provider(
        glimpse_telemetry::otel::sdk::metrics::SdkMeterProvider::builder()
            .with_reader(
                glimpse_telemetry::otel::sdk::metrics::PeriodicReader::builder(DropMetrics)
                    .with_interval(Duration::from_secs(3600))
                    .build(),
            )
            .build(),
    );
    glimpse_telemetry::otel::global::set_text_map_propagator(
        glimpse_telemetry::otel::sdk::propagation::TraceContextPropagator::new(),
    );
    run(
        &mut g,
        &rt,
        "opentelemetry_instrumentation_tower",
        routes().layer(opentelemetry_instrumentation_tower::http::server::Layer::new()),
        &none,
    );

    // axum-tracing-opentelemetry: spans through tracing-opentelemetry, always on.
    let otel_dispatch = {
        use glimpse_telemetry::otel::trace::TracerProvider as _;
        use tracing_subscriber::layer::SubscriberExt as _;
        let tracer = provider.tracer("bench");
        tracing::Dispatch::new(
            tracing_subscriber::registry()
                .with(glimpse_telemetry::otel::tracing_opentelemetry::layer().with_tracer(tracer)),
        )
    };
    run(
        &mut g,
        &rt,
        "axum_tracing_opentelemetry",
        routes()
            .layer(axum_tracing_opentelemetry::middleware::OtelInResponseLayer)
            .layer(axum_tracing_opentelemetry::middleware::OtelAxumLayer::default()),
        &otel_dispatch,
    );
    g.finish();
}

criterion_group!(benches, overhead);
criterion_main!(benches);
