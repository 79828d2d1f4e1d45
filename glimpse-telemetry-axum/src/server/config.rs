//! The layer's options, as [`TelemetryLayerBuilder`](crate::TelemetryLayerBuilder) sets them.

use std::time::Duration;

use http::header::HeaderName;

use crate::ops::{HEALTH_PATH, METRICS_PATH, READY_PATH};
use crate::request_id::REQUEST_ID_HEADER;

/// Routes whose successful requests are not access-logged unless configured otherwise: health
/// checks are called every few seconds by every load balancer and say nothing.
pub const QUIET_ROUTES: &[&str] = &[
    "/health", "/healthz", "/livez", "/live", "/ready", "/readyz", "/ping",
];

/// The options of one layer.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) excluded: Vec<Box<str>>,
    pub(crate) sampling: Vec<(Box<str>, f64)>,
    pub(crate) slow: Duration,
    pub(crate) access_log: bool,
    pub(crate) log_query: bool,
    pub(crate) request_id_header: HeaderName,
    pub(crate) trust_request_id: bool,
}

impl Config {
    /// Whether a request path, before routing, falls under an excluded route template (what a
    /// layer wrapping the whole app decides on, since `MatchedPath` is not known yet).
    #[inline]
    pub(crate) fn excludes_path(&self, path: &str) -> bool {
        self.excluded.iter().any(|t| template_matches(t, path))
    }
}

/// Whether `path` is one `template` of axum's syntax matches: literal segments, `{name}` for one
/// segment, `{*name}` for the rest.
fn template_matches(template: &str, path: &str) -> bool {
    if !template.contains('{') {
        return template == path;
    }
    let mut segments = path.split('/');
    for t in template.split('/') {
        if t.starts_with("{*") && t.ends_with('}') {
            return segments.next().is_some_and(|s| !s.is_empty());
        }
        match segments.next() {
            Some(s) if t.starts_with('{') && t.ends_with('}') => {
                if s.is_empty() {
                    return false;
                }
            }
            Some(s) if s == t => {}
            _ => return false,
        }
    }
    segments.next().is_none()
}

impl Default for Config {
    fn default() -> Self {
        Config {
            excluded: [METRICS_PATH, HEALTH_PATH, READY_PATH]
                .into_iter()
                .map(Into::into)
                .collect(),
            sampling: QUIET_ROUTES.iter().map(|r| ((*r).into(), 0.0)).collect(),
            slow: Duration::from_secs(1),
            access_log: true,
            log_query: false,
            request_id_header: REQUEST_ID_HEADER,
            trust_request_id: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excluded_templates_match_paths_before_routing() {
        assert!(template_matches("/metrics", "/metrics"));
        assert!(!template_matches("/metrics", "/metrics/"));
        assert!(template_matches("/internal/{id}", "/internal/7"));
        assert!(!template_matches("/internal/{id}", "/internal/"));
        assert!(!template_matches("/internal/{id}", "/internal/7/x"));
        assert!(template_matches("/static/{*rest}", "/static/a/b.css"));
        assert!(!template_matches("/static/{*rest}", "/static"));
        let config = Config::default();
        assert!(config.excludes_path("/healthz"));
        assert!(!config.excludes_path("/no/such/route"));
    }
}
