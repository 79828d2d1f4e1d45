//! How a telemetry service that wraps the whole app learns the route template.
//!
//! Wrapping the finished app ([`instrument`](crate::instrument)) is the only place that sees
//! every request, whatever the router's composition (fallbacks merged in later, `route_layer`
//! rejections, nested routers): but it runs before axum's routing, so the request carries no
//! `MatchedPath` yet. So [`instrument`](crate::instrument) also puts the same layer on the
//! router's endpoints (`Router::layer`), where `MatchedPath` is known, and the two talk:
//!
//! - the outer service marks the request ([`Tracked`], a zero-sized extension: no allocation) and,
//!   while it calls and polls the router, keeps an open [`Slot`] in a thread-local (a service that
//!   knows its route already opens one only to shield another request's slot,
//!   [`with_open_if_nested`]);
//! - an inner telemetry service that finds the mark does nothing but report the route into the
//!   slot ([`report`]): the request is already tracked, so it is never counted twice.
//!
//! A thread-local, not a shared cell in the request, because axum calls the endpoint inside the
//! outer service's `call` or `poll`, on the same thread: nothing is allocated per request. Slots
//! nest (an in-process call to another instrumented app from a handler opens its own and gives the
//! outer one back after). If an endpoint is called on another thread (a middleware that spawns the
//! rest of the request), the route is not learned and the request is labelled `unmatched`.

use std::cell::{Cell, RefCell};

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

// The open slot, split in two: its flags in a `Cell<u8>`, which has no destructor (so the
// thread-local needs no registration check: every request opens a slot in `call` and in each
// poll, about 100 instructions each with the whole slot in one `RefCell`), and the reported
// route, touched only when an inner service reports one.
const OPEN: u8 = 1;
const REPORTED: u8 = 2;
const IN_POLL: u8 = 4;
const HAS_ROUTE: u8 = 8;

thread_local! {
    static FLAGS: Cell<u8> = const { Cell::new(0) };
    static ROUTE: RefCell<Option<MatchedPath>> = const { RefCell::new(None) };
}

/// The outer slot, put back when the inner one closes.
struct Outer {
    flags: u8,
    /// Its route, moved aside while the inner slot is open (only when it had one).
    route: Option<MatchedPath>,
}

fn open(in_poll: bool) -> Outer {
    let flags = FLAGS.replace(if in_poll { OPEN | IN_POLL } else { OPEN });
    let route = if flags & HAS_ROUTE != 0 {
        ROUTE.with(|r| r.borrow_mut().take())
    } else {
        None
    };
    Outer { flags, route }
}

/// Closes the open slot, puts `outer` back and gives what was reported.
fn close(outer: Outer) -> Slot {
    let flags = FLAGS.replace(outer.flags);
    // The cell holds a route only when this slot got one (`open` moved the outer one aside).
    let route = if flags & HAS_ROUTE != 0 || outer.route.is_some() {
        ROUTE.with(|r| std::mem::replace(&mut *r.borrow_mut(), outer.route))
    } else {
        None
    };
    Slot {
        route,
        reported: flags & REPORTED != 0,
        in_poll: flags & IN_POLL != 0,
    }
}

/// Runs `f` with a slot open (`in_poll`: while the outer service polls the request), and
/// gives back what was reported into it.
#[inline]
pub(crate) fn with_open<R>(in_poll: bool, f: impl FnOnce() -> R) -> (R, Slot) {
    /// Puts the outer slot back, on unwinding too: a panicking handler must not leave this
    /// request's slot open for the next request on the thread.
    struct Restore(Option<Outer>);
    impl Drop for Restore {
        fn drop(&mut self) {
            if let Some(outer) = self.0.take() {
                close(outer);
            }
        }
    }
    let mut restore = Restore(Some(open(in_poll)));
    let r = f();
    let slot = restore.0.take().map(close).unwrap_or_default();
    (r, slot)
}

/// For a service that knows its route already: runs `f` with a slot open only when another one
/// is open on this thread (an outer request's, which reports from inside this request must not
/// reach). With none open, a report from inside goes nowhere, which is all this service needs,
/// and opening and closing a slot (in `call` and in each poll) is saved.
#[inline]
pub(crate) fn with_open_if_nested<R>(in_poll: bool, f: impl FnOnce() -> R) -> (R, Slot) {
    if FLAGS.get() & OPEN == 0 {
        return (f(), Slot::default());
    }
    with_open(in_poll, f)
}

/// Reports the route of a request an outer service tracks. Returns whether this report named
/// the route while the outer service polls (so the reporter describes the request to GlitchTip
/// on the current span).
#[inline]
pub(crate) fn report(route: Option<&MatchedPath>) -> bool {
    let flags = FLAGS.get();
    if flags & OPEN == 0 {
        return false;
    }
    match route {
        Some(route) if flags & HAS_ROUTE == 0 => {
            ROUTE.with(|r| *r.borrow_mut() = Some(route.clone()));
            FLAGS.set(flags | REPORTED | HAS_ROUTE);
            flags & IN_POLL != 0
        }
        _ => {
            FLAGS.set(flags | REPORTED);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_nest_and_are_closed_after_a_panic() {
        let (_, outer) = with_open(false, || {
            assert!(!report(None));
            let (_, inner) = with_open(true, || report(None));
            assert!(inner.reported && inner.route.is_none());
            // The inner slot was given back: this lands in the outer one.
            assert!(!report(None));
        });
        assert!(outer.reported && outer.route.is_none());
        let panicked = std::panic::catch_unwind(|| {
            with_open(false, || panic!("handler"));
        });
        assert!(panicked.is_err());
        assert!(!report(None), "no slot is left open");
    }

    #[test]
    fn a_slot_is_opened_for_shielding_only() {
        // None open: a report from inside goes nowhere.
        let (told, slot) = with_open_if_nested(false, || report(None));
        assert!(!told && !slot.reported);
        let (_, next) = with_open(false, || ());
        assert!(!next.reported, "nothing was left open");
        // One open: the report lands in the shield, not in the outer slot.
        let ((_, shield), outer) = with_open(false, || with_open_if_nested(false, || report(None)));
        assert!(shield.reported);
        assert!(!outer.reported);
    }

    /// A `MatchedPath` as axum makes it (it has no public constructor).
    fn matched(template: &'static str) -> MatchedPath {
        use tower::ServiceExt as _;
        let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
        let keep = seen.clone();
        let app = axum::Router::new().route(
            template,
            axum::routing::get(move |m: MatchedPath| {
                *keep.lock().unwrap() = Some(m);
                async {}
            }),
        );
        let path = template.replace("{id}", "1");
        let req = http::Request::get(path)
            .body(axum::body::Body::empty())
            .unwrap();
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(app.oneshot(req))
            .unwrap();
        seen.lock().unwrap().take().expect("the handler ran")
    }

    /// Each slot keeps its own route: the first reported, while an inner slot opened inside
    /// gets (and gives back) its own.
    #[test]
    fn nested_slots_keep_their_own_routes() {
        let (a, b, c) = (matched("/a/{id}"), matched("/b/{id}"), matched("/c"));
        let ((inner, in_poll), outer) = with_open(false, || {
            assert!(!report(Some(&a)), "not in a poll");
            assert!(!report(Some(&b)), "the first route stays");
            let (told, inner) = with_open(true, || report(Some(&c)));
            (inner, told)
        });
        assert!(in_poll, "a route reported while polled says so");
        assert_eq!(inner.route.as_ref().map(MatchedPath::as_str), Some("/c"));
        assert!(inner.reported && inner.in_poll);
        assert_eq!(
            outer.route.as_ref().map(MatchedPath::as_str),
            Some("/a/{id}")
        );
        assert!(outer.reported && !outer.in_poll);
        // Closed: nothing is left for the next request.
        let (_, next) = with_open(false, || ());
        assert!(next.route.is_none() && !next.reported);
    }
}
