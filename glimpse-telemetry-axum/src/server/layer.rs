//! [`TelemetryLayer`] and its builder.

use std::sync::Arc;
use std::time::Duration;

use http::header::HeaderName;
use tower_layer::Layer;

use super::config::Config;
use super::metrics::families;
use super::routes::RouteTable;
use super::service::TelemetryService;

/// The tower [`Layer`] that instruments every request of the service it wraps: a server span,
/// the request id, RED metrics, one access log line, and GlitchTip reports for panics and 5xx.
/// See the [crate docs](crate) for what each request gets.
///
/// Put it around the finished app with [`instrument`](Self::instrument): then every request is
/// seen, whatever the composition. With `Router::layer` it only wraps the routes and fallback
/// the router has at that moment (a fallback merged in later, such as the default one
/// `.merge(ops_router())` brings, runs outside it). On any other tower service it works the
/// same, with every request labelled `http_route="unmatched"`. Layers nest: a telemetry service
/// inside another only reports the route to the outer one, so no request is counted twice.
///
/// ```
/// use std::time::Duration;
/// use axum::{Router, routing::get};
/// use glimpse_telemetry_axum::TelemetryLayer;
///
/// let layer = TelemetryLayer::builder()
///     .sample_successes("/users/{id}", 0.1) // one successful request in ten is logged
///     .slow_threshold(Duration::from_millis(500))
///     .build();
/// let app = layer.instrument(Router::new().route("/users/{id}", get(|| async { "user" })));
/// ```
#[derive(Clone)]
pub struct TelemetryLayer {
    routes: Arc<RouteTable>,
}

impl std::fmt::Debug for TelemetryLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryLayer")
            .field("config", &self.routes.config)
            .finish_non_exhaustive()
    }
}

impl Default for TelemetryLayer {
    fn default() -> Self {
        TelemetryLayer::builder().build()
    }
}

impl TelemetryLayer {
    /// The layer with the default options (what [`instrument`](crate::instrument) puts around an app).
    pub fn new() -> TelemetryLayer {
        TelemetryLayer::default()
    }

    /// A builder to change the defaults.
    pub fn builder() -> TelemetryLayerBuilder {
        TelemetryLayerBuilder::default()
    }
}

impl<S> Layer<S> for TelemetryLayer {
    type Service = TelemetryService<S>;

    fn layer(&self, inner: S) -> TelemetryService<S> {
        // axum applies layers again on every request to a router that was not finalised with
        // `with_state`/`into_make_service` (calling a `Router` as a service does that): keep this
        // to one reference count.
        TelemetryService::new(inner, self.routes.clone())
    }
}

/// Options of a [`TelemetryLayer`].
///
/// ```
/// use glimpse_telemetry_axum::TelemetryLayer;
///
/// let layer = TelemetryLayer::builder()
///     .exclude_route("/internal/status")
///     .sample_successes("/feed", 0.01)
///     .trust_incoming_request_id(false)
///     .build();
/// ```
#[derive(Clone, Debug, Default)]
#[must_use = "call .build() to get the layer"]
pub struct TelemetryLayerBuilder {
    config: Config,
}

impl TelemetryLayerBuilder {
    /// Routes (templates, as given to `Router::route`) the layer leaves alone entirely: no span,
    /// no metrics, no access log. Replaces the default list (`/metrics`, `/healthz`, `/readyz`,
    /// which [`ops_router`](crate::ops_router) serves).
    pub fn exclude_routes<I, R>(mut self, routes: I) -> Self
    where
        I: IntoIterator<Item = R>,
        R: Into<String>,
    {
        self.config.excluded = routes
            .into_iter()
            .map(|r| r.into().into_boxed_str())
            .collect();
        self
    }

    /// Adds a route to the excluded ones (see [`exclude_routes`](Self::exclude_routes)).
    pub fn exclude_route(mut self, route: impl Into<String>) -> Self {
        self.config.excluded.push(route.into().into_boxed_str());
        self
    }

    /// Logs this share (0 to 1) of the route's successful (1xx to 3xx) requests that are not slow;
    /// errors, 4xx, cancelled and slow requests are always logged. Default 1 (every request),
    /// except 0 for the [`QUIET_ROUTES`](crate::server::QUIET_ROUTES).
    pub fn sample_successes(mut self, route: impl Into<String>, ratio: f64) -> Self {
        let route = route.into().into_boxed_str();
        self.config.sampling.retain(|(r, _)| *r != route);
        self.config.sampling.push((route, ratio));
        self
    }

    /// Requests at least this slow are always logged, whatever the sampling (default 1 s).
    pub fn slow_threshold(mut self, threshold: Duration) -> Self {
        self.config.slow = threshold;
        self
    }

    /// Whether access log lines are written for requests that did not fail on the server
    /// (default true). 5xx lines are written regardless: they are the server's error log and the
    /// GlitchTip report.
    pub fn access_log(mut self, enabled: bool) -> Self {
        self.config.access_log = enabled;
        self
    }

    /// Adds the query string to access log lines as `query` (default false: query strings carry
    /// tokens and personal data more often than anything else in a request line).
    pub fn log_query_string(mut self, enabled: bool) -> Self {
        self.config.log_query = enabled;
        self
    }

    /// The request id header (default `x-request-id`).
    pub fn request_id_header(mut self, name: HeaderName) -> Self {
        self.config.request_id_header = name;
        self
    }

    /// Whether a valid incoming request id is kept (default true: the id follows the request
    /// from the edge proxy or the calling service). When false, every request gets a new id.
    pub fn trust_incoming_request_id(mut self, trust: bool) -> Self {
        self.config.trust_request_id = trust;
        self
    }

    /// The layer.
    pub fn build(self) -> TelemetryLayer {
        // Register the families now, so `/metrics` lists them from the start.
        let _ = families();
        #[cfg(feature = "ws")]
        crate::ws::register();
        TelemetryLayer {
            routes: Arc::new(RouteTable::new(self.config)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::metrics::UNMATCHED_ROUTE;
    use crate::server::routes::RouteState;

    fn state(b: TelemetryLayerBuilder, route: &str) -> Arc<RouteState> {
        b.build().routes.route(Some(route))
    }

    #[test]
    fn sampling_keeps_the_configured_share() {
        let s = state(TelemetryLayer::builder().sample_successes("/a", 0.25), "/a");
        let kept = (0..1000).filter(|_| s.log_success()).count();
        assert_eq!(kept, 250);
        let quiet = state(TelemetryLayer::builder(), "/healthz");
        assert!(!quiet.log_success());
        let loud = state(
            TelemetryLayer::builder().sample_successes("/healthz", 1.0),
            "/healthz",
        );
        assert!(loud.log_success());
    }

    #[test]
    fn ops_routes_are_excluded_by_default() {
        assert!(state(TelemetryLayer::builder(), "/metrics").excluded);
        assert!(!state(TelemetryLayer::builder(), "/users/{id}").excluded);
        assert!(
            !state(
                TelemetryLayer::builder().exclude_routes(Vec::<String>::new()),
                "/metrics"
            )
            .excluded
        );
    }

    #[test]
    fn routes_are_found_again_and_unmatched_is_shared() {
        let layer = TelemetryLayer::new();
        let shared = &layer.routes;
        let a = shared.route(Some("/a"));
        assert!(Arc::ptr_eq(&a, &shared.route(Some("/a"))));
        // Many more routes than probes: every one keeps a single state.
        let states: Vec<_> = (0..2000)
            .map(|i| shared.route(Some(&format!("/r/{i}"))))
            .collect();
        for (i, s) in states.iter().enumerate() {
            assert_eq!(&*s.route, format!("/r/{i}"));
            assert!(
                Arc::ptr_eq(s, &shared.route(Some(&format!("/r/{i}")))),
                "{i}"
            );
        }
        let u = shared.route(None);
        assert_eq!(&*u.route, UNMATCHED_ROUTE);
        assert!(!u.matched && !u.excluded);
        assert!(Arc::ptr_eq(&u, &shared.route(None)));
    }
}
