//! What a catalogue entry says about a metric family ([`MetricDef`]): name, type, unit, help,
//! labels, buckets and who emits it. Plain data; registering one is in `builder.rs`.

use super::unit::Unit;

/// The type of a metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// Only goes up; exposed as `<name>_total`.
    Counter,
    /// Goes up and down.
    Gauge,
    /// Buckets, `_sum` and `_count`.
    Histogram,
    /// Constant labels with value 1 (`target_info`).
    Info,
}

/// Which part of the SDK emits a metric (the sections of `docs/metrics.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Group {
    /// `glimpse-telemetry-axum`: HTTP server metrics.
    Http,
    /// `glimpse-telemetry-axum`: WebSocket metrics.
    WebSocket,
    /// `glimpse-telemetry-sqlx`: queries and connection pools.
    Database,
    /// The business helpers in [`business`](crate::business).
    Business,
    /// The audit and security helpers ([`logs::audit`](crate::logs::audit),
    /// [`security`](super::security)).
    Security,
    /// The core: logs, process and the SDK's own health.
    Core,
    /// `glimpse-telemetry-axum`'s real-user monitoring endpoint (feature `rum`): what browsers
    /// measure (Core Web Vitals, page load) and the endpoint's own health.
    Browser,
    /// The tokio runtime, read at scrape time ([`runtime`](super::runtime)).
    Runtime,
}

/// The description of one metric family.
#[derive(Debug)]
#[non_exhaustive]
pub struct MetricDef {
    /// The family name as PromQL sees it; for counters without the `_total` of the samples.
    pub name: &'static str,
    /// The type.
    pub kind: Kind,
    /// The unit, when the name ends with one.
    pub unit: Option<Unit>,
    /// What it measures.
    pub help: &'static str,
    /// The label keys, in order.
    pub labels: &'static [&'static str],
    /// Histogram buckets.
    pub buckets: Option<&'static [f64]>,
    /// Who emits it.
    pub group: Group,
    /// The family's own series limit, when it must be lower than the default (labels whose
    /// values come from callers, such as API key ids).
    pub max_series: Option<usize>,
}

impl MetricDef {
    /// The name of its samples: `<name>_total` for counters, `<name>` otherwise (histograms add
    /// `_bucket`, `_sum` and `_count`; `target` info becomes `target_info`).
    pub fn sample_name(&self) -> String {
        match self.kind {
            Kind::Counter => format!("{}_total", self.name),
            Kind::Info => format!("{}_info", self.name),
            _ => self.name.to_owned(),
        }
    }
}

pub(super) const fn def(
    name: &'static str,
    kind: Kind,
    unit: Option<Unit>,
    help: &'static str,
    labels: &'static [&'static str],
    buckets: Option<&'static [f64]>,
    group: Group,
) -> MetricDef {
    MetricDef {
        name,
        kind,
        unit,
        help,
        labels,
        buckets,
        group,
        max_series: None,
    }
}
