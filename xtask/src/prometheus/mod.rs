//! The Prometheus side: the recording rules and alerts (written with the catalogue's names),
//! their promtool tests, and the two files they are rendered to.
//!
//! - [`model`]: what a rule, an alert and a test case are, and the rule groups;
//! - [`recordings`]: the guide's recording rules and the expressions shared with the
//!   dashboards and docs;
//! - [`alerts`]: the content, one file a concern (each with the recording rules only it uses);
//! - [`rules_file`] and [`promtool_tests`]: alerts.yml and alerts.test.yml.

pub(crate) mod alerts;
pub(crate) mod model;
pub(crate) mod promtool_tests;
pub(crate) mod recordings;
pub(crate) mod rules_file;

#[cfg(test)]
mod tests;

use model::{Alert, Recording};

/// The recording rules, in evaluation order: the guide's, then those of the other concerns.
pub(crate) fn recordings() -> Vec<Recording> {
    let mut out = recordings::guide_recordings();
    out.extend(alerts::data::recordings());
    out.extend(alerts::ws::recordings());
    out.extend(alerts::security::recordings());
    out.extend(alerts::slo::recordings());
    out
}

/// Every alert: the guide's (critical first), then those of the other concerns.
pub(crate) fn alerts() -> Vec<Alert> {
    let mut out = vec![
        alerts::availability::service_down(),
        alerts::availability::service_probe_failed(),
        alerts::http::high_error_rate(),
        alerts::database::database_connections_exhausted(),
        alerts::infrastructure::disk_space_low(),
        alerts::business::payment_failures(),
        alerts::http::high_response_time(),
        alerts::infrastructure::memory_usage_high(),
        alerts::database::slow_queries(),
        alerts::infrastructure::ssl_certificate_expiry(),
        alerts::infrastructure::redis_memory_high(),
        alerts::user_experience::poor_web_vitals(),
    ];
    out.extend(alerts::security::alerts());
    out.extend(alerts::ws::alerts());
    out.extend(alerts::slo::alerts());
    out
}
