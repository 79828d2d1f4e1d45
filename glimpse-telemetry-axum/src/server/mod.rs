//! The HTTP server side, in the tower-http style: [`TelemetryLayer`] makes a
//! [`TelemetryService`], whose calls return a [`ResponseFuture`] resolving to a response with a
//! [`ResponseBody`]; [`InstrumentedRouter`] is the layer around a finished axum app.
//!
//! One request through the files:
//! - `instrumented.rs`: the layer around the finished app, so every request is seen;
//! - `service.rs`: `call`: finds the route (`routes.rs`, options in `config.rs`), starts a
//!   `Tracker`, or only reports the route when a telemetry service further out tracks the
//!   request (`route_report.rs`); counts a chunked request body (`request_body.rs`);
//! - `tracker.rs`: the request's state, told what happens by `future.rs` (the response, an error,
//!   a panic) and `body.rs` (bytes sent); at the end it hands a `Finished` record
//!   (`outcome.rs`) to
//! - `metrics.rs` (the RED metrics and their handle caches), `server_span.rs` (the exported
//!   span, started and ended; its name made once per route in `span_name.rs`) and
//!   `access_log.rs` (the access line); `request.rs` keeps the request's path.
//! - `layer.rs`: the layer and its builder.

pub mod access_log;
mod body;
mod config;
mod future;
mod instrumented;
mod layer;
pub(crate) mod metrics;
mod outcome;
mod request;
mod request_body;
mod route_report;
mod routes;
mod server_span;
mod service;
mod span_name;
mod tracker;

pub use body::ResponseBody;
pub use config::QUIET_ROUTES;
pub use future::ResponseFuture;
pub use instrumented::{InstrumentedFuture, InstrumentedRouter};
pub use layer::{TelemetryLayer, TelemetryLayerBuilder};
pub use metrics::UNMATCHED_ROUTE;
#[cfg(feature = "rum")]
pub(crate) use server_span::traceparent;
pub use server_span::{REQUEST_SPAN_TARGET, SPAN_NAME};
pub use service::TelemetryService;
