//! [`InstrumentedRouter`]: the finished app with the telemetry layer around it, so that every
//! request is seen, whatever the router's composition.
//!
//! `Router::layer` only wraps the routes and fallback the router has when it is called: a
//! fallback merged in afterwards (`.merge(ops_router())` brings its own default one), a
//! `route_layer` added afterwards, or a nested router's fallback would run outside it, and the
//! requests they answer (404s, 401s from an auth `route_layer`) would have no request id, no span,
//! no access line and no metrics. Wrapping the finished app has no such gap; the route template
//! is reported from inside the router (see `route_report`), so metrics still use templates.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body as AxumBody;
use axum::response::Response;
use axum::routing::future::RouteFuture;
use bytes::Bytes;
use http::Request;
use pin_project_lite::pin_project;
use tower_service::Service;

use super::future::ResponseFuture;
use super::layer::TelemetryLayer;
use super::service::TelemetryService;

/// An axum app with telemetry around it: what [`instrument`](crate::instrument) and
/// [`TelemetryLayer::instrument`] return. Serve it as a `Router`: `axum::serve(listener, app)`,
/// or with `into_make_service_with_connect_info::<SocketAddr>()` (from `axum::ServiceExt`) to
/// record the client address.
///
/// ```
/// use axum::{Router, body::Body, routing::get};
/// use http::Request;
/// use tower::ServiceExt as _;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let app = Router::new()
///     .route("/users/{id}", get(|| async { "user" }))
///     .merge(glimpse_telemetry_axum::ops_router());
/// let app = glimpse_telemetry_axum::instrument(app);
///
/// // A path no route matches still gets its request id (and span, access line, metrics).
/// let response = app
///     .oneshot(Request::get("/no/such/route").body(Body::empty()).unwrap())
///     .await
///     .unwrap();
/// assert_eq!(response.status(), 404);
/// assert!(response.headers().contains_key("x-request-id"));
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct InstrumentedRouter {
    inner: TelemetryService<Router>,
}

impl InstrumentedRouter {
    fn new(layer: &TelemetryLayer, app: Router) -> InstrumentedRouter {
        // The same layer on every endpoint: there it only reports the route to the outer one.
        // `with_state(())` turns every handler into a route now, as `axum::serve` does for a
        // `Router` (and `into_make_service`): served as this app, a router would otherwise build
        // each handler's route, and layer it, again for every request.
        let app = app.layer(layer.clone()).with_state(());
        InstrumentedRouter {
            inner: tower_layer::Layer::layer(layer, app),
        }
    }
}

impl TelemetryLayer {
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
    pub fn instrument(&self, app: Router) -> InstrumentedRouter {
        InstrumentedRouter::new(self, app)
    }
}

impl<B> Service<Request<B>> for InstrumentedRouter
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = InstrumentedFuture;

    #[inline]
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // A `Router` is always ready.
        Poll::Ready(Ok(()))
    }

    #[inline]
    fn call(&mut self, req: Request<B>) -> InstrumentedFuture {
        InstrumentedFuture {
            inner: self.inner.call(req.map(AxumBody::new)),
        }
    }
}

/// `axum::serve(listener, app)` takes the instrumented app as it takes a `Router`.
impl<L> Service<axum::serve::IncomingStream<'_, L>> for InstrumentedRouter
where
    L: axum::serve::Listener,
{
    type Response = Self;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _stream: axum::serve::IncomingStream<'_, L>) -> Self::Future {
        std::future::ready(Ok(self.clone()))
    }
}

pin_project! {
    /// The response future of an [`InstrumentedRouter`].
    pub struct InstrumentedFuture {
        #[pin]
        inner: ResponseFuture<RouteFuture<Infallible>>,
    }
}

impl std::fmt::Debug for InstrumentedFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstrumentedFuture").finish_non_exhaustive()
    }
}

impl Future for InstrumentedFuture {
    type Output = Result<Response, Infallible>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project()
            .inner
            .poll(cx)
            .map(|r| r.map(|response| response.map(AxumBody::new)))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::routing::get;
    use tower::ServiceExt as _;

    use super::*;

    #[tokio::test]
    async fn handlers_are_layered_once_not_for_every_request() {
        // A layer on a router's handlers is applied when the handler becomes a route: once,
        // or, left to each request, once per request.
        static LAYERED: AtomicUsize = AtomicUsize::new(0);
        let app = Router::new()
            .route("/", get(|| async { "ok" }))
            .layer(tower_layer::layer_fn(|s| {
                LAYERED.fetch_add(1, Ordering::Relaxed);
                s
            }));
        let app = crate::instrument(app);
        let before = LAYERED.load(Ordering::Relaxed);
        for _ in 0..3 {
            let request = Request::get("/").body(AxumBody::empty()).expect("request");
            let response = app.clone().oneshot(request).await.expect("response");
            assert_eq!(response.status(), 200);
        }
        assert_eq!(LAYERED.load(Ordering::Relaxed), before);
    }
}
