//! One `init()` for a Glimpse service's telemetry: traces to Jaeger (OTLP), metrics for
//! Prometheus, JSON logs for Loki and Elasticsearch, errors to GlitchTip.
//!
//! ```no_run
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // Reads OTEL_*, SENTRY_*, RUST_LOG and GLIMPSE_* variables; names the service after this
//!     // crate (unless OTEL_SERVICE_NAME says otherwise) and its version.
//!     let _telemetry = glimpse_telemetry::init!()?;
//!
//!     tracing::info!(user_id = "user123", "service started");
//!     Ok(())
//! } // the guard flushes everything here
//! ```
//!
//! What you get, and where to read about it:
//! - [`config`]: the environment variables (all listed in `docs/configuration.md`);
//! - [`traces`] and [`propagation`]: OTLP export over gRPC or HTTP, W3C `traceparent` and baggage;
//!   with a ratio sampler, the traces of failed and slow requests are kept anyway
//!   ([`traces::KeepTraces`]);
//! - [`logs`]: one JSON object per line on stdout, with `requestId`, `userId` and `traceId`;
//! - [`metrics`]: a prometheus-client registry with series limits and trace exemplars, and the
//!   exposition for `/metrics` (the `glimpse-telemetry-axum` crate serves it);
//! - [`reporting`]: GlitchTip events for `ERROR` logs and panics;
//! - [`context`]: the current request's ids, and [`context::set_user_id`];
//! - [`TelemetryGuard`]: flushes everything on shutdown, within a time limit.
//!
//! The opentelemetry crates are re-exported as [`otel`], `tracing` as [`tracing`] and `sentry` as
//! [`sentry`]: use these paths and your versions always match the SDK's.
//!
//! # Features
//! - `otlp-grpc` (default), `otlp-http` (default): the OTLP trace transports;
//! - `sentry` (default): error reporting to GlitchTip;
//! - `metrics-server` (default): `GLIMPSE_METRICS_ADDR`;
//! - `tls` (default): HTTPS to the collector and GlitchTip, with rustls and ring;
//! - `testing`: [`testing`], to assert on a service's own telemetry in unit tests.
#![warn(missing_docs)]

mod builder;
pub mod business;
pub mod config;
pub mod context;
mod error;
mod guard;
pub mod logs;
pub mod metrics;
pub mod propagation;
pub mod redact;
pub mod reporting;
mod resource;
mod subscriber;
#[cfg(feature = "testing")]
pub mod testing;
pub mod traces;
mod two_way;

pub use builder::Builder;
pub use config::{Config, Environment, LogFormat, Protocol, Sampler};
pub use error::Error;
pub use guard::TelemetryGuard;
pub use subscriber::BoxedLayer;

/// The OpenTelemetry crates at the exact versions the SDK uses.
///
/// ```
/// use glimpse_telemetry::otel::trace::TraceContextExt as _;
/// let cx = glimpse_telemetry::otel::Context::current();
/// assert!(!cx.span().span_context().is_valid());
/// ```
pub mod otel {
    pub use opentelemetry::*;
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    pub use opentelemetry_otlp as otlp;
    pub use opentelemetry_sdk as sdk;
    /// The semantic conventions' attribute names (`semconv::attribute::HTTP_ROUTE` is
    /// `"http.route"`), so adapters spell them the way every OpenTelemetry library does.
    pub use opentelemetry_semantic_conventions as semconv;
    pub use tracing_opentelemetry;
}

#[cfg(feature = "sentry")]
pub use sentry;
pub use tracing;

/// Starts telemetry with the configuration from the environment.
///
/// Prefer the [`init!`] macro, which also reports the calling crate's name and version (a
/// function cannot see its caller's `CARGO_PKG_VERSION`).
///
/// # Errors
/// [`Error::InvalidVar`] for a variable that cannot be used, [`Error::AlreadyInitialized`] on a
/// second call, and [`Error::Setup`] when a part cannot start (a taken `GLIMPSE_METRICS_ADDR`).
/// It never panics.
pub fn init() -> Result<TelemetryGuard, Error> {
    builder().init()
}

/// A [`Builder`] to override the environment in code.
///
/// ```no_run
/// let _telemetry = glimpse_telemetry::builder()
///     .package(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
///     .log_format(glimpse_telemetry::LogFormat::Pretty)
///     .init()?;
/// # Ok::<(), glimpse_telemetry::Error>(())
/// ```
pub fn builder() -> Builder {
    Builder::default()
}

/// Starts telemetry named after the calling crate: `init!()` is
/// `builder().package(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION")).init()`.
///
/// The crate name is only a default (`OTEL_SERVICE_NAME` wins); the version becomes
/// `service.version` and the GlitchTip release `<name>@<version>` (unless `SENTRY_RELEASE`).
///
/// ```no_run
/// let _telemetry = glimpse_telemetry::init!()?;
/// # Ok::<(), glimpse_telemetry::Error>(())
/// ```
#[macro_export]
macro_rules! init {
    () => {
        $crate::builder()
            .package(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
            .init()
    };
}
