//! A stream written as an `async` block, so that a query's stream can own the pool connection
//! it borrows from (sqlx does the same for `&Pool` with its own private generator).
//!
//! The block hands each item to a [`Yielder`] and suspends; [`Gen::poll_next`] returns it.
//! Safe code only: the slot is an uncontended mutex.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_core::Stream;

type Slot<T> = Arc<Mutex<Option<T>>>;

fn take<T>(slot: &Slot<T>) -> Option<T> {
    slot.lock().unwrap_or_else(|e| e.into_inner()).take()
}

/// Where the `async` block puts its items.
pub(crate) struct Yielder<T> {
    slot: Slot<T>,
}

impl<T> Yielder<T> {
    /// Hands `value` to the stream's consumer; resumes when the consumer asks for the next one.
    pub(crate) async fn put(&self, value: T) {
        *self.slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(value);
        let mut suspended = false;
        std::future::poll_fn(|_| {
            if suspended {
                Poll::Ready(())
            } else {
                // No wake-up needed: `Gen::poll_next` sees the item and returns it, and the
                // consumer's next poll resumes this block.
                suspended = true;
                Poll::Pending
            }
        })
        .await;
    }
}

type BoxFut<'a> = Pin<Box<dyn Future<Output = Result<(), sqlx::Error>> + Send + 'a>>;

/// The stream of the items an `async` block yields, then of its error if it fails.
pub(crate) struct Gen<'a, T> {
    future: Option<BoxFut<'a>>,
    slot: Slot<T>,
}

impl<'a, T: Send + 'a> Gen<'a, T> {
    pub(crate) fn new<F, Fut>(make: F) -> Self
    where
        F: FnOnce(Yielder<T>) -> Fut,
        Fut: Future<Output = Result<(), sqlx::Error>> + Send + 'a,
    {
        let slot: Slot<T> = Arc::new(Mutex::new(None));
        let future = make(Yielder { slot: slot.clone() });
        Gen {
            future: Some(Box::pin(future)),
            slot,
        }
    }
}

impl<T> Stream for Gen<'_, T> {
    type Item = Result<T, sqlx::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let Some(future) = self.future.as_mut() else {
            return Poll::Ready(None);
        };
        match future.as_mut().poll(cx) {
            Poll::Ready(result) => {
                self.future = None;
                Poll::Ready(result.err().map(Err))
            }
            Poll::Pending => match take(&self.slot) {
                Some(item) => Poll::Ready(Some(Ok(item))),
                None => Poll::Pending,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect<T>(mut s: Gen<'_, T>) -> Vec<Result<T, String>> {
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut out = Vec::new();
        loop {
            match Pin::new(&mut s).poll_next(&mut cx) {
                Poll::Ready(Some(v)) => out.push(v.map_err(|e| e.to_string())),
                Poll::Ready(None) => return out,
                Poll::Pending => panic!("nothing here waits"),
            }
        }
    }

    #[test]
    fn yields_in_order_then_the_error() {
        let s = Gen::new(|y| async move {
            y.put(1).await;
            y.put(2).await;
            Err(sqlx::Error::PoolClosed)
        });
        let out = collect(s);
        assert_eq!(out.len(), 3);
        assert_eq!(out[0], Ok(1));
        assert_eq!(out[1], Ok(2));
        assert!(out[2].is_err());
    }

    #[test]
    fn ends_cleanly() {
        let s: Gen<'_, u8> = Gen::new(|_| async move { Ok(()) });
        assert!(collect(s).is_empty());
    }
}
