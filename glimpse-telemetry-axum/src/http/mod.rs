//! The HTTP layer, in the tower-http style: [`TelemetryLayer`] makes a [`TelemetryService`],
//! whose calls return a [`ResponseFuture`] resolving to a response with a [`ResponseBody`].
//!
//! - `layer.rs`: the layer, its options, the per-route state shared by its services;
//! - `service.rs`, `future.rs`, `body.rs`: the tower types;
//! - `tracker.rs`: one request's state and the span, finished exactly once;
//! - `metrics.rs`: the RED metrics and their handle caches;
//! - `access_log.rs`: the access log line.

pub mod access_log;
mod body;
mod future;
mod layer;
pub(crate) mod metrics;
mod service;
pub(crate) mod tracker;

pub use body::ResponseBody;
pub use future::ResponseFuture;
pub use layer::{QUIET_ROUTES, TelemetryLayer, TelemetryLayerBuilder};
pub use metrics::UNMATCHED_ROUTE;
pub use service::TelemetryService;
pub use tracker::{SPAN_NAME, SPAN_TARGET};
