//! How a telemetry service that wraps the whole app learns the route template.
//!
//! Wrapping the finished app ([`instrument`](crate::instrument)) is the only place that sees
//! every request, whatever the router's composition (fallbacks merged in later, `route_layer`
//! rejections, nested routers): but it runs before axum's routing, so the request carries no
//! `MatchedPath` yet. So [`instrument`](crate::instrument) also puts the same layer on the
//! router's endpoints (`Router::layer`), where `MatchedPath` is known, and the two talk:
//!
//! - the outer service marks the request ([`Tracked`], a zero-sized extension: no allocation) and,
//!   while it calls and polls the router, keeps an open [`Slot`] in a thread-local;
//! - an inner telemetry service that finds the mark does nothing but report the route into the
//!   slot ([`report`]): the request is already tracked, so it is never counted twice.
//!
//! A thread-local, not a shared cell in the request, because axum calls the endpoint inside the
//! outer service's `call` or `poll`, on the same thread: nothing is allocated per request. Slots
//! nest (an in-process call to another instrumented app from a handler opens its own and gives the
//! outer one back after). If an endpoint is called on another thread (a middleware that spawns the
//! rest of the request), the route is not learned and the request is labelled `unmatched`.

use std::cell::RefCell;

use axum::extract::MatchedPath;

/// The request is tracked by an outer telemetry service.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tracked;

/// What the outer service learns while the router runs.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    /// The first `MatchedPath` an inner service saw (`None`: no route matched; a service
    /// nested deeper may still know one, as a `Router` under `nest_service` does).
    pub(crate) route: Option<MatchedPath>,
    /// Whether an inner service reported at all.
    pub(crate) reported: bool,
    /// Whether the outer service is polling the request (its span entered), so the reporter
    /// describes the request to GlitchTip itself (see `Tracker::learn`).
    pub(crate) in_poll: bool,
}

thread_local! {
    static OPEN: RefCell<Option<Slot>> = const { RefCell::new(None) };
}

/// Runs `f` with `slot` open, and gives back what was reported into it.
#[inline]
pub(crate) fn with_open<R>(slot: Slot, f: impl FnOnce() -> R) -> (R, Slot) {
    /// Puts the outer slot back, on unwinding too: a panicking handler must not leave this
    /// request's slot open for the next request on the thread.
    struct Restore(Option<Option<Slot>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            if let Some(previous) = self.0.take() {
                OPEN.with(|o| *o.borrow_mut() = previous);
            }
        }
    }
    let mut restore = Restore(Some(OPEN.with(|o| o.borrow_mut().replace(slot))));
    let r = f();
    let previous = restore.0.take().flatten();
    let slot = OPEN.with(|o| std::mem::replace(&mut *o.borrow_mut(), previous));
    (r, slot.unwrap_or_default())
}

/// Reports the route of a request an outer service tracks. Returns whether this report named
/// the route while the outer service polls (so the reporter describes the request to GlitchTip
/// on the current span).
#[inline]
pub(crate) fn report(route: Option<&MatchedPath>) -> bool {
    OPEN.with(|o| match &mut *o.borrow_mut() {
        Some(slot) => {
            slot.reported = true;
            match (&slot.route, route) {
                (None, Some(route)) => {
                    slot.route = Some(route.clone());
                    slot.in_poll
                }
                _ => false,
            }
        }
        None => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_nest_and_are_closed_after_a_panic() {
        let (_, outer) = with_open(Slot::default(), || {
            assert!(!report(None));
            let (_, inner) = with_open(
                Slot {
                    in_poll: true,
                    ..Slot::default()
                },
                || report(None),
            );
            assert!(inner.reported && inner.route.is_none());
            // The inner slot was given back: this lands in the outer one.
            assert!(!report(None));
        });
        assert!(outer.reported && outer.route.is_none());
        let panicked = std::panic::catch_unwind(|| {
            with_open(Slot::default(), || panic!("handler"));
        });
        assert!(panicked.is_err());
        assert!(!report(None), "no slot is left open");
    }
}
