//! The units a metric name may end with (`_seconds`, `_bytes`, `_ratio`).

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
    pub(crate) fn suffix(self) -> &'static str {
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

/// `name` without its unit suffix, as prometheus-client takes it (it appends the unit itself);
/// `None` when the name does not end with its unit.
pub(crate) fn base_name(name: &str, unit: Unit) -> Option<&str> {
    name.strip_suffix(unit.suffix())
        .and_then(|n| n.strip_suffix('_'))
}
