//! One handler, five stacks: the server `scripts/load-stacks` puts under wrk.
//!
//! `GET /users/{id}` returns one user's JSON from a 1,000-entry `HashMap`, the same work in every
//! mode; the mode is the first argument (or `STACKS_MODE`), the address `STACKS_ADDR`
//! (127.0.0.1:8080):
//!
//! - `bare`: plain axum, no telemetry at all (with `STACKS_WORK_NS`, a handler that burns that
//!   much more CPU per request);
//! - `glimpse-off`, `glimpse-on`, `glimpse-production`: `glimpse_telemetry::init!()` and
//!   `glimpse_telemetry_axum::instrument`, plus its `/metrics`; the three differ only in the
//!   environment the script sets (`OTEL_SDK_DISABLED=true RUST_LOG=off`; OTLP/gRPC export,
//!   `RUST_LOG=info`, `SENTRY_DSN`; the same with `parentbased_traceidratio` 0.1);
//!   `glimpse-on-otlp-crate` is `glimpse-on` with `STACKS_EXPORTER=opentelemetry-otlp` set;
//! - `usual`: what a team assembles from the usual crates, each set up as its README shows:
//!   tracing-subscriber `fmt().json()` at `RUST_LOG` (`info,otel::tracing=trace`: OtelAxumLayer's
//!   span is at TRACE), tower-http `TraceLayer` at INFO,
//!   tracing-opentelemetry with a batch OTLP/gRPC exporter (`OTEL_EXPORTER_OTLP_ENDPOINT`),
//!   axum-tracing-opentelemetry's `OtelAxumLayer` + `OtelInResponseLayer`, axum-prometheus with
//!   a `/metrics` route, and sentry (`SENTRY_DSN`, every transaction sampled) with sentry-tower's
//!   hub and HTTP layers and sentry-tracing.
//!
//! SIGTERM stops it gracefully: in-flight requests finish, then spans and events are flushed, so
//! the script can count what reached the receivers.
//!
//! `cargo run --release -p glimpse-benches --example stacks -- bare`

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, body::Body};
use serde::Serialize;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[derive(Clone, Serialize)]
struct User {
    id: u32,
    name: String,
    email: String,
    country: &'static str,
    premium: bool,
}

type Users = Arc<HashMap<u32, User>>;

fn users() -> Users {
    const COUNTRIES: [&str; 5] = ["FR", "DE", "BR", "JP", "US"];
    Arc::new(
        (0..1000u32)
            .map(|id| {
                let user = User {
                    id,
                    name: format!("User {id}"),
                    email: format!("user{id}@example.com"),
                    country: COUNTRIES[id as usize % COUNTRIES.len()],
                    premium: id % 7 == 0,
                };
                (id, user)
            })
            .collect(),
    )
}

async fn user(State(users): State<Users>, Path(id): Path<u32>) -> Result<Json<User>, StatusCode> {
    busy(*WORK_NS.get_or_init(|| {
        std::env::var("STACKS_WORK_NS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }));
    users
        .get(&id)
        .cloned()
        .map(Json)
        .ok_or(StatusCode::NOT_FOUND)
}

/// `STACKS_WORK_NS`: nanoseconds of CPU the handler burns before answering (0). A handler that
/// does more work shows what any added CPU per request costs on a saturated machine, whoever
/// adds it: the kernel and scheduler time that comes with it (docs/load-test.md).
static WORK_NS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();

fn busy(ns: u64) {
    let start = std::time::Instant::now();
    while start.elapsed().as_nanos() < u128::from(ns) {
        std::hint::spin_loop();
    }
}

fn routes() -> Router {
    Router::new()
        .route("/users/{id}", get(user))
        .with_state(users())
}

async fn terminated() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            term.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}

async fn listen(addr: SocketAddr) -> Result<tokio::net::TcpListener, Error> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    eprintln!("stacks: listening on {}", listener.local_addr()?);
    Ok(listener)
}

async fn bare(addr: SocketAddr) -> Result<(), Error> {
    let listener = listen(addr).await?;
    axum::serve(listener, routes())
        .with_graceful_shutdown(terminated())
        .await?;
    Ok(())
}

async fn glimpse(addr: SocketAddr) -> Result<(), Error> {
    // `STACKS_EXPORTER=opentelemetry-otlp`: the SDK with opentelemetry-otlp's gRPC exporter in
    // place of its own, on a one-thread runtime of its own as the SDK ran it until 2026-12-02
    // (the "before" of docs/load-test.md's exporter comparison).
    let mut builder =
        glimpse_telemetry::builder().package(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"));
    let mut _export_runtime = None;
    if std::env::var("STACKS_EXPORTER").as_deref() == Ok("opentelemetry-otlp") {
        use glimpse_telemetry::otel::otlp::WithExportConfig as _;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("otlp-runtime")
            .enable_all()
            .build()?;
        let endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
            .unwrap_or_else(|_| "http://127.0.0.1:4317".to_owned());
        let exporter = {
            let _enter = rt.enter();
            glimpse_telemetry::otel::otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint)
                .build()?
        };
        builder = builder.span_exporter(exporter);
        _export_runtime = Some(rt);
    }
    let telemetry = builder.init()?;
    let app = routes().merge(glimpse_telemetry_axum::ops_router());
    let listener = listen(addr).await?;
    axum::serve(listener, glimpse_telemetry_axum::instrument(app))
        .with_graceful_shutdown(terminated())
        .await?;
    // A receiver that does not answer in time is not a failed run: say so, the script counts.
    if let Err(e) = telemetry.shutdown() {
        eprintln!("stacks: telemetry shutdown: {e}");
    }
    Ok(())
}

async fn usual(addr: SocketAddr) -> Result<(), Error> {
    use axum_prometheus::PrometheusMetricLayer;
    use axum_tracing_opentelemetry::middleware::{OtelAxumLayer, OtelInResponseLayer};
    use glimpse_telemetry::otel::{self, trace::TracerProvider as _};
    use glimpse_telemetry::otel::{otlp::WithExportConfig as _, tracing_opentelemetry};
    use glimpse_telemetry::tracing::Level;
    use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
    use tracing_subscriber::filter::{EnvFilter, LevelFilter, filter_fn};
    use tracing_subscriber::{Layer as _, layer::SubscriberExt as _, util::SubscriberInitExt as _};

    // sentry's reqwest transport is built on rustls without a provider in this workspace.
    let _ = rustls::crypto::ring::default_provider().install_default();

    // opentelemetry-otlp's README: a tonic exporter behind a batch processor.
    let endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
        .unwrap_or_else(|_| "http://127.0.0.1:4317".to_owned());
    let exporter = otel::otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()?;
    let provider = otel::sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            otel::sdk::Resource::builder()
                .with_service_name("stacks-usual")
                .build(),
        )
        .build();
    otel::global::set_text_map_propagator(otel::sdk::propagation::TraceContextPropagator::new());
    otel::global::set_tracer_provider(provider.clone());
    let tracer = provider.tracer("stacks");

    // sentry-tracing's README, with every transaction sampled (like every trace above).
    let mut options = sentry::ClientOptions::new()
        .maybe_release(sentry::release_name!())
        .traces_sample_rate(1.0);
    options.dsn = std::env::var("SENTRY_DSN")
        .ok()
        .and_then(|d| d.parse().ok());
    let sentry = sentry::init(options);

    // sentry-tracing's layers as its migration guide from the legacy `layer()` gives them (the
    // LogLayer left out: a GlitchTip has no structured logs): spans as transactions, INFO and
    // WARN lines as breadcrumbs, ERROR lines as events.
    let breadcrumbs = filter_fn(|m| matches!(*m.level(), Level::WARN | Level::INFO));
    tracing_subscriber::registry()
        .with(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,otel::tracing=trace")),
        )
        .with(tracing_subscriber::fmt::layer().json())
        .with(tracing_opentelemetry::layer().with_tracer(tracer))
        .with(sentry_tracing::SpanLayer::new().with_filter(LevelFilter::INFO))
        .with(sentry_tracing::BreadcrumbLayer::new().with_filter(breadcrumbs))
        .with(sentry_tracing::ErrorLayer::new().with_filter(LevelFilter::ERROR))
        .try_init()?;

    let (prometheus, metrics) = PrometheusMetricLayer::pair();
    let app = routes()
        .route("/metrics", get(move || async move { metrics.render() }))
        .layer(OtelInResponseLayer)
        .layer(OtelAxumLayer::default())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(prometheus)
        .layer(sentry_tower::SentryHttpLayer::new().enable_transaction())
        .layer(sentry_tower::NewSentryLayer::<axum::http::Request<Body>>::new_from_top());
    let listener = listen(addr).await?;
    axum::serve(listener, app)
        .with_graceful_shutdown(terminated())
        .await?;
    if let Err(e) = provider.shutdown() {
        eprintln!("stacks: tracer provider shutdown: {e}");
    }
    drop(sentry);
    Ok(())
}

fn main() -> Result<(), Error> {
    let mode = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("STACKS_MODE").ok())
        .unwrap_or_else(|| "bare".to_owned());
    let addr: SocketAddr = std::env::var("STACKS_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:8080".to_owned())
        .parse()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        match mode.as_str() {
            "bare" => bare(addr).await,
            "glimpse-off" | "glimpse-on" | "glimpse-on-otlp-crate" | "glimpse-production" => {
                glimpse(addr).await
            }
            "usual" => usual(addr).await,
            other => Err(format!(
                "unknown mode {other:?}: bare, glimpse-off, glimpse-on, glimpse-on-otlp-crate, glimpse-production, usual"
            )
            .into()),
        }
    })
}
