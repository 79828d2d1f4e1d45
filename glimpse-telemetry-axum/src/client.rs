//! Outbound propagation: the current request's trace context (`traceparent`, `tracestate`),
//! baggage and request id on the HTTP requests a service makes, so one trace and one request id
//! follow a request through every Glimpse service.
//!
//! With any HTTP client, from inside a request:
//!
//! ```no_run
//! # async fn call_billing() {
//! // reqwest: client.get(url).headers(glimpse_telemetry_axum::outgoing_headers()).send().await
//! let headers = glimpse_telemetry_axum::outgoing_headers();
//! assert!(headers.contains_key("traceparent"));
//! # }
//! ```
//!
//! Or once, as a tower layer around a client that takes `http::Request`s:
//!
//! ```
//! use tower::ServiceBuilder;
//! use glimpse_telemetry_axum::PropagateLayer;
//!
//! # let client = tower::service_fn(|_req: http::Request<String>| async {
//! #     Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
//! # });
//! let client = ServiceBuilder::new().layer(PropagateLayer::new()).service(client);
//! ```

use std::task::{Context, Poll};

use http::{HeaderMap, HeaderValue, Request};
use tower_layer::Layer;
use tower_service::Service;

use crate::request_id::REQUEST_ID_HEADER;

/// The headers that carry the current request to another service: `traceparent` (and
/// `tracestate`) of the current span, its baggage, and `x-request-id`. Empty outside a request.
pub fn outgoing_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    inject_headers(&mut headers);
    headers
}

/// Writes the current request's trace context, baggage and request id into `headers`, keeping an
/// `x-request-id` that is already there.
///
/// ```
/// let mut headers = http::HeaderMap::new();
/// glimpse_telemetry_axum::inject_headers(&mut headers); // outside a request: nothing
/// assert!(headers.is_empty());
/// ```
pub fn inject_headers(headers: &mut HeaderMap) {
    glimpse_telemetry::propagation::inject_current(headers);
    if !headers.contains_key(REQUEST_ID_HEADER) {
        if let Some(id) = glimpse_telemetry::context::current()
            .request_id
            .and_then(|id| HeaderValue::from_str(&id).ok())
        {
            headers.insert(REQUEST_ID_HEADER, id);
        }
    }
}

/// A tower layer for HTTP clients: every request gets [`inject_headers`] when it is sent.
#[derive(Clone, Copy, Debug, Default)]
pub struct PropagateLayer {
    _private: (),
}

impl PropagateLayer {
    /// The layer.
    pub fn new() -> Self {
        PropagateLayer::default()
    }
}

impl<S> Layer<S> for PropagateLayer {
    type Service = PropagateService<S>;

    fn layer(&self, inner: S) -> PropagateService<S> {
        PropagateService { inner }
    }
}

/// The service of [`PropagateLayer`].
#[derive(Clone, Debug)]
pub struct PropagateService<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for PropagateService<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        inject_headers(req.headers_mut());
        self.inner.call(req)
    }
}
