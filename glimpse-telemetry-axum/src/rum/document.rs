//! What links a page to the backend trace of its document request: the request's `traceparent`,
//! as a `Server-Timing` header or a `<meta>` tag the browser snippet reads.

use axum::http::{HeaderName, HeaderValue};

/// The current request's trace as a W3C `traceparent` (`00-<trace>-<span>-<flags>`), for the
/// page to send back; `None` outside a traced request.
///
/// ```
/// assert_eq!(glimpse_telemetry_axum::rum::traceparent(), None); // no request here
/// ```
pub fn traceparent() -> Option<String> {
    let cx = glimpse_telemetry::context::current();
    let value = crate::server::traceparent(cx.trace_id?, cx.span_id?, cx.sampled);
    value.to_str().ok().map(str::to_owned)
}

/// The `Server-Timing` header name (the `http` crate has no constant for it).
///
/// ```
/// assert_eq!(glimpse_telemetry_axum::rum::SERVER_TIMING.as_str(), "server-timing");
/// ```
pub const SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");

/// A `Server-Timing` header value carrying the current request's trace
/// (`traceparent;desc="00-..."`), for a document response; `None` outside a traced request.
/// The page reads it with
/// `performance.getEntriesByType('navigation')[0].serverTiming` (see [`BROWSER_SNIPPET`](super::BROWSER_SNIPPET)).
///
/// ```
/// use axum::http::HeaderMap;
/// use axum::response::{Html, IntoResponse};
/// use glimpse_telemetry_axum::rum;
///
/// async fn page() -> impl IntoResponse {
///     let mut headers = HeaderMap::new();
///     if let Some(timing) = rum::server_timing() {
///         headers.insert(rum::SERVER_TIMING, timing);
///     }
///     (headers, Html(format!("<head>{}</head><h1>Profile</h1>", rum::meta_tag())))
/// }
/// ```
pub fn server_timing() -> Option<HeaderValue> {
    HeaderValue::from_str(&format!("traceparent;desc=\"{}\"", traceparent()?)).ok()
}

/// A `<meta name="traceparent" content="00-...">` tag with the current request's trace, for
/// pages whose HTML the service renders; empty outside a traced request.
///
/// ```
/// let head = format!("<head>{}</head>", glimpse_telemetry_axum::rum::meta_tag());
/// assert_eq!(head, "<head></head>"); // no request here
/// ```
pub fn meta_tag() -> String {
    traceparent()
        .map(|tp| format!(r#"<meta name="traceparent" content="{tp}">"#))
        .unwrap_or_default()
}
