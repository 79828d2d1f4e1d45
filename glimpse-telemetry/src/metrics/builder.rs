//! Defining a family: [`counter`], [`gauge`] and [`histogram`] start a [`MetricBuilder`];
//! `register` checks the name, unit and labels and adds the family to the registry. Catalogue
//! entries register through the same path ([`MetricDef::register`]).

use std::borrow::Cow;
use std::marker::PhantomData;
use std::sync::atomic::Ordering;

use prometheus_client::metrics::MetricType;

use super::definition::{Kind, MetricDef};
use super::family::{self, Family};
use super::instruments::{Counter, DURATION_BUCKETS, Gauge, Histogram, Metric};
use super::registry::{Registered, global, lock};
use super::unit::{Unit, base_name};
use crate::Error;

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

impl MetricDef {
    /// Registers this family in the SDK's registry (or returns it if already registered).
    ///
    /// ```
    /// use glimpse_telemetry::metrics::{catalogue, Histogram};
    /// let duration = catalogue::HTTP_SERVER_REQUEST_DURATION.register::<Histogram>()?;
    /// duration.get_or_create(&["GET", "/users/{id}", "200", ""]).observe(0.004);
    /// # Ok::<(), glimpse_telemetry::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Metric`] when `M` is not this definition's kind.
    pub fn register<M: Metric>(&'static self) -> Result<Family<M>, Error> {
        let kind_matches = matches!(
            (self.kind, M::TYPE),
            (Kind::Counter, MetricType::Counter)
                | (Kind::Gauge, MetricType::Gauge)
                | (Kind::Histogram, MetricType::Histogram)
        );
        if !kind_matches {
            return Err(Error::Metric(format!(
                "{} is a {:?}, not registrable as {:?}",
                self.name,
                self.kind,
                M::TYPE
            )));
        }
        let mut b: MetricBuilder<M> = MetricBuilder::new(self.name.into(), self.help.into())
            .labels(self.labels.iter().copied());
        if let Some(unit) = self.unit {
            b = b.unit(unit);
        }
        if let Some(buckets) = self.buckets {
            b.buckets = buckets.into();
        }
        if let Some(n) = self.max_series {
            b = b.max_series(n);
        }
        b.register()
    }
}

impl MetricDef {
    /// One series of this family, registering the family if needed. The SDK's own metrics must
    /// never fail a service: if user code took one of these names with other labels, the series
    /// is a detached instrument that counts nowhere.
    pub(crate) fn series<M: Metric>(&'static self, labels: &[&str]) -> M {
        match self.register::<M>() {
            Ok(family) => family.get_or_create(labels),
            Err(_) => M::new_instance(self.buckets.unwrap_or(DURATION_BUCKETS)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Format, encode};

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
