//! The HTTP layer, in the tower-http style: [`TelemetryLayer`] makes a [`TelemetryService`],
//! whose calls return a [`ResponseFuture`] resolving to a response with a [`ResponseBody`].
//!
//! - `layer.rs`: the layer, its options, the per-route state shared by its services;
//! - `service.rs`, `future.rs`, `body.rs`: the tower types;
//! - `instrumented.rs`: the layer around the finished app, so every request is seen;
//! - `tracker.rs`: one request's state and the span, finished exactly once;
//! - `route_report.rs`: how a service wrapping the whole app learns the route template;
//! - `request_body.rs`: the request body counted when its size is not announced;
//! - `metrics.rs`: the RED metrics and their handle caches;
//! - `access_log.rs`: the access log line.

pub mod access_log;
mod body;
mod future;
mod instrumented;
mod layer;
pub(crate) mod metrics;
mod request_body;
mod route_report;
mod service;
pub(crate) mod tracker;

pub use body::ResponseBody;
pub use future::ResponseFuture;
pub use instrumented::{InstrumentedFuture, InstrumentedRouter};
pub use layer::{QUIET_ROUTES, TelemetryLayer, TelemetryLayerBuilder};
pub use metrics::UNMATCHED_ROUTE;
pub use service::TelemetryService;
pub use tracker::{SPAN_NAME, SPAN_TARGET};
