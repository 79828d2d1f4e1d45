//! [`TelemetryService`]: the service [`TelemetryLayer`](crate::TelemetryLayer) wraps around the
//! inner one.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::MatchedPath;
use http::{Request, Response};
use http_body::Body;
use tower_service::Service;

use super::body::ResponseBody;
use super::future::ResponseFuture;
use super::layer::Shared;
use super::tracker::Tracker;

/// The instrumented service; see [`TelemetryLayer`](crate::TelemetryLayer).
pub struct TelemetryService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S: Clone> Clone for TelemetryService<S> {
    fn clone(&self) -> Self {
        TelemetryService {
            inner: self.inner.clone(),
            shared: self.shared.clone(),
        }
    }
}

impl<S> std::fmt::Debug for TelemetryService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryService").finish_non_exhaustive()
    }
}

impl<S> TelemetryService<S> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>) -> Self {
        TelemetryService { inner, shared }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The wrapped service, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for TelemetryService<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
    ResB: Body,
{
    type Response = Response<ResponseBody<ResB>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqB>) -> Self::Future {
        let start = Instant::now();
        let route = self.shared.route(
            req.extensions()
                .get::<MatchedPath>()
                .map(MatchedPath::as_str),
        );
        if route.excluded {
            return ResponseFuture::new(self.inner.call(req), None);
        }
        let tracker = Tracker::start(route, &req, start);
        // `call` only builds the future (axum runs handlers, extractors and middleware when it is
        // polled), so the span is entered in `poll`, not here: one enter per poll.
        ResponseFuture::new(self.inner.call(req), Some(tracker))
    }
}
