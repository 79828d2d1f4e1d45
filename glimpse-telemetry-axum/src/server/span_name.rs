//! The server span's name, `{METHOD} {route}`, made once per route and method.
//!
//! A name allocated for every request would be freed with its span on the export thread, which
//! costs malloc's slow path on every request (see `glimpse_telemetry::traces::intern`). So a
//! route keeps its names (`Names`), each the process's interned copy, and a request reads one
//! without a lock. Past the core's bound on interned strings (a router with thousands of
//! routes), or for a very long name, a name is allocated per request, as before.

use std::borrow::Cow;
use std::sync::OnceLock;

use glimpse_telemetry::traces::intern;

use super::metrics::METHODS;

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
        match intern(&name) {
            Some(name) => Cow::Borrowed(slot.get_or_init(|| name)),
            None => Cow::Owned(name),
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
        let long = format!(
            "/{}",
            "a".repeat(glimpse_telemetry::traces::MAX_INTERNED_LEN)
        );
        assert!(
            matches!(Names::default().get(get, &long), Cow::Owned(_)),
            "a long name is not leaked"
        );
    }
}
