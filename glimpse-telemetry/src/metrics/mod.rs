//! Prometheus metrics: one registry owned by the SDK, families with a hard cardinality limit,
//! histograms with trace-id exemplars, process metrics, and the exposition for `/metrics`.
//!
//! The registry is global and exists before [`init`](fn@crate::init) (so libraries can register
//! their families at any time); `init` adds `target_info` and sets the default series limit
//! from `GLIMPSE_METRICS_MAX_SERIES`.
//!
//! ```
//! use glimpse_telemetry::metrics::{self, Format};
//!
//! let latency = metrics::histogram("checkout_step_duration_seconds", "Time per checkout step.")
//!     .unit(metrics::Unit::Seconds)
//!     .labels(["step"])
//!     .buckets(metrics::DURATION_BUCKETS)
//!     .register()?;
//! latency.get_or_create(&["pay"]).observe(0.120);
//!
//! let text = metrics::encode(Format::Text);
//! assert!(text.contains(r#"checkout_step_duration_seconds_count{step="pay"} 1"#));
//! # Ok::<(), glimpse_telemetry::Error>(())
//! ```
//!
//! Every metric the SDK and its adapters emit is described in [`catalogue`]; `docs/metrics.md`,
//! the alert rules and the dashboards are generated from it.

mod builder;
pub mod cache;
pub mod catalogue;
mod definition;
mod exposition;
mod family;
mod instruments;
mod label_values;
mod process;
mod registry;
pub mod runtime;
pub mod security;
#[cfg(feature = "metrics-server")]
pub(crate) mod server;
mod unit;

pub use builder::{MetricBuilder, counter, gauge, histogram};
pub use exposition::{Format, encode};
pub use family::Family;
pub use instruments::{
    Counter, DURATION_BUCKETS, Gauge, Histogram, Metric, SIZE_BUCKETS, TraceExemplar,
};
pub(crate) use process::sample as const_sample;
pub use prometheus_client;
pub use prometheus_client::collector::Collector;
pub use registry::{DEFAULT_MAX_SERIES, register_collector, set_default_max_series, with_registry};
pub use unit::Unit;
