//! The operations endpoints: `GET /metrics` for Prometheus, `GET /healthz` (liveness) and
//! `GET /readyz` (readiness, with the checks the service registers).
//!
//! Serve them next to the API, merged in any order: the telemetry layer leaves these paths out of
//! the RED metrics and the access log by default.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//!
//! # async fn run() -> std::io::Result<()> {
//! let app = Router::new()
//!     .route("/users/{id}", get(|| async { "user" }))
//!     .merge(glimpse_telemetry_axum::ops_router());
//! let app = glimpse_telemetry_axum::instrument(app);
//! # let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
//! # axum::serve(listener, app).await
//! # }
//! ```
//!
//! The router carries a telemetry layer of its own (default options), so that merging it after
//! `Router::layer(TelemetryLayer::new())` does not leave requests no route matches unseen: its default
//! fallback replaces the app's when merged. Inside an instrumented app that layer only reports
//! routes to the outer one.
//!
//! or on a port of their own, so `/metrics` is not public:
//!
//! ```no_run
//! use std::time::Duration;
//! use glimpse_telemetry_axum::Ops;
//!
//! # async fn run() -> std::io::Result<()> {
//! # async fn ping_database() -> Result<(), std::io::Error> { Ok(()) }
//! let ops = Ops::new()
//!     .check("database", || async { ping_database().await })
//!     .check_timeout(Duration::from_secs(1))
//!     .serve("0.0.0.0:9464")
//!     .await?;
//! println!("ops endpoints on {}", ops.local_addr());
//! # Ok(())
//! # }
//! ```
//!
//! `/readyz` runs every check concurrently, each within the timeout (default 2 s), and answers
//! `200 {"status":"ready",...}` or `503` with the failing checks named:
//!
//! ```json
//! {"status":"not_ready","failing":["database"],
//!  "checks":[{"name":"database","status":"failed","error":"timed out after 1000 ms","duration_ms":1000}]}
//! ```

use std::fmt::Display;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use glimpse_telemetry::metrics::{Format, encode};
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::{Value, json};

/// Where Prometheus scrapes.
pub const METRICS_PATH: &str = "/metrics";
/// Liveness: the process answers.
pub const HEALTH_PATH: &str = "/healthz";
/// Readiness: the process and what it depends on can serve.
pub const READY_PATH: &str = "/readyz";
/// How long a readiness check may take by default.
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

type CheckFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;
type CheckFn = dyn Fn() -> CheckFuture + Send + Sync;

/// The operations endpoints and their readiness checks.
#[derive(Clone)]
#[must_use = "call .router() or .serve(addr)"]
pub struct Ops {
    checks: Vec<(Arc<str>, Arc<CheckFn>)>,
    timeout: Duration,
}

impl std::fmt::Debug for Ops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ops")
            .field(
                "checks",
                &self.checks.iter().map(|(n, _)| &**n).collect::<Vec<_>>(),
            )
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Default for Ops {
    fn default() -> Self {
        Ops {
            checks: Vec::new(),
            timeout: DEFAULT_CHECK_TIMEOUT,
        }
    }
}

impl Ops {
    /// The endpoints, with no readiness checks (ready whenever the process answers).
    pub fn new() -> Ops {
        Ops::default()
    }

    /// Adds a readiness check: `/readyz` fails while `check` fails, hangs past the timeout or
    /// panics. Checks run concurrently, on every `/readyz` request.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicBool, Ordering};
    ///
    /// let draining = Arc::new(AtomicBool::new(false));
    /// let flag = draining.clone();
    /// let ops = glimpse_telemetry_axum::Ops::new().check("not_draining", move || {
    ///     let draining = flag.load(Ordering::Relaxed);
    ///     async move { if draining { Err("shutting down") } else { Ok(()) } }
    /// });
    /// ```
    pub fn check<F, Fut, E>(mut self, name: impl Into<String>, check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Display,
    {
        let f: Arc<CheckFn> = Arc::new(move || {
            let fut = check();
            Box::pin(async move { fut.await.map_err(|e| e.to_string()) }) as CheckFuture
        });
        self.checks.push((name.into().into(), f));
        self
    }

    /// How long each check may take (default [`DEFAULT_CHECK_TIMEOUT`]).
    pub fn check_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The endpoints as a router, to merge into the application's or to serve on its own.
    ///
    /// ```
    /// let app: axum::Router = glimpse_telemetry_axum::Ops::new().router();
    /// ```
    pub fn router<S: Clone + Send + Sync + 'static>(self) -> Router<S> {
        self.endpoints().layer(crate::TelemetryLayer::new())
    }

    /// The endpoints alone, for their own port (where requests no route matches are not the
    /// API's).
    fn endpoints<S: Clone + Send + Sync + 'static>(self) -> Router<S> {
        let checks = Arc::new(self);
        Router::new()
            .route(METRICS_PATH, get(metrics))
            .route(HEALTH_PATH, get(health))
            .route(
                READY_PATH,
                get(move || {
                    let checks = checks.clone();
                    async move { checks.ready().await }
                }),
            )
    }

    /// Serves the endpoints on `addr` (its own listener, typically a port the load balancer does
    /// not expose), in a background task.
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub async fn serve(self, addr: impl tokio::net::ToSocketAddrs) -> io::Result<OpsServer> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let router: Router = self.endpoints();
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::warn!(target: "glimpse_telemetry_axum::ops", error = %e, "ops endpoints stopped");
            }
        });
        Ok(OpsServer { local_addr, task })
    }

    async fn ready(&self) -> Response {
        let started: Vec<_> = self
            .checks
            .iter()
            .map(|(name, check)| {
                let fut = check();
                let timeout = self.timeout;
                let task = tokio::spawn(async move {
                    let t0 = Instant::now();
                    let r = tokio::time::timeout(timeout, fut).await;
                    (r, t0.elapsed())
                });
                (name.clone(), task)
            })
            .collect();
        let mut failing = Vec::new();
        let mut results = Vec::with_capacity(started.len());
        for (name, task) in started {
            let (error, elapsed) = match task.await {
                Ok((Ok(Ok(())), d)) => (None, d),
                Ok((Ok(Err(e)), d)) => (Some(e), d),
                Ok((Err(_), d)) => (
                    Some(format!("timed out after {} ms", self.timeout.as_millis())),
                    d,
                ),
                Err(_) => (Some("the check panicked".to_owned()), Duration::ZERO),
            };
            let mut entry = json!({
                "name": &*name,
                "status": if error.is_some() { "failed" } else { "ok" },
                "duration_ms": elapsed.as_millis() as u64,
            });
            if let Some(e) = error {
                entry["error"] = Value::String(e);
                failing.push(Value::String(name.to_string()));
            }
            results.push(entry);
        }
        let ready = failing.is_empty();
        let mut body = json!({
            "status": if ready { "ready" } else { "not_ready" },
            "checks": results,
        });
        if !ready {
            body["failing"] = Value::Array(failing);
        }
        json_response(
            if ready {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            },
            &body,
        )
    }
}

/// The ops endpoints without readiness checks: `Ops::new().router()`.
///
/// ```
/// let app: axum::Router = axum::Router::new().merge(glimpse_telemetry_axum::ops_router());
/// ```
pub fn ops_router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Ops::new().router()
}

/// Serves the ops endpoints without readiness checks on `addr`: `Ops::new().serve(addr)`.
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// let ops = glimpse_telemetry_axum::serve_ops("0.0.0.0:9464").await?;
/// # Ok(())
/// # }
/// ```
///
/// # Errors
/// When the address cannot be bound.
pub async fn serve_ops(addr: impl tokio::net::ToSocketAddrs) -> io::Result<OpsServer> {
    Ops::new().serve(addr).await
}

/// The ops endpoints running on their own listener. Dropping this leaves them running; call
/// [`OpsServer::abort`] to stop them.
#[derive(Debug)]
pub struct OpsServer {
    local_addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl OpsServer {
    /// The address the endpoints listen on (with the real port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops serving.
    pub fn abort(self) {
        self.task.abort();
    }
}

async fn metrics(headers: HeaderMap) -> Response {
    let format = Format::from_accept(headers.get(ACCEPT).and_then(|v| v.to_str().ok()));
    // Encoding walks the whole registry: keep it off the async worker's critical path.
    let body = tokio::task::spawn_blocking(move || encode(format))
        .await
        .unwrap_or_default();
    (
        [(
            CONTENT_TYPE,
            HeaderValue::from_static(format.content_type()),
        )],
        body,
    )
        .into_response()
}

async fn health() -> Response {
    json_response(StatusCode::OK, &json!({"status": "ok"}))
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body.to_string(),
    )
        .into_response()
}
