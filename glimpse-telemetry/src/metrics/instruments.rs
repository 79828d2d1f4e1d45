//! The three instruments: [`Counter`], [`Gauge`] and [`Histogram`] (with trace exemplars).
//!
//! Each is a cheap handle (an `Arc` inside): clone it once, keep it, and record without any
//! lookup. They wrap prometheus-client's own types, so the exposition is prometheus-client's.

use std::time::SystemTime;

use opentelemetry::trace::{SpanId, TraceContextExt as _, TraceId};
use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, LabelSetEncoder, MetricEncoder};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter as PcCounter;
use prometheus_client::metrics::exemplar::HistogramWithExemplars;
use prometheus_client::metrics::gauge::Gauge as PcGauge;

/// Histogram buckets for durations in seconds, from the OpenTelemetry advice for
/// `http.server.request.duration` (5 ms to 10 s).
pub const DURATION_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// Histogram buckets for sizes in bytes (powers of 4 from 64 B to 16 MiB).
pub const SIZE_BUCKETS: &[f64] = &[
    64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0, 16777216.0,
];

/// A monotonically increasing count.
///
/// ```
/// let c = glimpse_telemetry::metrics::Counter::default();
/// c.inc();
/// c.inc_by(2);
/// assert_eq!(c.get(), 3);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Counter(PcCounter<u64>);

impl Counter {
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.0.inc();
    }

    /// Adds `n`.
    #[inline]
    pub fn inc_by(&self, n: u64) {
        self.0.inc_by(n);
    }

    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.get()
    }
}

/// A value that goes up and down.
///
/// ```
/// let g = glimpse_telemetry::metrics::Gauge::default();
/// g.inc();
/// g.set(10);
/// g.dec();
/// assert_eq!(g.get(), 9);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Gauge(PcGauge<i64>);

impl Gauge {
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.0.inc();
    }

    /// Subtracts one.
    #[inline]
    pub fn dec(&self) {
        self.0.dec();
    }

    /// Adds `n` (which may be negative).
    #[inline]
    pub fn add(&self, n: i64) {
        self.0.inc_by(n);
    }

    /// Sets the value.
    #[inline]
    pub fn set(&self, v: i64) {
        self.0.set(v);
    }

    /// The current value.
    pub fn get(&self) -> i64 {
        self.0.get()
    }
}

/// A distribution of values in fixed buckets, each bucket keeping the trace id of its latest
/// sampled observation as an OpenMetrics exemplar, so Grafana can jump from a slow bucket to
/// the trace in Jaeger.
///
/// ```
/// let h = glimpse_telemetry::metrics::Histogram::new(&[0.1, 1.0]);
/// h.observe(0.05); // takes the trace id of the current span, if it is sampled
/// ```
#[derive(Clone, Debug)]
pub struct Histogram(HistogramWithExemplars<TraceExemplar>);

impl Histogram {
    /// A histogram with these bucket upper bounds (`+Inf` is added).
    pub fn new(buckets: &[f64]) -> Self {
        Histogram(HistogramWithExemplars::new(buckets.iter().copied()))
    }

    /// Records `v`, with the current span's trace id as exemplar when that span is sampled.
    #[inline]
    pub fn observe(&self, v: f64) {
        match crate::traces::current::current_sampled_ids() {
            Some((trace_id, span_id)) => self.observe_with_exemplar(v, trace_id, span_id),
            None => self.observe_without_exemplar(v),
        }
    }

    /// Records `v` with an explicit exemplar (for callers that already hold the span context).
    #[inline]
    pub fn observe_with_exemplar(&self, v: f64, trace_id: TraceId, span_id: SpanId) {
        self.0.observe(
            v,
            Some(TraceExemplar { trace_id, span_id }),
            Some(SystemTime::now()),
        );
    }

    /// Records `v` without looking for a span.
    #[inline]
    pub fn observe_without_exemplar(&self, v: f64) {
        self.0.observe(v, None, None);
    }

    /// Records `v` with the exemplar of `cx` if its span is sampled.
    #[inline]
    pub fn observe_in(&self, v: f64, cx: &opentelemetry::Context) {
        let span = cx.span();
        let sc = span.span_context();
        if sc.is_sampled() {
            self.observe_with_exemplar(v, sc.trace_id(), sc.span_id());
        } else {
            self.observe_without_exemplar(v);
        }
    }
}

/// The exemplar label set: `trace_id` and `span_id`, rendered as lowercase hex only at scrape time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TraceExemplar {
    trace_id: TraceId,
    span_id: SpanId,
}

impl EncodeLabelSet for TraceExemplar {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), std::fmt::Error> {
        let trace_id = self.trace_id.to_string();
        let span_id = self.span_id.to_string();
        [
            ("trace_id", trace_id.as_str()),
            ("span_id", span_id.as_str()),
        ]
        .encode(encoder)
    }
}

/// What a [`Family`](super::Family) can hold. Sealed: the three instruments above.
pub trait Metric: Clone + Send + Sync + 'static + private::Sealed {
    #[doc(hidden)]
    const TYPE: MetricType;
    #[doc(hidden)]
    fn encode(&self, encoder: MetricEncoder) -> Result<(), std::fmt::Error>;
    #[doc(hidden)]
    fn new_instance(buckets: &[f64]) -> Self;
}

impl private::Sealed for Counter {}
impl private::Sealed for Gauge {}
impl private::Sealed for Histogram {}

mod private {
    pub trait Sealed {}
}

impl Metric for Counter {
    const TYPE: MetricType = MetricType::Counter;
    fn new_instance(_: &[f64]) -> Self {
        Counter::default()
    }
    fn encode(&self, encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        EncodeMetric::encode(&self.0, encoder)
    }
}

impl Metric for Gauge {
    const TYPE: MetricType = MetricType::Gauge;
    fn new_instance(_: &[f64]) -> Self {
        Gauge::default()
    }
    fn encode(&self, encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        EncodeMetric::encode(&self.0, encoder)
    }
}

impl Metric for Histogram {
    const TYPE: MetricType = MetricType::Histogram;
    fn new_instance(buckets: &[f64]) -> Self {
        Histogram::new(buckets)
    }
    fn encode(&self, encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        EncodeMetric::encode(&self.0, encoder)
    }
}

// Lets users register the instruments in their own prometheus-client registries too.
impl prometheus_client::metrics::TypedMetric for Histogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for Histogram {
    fn encode(&self, encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        EncodeMetric::encode(&self.0, encoder)
    }
    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}
