//! The sample names PromQL sees for a catalogue entry, so rules and panels never spell a metric
//! name by hand.

#[cfg(test)]
use glimpse_telemetry::metrics::catalogue::ALL;
use glimpse_telemetry::metrics::catalogue::{Kind, MetricDef};

/// `<name>_total` for a counter, `target_info` for the info metric, `<name>` otherwise.
pub(crate) fn sample(m: &MetricDef) -> String {
    m.sample_name()
}

fn histogram_part(m: &MetricDef, suffix: &str) -> String {
    debug_assert!(m.kind == Kind::Histogram, "{} is not a histogram", m.name);
    format!("{}_{suffix}", m.name)
}

/// `<name>_bucket` of a histogram.
pub(crate) fn bucket(m: &MetricDef) -> String {
    histogram_part(m, "bucket")
}

/// `<name>_count` of a histogram.
pub(crate) fn count(m: &MetricDef) -> String {
    histogram_part(m, "count")
}

/// `<name>_sum` of a histogram.
pub(crate) fn sum(m: &MetricDef) -> String {
    histogram_part(m, "sum")
}

/// Every name a query may use for `m`.
pub(crate) fn sample_names(m: &MetricDef) -> Vec<String> {
    match m.kind {
        Kind::Histogram => vec![bucket(m), sum(m), count(m)],
        _ => vec![sample(m)],
    }
}

/// The catalogue entry that emits the sample `name`, if any.
#[cfg(test)]
pub(crate) fn def_of_sample(name: &str) -> Option<&'static MetricDef> {
    ALL.iter()
        .copied()
        .find(|m| sample_names(m).iter().any(|n| n == name))
}

/// The kind's name in the exposition's `# TYPE` line (and in the docs).
pub(crate) fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Counter => "counter",
        Kind::Gauge => "gauge",
        Kind::Histogram => "histogram",
        Kind::Info => "info",
        _ => "unknown",
    }
}
