//! The metrics section: where the SDK serves `/metrics` itself (`GLIMPSE_METRICS_ADDR`) and the
//! default series limit per family (`GLIMPSE_METRICS_MAX_SERIES`).

use std::net::SocketAddr;

use super::env::{Lookup, parse_positive};
use crate::Error;

/// What the metrics registry and server are set up with.
#[derive(Clone, Debug)]
pub(crate) struct MetricsConfig {
    pub(crate) metrics_addr: Option<SocketAddr>,
    pub(crate) max_series: usize,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            metrics_addr: None,
            max_series: crate::metrics::DEFAULT_MAX_SERIES,
        }
    }
}

/// Reads the metrics section's variables, in the order their errors are reported.
pub(super) fn from_env(var: &Lookup<'_>) -> Result<MetricsConfig, Error> {
    let mut c = MetricsConfig::default();
    if let Some(v) = var("GLIMPSE_METRICS_ADDR")? {
        c.metrics_addr = Some(v.parse().map_err(|_| {
            Error::invalid(
                "GLIMPSE_METRICS_ADDR",
                v.clone(),
                "a socket address such as 0.0.0.0:9464",
            )
        })?);
    }
    if let Some(v) = var("GLIMPSE_METRICS_MAX_SERIES")? {
        c.max_series = parse_positive("GLIMPSE_METRICS_MAX_SERIES", &v)?;
    }
    Ok(c)
}
