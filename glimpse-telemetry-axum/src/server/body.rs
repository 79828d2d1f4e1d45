//! [`ResponseBody`]: the response body, counted, so the request is finished (duration, size,
//! access log, span end) when its last frame is handed over.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Buf as _;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::tracker::Tracker;

pin_project! {
    /// The response body of a [`TelemetryService`](crate::TelemetryService): the inner body,
    /// counted. The request's duration runs until this body is finished or dropped.
    pub struct ResponseBody<B> {
        #[pin]
        kind: Kind<B>,
        tracker: Option<Box<Tracker>>,
        // Whether to enter the request span while polling (bodies that run code: streams).
        enter: bool,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<B> {
        Inner { #[pin] body: B },
        Empty,
    }
}

impl<B> std::fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody")
            .field("tracked", &self.tracker.is_some())
            .finish_non_exhaustive()
    }
}

impl<B> ResponseBody<B> {
    pub(crate) fn passthrough(body: B) -> Self {
        ResponseBody {
            kind: Kind::Inner { body },
            tracker: None,
            enter: false,
        }
    }

    pub(crate) fn tracked(body: B, tracker: Box<Tracker>, enter: bool) -> Self {
        ResponseBody {
            kind: Kind::Inner { body },
            tracker: Some(tracker),
            enter,
        }
    }

    /// The body of the 500 that replaces a panicked handler's response.
    pub(crate) fn empty() -> Self {
        ResponseBody {
            kind: Kind::Empty,
            tracker: None,
            enter: false,
        }
    }
}

impl<B: Body> Body for ResponseBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.project();
        let mut body = match this.kind.project() {
            KindProj::Inner { body } => body,
            KindProj::Empty => {
                *this.tracker = None;
                return Poll::Ready(None);
            }
        };
        let result = {
            let _entered = match this.tracker {
                Some(t) if *this.enter => Some(t.enter()),
                _ => None,
            };
            body.as_mut().poll_frame(cx)
        };
        let finished = match &result {
            Poll::Pending => false,
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(t), Some(data)) = (this.tracker.as_mut(), frame.data_ref()) {
                    t.add_body_bytes(data.remaining() as u64);
                }
                body.is_end_stream()
            }
            Poll::Ready(Some(Err(_))) | Poll::Ready(None) => true,
        };
        if finished {
            // Dropping the tracker finishes the request.
            *this.tracker = None;
        }
        result
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Inner { body } => body.is_end_stream(),
            Kind::Empty => true,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Inner { body } => body.size_hint(),
            Kind::Empty => SizeHint::with_exact(0),
        }
    }
}
