//! [`ResponseFuture`]: the inner service's future, polled inside the request span, with panics
//! turned into a `500`.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Response, StatusCode};
use http_body::Body;
use pin_project_lite::pin_project;

use super::body::ResponseBody;
use super::route_report;
use super::tracker::Tracker;
use crate::glitchtip::ResponseError;
use crate::user::UserId;

pin_project! {
    /// The response future of a [`TelemetryService`](crate::TelemetryService).
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        tracker: Option<Box<Tracker>>,
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("tracked", &self.tracker.is_some())
            .finish_non_exhaustive()
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(inner: F, tracker: Option<Box<Tracker>>) -> Self {
        ResponseFuture { inner, tracker }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Body,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let inner = this.inner;
        let polled = match this.tracker.as_mut() {
            Some(t) => {
                let poll = || {
                    let _entered = t.enter();
                    catch_unwind(AssertUnwindSafe(|| inner.poll(cx)))
                };
                let (polled, slot) = if t.waits_for_route() {
                    route_report::with_open(t.describes_in_poll(), poll)
                } else {
                    route_report::with_open_if_nested(t.describes_in_poll(), poll)
                };
                t.learn(slot);
                polled
            }
            None => catch_unwind(AssertUnwindSafe(|| inner.poll(cx))),
        };
        match polled {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(Ok(response))) => {
                Poll::Ready(Ok(on_response(response, this.tracker.take())))
            }
            Ok(Poll::Ready(Err(e))) => {
                if let Some(mut t) = this.tracker.take() {
                    t.on_error();
                }
                Poll::Ready(Err(e))
            }
            Err(_panic) => {
                // The core's panic hook has logged and reported it, from inside the request span.
                let mut response = Response::new(ResponseBody::empty());
                *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                if let Some(mut t) = this.tracker.take() {
                    t.on_panic();
                    t.set_response_headers(response.headers_mut());
                }
                Poll::Ready(Ok(response))
            }
        }
    }
}

fn on_response<B: Body>(
    mut response: Response<B>,
    tracker: Option<Box<Tracker>>,
) -> Response<ResponseBody<B>> {
    let Some(mut t) = tracker.filter(|t| !t.suppressed()) else {
        return response.map(ResponseBody::passthrough);
    };
    t.on_response(
        response.status(),
        response.extensions().get::<UserId>(),
        response.extensions().get::<ResponseError>(),
    );
    t.set_response_headers(response.headers_mut());
    let (parts, body) = response.into_parts();
    let body = if body.is_end_stream() {
        // Nothing more will happen: finish now (hyper may never poll an empty body).
        drop(t);
        ResponseBody::passthrough(body)
    } else {
        let streaming = body.size_hint().exact().is_none();
        ResponseBody::tracked(body, t, streaming)
    };
    Response::from_parts(parts, body)
}
