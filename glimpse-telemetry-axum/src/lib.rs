//! One call around an axum app ([`instrument`]), and a Glimpse service's HTTP and WebSocket traffic is traced,
//! measured, logged and reported, consistently with every other Glimpse service.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let _telemetry = glimpse_telemetry::init!()?;
//!
//!     let app = Router::new()
//!         .route("/users/{id}", get(|| async { "user" }))
//!         .merge(glimpse_telemetry_axum::ops_router()); // /metrics, /healthz, /readyz
//!     // Last, around the finished app: every request is seen, whatever the composition.
//!     let app = glimpse_telemetry_axum::instrument(app);
//!
//!     let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
//!     axum::serve(listener, app).await?;
//!     Ok(())
//! }
//! ```
//!
//! # Every request, whatever the composition
//!
//! [`instrument`] wraps the finished app, so it sees every request: those no route matches (a
//! 404 labelled `http_route="unmatched"`, never the raw path), 405s (with the route's template),
//! requests an auth `route_layer` rejects, nested routers and their fallbacks, `nest_service`.
//! The route template is reported from inside the router, where axum knows it.
//!
//! `Router::layer(TelemetryLayer::new())` also works, but only for the routes and fallback the router has at
//! that moment: routes merged in or a `route_layer` added later run outside it. (The
//! [`ops_router`] carries a layer of its own with the default options, so the common
//! `.layer(TelemetryLayer::new()).merge(ops_router())` still sees 404s; telemetry services inside one another
//! never count a request twice.)
//!
//! # What every request gets
//!
//! - **A server span** `{METHOD} {route}` (`GET /users/{id}`), child of the caller's W3C
//!   `traceparent` (and baggage), with the semantic-convention attributes (`http.request.method`,
//!   `http.route`, `url.scheme`, `url.path`, `http.response.status_code`, `error.type`,
//!   `user_agent.original`, `server.address`, ...), status `ERROR` on 5xx. The response carries a
//!   `traceparent` header, so a browser or a caller can quote the trace.
//! - **A request id**: the caller's `x-request-id` when valid, otherwise a new UUID v7 (no system
//!   call); on the response, on the span as `request_id` (so every log line of the request has
//!   `requestId`), for the handler through the [`RequestId`] extractor ([`request_id`]).
//! - **The user**, once known: [`set_user_id`] or a [`UserId`] extension, so later log lines
//!   carry `userId` and GlitchTip events the user ([`user`]).
//! - **RED metrics** from the core's catalogue: `http_server_request_duration_seconds` (with
//!   trace-id exemplars), `http_server_active_requests`, `http_server_request_body_size_bytes`,
//!   `http_server_response_body_size_bytes`, labelled `http_request_method` (`_OTHER` for unknown
//!   methods), `http_route` (the template; `unmatched` for requests no route matched, never the
//!   raw path), `http_response_status_code` and `error_type`. The duration runs until the response
//!   body is finished.
//! - **One access log line** at the end, with `method`, `route`, `path`, `http_status`,
//!   `response_time` (ms) and `bytes`, at `INFO`, `WARN` (4xx) or `ERROR` (5xx); successful
//!   requests can be sampled per route ([`server::access_log`] describes it).
//! - **Errors reported once**: a panicking handler becomes a `500` and one GlitchTip event; a 5xx
//!   response becomes one event with the method, route, request id, user and trace id, never a
//!   header or a query string (see [`ResponseError`]).
//!
//! # Errors and GlitchTip
//!
//! With error reporting on (`SENTRY_DSN`), a request that goes well costs error reporting
//! nothing: no sentry `Hub`, scope or transaction name per request. The layer tells the core the
//! request's method and route on its span (no allocation), and when an event is captured in the
//! request the core assembles it from that span: the transaction `GET /users/{id}`, the tags
//! `http.request.method` and `http.route`, `request_id`, `trace_id`, the user, and the request's
//! own breadcrumbs (its `INFO`/`WARN` lines, the latest 20; one request's never appear in
//! another's event; the access lines are none). Each failed request gives exactly one event:
//! - a handler that panics: the core's panic hook reports the panic (inside the request's span),
//!   the layer answers `500`;
//! - a 5xx response: if anything in the request already reported (an `ERROR` log line, a panic,
//!   `capture_error`), the core noted it on the request span and nothing more is sent; otherwise
//!   the access log's `ERROR` line is the report, with the method, route, path (no query string),
//!   status and duration, and the error's type and sources when the response carries a
//!   [`ResponseError`].
//!
//! No request header is ever attached to an event, so `authorization` and `cookie` cannot leak.
//!
//! # Runnable example
//!
//! ```
//! use axum::{Router, body::Body, routing::get};
//! use http::Request;
//! use http_body_util::BodyExt as _;
//! use tower::ServiceExt as _;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let app = glimpse_telemetry_axum::instrument(
//!     Router::new().route("/users/{id}", get(|| async { "user" })),
//! );
//!
//! let response = app
//!     .oneshot(Request::get("/users/42").header("x-request-id", "req-42").body(Body::empty()).unwrap())
//!     .await
//!     .unwrap();
//! assert_eq!(response.status(), 200);
//! assert_eq!(response.headers()["x-request-id"], "req-42");
//! // The request ends when its body is read (or dropped): then it is measured and logged.
//! let body = response.into_body().collect().await.unwrap().to_bytes();
//! assert_eq!(body, "user");
//!
//! let metrics = glimpse_telemetry::metrics::encode(glimpse_telemetry::metrics::Format::Text);
//! assert!(metrics.contains(r#"http_server_request_duration_seconds_count{http_request_method="GET",http_route="/users/{id}",http_response_status_code="200",error_type=""} 1"#));
//! # }
//! ```
//!
//! # The rest
//!
//! - [`ops`]: `/metrics`, `/healthz`, `/readyz` with readiness checks, on the API's port or their
//!   own ([`serve_ops`]);
//! - [`ws`] (feature `ws`, default): instrumented WebSocket connections;
//! - `rum` (feature `rum`): the real-user monitoring endpoint, Core Web Vitals from browsers;
//! - [`client`]: the trace context and request id on outgoing HTTP calls;
//! - [`TelemetryLayer::builder`]: the options.
//!
//! # Cost
//!
//! Designed to add less per request than `axum-prometheus` alone: metric handles are cached per
//! route, method and status (no label set is built or hashed on a known route), request ids come
//! from a per-thread generator, the span's attributes are only built when it is sampled, and the
//! response future and body are plain structs (no `Box::pin`, no lock).
#![warn(missing_docs)]

pub mod client;
mod glitchtip;
pub mod ops;
pub mod request_id;
#[cfg(feature = "rum")]
pub mod rum;
pub mod server;
pub mod user;
#[cfg(feature = "ws")]
pub mod ws;

pub use crate::server::{
    InstrumentedFuture, InstrumentedRouter, ResponseBody, ResponseFuture, TelemetryLayer,
    TelemetryLayerBuilder, TelemetryService,
};
pub use client::{PropagateLayer, PropagateService, inject_headers, outgoing_headers};
pub use glitchtip::ResponseError;
pub use ops::{Ops, OpsServer, ops_router, serve_ops};
pub use request_id::RequestId;
pub use user::{UserId, set_user_id};

/// The finished app with the telemetry layer (default options) around it: every request is
/// traced, measured, logged and gets a request id, whatever the composition of the router. Call
/// it last; for other options, [`TelemetryLayer::instrument`].
///
/// ```no_run
/// use axum::{Router, routing::get};
///
/// # async fn run() -> std::io::Result<()> {
/// let app = Router::new()
///     .route("/users/{id}", get(|| async { "user" }))
///     .fallback(|| async { "nothing here" })
///     .merge(glimpse_telemetry_axum::ops_router());
/// let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
/// axum::serve(listener, glimpse_telemetry_axum::instrument(app)).await
/// # }
/// ```
pub fn instrument(app: axum::Router) -> InstrumentedRouter {
    TelemetryLayer::new().instrument(app)
}
