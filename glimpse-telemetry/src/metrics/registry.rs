//! The SDK's one registry: every family registered by name (one name, one type, one label
//! set), the collectors read at scrape time, the default series limit, and the overflow family
//! that counts lookups past a family's limit.

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use prometheus_client::collector::Collector;
use prometheus_client::metrics::MetricType;

use super::catalogue;
use super::family::{self, Family};
use super::instruments::Counter;
use super::process;

/// The series limit of a family that does not set its own (`GLIMPSE_METRICS_MAX_SERIES`).
pub const DEFAULT_MAX_SERIES: usize = 1000;

pub(super) struct Registered {
    pub(super) kind: MetricType,
    pub(super) labels: Vec<&'static str>,
    pub(super) family: Box<dyn Any + Send + Sync>,
}

pub(super) struct Global {
    pub(super) registry: Mutex<prometheus_client::registry::Registry>,
    pub(super) families: Mutex<HashMap<String, Registered>>,
    pub(super) default_max_series: AtomicUsize,
    pub(super) overflow: Family<Counter>,
}

pub(super) fn global() -> &'static Global {
    static GLOBAL: OnceLock<Global> = OnceLock::new();
    GLOBAL.get_or_init(|| {
        // The overflow counter is itself a family; its one label (`metric`) is bounded by the
        // number of registered families, so its own overflow count goes nowhere.
        // Built from its catalogue entry directly: registering it the usual way would need the
        // registry this is building.
        let def = &catalogue::GLIMPSE_TELEMETRY_CARDINALITY_OVERFLOW;
        let overflow = Family::new(
            family::Descriptor {
                base_name: def.name.to_owned(),
                help: def.help.to_owned(),
                unit: None,
                label_keys: def.labels.into(),
                max_series: usize::MAX,
            },
            Box::new(Counter::default),
            Counter::default(),
        );
        let mut registry = prometheus_client::registry::Registry::default();
        registry.register_collector(overflow.collector());
        registry.register_collector(Box::new(process::ProcessCollector::new()));
        Global {
            registry: Mutex::new(registry),
            families: Mutex::new(HashMap::new()),
            default_max_series: AtomicUsize::new(DEFAULT_MAX_SERIES),
            overflow,
        }
    })
}

/// Registers a collector that produces its values at scrape time (for values that already live
/// elsewhere, such as a connection pool's size: read exactly when scraped, no polling task).
///
/// ```
/// use glimpse_telemetry::metrics::{self, Collector, prometheus_client};
/// use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
/// use prometheus_client::metrics::gauge::ConstGauge;
///
/// #[derive(Debug)]
/// struct Answer;
/// impl Collector for Answer {
///     fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
///         let gauge = ConstGauge::new(42i64);
///         gauge.encode(encoder.encode_descriptor("doc_answer", "The answer.", None, gauge.metric_type())?)
///     }
/// }
/// metrics::register_collector(Box::new(Answer));
/// assert!(metrics::encode(metrics::Format::Text).contains("doc_answer 42"));
/// ```
pub fn register_collector(collector: Box<dyn Collector>) {
    lock(&global().registry).register_collector(collector);
}

/// Gives access to the SDK's prometheus-client registry, for metrics defined with
/// prometheus-client's own types. These have no series limit: prefer [`counter`](super::counter), [`gauge`](super::gauge)
/// and [`histogram`](super::histogram).
///
/// ```
/// use glimpse_telemetry::metrics;
/// use metrics::prometheus_client::metrics::counter::Counter;
///
/// let c: Counter = Counter::default();
/// metrics::with_registry(|r| r.register("doc_raw", "A raw prometheus-client counter.", c.clone()));
/// ```
pub fn with_registry<R>(f: impl FnOnce(&mut prometheus_client::registry::Registry) -> R) -> R {
    f(&mut lock(&global().registry))
}

/// Sets the series limit of families registered from now on without their own.
pub fn set_default_max_series(n: usize) {
    global()
        .default_max_series
        .store(n.max(1), Ordering::Relaxed);
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding these locks cannot leave them inconsistent (every update is one
    // insert), so a poisoned lock is still safe to use.
    m.lock().unwrap_or_else(|e| e.into_inner())
}
