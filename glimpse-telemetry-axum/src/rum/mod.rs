//! Real-user monitoring (feature `rum`): the Core Web Vitals and page-load time browsers measure,
//! received as beacons and recorded in the service's own `/metrics`, linked to the backend trace
//! of the page's document request.
//!
//! # Server side
//!
//! Mount the endpoint in one line, declaring the page routes (the bounded `page_route` label):
//!
//! ```
//! use axum::{Router, routing::get};
//! use glimpse_telemetry_axum::rum::RumEndpoint;
//!
//! let app: Router = Router::new()
//!     .route("/users/{id}", get(|| async { "profile page" }))
//!     .merge(RumEndpoint::builder().pages(["/", "/users/{id}"]).build().router()) // POST /rum
//!     .layer(glimpse_telemetry_axum::TelemetryLayer::new());
//! ```
//!
//! A page's path is mapped to one of the declared templates (`/users/42` → `/users/{id}`), else
//! to `other`: never the raw URL. The HTTP layer's route templates are not visible from here
//! (axum keeps a router's routes private), so the service lists its page routes; a page that is
//! not listed is still counted, as `other`.
//!
//! What is recorded, per `page_route` (see `docs/metrics.md`):
//! `browser_web_vital_{lcp,inp,fcp,ttfb}_seconds`, `browser_web_vital_cls` (unitless),
//! `browser_page_load_duration_seconds` (histograms with buckets around web-vitals' thresholds),
//! `browser_web_vital_ratings_total{web_vital, rating}`, and the endpoint's own health,
//! `glimpse_telemetry_rum_beacons_total{outcome}` and
//! `glimpse_telemetry_rum_duplicate_reports_total`.
//!
//! # Browser side
//!
//! The page loads the real [`web-vitals`](https://github.com/GoogleChrome/web-vitals) module
//! (served by the service or bundled, see [`BROWSER_SNIPPET`]) and sends each report with
//! `navigator.sendBeacon`, batched until the page is hidden:
//!
//! ```js
#![doc = include_str!("snippet.js")]
//! ```
//!
//! The payload is described in [`beacon`]: web-vitals' `name`, `value`, `delta`, `id`,
//! `rating` and `navigationType`, plus `page` (`location.pathname`) and, optionally,
//! `traceparent`.
//!
//! # One page view, one observation
//!
//! web-vitals reports CLS and INP again when a page that was hidden is shown and hidden again
//! (with the same `id`, `value` the new total and `delta` the change). A histogram cannot
//! replace an observation, so each page view counts once per measure: the **first report of an
//! `id`** is recorded; a report whose `id` was already seen (kept in a bounded set of recent
//! ids) or whose `delta` differs from its `value` (a later report, even after the set forgot its
//! id or the process restarted) only adds to `glimpse_telemetry_rum_duplicate_reports_total`.
//! Summing `delta`s would keep a correct `_sum` but count one page view several times; CLS and
//! INP can grow after the first report, so the recorded value is the one at the first hide,
//! which is what web-vitals reports for most page views (it reports on hide only).
//!
//! # Linking to the backend trace
//!
//! The document response gives the page its trace, in either way:
//! - a `Server-Timing: traceparent;desc="00-..."` header ([`server_timing`]): the page reads it
//!   from `performance.getEntriesByType('navigation')[0].serverTiming`, no markup needed
//!   (cross-origin pages also need `Timing-Allow-Origin`);
//! - a `<meta name="traceparent" content="00-...">` tag the page's HTML renders ([`meta_tag`]).
//!
//! A report that brings a sampled `traceparent` back is recorded with its trace and span id as
//! the exemplar of its bucket (in the OpenMetrics exposition), so the slow LCP bucket in Grafana
//! opens the trace of that document request in Jaeger. Reports without one have no exemplar
//! (never the beacon request's own trace, which would say nothing about the page).
//!
//! # Hostile input
//!
//! Every beacon costs a small bounded amount, and none can add a series: they all exist from
//! [`RumEndpointBuilder::build`] on (per declared page and `other`: 6 histograms and 15 rating
//! counters), and labels come only from the declared templates, the fixed measure names and
//! ratings. Then:
//! - a per-process token bucket (default 50 beacons per second, bursts of 100) answers `429`
//!   before anything is read;
//! - only `text/plain` (sendBeacon's default for a string, no CORS preflight) and
//!   `application/json` are read (`415` otherwise);
//! - the body is capped while it is read, whatever `Content-Length` says (default 8 KiB, `413`);
//! - parsing is strict ([`beacon::parse`]: `400` with the reason).
//!
//! Every outcome is counted in `glimpse_telemetry_rum_beacons_total{outcome}`; accepted beacons
//! get `204`. Mounted inside the telemetry layer, beacons are also ordinary requests (RED
//! metrics, access log lines at `WARN` for refusals); mount it outside to keep a flood out of
//! the logs.

pub mod beacon;
mod document;
mod limits;
mod metrics;
mod pages;

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use glimpse_telemetry::otel::trace::{SpanId, TraceId};
use http_body::Body as _;

use self::beacon::{Measure, Rating, Report};
pub use self::document::{SERVER_TIMING, meta_tag, server_timing, traceparent};
use self::limits::{Seen, TokenBucket};
use self::metrics::Metrics;
pub use self::pages::OTHER;

/// The browser side, as a JavaScript module (the snippet above), to serve or to copy.
///
/// ```
/// assert!(glimpse_telemetry_axum::rum::BROWSER_SNIPPET.contains("sendBeacon"));
/// ```
pub const BROWSER_SNIPPET: &str = include_str!("snippet.js");

/// The default path of the endpoint.
pub const DEFAULT_PATH: &str = "/rum";
/// The default body limit (sendBeacon allows 64 KiB; a batch of reports is well under 4 KiB).
pub const DEFAULT_MAX_BODY: usize = 8 * 1024;
/// The largest body limit the builder accepts.
pub const MAX_BODY_LIMIT: usize = 64 * 1024;

/// The beacon endpoint: build it with [`RumEndpoint::builder`], mount it with
/// [`RumEndpoint::router`].
///
/// ```
/// let app: axum::Router = glimpse_telemetry_axum::rum::RumEndpoint::builder()
///     .page("/")
///     .build()
///     .router();
/// ```
#[derive(Clone, Debug)]
pub struct RumEndpoint {
    inner: Arc<Inner>,
}

/// The options of a [`RumEndpoint`], with defaults.
///
/// ```
/// use std::time::Duration;
/// use glimpse_telemetry_axum::rum::RumEndpoint;
///
/// let rum = RumEndpoint::builder()
///     .path("/telemetry/rum")        // default /rum
///     .pages(["/", "/users/{id}"])   // default: none, every page is `other`
///     .max_body(4096)                // default 8 KiB, at most 64 KiB
///     .rate_limit(20, 40)            // default 50 beacons/s, bursts of 100
///     .dedupe_capacity(1024)         // default 10 000 recent ids
///     .build();
/// assert_eq!(rum.path(), "/telemetry/rum");
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct RumEndpointBuilder {
    path: String,
    pages: pages::PageRoutes,
    max_body: usize,
    per_second: u32,
    burst: u32,
    dedupe_capacity: usize,
}

impl Default for RumEndpointBuilder {
    fn default() -> Self {
        RumEndpointBuilder {
            path: DEFAULT_PATH.to_owned(),
            pages: pages::PageRoutes::default(),
            max_body: DEFAULT_MAX_BODY,
            per_second: 50,
            burst: 100,
            dedupe_capacity: 10_000,
        }
    }
}

impl RumEndpointBuilder {
    /// The path the endpoint is mounted at (default [`DEFAULT_PATH`]).
    ///
    /// ```
    /// let rum = glimpse_telemetry_axum::rum::RumEndpoint::builder().path("/v").build();
    /// assert_eq!(rum.path(), "/v");
    /// ```
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Declares one page route template, in axum's syntax (`/users/{id}`, `/docs/{*path}`).
    ///
    /// ```
    /// let rum = glimpse_telemetry_axum::rum::RumEndpoint::builder().page("/users/{id}").build();
    /// assert_eq!(rum.page_route("/users/7"), "/users/{id}");
    /// assert_eq!(rum.page_route("/admin"), "other");
    /// ```
    pub fn page(mut self, template: &str) -> Self {
        self.pages.add(template);
        self
    }

    /// Declares several page route templates.
    ///
    /// ```
    /// let rum = glimpse_telemetry_axum::rum::RumEndpoint::builder().pages(["/", "/a"]).build();
    /// assert_eq!(rum.page_route("/a"), "/a");
    /// ```
    pub fn pages<I, T>(mut self, templates: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        for t in templates {
            self.pages.add(t.as_ref());
        }
        self
    }

    /// The body limit in bytes (default [`DEFAULT_MAX_BODY`], clamped to 256 B ..
    /// [`MAX_BODY_LIMIT`]).
    ///
    /// ```
    /// let rum = glimpse_telemetry_axum::rum::RumEndpoint::builder().max_body(1 << 20).build();
    /// # let _ = rum;
    /// ```
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes.clamp(256, MAX_BODY_LIMIT);
        self
    }

    /// The per-process rate bound: `per_second` beacons on average, `burst` at once (each at
    /// least 1). Beacons beyond it get `429` and count as `rate_limited`.
    ///
    /// ```
    /// let rum = glimpse_telemetry_axum::rum::RumEndpoint::builder().rate_limit(5, 10).build();
    /// # let _ = rum;
    /// ```
    pub fn rate_limit(mut self, per_second: u32, burst: u32) -> Self {
        self.per_second = per_second.max(1);
        self.burst = burst.max(1);
        self
    }

    /// How many recent web-vitals ids are remembered to count each page view once (at least
    /// 16; memory is about 100 bytes per id, twice this number at most).
    ///
    /// ```
    /// let rum = glimpse_telemetry_axum::rum::RumEndpoint::builder().dedupe_capacity(100).build();
    /// # let _ = rum;
    /// ```
    pub fn dedupe_capacity(mut self, ids: usize) -> Self {
        self.dedupe_capacity = ids.max(16);
        self
    }

    /// The endpoint. Registers its metric families and creates every series it can ever
    /// write (each declared page and `other`, each measure and rating, at 0), so no beacon adds
    /// a series and `/metrics` shows them before the first page view.
    pub fn build(self) -> RumEndpoint {
        let metrics = Metrics::register();
        if let Some(f) = &metrics.families {
            for page in self.pages.templates().chain([OTHER]) {
                for m in Measure::ALL {
                    let _ = f.histogram(m).get_or_create(&[page]);
                    if m.thresholds().is_some() {
                        for r in [Rating::Good, Rating::NeedsImprovement, Rating::Poor] {
                            let _ = f.ratings.get_or_create(&[page, m.label(), r.as_str()]);
                        }
                    }
                }
            }
        }
        RumEndpoint {
            inner: Arc::new(Inner {
                path: self.path,
                pages: self.pages,
                max_body: self.max_body,
                bucket: Mutex::new(TokenBucket::new(self.per_second, self.burst)),
                seen: Mutex::new(Seen::new(self.dedupe_capacity)),
                metrics,
            }),
        }
    }
}

#[derive(Debug)]
struct Inner {
    path: String,
    pages: pages::PageRoutes,
    max_body: usize,
    bucket: Mutex<TokenBucket>,
    seen: Mutex<Seen>,
    metrics: Metrics,
}

impl RumEndpoint {
    /// The options, with their defaults.
    pub fn builder() -> RumEndpointBuilder {
        RumEndpointBuilder::default()
    }

    /// The path it is mounted at.
    ///
    /// ```
    /// assert_eq!(glimpse_telemetry_axum::rum::RumEndpoint::builder().build().path(), "/rum");
    /// ```
    pub fn path(&self) -> &str {
        &self.inner.path
    }

    /// The `page_route` label a page would get: its declared template, or [`OTHER`].
    ///
    /// ```
    /// let rum = glimpse_telemetry_axum::rum::RumEndpoint::builder().page("/").build();
    /// assert_eq!(rum.page_route("https://glimpse.app/?utm=x"), "/");
    /// ```
    pub fn page_route(&self, page: &str) -> &str {
        self.inner.pages.template_of(page)
    }

    /// The declared page route templates.
    ///
    /// ```
    /// let rum = glimpse_telemetry_axum::rum::RumEndpoint::builder().page("/").build();
    /// assert_eq!(rum.page_routes().collect::<Vec<_>>(), ["/"]);
    /// ```
    pub fn page_routes(&self) -> impl Iterator<Item = &str> {
        self.inner.pages.templates()
    }

    /// A router with `POST <path>`, to merge into the application's (inside or outside the
    /// telemetry layer: inside, beacons are also ordinary requests in the RED metrics).
    ///
    /// ```
    /// let app: axum::Router = glimpse_telemetry_axum::rum::RumEndpoint::builder().build().router();
    /// ```
    pub fn router<S: Clone + Send + Sync + 'static>(self) -> Router<S> {
        let path = self.inner.path.clone();
        Router::new().route(
            &path,
            post(move |req: Request| {
                let this = self.clone();
                async move { this.handle(req).await }
            }),
        )
    }

    /// Answers one beacon: `204` when recorded, else `400`, `413`, `415` or `429` with the
    /// reason as text. Never a 5xx.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use glimpse_telemetry_axum::rum::RumEndpoint;
    /// let rum = RumEndpoint::builder().page("/").build();
    /// let beacon = axum::http::Request::post("/rum")
    ///     .header("content-type", "text/plain;charset=UTF-8")
    ///     .body(axum::body::Body::from(r#"{"name":"TTFB","value":120,"id":"v5-1-1","page":"/"}"#))
    ///     .unwrap();
    /// assert_eq!(rum.handle(beacon).await.status(), 204);
    /// # }
    /// ```
    pub async fn handle(&self, req: Request) -> Response {
        let m = &self.inner.metrics;
        if !self.take_token() {
            m.rate_limited.inc();
            return refuse(
                StatusCode::TOO_MANY_REQUESTS,
                "rate limited: too many beacons",
            );
        }
        if !accepted_media_type(req.headers().get(header::CONTENT_TYPE)) {
            m.unsupported.inc();
            return refuse(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "content-type must be text/plain or application/json",
            );
        }
        let max = self.inner.max_body;
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > max as u64) {
            m.too_large.inc();
            return refuse(StatusCode::PAYLOAD_TOO_LARGE, "beacon too large");
        }
        let body = match read_capped(req.into_body(), max).await {
            Ok(b) => b,
            Err(ReadError::TooLarge) => {
                m.too_large.inc();
                return refuse(StatusCode::PAYLOAD_TOO_LARGE, "beacon too large");
            }
            Err(ReadError::Broken) => {
                m.invalid.inc();
                return refuse(StatusCode::BAD_REQUEST, "could not read the beacon body");
            }
        };
        match beacon::parse(&body) {
            Ok(reports) => {
                m.accepted.inc();
                self.record(&reports);
                StatusCode::NO_CONTENT.into_response()
            }
            Err(e) => {
                m.invalid.inc();
                refuse(StatusCode::BAD_REQUEST, e.reason())
            }
        }
    }

    fn take_token(&self) -> bool {
        self.inner
            .bucket
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take(Instant::now())
    }

    fn record(&self, reports: &[Report]) {
        let m = &self.inner.metrics;
        for r in reports {
            let first = r.is_first()
                && self
                    .inner
                    .seen
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(r.measure, &r.id);
            if !first {
                m.duplicates.inc();
                continue;
            }
            let Some(f) = &m.families else { continue };
            let page = self.inner.pages.template_of(&r.page);
            let h = f.histogram(r.measure).get_or_create(&[page]);
            match r.trace.filter(|t| t.sampled) {
                Some(t) => h.observe_with_exemplar(
                    r.observed_value(),
                    TraceId::from(t.trace_id),
                    SpanId::from(t.span_id),
                ),
                None => h.observe_without_exemplar(r.observed_value()),
            }
            if let Some(rating) = r.rating() {
                f.ratings
                    .get_or_create(&[page, r.measure.label(), rating.as_str()])
                    .inc();
            }
        }
    }
}

fn refuse(status: StatusCode, reason: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        reason.to_owned(),
    )
        .into_response()
}

fn accepted_media_type(v: Option<&HeaderValue>) -> bool {
    let Some(v) = v.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = v.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("text/plain") || essence.eq_ignore_ascii_case("application/json")
}

enum ReadError {
    TooLarge,
    /// The client went away mid-body, or sent a broken chunked encoding.
    Broken,
}

/// The body, refused as soon as it passes `max` bytes (whatever Content-Length said).
async fn read_capped(mut body: Body, max: usize) -> Result<Vec<u8>, ReadError> {
    let mut buf = Vec::new();
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(|_| ReadError::Broken)?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > max {
                return Err(ReadError::TooLarge);
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf)
}
