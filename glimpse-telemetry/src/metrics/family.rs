//! A metric family with fixed label keys and a hard limit on its number of series.
//!
//! Past the limit, observations go to one overflow series labelled `otel_metric_overflow="true"`
//! (the OpenTelemetry convention) and `glimpse_telemetry_cardinality_overflow_total{metric}`
//! counts them, so no label value, however random, can grow memory or the scrape without bound.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use hashbrown::{Equivalent, HashMap};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, LabelSetEncoder};
use prometheus_client::registry::Unit;

use super::instruments::{Counter, Metric};

/// The label values of one series, owned. Hashes like `[&str]` so lookups need no allocation.
#[derive(PartialEq, Eq)]
struct Key(Box<[Box<str>]>);

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.0.len());
        for v in self.0.iter() {
            v.as_ref().hash(state);
        }
    }
}

/// A borrowed key, for lookups.
struct KeyRef<'a>(&'a [&'a str]);

impl Hash for KeyRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.0.len());
        for v in self.0 {
            v.hash(state);
        }
    }
}

impl Equivalent<Key> for KeyRef<'_> {
    fn equivalent(&self, key: &Key) -> bool {
        key.0.len() == self.0.len() && key.0.iter().zip(self.0).all(|(a, b)| a.as_ref() == *b)
    }
}

pub(super) struct Descriptor {
    /// The name without unit suffix and without `_total`; prometheus-client appends both.
    pub(super) base_name: String,
    pub(super) help: String,
    pub(super) unit: Option<Unit>,
    pub(super) label_keys: Box<[&'static str]>,
    pub(super) max_series: usize,
}

struct Inner<M> {
    desc: Descriptor,
    series: RwLock<HashMap<Key, M>>,
    make: Box<dyn Fn() -> M + Send + Sync>,
    overflow: M,
    overflowed: AtomicBool,
    overflow_count: Counter,
}

/// A set of series of one metric, one per combination of label values, bounded by a hard
/// series limit.
///
/// Get a series with [`Family::get_or_create`] once and keep the handle where you can: recording on a
/// held handle costs no lookup at all.
///
/// ```
/// use glimpse_telemetry::metrics;
///
/// let orders = metrics::counter("shop_orders", "Orders placed, by payment status.")
///     .labels(["status"])
///     .max_series(10)
///     .register()?;
/// orders.get_or_create(&["paid"]).inc();
/// for i in 0..100 {
///     orders.get_or_create(&[&format!("status-{i}")]).inc(); // past 10 series: the overflow series
/// }
/// assert_eq!(orders.series_count(), 10);
/// # Ok::<(), glimpse_telemetry::Error>(())
/// ```
pub struct Family<M: Metric> {
    inner: Arc<Inner<M>>,
}

impl<M: Metric> Clone for Family<M> {
    fn clone(&self) -> Self {
        Family {
            inner: self.inner.clone(),
        }
    }
}

impl<M: Metric> fmt::Debug for Family<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Family")
            .field("name", &self.inner.desc.base_name)
            .field("labels", &self.inner.desc.label_keys)
            .field("series", &self.series_count())
            .finish()
    }
}

impl<M: Metric> Family<M> {
    pub(super) fn new(
        desc: Descriptor,
        make: Box<dyn Fn() -> M + Send + Sync>,
        overflow_count: Counter,
    ) -> Self {
        let overflow = make();
        let family = Family {
            inner: Arc::new(Inner {
                desc,
                series: RwLock::new(HashMap::new()),
                make,
                overflow,
                overflowed: AtomicBool::new(false),
                overflow_count,
            }),
        };
        if family.inner.desc.label_keys.is_empty() {
            // A family without labels has exactly one series; show it at 0 from the start.
            family.get_or_create(&[]);
        }
        family
    }

    /// The series for these label values (in the order of the family's label keys), created on
    /// first use. Past the series limit this is the shared overflow series.
    ///
    /// Passing a different number of values than the family has label keys is a bug in the
    /// caller; debug builds panic on it, release builds record into the overflow series.
    pub fn get_or_create(&self, values: &[&str]) -> M {
        let inner = &*self.inner;
        debug_assert_eq!(
            values.len(),
            inner.desc.label_keys.len(),
            "metric {} takes labels {:?}",
            inner.desc.base_name,
            inner.desc.label_keys
        );
        if values.len() != inner.desc.label_keys.len() {
            return self.overflow();
        }
        {
            let series = inner.series.read().unwrap_or_else(|e| e.into_inner());
            if let Some(m) = series.get(&KeyRef(values)) {
                return m.clone();
            }
            if series.len() >= inner.desc.max_series {
                drop(series);
                return self.overflow();
            }
        }
        let mut series = inner.series.write().unwrap_or_else(|e| e.into_inner());
        if let Some(m) = series.get(&KeyRef(values)) {
            return m.clone();
        }
        if series.len() >= inner.desc.max_series {
            drop(series);
            return self.overflow();
        }
        let m = (inner.make)();
        series.insert(
            Key(values.iter().map(|v| Box::<str>::from(*v)).collect()),
            m.clone(),
        );
        m
    }

    #[cold]
    fn overflow(&self) -> M {
        self.inner.overflowed.store(true, Ordering::Relaxed);
        self.inner.overflow_count.inc();
        self.inner.overflow.clone()
    }

    /// The number of distinct label sets (the overflow series not included).
    pub fn series_count(&self) -> usize {
        self.inner
            .series
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// The label keys, in order.
    pub fn label_keys(&self) -> &[&'static str] {
        &self.inner.desc.label_keys
    }

    pub(super) fn collector(&self) -> Box<dyn Collector> {
        Box::new(FamilyCollector(self.inner.clone()))
    }
}

struct FamilyCollector<M>(Arc<Inner<M>>);

impl<M> fmt::Debug for FamilyCollector<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("FamilyCollector")
            .field(&self.0.desc.base_name)
            .finish()
    }
}

struct SeriesLabels<'a> {
    keys: &'a [&'static str],
    values: &'a [Box<str>],
}

impl EncodeLabelSet for SeriesLabels<'_> {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), fmt::Error> {
        for (k, v) in self.keys.iter().zip(self.values.iter()) {
            (*k, v.as_ref()).encode(encoder.encode_label())?;
        }
        Ok(())
    }
}

use prometheus_client::encoding::EncodeLabel as _;

impl<M: Metric> Collector for FamilyCollector<M> {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let inner = &*self.0;
        let mut metric = encoder.encode_descriptor(
            &inner.desc.base_name,
            &inner.desc.help,
            inner.desc.unit.as_ref(),
            M::TYPE,
        )?;
        let series = inner.series.read().unwrap_or_else(|e| e.into_inner());
        if inner.desc.label_keys.is_empty() {
            // One series and no labels: `name 0`, not `name{} 0`.
            return match series.values().next() {
                Some(m) => m.encode(metric),
                None => Ok(()),
            };
        }
        for (key, m) in series.iter() {
            let labels = SeriesLabels {
                keys: &inner.desc.label_keys,
                values: &key.0,
            };
            m.encode(metric.encode_family(&labels)?)?;
        }
        if inner.overflowed.load(Ordering::Relaxed) {
            m_encode_overflow(&inner.overflow, &mut metric)?;
        }
        Ok(())
    }
}

fn m_encode_overflow<M: Metric>(
    m: &M,
    metric: &mut prometheus_client::encoding::MetricEncoder,
) -> Result<(), fmt::Error> {
    let labels = [("otel_metric_overflow", "true")];
    m.encode(metric.encode_family(&labels)?)
}
