//! [`TelemetryLayer`], its builder, and the per-route state the layer's services share.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use http::header::HeaderName;
use tower_layer::Layer;

use super::metrics::{RouteMetrics, UNMATCHED_ROUTE, families};
use super::service::TelemetryService;
use crate::ops::{HEALTH_PATH, METRICS_PATH, READY_PATH};
use crate::request_id::REQUEST_ID_HEADER;

/// Routes whose successful requests are not access-logged unless configured otherwise: health
/// checks are called every few seconds by every load balancer and say nothing.
pub const QUIET_ROUTES: &[&str] = &[
    "/health", "/healthz", "/livez", "/live", "/ready", "/readyz", "/ping",
];

/// At most this many distinct route templates get a cached state per layer; a router has far
/// fewer, so this only bounds memory if something feeds the layer unbounded `MatchedPath`s.
const MAX_CACHED_ROUTES: usize = 4096;

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
    shared: Arc<Shared>,
}

impl std::fmt::Debug for TelemetryLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryLayer")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl Default for TelemetryLayer {
    fn default() -> Self {
        TelemetryLayer::builder().build()
    }
}

impl TelemetryLayer {
    /// The layer with the default options (what [`layer`](crate::layer) returns).
    pub fn new() -> TelemetryLayer {
        TelemetryLayer::default()
    }

    /// A builder to change the defaults.
    pub fn builder() -> TelemetryLayerBuilder {
        TelemetryLayerBuilder::default()
    }

    /// The finished app with this layer around it: every request is seen, whatever the
    /// composition (see [`instrument`](crate::instrument)). Call it last, on the app you serve.
    ///
    /// ```
    /// use axum::{Router, routing::get};
    /// use glimpse_telemetry_axum::TelemetryLayer;
    ///
    /// let app = Router::new()
    ///     .route("/feed", get(|| async { "feed" }))
    ///     .merge(glimpse_telemetry_axum::ops_router());
    /// let app = TelemetryLayer::builder().sample_successes("/feed", 0.01).build().instrument(app);
    /// # let _: glimpse_telemetry_axum::InstrumentedRouter = app;
    /// ```
    pub fn instrument(&self, app: axum::Router) -> super::InstrumentedRouter {
        super::InstrumentedRouter::new(self, app)
    }
}

impl<S> Layer<S> for TelemetryLayer {
    type Service = TelemetryService<S>;

    fn layer(&self, inner: S) -> TelemetryService<S> {
        // axum applies layers again on every request to a router that was not finalised with
        // `with_state`/`into_make_service` (calling a `Router` as a service does that): keep this
        // to one reference count.
        TelemetryService::new(inner, self.shared.clone())
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
#[derive(Clone, Debug)]
#[must_use = "call .build() to get the layer"]
pub struct TelemetryLayerBuilder {
    config: Config,
}

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

impl Default for TelemetryLayerBuilder {
    fn default() -> Self {
        TelemetryLayerBuilder {
            config: Config {
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
            },
        }
    }
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
    /// except 0 for the [`QUIET_ROUTES`].
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
        let config = Arc::new(self.config);
        TelemetryLayer {
            shared: Arc::new(Shared {
                unmatched: Arc::new(RouteState::new(&config, UNMATCHED_ROUTE, false)),
                table: (0..TABLE_SLOTS).map(|_| OnceLock::new()).collect(),
                spill: RwLock::new(HashMap::new()),
                config,
            }),
        }
    }
}

/// What all services made by one layer share.
pub(crate) struct Shared {
    pub(crate) config: Arc<Config>,
    /// Route states by route template: an open-addressing table of write-once slots, so the
    /// lookup on every request takes no lock (a hash of the template and a string comparison).
    table: Box<[OnceLock<Arc<RouteState>>]>,
    /// Routes that found no free slot within [`PROBES`] (only with hundreds of routes).
    spill: RwLock<HashMap<Box<str>, Arc<RouteState>>>,
    unmatched: Arc<RouteState>,
}

const TABLE_SLOTS: usize = 512;
const PROBES: usize = 8;

/// FxHash-style, over 8-byte words: a route template is a few dozen bytes.
#[inline]
fn hash(s: &str) -> usize {
    let mut h: u64 = s.len() as u64;
    for chunk in s.as_bytes().chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    (h >> 32) as usize
}

impl Shared {
    /// The state of the route `matched` (the `MatchedPath`), or of unmatched requests.
    #[inline]
    pub(crate) fn route(&self, matched: Option<&str>) -> Arc<RouteState> {
        let Some(path) = matched else {
            return self.unmatched.clone();
        };
        let start = hash(path);
        for i in 0..PROBES {
            match self.table[(start + i) % TABLE_SLOTS].get() {
                Some(s) if *s.route == *path => return s.clone(),
                Some(_) => {}
                None => break,
            }
        }
        self.insert(path, start)
    }

    #[cold]
    fn insert(&self, path: &str, start: usize) -> Arc<RouteState> {
        if let Some(s) = self
            .spill
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(path)
        {
            return s.clone();
        }
        let state = Arc::new(RouteState::new(&self.config, path, true));
        for i in 0..PROBES {
            let slot = &self.table[(start + i) % TABLE_SLOTS];
            let _ = slot.set(state.clone());
            match slot.get() {
                // Ours, or another thread's for the same route (keep one state per route).
                Some(s) if *s.route == *path => return s.clone(),
                _ => {}
            }
        }
        let mut spill = self.spill.write().unwrap_or_else(|e| e.into_inner());
        if spill.len() < MAX_CACHED_ROUTES {
            return spill.entry(path.into()).or_insert(state).clone();
        }
        state
    }
}

/// One route as this layer sees it: its label, options and metric handles.
pub(crate) struct RouteState {
    pub(crate) config: Arc<Config>,
    /// The `http_route` label (`unmatched` for requests no route matched).
    pub(crate) route: Arc<str>,
    /// Whether a route matched (the span then has `http.route`).
    pub(crate) matched: bool,
    pub(crate) excluded: bool,
    pub(crate) metrics: RouteMetrics,
    /// Log one successful request in this many (0: none).
    sample_every: u32,
    seen: AtomicU32,
}

impl RouteState {
    fn new(config: &Arc<Config>, route: &str, matched: bool) -> RouteState {
        let ratio = config
            .sampling
            .iter()
            .find(|(r, _)| **r == *route)
            .map_or(1.0, |(_, ratio)| *ratio);
        let sample_every = if ratio.is_nan() || ratio <= 0.0 {
            0
        } else if ratio >= 1.0 {
            1
        } else {
            (1.0 / ratio).round().clamp(1.0, f64::from(u32::MAX)) as u32
        };
        RouteState {
            config: config.clone(),
            route: route.into(),
            matched,
            excluded: matched && config.excluded.iter().any(|r| **r == *route),
            metrics: RouteMetrics::new(route),
            sample_every,
            seen: AtomicU32::new(0),
        }
    }

    /// Whether this successful request's line is written (per-route sampling).
    #[inline]
    pub(crate) fn log_success(&self) -> bool {
        match self.sample_every {
            0 => false,
            1 => true,
            n => self.seen.fetch_add(1, Ordering::Relaxed) % n == 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(b: TelemetryLayerBuilder, route: &str) -> Arc<RouteState> {
        b.build().shared.route(Some(route))
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
    fn excluded_templates_match_paths_before_routing() {
        assert!(template_matches("/metrics", "/metrics"));
        assert!(!template_matches("/metrics", "/metrics/"));
        assert!(template_matches("/internal/{id}", "/internal/7"));
        assert!(!template_matches("/internal/{id}", "/internal/"));
        assert!(!template_matches("/internal/{id}", "/internal/7/x"));
        assert!(template_matches("/static/{*rest}", "/static/a/b.css"));
        assert!(!template_matches("/static/{*rest}", "/static"));
        let layer = TelemetryLayer::new();
        assert!(layer.shared.config.excludes_path("/healthz"));
        assert!(!layer.shared.config.excludes_path("/no/such/route"));
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
        let shared = &layer.shared;
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
