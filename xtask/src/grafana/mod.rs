//! The Grafana side: the dashboards (written with the catalogue's names) and the provisioning
//! that loads them.
//!
//! - [`model`]: a panel, its queries and its JSON;
//! - [`layout`]: the grid and the dashboard around the panels;
//! - [`dashboards`]: the content, one file a dashboard or a row shared by several;
//! - [`provisioning`]: the data sources and the dashboard provider.

pub(crate) mod dashboards;
pub(crate) mod layout;
pub(crate) mod model;
pub(crate) mod provisioning;

#[cfg(test)]
mod tests;

use serde_json::Value;

/// A generated dashboard.
pub(crate) struct Dashboard {
    /// File name under `deploy/grafana/dashboards/`.
    pub file: &'static str,
    pub json: Value,
}

/// The dashboards.
pub(crate) fn all() -> Vec<Dashboard> {
    vec![
        Dashboard {
            file: "glimpse-application-overview.json",
            json: dashboards::application_overview::application_overview(),
        },
        Dashboard {
            file: "glimpse-business-metrics.json",
            json: dashboards::business::business_metrics(),
        },
        Dashboard {
            file: "glimpse-infrastructure.json",
            json: dashboards::infrastructure::infrastructure(),
        },
        Dashboard {
            file: "glimpse-logs-analysis.json",
            json: dashboards::logs_analysis::logs_analysis(),
        },
        Dashboard {
            file: "glimpse-security.json",
            json: dashboards::security::security(),
        },
        Dashboard {
            file: "glimpse-slo.json",
            json: dashboards::slo::slo(),
        },
    ]
}
