//! A quick self-check of the layer's cost per request, in-process (the official comparison with
//! the peer crates is `glimpse-benches`). Each case is an axum router with one route
//! `GET /users/{id}` returning a short string, called through `tower::Service::call`, its body
//! read to the end; "added" is the case minus the bare router, measured in alternation with it
//! (best of several rounds each) so that load from other processes affects both alike.
//!
//! `cargo bench -p glimpse-telemetry-axum --bench overhead`
//!
//! Cases, each with its telemetry built by `Builder::build` (nothing process-wide):
//! - `no subscriber`: the layer's own work only (request id, metrics, headers, body wrapper);
//! - `span only`: a bare router inside a layer that only creates, enters and closes a span like
//!   the request span (what the core's subscriber costs for one span);
//! - the three target cases: span sampled out (access log filtered out), sampled in and exported
//!   to a dropping exporter, and sampled in with the JSON access line written to a sink.
//!
//! `OVERHEAD_ERRORS=1` turns GlitchTip error reporting on in every case (a DSN, with a transport
//! that drops what it is given: nothing fails here, so nothing is sent), as `SENTRY_DSN` does in
//! `scripts/load`; the cost of error reporting on a request that goes well is the difference.

use std::hint::black_box;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use glimpse_telemetry::Config;
use glimpse_telemetry::otel::sdk::error::OTelSdkResult;
use glimpse_telemetry::otel::sdk::trace::{SpanData, SpanExporter};
use http::Request;
use http_body_util::BodyExt as _;
use tower::Service;

#[derive(Debug)]
struct DropExporter;

impl SpanExporter for DropExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

/// A layer that only does the span part (for the `span only` diagnostic).
#[derive(Clone)]
struct SpanOnly<S>(S);

impl<S: Service<Request<Body>>> Service<Request<Body>> for SpanOnly<S>
where
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        use tracing::Instrument as _;
        let span = tracing::info_span!(
            target: "bench",
            parent: None,
            "HTTP request",
            otel.kind = "server",
            request_id = "0193abcd-0000-7000-8000-000000000000",
            user_id = tracing::field::Empty,
        );
        Box::pin(self.0.call(req).instrument(span))
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Bare,
    Layered,
    SpanOnly,
    Excluded,
    /// The whole app wrapped by `instrument` (the layer outside, reporting layers inside).
    Instrumented,
}

/// The app under test: a router, or one wrapped whole by `instrument`.
#[derive(Clone)]
enum App {
    Router(Router),
    Instrumented(glimpse_telemetry_axum::InstrumentedRouter),
}

fn router(kind: Kind) -> App {
    let r = Router::new().route("/users/{id}", get(|| async { "user" }));
    App::Router(match kind {
        Kind::Instrumented => return App::Instrumented(glimpse_telemetry_axum::instrument(r)),
        Kind::Bare => r,
        Kind::Layered => r.layer(glimpse_telemetry_axum::TelemetryLayer::new()),
        Kind::SpanOnly => r.layer(tower::layer::layer_fn(SpanOnly)),
        Kind::Excluded => r.layer(
            glimpse_telemetry_axum::TelemetryLayer::builder()
                .exclude_route("/users/{id}")
                .build(),
        ),
    })
}

/// Nanoseconds per request over `n` requests.
fn run(rt: &tokio::runtime::Runtime, app: &App, n: u32) -> f64 {
    match app {
        App::Router(r) => run_service(rt, r.clone(), n),
        App::Instrumented(i) => run_service(rt, i.clone(), n),
    }
}

fn run_service<S>(rt: &tokio::runtime::Runtime, mut svc: S, n: u32) -> f64
where
    S: Service<Request<Body>, Response = axum::response::Response>,
    S::Error: std::fmt::Debug,
{
    rt.block_on(async {
        let start = Instant::now();
        for _ in 0..n {
            let req: Request<Body> = Request::get("/users/42").body(Body::empty()).unwrap();
            let ready = tower::ServiceExt::<Request<Body>>::ready(&mut svc)
                .await
                .unwrap();
            let res = ready.call(req).await.unwrap();
            black_box(res.into_body().collect().await.unwrap());
        }
        start.elapsed().as_nanos() as f64 / f64::from(n)
    })
}

/// (bare, case) best of `rounds`, alternating.
fn compare(
    rt: &tokio::runtime::Runtime,
    kind: Kind,
    dispatch: &tracing::Dispatch,
    n: u32,
    rounds: u32,
) -> (f64, f64) {
    let bare_app = router(Kind::Bare);
    let app = router(kind);
    let (mut bare, mut case) = (f64::MAX, f64::MAX);
    // Warm-up.
    tracing::dispatcher::with_default(dispatch, || run(rt, &app, n / 10));
    for _ in 0..rounds {
        bare = bare.min(run(rt, &bare_app, n));
        case = case.min(tracing::dispatcher::with_default(dispatch, || {
            run(rt, &app, n)
        }));
    }
    (bare, case)
}

fn report(name: &str, (bare, case): (f64, f64)) {
    println!(
        "{name:42} bare {bare:6.0} ns  case {case:6.0} ns  added {:+6.0} ns  x{:.2}",
        case - bare,
        case / bare
    );
}

/// A GlitchTip transport that drops every envelope.
struct DropTransport;

impl glimpse_telemetry::sentry::Transport for DropTransport {
    fn send_envelope(&self, envelope: glimpse_telemetry::sentry::Envelope) {
        black_box(envelope);
    }
}

/// Whether `OVERHEAD_ERRORS` turns error reporting on.
fn errors_on() -> bool {
    std::env::var("OVERHEAD_ERRORS").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// `sampler` is an `OTEL_TRACES_SAMPLER` value, optionally `:<OTEL_TRACES_SAMPLER_ARG>`
/// (`parentbased_traceidratio:0.1`: a ratio sampler, so "keep errors and slow" is on).
fn telemetry(sampler: &str, log: &str) -> (tracing::Dispatch, glimpse_telemetry::TelemetryGuard) {
    let (sampler, arg) = sampler.split_once(':').unwrap_or((sampler, "1.0"));
    let mut builder = glimpse_telemetry::builder();
    if errors_on() {
        let transport: std::sync::Arc<dyn glimpse_telemetry::sentry::TransportFactory> =
            std::sync::Arc::new(|_: &glimpse_telemetry::sentry::ClientOptions| {
                std::sync::Arc::new(DropTransport)
                    as std::sync::Arc<dyn glimpse_telemetry::sentry::Transport>
            });
        builder = builder
            .sentry_dsn("http://public@127.0.0.1:9/1")
            .sentry_transport(transport);
    }
    builder
        .config(
            Config::from_vars([
                ("OTEL_SERVICE_NAME", "bench"),
                ("OTEL_TRACES_SAMPLER", sampler),
                ("OTEL_TRACES_SAMPLER_ARG", arg),
                ("RUST_LOG", log),
            ])
            .unwrap(),
        )
        .span_exporter(DropExporter)
        .log_writer(std::io::sink())
        .build()
        .unwrap()
}

fn main() {
    let n: u32 = std::env::var("OVERHEAD_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let rounds = 5;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // `OVERHEAD_SINGLE=<bare|excluded|nosub|spanonly|out|in|inst-out|inst-in|keep0|prod|log>`
    // runs only that case, once, for
    // `perf stat -e instructions` (load from other processes does not change instruction counts).
    if let Ok(single) = std::env::var("OVERHEAD_SINGLE") {
        let (kind, t) = match single.as_str() {
            "bare" => (Kind::Bare, None),
            "excluded" => (Kind::Excluded, None),
            "nosub" => (Kind::Layered, None),
            "spanonly" => (Kind::SpanOnly, Some(telemetry("always_off", "warn"))),
            "out" => (Kind::Layered, Some(telemetry("always_off", "warn"))),
            "in" => (Kind::Layered, Some(telemetry("always_on", "warn"))),
            "inst-out" => (Kind::Instrumented, Some(telemetry("always_off", "warn"))),
            "inst-in" => (Kind::Instrumented, Some(telemetry("always_on", "warn"))),
            // Keep errors and slow: every request recorded and held, none kept (ratio 0); and
            // the production setting, one in ten exported.
            "keep0" => (
                Kind::Layered,
                Some(telemetry("parentbased_traceidratio:0", "warn")),
            ),
            "prod" => (
                Kind::Layered,
                Some(telemetry("parentbased_traceidratio:0.1", "warn")),
            ),
            _ => (Kind::Layered, Some(telemetry("always_on", "info"))),
        };
        let d = t
            .as_ref()
            .map_or_else(tracing::Dispatch::none, |(d, _)| d.clone());
        let app = router(kind);
        let ns = tracing::dispatcher::with_default(&d, || run(&rt, &app, n));
        println!("{single}: {ns:.0} ns");
        return;
    }
    // `OVERHEAD_CASE=<name>` runs one case only (for `perf record`).
    let only = std::env::var("OVERHEAD_CASE").ok();
    let want = |name: &str| only.as_deref().is_none_or(|o| name.starts_with(o));

    if want("excluded") {
        report(
            "excluded route (the layer's plumbing only)",
            compare(&rt, Kind::Excluded, &tracing::Dispatch::none(), n, rounds),
        );
    }
    if want("no subscriber") {
        report(
            "no subscriber (the layer's own work)",
            compare(&rt, Kind::Layered, &tracing::Dispatch::none(), n, rounds),
        );
    }
    if want("span only") {
        let (d, g) = telemetry("always_off", "warn");
        report(
            "span only (core subscriber, sampled out)",
            compare(&rt, Kind::SpanOnly, &d, n, rounds),
        );
        drop(g);
    }
    for (name, sampler, log) in [
        (
            "sampled out (metrics, request id, span)",
            "always_off",
            "warn",
        ),
        ("sampled in, exported", "always_on", "warn"),
        (
            "ratio 0, keep errors and slow (recorded, held, dropped)",
            "parentbased_traceidratio:0",
            "warn",
        ),
        (
            "ratio 0.1, keep errors and slow (production)",
            "parentbased_traceidratio:0.1",
            "warn",
        ),
        ("sampled in + JSON access log", "always_on", "info"),
    ] {
        if !want(name) {
            continue;
        }
        let (d, g) = telemetry(sampler, log);
        report(name, compare(&rt, Kind::Layered, &d, n, rounds));
        report(
            &format!("{name}, instrument(app)"),
            compare(&rt, Kind::Instrumented, &d, n, rounds),
        );
        g.flush();
        drop(g);
    }
}
