//! Strings kept once per process for the spans that carry them: span names and attribute values
//! that are the same for many spans (a route's `GET /users/{id}`, a statement's `SELECT users`).
//!
//! The OpenTelemetry SDK takes a span's name as a `Cow<'static, str>` and its string attributes
//! as owned or static values, and the finished span travels to the export thread, which frees
//! what it owns. A string allocated for every span is thus always freed on another thread, so
//! each allocation takes malloc's slow path (the request thread's cache of freed blocks of that
//! size stays empty): about 365 instructions each, measured with callgrind. An interned string
//! is leaked once, for the life of the process, and a span borrows it.
//!
//! Bounded whatever feeds it: at most [`MAX_INTERNED`] strings of at most
//! [`MAX_INTERNED_LEN`] bytes (1 MiB in all). Past that, callers allocate per span, as before.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

/// The most strings [`intern`] keeps in a process (a bound on memory, not a limit any service
/// should reach: route templates and statement summaries are few).
pub const MAX_INTERNED: usize = 4096;

/// The longest string [`intern`] keeps.
pub const MAX_INTERNED_LEN: usize = 256;

/// The process's copy of `s`, made on first use; `None` when `s` is longer than
/// [`MAX_INTERNED_LEN`] or [`MAX_INTERNED`] strings are kept already (then allocate it per span).
///
/// Takes a lock: call it once per route or statement and keep the result, not once per span.
///
/// ```
/// use glimpse_telemetry::traces::intern;
///
/// let a = intern("GET /users/{id}").expect("room for it");
/// let b = intern(&String::from("GET /users/{id}")).expect("kept");
/// assert!(std::ptr::eq(a, b), "one copy");
/// assert!(intern(&"x".repeat(1000)).is_none(), "too long to keep");
/// ```
pub fn intern(s: &str) -> Option<&'static str> {
    static KEPT: OnceLock<Mutex<Store>> = OnceLock::new();
    KEPT.get_or_init(|| Mutex::new(Store::new(MAX_INTERNED)))
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .intern(s)
}

/// The kept strings, at most `max` of them.
struct Store {
    kept: HashSet<&'static str>,
    max: usize,
}

impl Store {
    fn new(max: usize) -> Store {
        Store {
            kept: HashSet::new(),
            max,
        }
    }

    fn intern(&mut self, s: &str) -> Option<&'static str> {
        if let Some(s) = self.kept.get(s) {
            return Some(s);
        }
        if self.kept.len() >= self.max || s.len() > MAX_INTERNED_LEN {
            return None;
        }
        let s: &'static str = Box::leak(s.into());
        self.kept.insert(s);
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_is_bounded_and_keeps_what_it_has() {
        let mut store = Store::new(2);
        let a = store.intern("GET /a").expect("room");
        let b = store.intern("GET /b").expect("room");
        assert!(store.intern("GET /c").is_none(), "full");
        assert!(std::ptr::eq(store.intern("GET /a").expect("kept"), a));
        assert!(std::ptr::eq(store.intern("GET /b").expect("kept"), b));
        let mut roomy = Store::new(10);
        assert!(roomy.intern(&"x".repeat(MAX_INTERNED_LEN)).is_some());
        assert!(roomy.intern(&"x".repeat(MAX_INTERNED_LEN + 1)).is_none());
        assert_eq!(roomy.kept.len(), 1);
    }
}
