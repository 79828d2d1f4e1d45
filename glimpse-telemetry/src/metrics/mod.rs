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

pub mod business;
pub mod cache;
pub mod catalogue;
mod exposition;
mod family;
mod instruments;
mod process;
pub(crate) use process::sample as const_sample;
pub mod runtime;
pub mod security;
#[cfg(feature = "metrics-server")]
pub(crate) mod server;

use std::any::Any;
use std::borrow::Cow;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

pub use exposition::{Format, encode};
pub use family::Family;
pub use instruments::{
    Counter, DURATION_BUCKETS, Gauge, Histogram, Metric, SIZE_BUCKETS, TraceExemplar,
};
pub use prometheus_client;
pub use prometheus_client::collector::Collector;
use prometheus_client::metrics::MetricType;

use crate::Error;

/// The series limit of a family that does not set its own (`GLIMPSE_METRICS_MAX_SERIES`).
pub const DEFAULT_MAX_SERIES: usize = 1000;

/// The unit of a metric; the metric's name must end with it (`_seconds`, `_bytes`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unit {
    /// Seconds (`_seconds`).
    Seconds,
    /// Bytes (`_bytes`).
    Bytes,
    /// A ratio between 0 and 1 (`_ratio`).
    Ratio,
}

impl Unit {
    fn suffix(self) -> &'static str {
        match self {
            Unit::Seconds => "seconds",
            Unit::Bytes => "bytes",
            Unit::Ratio => "ratio",
        }
    }

    pub(crate) fn to_prometheus(self) -> prometheus_client::registry::Unit {
        match self {
            Unit::Seconds => prometheus_client::registry::Unit::Seconds,
            Unit::Bytes => prometheus_client::registry::Unit::Bytes,
            Unit::Ratio => prometheus_client::registry::Unit::Ratios,
        }
    }
}

struct Registered {
    kind: MetricType,
    labels: Vec<&'static str>,
    family: Box<dyn Any + Send + Sync>,
}

struct Global {
    registry: Mutex<prometheus_client::registry::Registry>,
    families: Mutex<HashMap<String, Registered>>,
    default_max_series: AtomicUsize,
    overflow: Family<Counter>,
}

fn global() -> &'static Global {
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

/// Starts the definition of a counter. Its samples are exposed as `<name>_total`; give the name
/// without that suffix.
///
/// ```
/// let c = glimpse_telemetry::metrics::counter("doc_jobs_run", "Jobs run.").register()?;
/// c.get_or_create(&[]).inc();
/// # Ok::<(), glimpse_telemetry::Error>(())
/// ```
pub fn counter(
    name: impl Into<Cow<'static, str>>,
    help: impl Into<Cow<'static, str>>,
) -> MetricBuilder<Counter> {
    MetricBuilder::new(name.into(), help.into())
}

/// Starts the definition of a gauge.
///
/// ```
/// let g = glimpse_telemetry::metrics::gauge("doc_queue_depth", "Jobs waiting.").register()?;
/// g.get_or_create(&[]).set(3);
/// # Ok::<(), glimpse_telemetry::Error>(())
/// ```
pub fn gauge(
    name: impl Into<Cow<'static, str>>,
    help: impl Into<Cow<'static, str>>,
) -> MetricBuilder<Gauge> {
    MetricBuilder::new(name.into(), help.into())
}

/// Starts the definition of a histogram (default buckets: [`DURATION_BUCKETS`]).
///
/// ```
/// use glimpse_telemetry::metrics::{self, Unit};
/// let h = metrics::histogram("doc_upload_size_bytes", "Upload sizes.")
///     .unit(Unit::Bytes)
///     .buckets(metrics::SIZE_BUCKETS)
///     .register()?;
/// h.get_or_create(&[]).observe(2048.0);
/// # Ok::<(), glimpse_telemetry::Error>(())
/// ```
pub fn histogram(
    name: impl Into<Cow<'static, str>>,
    help: impl Into<Cow<'static, str>>,
) -> MetricBuilder<Histogram> {
    MetricBuilder::new(name.into(), help.into())
}

/// `name` without its unit suffix, as prometheus-client takes it (it appends the unit itself);
/// `None` when the name does not end with its unit.
pub(crate) fn base_name(name: &str, unit: Unit) -> Option<&str> {
    name.strip_suffix(unit.suffix())
        .and_then(|n| n.strip_suffix('_'))
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
/// prometheus-client's own types. These have no series limit: prefer [`counter`], [`gauge`]
/// and [`histogram`].
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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding these locks cannot leave them inconsistent (every update is one
    // insert), so a poisoned lock is still safe to use.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The definition of a metric family, finished with [`register`](MetricBuilder::register).
#[must_use = "a metric is only registered by calling .register()"]
pub struct MetricBuilder<M> {
    name: Cow<'static, str>,
    help: Cow<'static, str>,
    unit: Option<Unit>,
    labels: Vec<&'static str>,
    max_series: Option<usize>,
    buckets: Cow<'static, [f64]>,
    _metric: PhantomData<M>,
}

impl<M: Metric> MetricBuilder<M> {
    fn new(name: Cow<'static, str>, help: Cow<'static, str>) -> Self {
        MetricBuilder {
            name,
            help,
            unit: None,
            labels: Vec::new(),
            max_series: None,
            buckets: Cow::Borrowed(DURATION_BUCKETS),
            _metric: PhantomData,
        }
    }

    /// The unit; the name must end with `_<unit>` (`_seconds`, `_bytes`, `_ratio`).
    pub fn unit(mut self, unit: Unit) -> Self {
        self.unit = Some(unit);
        self
    }

    /// The label keys. Keep them few and their values bounded (no ids, no raw paths).
    pub fn labels(mut self, keys: impl IntoIterator<Item = &'static str>) -> Self {
        self.labels = keys.into_iter().collect();
        self
    }

    /// The most series (label sets) this family may hold; default 1,000 or
    /// `GLIMPSE_METRICS_MAX_SERIES`.
    pub fn max_series(mut self, n: usize) -> Self {
        self.max_series = Some(n.max(1));
        self
    }

    /// Registers the family in the SDK's registry. Registering the same name again with the
    /// same type and labels returns the existing family.
    ///
    /// # Errors
    /// [`Error::Metric`] for an invalid name or label, a name already registered with another
    /// type or other labels, or a name that does not end with its unit.
    pub fn register(self) -> Result<Family<M>, Error> {
        let name = self.name.as_ref();
        check_name(name)?;
        for label in &self.labels {
            check_name(label)?;
            if label.starts_with("__") || *label == "le" || *label == "otel_metric_overflow" {
                return Err(Error::Metric(format!(
                    "{name}: label {label:?} is reserved"
                )));
            }
        }
        let base_name = match self.unit {
            Some(unit) => base_name(name, unit).ok_or_else(|| {
                Error::Metric(format!(
                    "{name}: a metric in {} must be named *_{}",
                    unit.suffix(),
                    unit.suffix()
                ))
            })?,
            None => name,
        };
        if same_type(&M::TYPE, &MetricType::Counter) && name.ends_with("_total") {
            return Err(Error::Metric(format!(
                "{name}: give a counter's name without _total (the exposition adds it)"
            )));
        }

        let g = global();
        let mut families = lock(&g.families);
        if let Some(existing) = families.get(name) {
            return match existing.family.downcast_ref::<Family<M>>() {
                Some(f)
                    if same_type(&existing.kind, &M::TYPE) && existing.labels == self.labels =>
                {
                    Ok(f.clone())
                }
                _ => Err(Error::Metric(format!(
                    "{name} is already registered with labels {:?}; one name, one type, one label set",
                    existing.labels
                ))),
            };
        }
        if same_type(&M::TYPE, &MetricType::Histogram)
            && (self.buckets.windows(2).any(|w| w[0] >= w[1])
                || self.buckets.iter().any(|b| !b.is_finite()))
        {
            return Err(Error::Metric(format!(
                "{name}: buckets must be finite and increasing"
            )));
        }
        let buckets = self.buckets.into_owned();
        let make: Box<dyn Fn() -> M + Send + Sync> = Box::new(move || M::new_instance(&buckets));
        let family = Family::new(
            family::Descriptor {
                base_name: base_name.to_owned(),
                help: self.help.into_owned(),
                unit: self.unit.map(Unit::to_prometheus),
                label_keys: self.labels.clone().into_boxed_slice(),
                max_series: self
                    .max_series
                    .unwrap_or_else(|| g.default_max_series.load(Ordering::Relaxed)),
            },
            make,
            g.overflow.get_or_create(&[name]),
        );
        lock(&g.registry).register_collector(family.collector());
        families.insert(
            name.to_owned(),
            Registered {
                kind: M::TYPE,
                labels: self.labels,
                family: Box::new(family.clone()),
            },
        );
        Ok(family)
    }
}

impl MetricBuilder<Histogram> {
    /// The bucket upper bounds (increasing; `+Inf` is added). Default: [`DURATION_BUCKETS`].
    pub fn buckets(mut self, buckets: impl Into<Cow<'static, [f64]>>) -> Self {
        self.buckets = buckets.into();
        self
    }
}

/// prometheus-client's `MetricType` has no `PartialEq`.
fn same_type(a: &MetricType, b: &MetricType) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

fn check_name(name: &str) -> Result<(), Error> {
    let mut chars = name.chars();
    let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::Metric(format!(
            "{name:?} is not a valid Prometheus name ([a-zA-Z_][a-zA-Z0-9_]*)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cardinality_limit_holds_under_ten_thousand_values() {
        let f = counter("test_limit_requests", "t")
            .labels(["path"])
            .max_series(50)
            .register()
            .unwrap();
        for i in 0..10_000 {
            f.get_or_create(&[&format!("/random/{i}")]).inc();
        }
        assert_eq!(f.series_count(), 50);
        let text = encode(Format::Text);
        let series = text
            .lines()
            .filter(|l| l.starts_with("test_limit_requests_total{"))
            .count();
        assert_eq!(series, 51, "50 series and one overflow series");
        assert!(
            text.contains(r#"test_limit_requests_total{otel_metric_overflow="true"} 9950"#),
            "{text}"
        );
        assert!(text.contains(
            r#"glimpse_telemetry_cardinality_overflow_total{metric="test_limit_requests"} 9950"#
        ));
    }

    #[test]
    fn same_definition_twice_returns_the_same_family() {
        let a = gauge("test_twice", "t").labels(["x"]).register().unwrap();
        let b = gauge("test_twice", "t").labels(["x"]).register().unwrap();
        a.get_or_create(&["1"]).set(5);
        assert_eq!(b.get_or_create(&["1"]).get(), 5);
        assert!(gauge("test_twice", "t").labels(["y"]).register().is_err());
        assert!(counter("test_twice", "t").labels(["x"]).register().is_err());
    }

    #[test]
    fn bad_definitions_are_errors() {
        assert!(counter("bad name", "t").register().is_err());
        assert!(counter("test_bad_total", "t").register().is_err());
        assert!(
            histogram("test_bad_duration", "t")
                .unit(Unit::Seconds)
                .register()
                .is_err()
        );
        assert!(
            counter("test_bad_label", "t")
                .labels(["le"])
                .register()
                .is_err()
        );
        assert!(
            histogram("test_bad_buckets", "t")
                .buckets(vec![1.0, 0.5])
                .register()
                .is_err()
        );
    }

    #[test]
    fn label_values_are_escaped() {
        let f = counter("test_escape", "t")
            .labels(["v"])
            .register()
            .unwrap();
        f.get_or_create(&["a\"b\\c\nd"]).inc();
        let text = encode(Format::Text);
        assert!(
            text.contains(r#"test_escape_total{v="a\"b\\c\nd"} 1"#),
            "{text}"
        );
    }
}
