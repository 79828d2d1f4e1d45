//! [`TelemetryService`]: the service [`TelemetryLayer`](crate::TelemetryLayer) wraps around the
//! inner one.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body as AxumBody;
use axum::extract::MatchedPath;
use http::{Request, Response};
use http_body::Body;
use tower_service::Service;

use super::body::ResponseBody;
use super::future::ResponseFuture;
use super::metrics::{METHODS, method_index};
use super::request_body;
use super::route_report::{self, Tracked};
use super::routes::RouteTable;
use super::tracker::Tracker;

/// The instrumented service; see [`TelemetryLayer`](crate::TelemetryLayer).
pub struct TelemetryService<S> {
    inner: S,
    routes: Arc<RouteTable>,
}

impl<S: Clone> Clone for TelemetryService<S> {
    fn clone(&self) -> Self {
        TelemetryService {
            inner: self.inner.clone(),
            routes: self.routes.clone(),
        }
    }
}

impl<S> std::fmt::Debug for TelemetryService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryService").finish_non_exhaustive()
    }
}

impl<S> TelemetryService<S> {
    pub(crate) fn new(inner: S, routes: Arc<RouteTable>) -> Self {
        TelemetryService { inner, routes }
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

impl<S, ResB> Service<Request<AxumBody>> for TelemetryService<S>
where
    S: Service<Request<AxumBody>, Response = Response<ResB>>,
    ResB: Body,
{
    type Response = Response<ResponseBody<ResB>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<AxumBody>) -> Self::Future {
        let start = Instant::now();
        let matched = req.extensions().get::<MatchedPath>();
        if req.extensions().get::<Tracked>().is_some() {
            // A telemetry service further out tracks this request: only tell it the route (and,
            // while it polls, GlitchTip too: the handler runs before it learns the route).
            if route_report::report(matched)
                && let Some(route) = matched
            {
                let state = self.routes.route(Some(route.as_str()));
                glimpse_telemetry::reporting::describe_request(
                    &tracing::Span::current(),
                    METHODS[method_index(req.method())],
                    &state.route,
                    state.matched,
                );
            }
            return ResponseFuture::new(self.inner.call(req), None);
        }
        let (route, learns_route, trace) = match matched {
            Some(m) => (self.routes.route(Some(m.as_str())), false, true),
            // Before routing (the whole app is wrapped), or a fallback: the route, if any, is
            // reported from inside. A path an excluded route would match (`/metrics`) gets no
            // span: if it was that route, nothing is recorded; if no route served it (the ops
            // endpoints on their own port), it is still a counted and logged 404.
            None => {
                let maybe_excluded = self.routes.config.excludes_path(req.uri().path());
                (self.routes.route(None), true, !maybe_excluded)
            }
        };
        if route.excluded {
            return ResponseFuture::new(self.inner.call(req), None);
        }
        let mut tracker = Tracker::start(route, &req, start, trace);
        if learns_route {
            tracker.learn_routes_from(self.routes.clone());
        }
        req.extensions_mut().insert(Tracked);
        // Checked before taking the request apart: moving its parts out and back costs more than
        // the rest of this branch, and most requests (every `GET`) have no body to count.
        if tracker.request_size_unknown() && request_body::needs_counting(req.body()) {
            let (parts, body) = req.into_parts();
            let (body, read) = request_body::count_if_unsized(body);
            tracker.count_request_body(read);
            req = Request::from_parts(parts, body);
        }
        // `call` only builds the future (axum runs handlers, extractors and middleware when it is
        // polled), so the span is entered in `poll`, not here: one enter per poll. The slot is
        // open here too, for inner services that do their work in `call` (for a service that
        // knows its route, only to shield another request's slot: see `route_report`).
        let (future, slot) = if learns_route {
            route_report::with_open(false, || self.inner.call(req))
        } else {
            route_report::with_open_if_nested(false, || self.inner.call(req))
        };
        tracker.learn(slot);
        ResponseFuture::new(future, Some(tracker))
    }
}
