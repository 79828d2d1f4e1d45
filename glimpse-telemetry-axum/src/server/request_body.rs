//! The request body's size when the request does not say it (`Transfer-Encoding: chunked`, HTTP/2
//! streams without `content-length`): the body is counted as the handler reads it.
//!
//! Only such bodies are wrapped (one allocation, for the counter and axum's boxed body); a request
//! with a `Content-Length`, or with no body at all, passes through untouched.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use axum::body::Body as AxumBody;
use bytes::{Buf as _, Bytes};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

/// Bytes of a request body read so far, shared by the body and the request's tracker.
pub(crate) type ReadBytes = Arc<AtomicU64>;

pin_project! {
    struct Counted {
        #[pin]
        inner: AxumBody,
        read: ReadBytes,
    }
}

impl Body for Counted {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            this.read
                .fetch_add(data.remaining() as u64, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Whether `body` has to be counted to learn its size: it may have data, of no announced size.
#[inline]
pub(crate) fn needs_counting(body: &AxumBody) -> bool {
    !body.is_end_stream() && body.size_hint().exact().is_none()
}

/// The body to hand on, and its counter when it has to be counted (no exact size known).
pub(crate) fn count_if_unsized(body: AxumBody) -> (AxumBody, Option<ReadBytes>) {
    if !needs_counting(&body) {
        return (body, None);
    }
    let read = ReadBytes::default();
    let counted = AxumBody::new(Counted {
        inner: body,
        read: read.clone(),
    });
    (counted, Some(read))
}

/// What the counter says now.
pub(crate) fn read(bytes: &ReadBytes) -> u64 {
    bytes.load(Ordering::Relaxed)
}
