//! The server span's name, `{METHOD} {route}`, made once per route and method.
//!
//! The OpenTelemetry SDK takes a span's name as a `Cow<'static, str>`, and the name travels with
//! the finished span to the export thread, which frees it. A name allocated for every request is
//! thus always freed on another thread, so each allocation takes malloc's slow path (the request
//! thread's cache of freed blocks of that size stays empty): about 365 instructions a request,
//! measured with callgrind, for a string that is the same for every request of a route. So the
//! names are interned: each distinct name is leaked once, for the life of the process, and a
//! route keeps its names (`Names`) so a request reads one without a lock.
//!
//! Route templates come from the app's router, so the names are few; past [`MAX_NAMES`] (a
//! router with thousands of routes), or for a name longer than [`MAX_NAME_LEN`], a name is
//! allocated per request, as before.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use super::metrics::METHODS;

/// The most names leaked in a process (a bound on memory, not a limit any app should reach).
const MAX_NAMES: usize = 4096;

/// The longest name leaked: with [`MAX_NAMES`], at most 1 MiB however routes are fed.
const MAX_NAME_LEN: usize = 256;

pub(crate) const OTHER_METHOD: usize = METHODS.len() - 1;

/// The method as server spans name it: `HTTP` for methods outside the known ones.
pub(crate) fn method_name(method_index: usize) -> &'static str {
    if method_index == OTHER_METHOD {
        "HTTP"
    } else {
        METHODS[method_index]
    }
}

/// A matched route's span names, one per method, made on first use (so `get` is always given
/// that route's template).
#[derive(Default)]
pub(crate) struct Names([OnceLock<&'static str>; METHODS.len()]);

impl Names {
    /// `GET /users/{id}` (`HTTP /users/{id}` for an unknown method), as the semantic
    /// conventions name server spans.
    pub(crate) fn get(&self, method_index: usize, route: &str) -> Cow<'static, str> {
        let Some(slot) = self.0.get(method_index) else {
            return Cow::Owned(format(method_index, route));
        };
        if let Some(name) = slot.get() {
            return Cow::Borrowed(name);
        }
        let name = format(method_index, route);
        match intern(name) {
            Ok(name) => Cow::Borrowed(slot.get_or_init(|| name)),
            Err(name) => Cow::Owned(name),
        }
    }
}

fn format(method_index: usize, route: &str) -> String {
    let method = method_name(method_index);
    let mut s = String::with_capacity(method.len() + 1 + route.len());
    s.push_str(method);
    s.push(' ');
    s.push_str(route);
    s
}

/// The process's copy of `name`, made if there is room; else `name` back.
fn intern(name: String) -> Result<&'static str, String> {
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(name) = names.get(name.as_str()) {
        return Ok(name);
    }
    if names.len() >= MAX_NAMES || name.len() > MAX_NAME_LEN {
        return Err(name);
    }
    let name: &'static str = Box::leak(name.into_boxed_str());
    names.insert(name);
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_names_each_method_once() {
        let names = Names::default();
        let get = METHODS.iter().position(|m| *m == "GET").expect("GET");
        let first = names.get(get, "/users/{id}");
        let again = names.get(get, "/users/{id}");
        assert_eq!(first, "GET /users/{id}");
        let (Cow::Borrowed(a), Cow::Borrowed(b)) = (&first, &again) else {
            panic!("interned names are borrowed");
        };
        assert!(std::ptr::eq(*a, *b), "the same copy both times");
        // Another route's state with the same template shares the process's copy.
        let Cow::Borrowed(other) = Names::default().get(get, "/users/{id}") else {
            panic!("interned");
        };
        assert!(std::ptr::eq(*a, other));
        assert_eq!(names.get(OTHER_METHOD, "/users/{id}"), "HTTP /users/{id}");
        let long = format!("/{}", "a".repeat(MAX_NAME_LEN));
        assert!(
            matches!(Names::default().get(get, &long), Cow::Owned(_)),
            "a long name is not leaked"
        );
    }
}
