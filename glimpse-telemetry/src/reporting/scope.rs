//! The error scope of one request, kept on its span: nothing per request until something
//! happens.
//!
//! A request is the outermost span in scope that recorded a `request_id` or that an HTTP adapter
//! described ([`describe`]: a static method name and the adapter's shared route label, written
//! into the span's [`SpanFields`], which exist anyway). Its [`RequestScope`] (breadcrumbs and
//! whether an event was captured) is created in the span's extensions on the first breadcrumb or
//! capture, and goes with the span. Every capture path takes a [`RequestPart`] from it in the
//! capturing thread: the request's own breadcrumbs, its transaction name (`GET /users/{id}`) and
//! the `http.route` and `http.request.method` tags. Outside any request, breadcrumbs go to the
//! sentry hub's scope, as sentry does.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};

use sentry::protocol::{Breadcrumb, Event};
use tracing_subscriber::registry::{ExtensionsMut, LookupSpan, Registry, SpanRef};

use crate::logs::fields::{HttpRequest, SpanFields};

/// Breadcrumbs one request keeps, at most: past it, the oldest go.
pub(crate) const MAX_BREADCRUMBS: usize = 20;

/// Whether a subscriber with error reporting was built (describing a request is skipped before).
static ERRORS_ON: AtomicBool = AtomicBool::new(false);

/// Request scopes created in this process (read by `testing::error_scopes_created`).
#[cfg(feature = "testing")]
pub(crate) static CREATED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Error reporting is on in some subscriber.
pub(crate) fn set_errors_on() {
    ERRORS_ON.store(true, Ordering::Relaxed);
}

fn errors_on() -> bool {
    ERRORS_ON.load(Ordering::Relaxed)
}

/// The error scope of one request.
pub(crate) struct RequestScope {
    breadcrumbs: VecDeque<Breadcrumb>,
    reported: bool,
}

impl RequestScope {
    fn new() -> RequestScope {
        #[cfg(feature = "testing")]
        CREATED.fetch_add(1, Ordering::Relaxed);
        RequestScope {
            breadcrumbs: VecDeque::new(),
            reported: false,
        }
    }

    fn push(&mut self, crumb: Breadcrumb) {
        if self.breadcrumbs.len() >= MAX_BREADCRUMBS {
            self.breadcrumbs.pop_front();
        }
        self.breadcrumbs.push_back(crumb);
    }
}

/// What an event takes from its request.
pub(crate) struct RequestPart {
    http: Option<HttpRequest>,
    breadcrumbs: Vec<Breadcrumb>,
}

impl RequestPart {
    /// Names the event after the request (unless it has a transaction): before the hub's scope
    /// is applied, as a request's own scope would be.
    pub(crate) fn name(&self, event: &mut Event<'static>) {
        let Some(http) = &self.http else { return };
        if event.transaction.is_some() {
            return;
        }
        // As the semantic conventions name server spans: `HTTP` for an unknown method.
        let method = if http.method == "_OTHER" {
            "HTTP"
        } else {
            http.method
        };
        event.transaction = Some(if http.matched {
            let mut s = String::with_capacity(method.len() + 1 + http.route.len());
            s.push_str(method);
            s.push(' ');
            s.push_str(&http.route);
            s
        } else {
            method.to_owned()
        });
    }

    /// Adds the request's tags and breadcrumbs (after the hub's, which are older).
    pub(crate) fn attach(self, event: &mut Event<'static>) {
        if let Some(http) = self.http {
            event
                .tags
                .insert("http.request.method".into(), http.method.to_owned());
            event
                .tags
                .insert("http.route".into(), http.route.to_string());
        }
        event.breadcrumbs.values.extend(self.breadcrumbs);
    }
}

fn is_request<'a, R: LookupSpan<'a>>(span: &SpanRef<'a, R>) -> bool {
    span.extensions()
        .get::<SpanFields>()
        .is_some_and(|f| f.request_id.is_some() || f.http.is_some())
}

/// The outermost request span among `spans` (a span and its parents).
fn request_span<'a, R: LookupSpan<'a>>(
    spans: impl Iterator<Item = SpanRef<'a, R>>,
) -> Option<SpanRef<'a, R>> {
    let mut found = None;
    for span in spans {
        if is_request(&span) {
            found = Some(span);
        }
    }
    found
}

/// Runs `f` on the extensions of the request span of `span`, if it has one (`or_self`: else on
/// `span` itself, and on a root span without looking further: an HTTP adapter's request span).
fn with_request_of<T>(
    span: &tracing::Span,
    or_self: bool,
    f: impl FnOnce(&mut ExtensionsMut<'_>) -> T,
) -> Option<T> {
    span.with_subscriber(|(id, dispatch)| {
        // As `context::of_span`: the subscriber `init` builds first, found at the downcast's
        // first check; the `Registry` under it only after asking every layer (about 240
        // instructions, twice a request when the route is learned after routing).
        let request = |ext: Option<ExtensionsMut<'_>>| ext.map(|mut ext| f(&mut ext));
        if let Some(built) = dispatch.downcast_ref::<crate::subscriber::Built>() {
            request(
                request_of(built, id, or_self)
                    .as_ref()
                    .map(SpanRef::extensions_mut),
            )
        } else {
            let registry = dispatch.downcast_ref::<Registry>()?;
            request(
                request_of(registry, id, or_self)
                    .as_ref()
                    .map(SpanRef::extensions_mut),
            )
        }
    })
    .flatten()
}

/// The request span of the span `id` (see [`with_request_of`]).
fn request_of<'a, R: LookupSpan<'a>>(
    spans: &'a R,
    id: &tracing::span::Id,
    or_self: bool,
) -> Option<SpanRef<'a, R>> {
    let span = spans.span(id)?;
    if or_self && span.parent().is_none() {
        return Some(span);
    }
    match request_span(span.scope()) {
        Some(request) => Some(request),
        None if or_self => Some(span),
        None => None,
    }
}

/// Marks the request reported and copies what an event needs out of its scope (`ext`: the
/// request span's extensions).
fn take(ext: &mut ExtensionsMut<'_>) -> RequestPart {
    let http = ext.get_mut::<SpanFields>().and_then(|f| f.http.clone());
    let breadcrumbs = match ext.get_mut::<RequestScope>() {
        Some(scope) => {
            scope.reported = true;
            scope.breadcrumbs.iter().cloned().collect()
        }
        None => {
            let mut scope = RequestScope::new();
            scope.reported = true;
            ext.insert(scope);
            Vec::new()
        }
    };
    RequestPart { http, breadcrumbs }
}

/// The request part for an event a layer sees (through its context: a scoped dispatcher is not
/// visible to [`tracing::Span::current`] from inside a layer callback).
pub(crate) fn take_for_event<S>(
    event: &tracing::Event<'_>,
    ctx: &tracing_subscriber::layer::Context<'_, S>,
) -> Option<RequestPart>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    let request = request_span(ctx.event_scope(event)?)?;
    Some(take(&mut request.extensions_mut()))
}

/// The request part for an event captured in the current span (panics, sentry's own API).
pub(crate) fn take_current() -> Option<RequestPart> {
    with_request_of(&tracing::Span::current(), false, take)
}

/// Adds `crumb` to the request of the event a layer sees; gives it back outside any request.
pub(crate) fn add_breadcrumb<S>(
    event: &tracing::Event<'_>,
    ctx: &tracing_subscriber::layer::Context<'_, S>,
    crumb: Breadcrumb,
) -> Option<Breadcrumb>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    let Some(request) = ctx.event_scope(event).and_then(request_span) else {
        return Some(crumb);
    };
    let mut ext = request.extensions_mut();
    match ext.get_mut::<RequestScope>() {
        Some(scope) => scope.push(crumb),
        None => {
            let mut scope = RequestScope::new();
            scope.push(crumb);
            ext.insert(scope);
        }
    }
    None
}

/// Describes the request `span` serves (see `reporting::describe_request`).
pub(crate) fn describe(
    span: &tracing::Span,
    method: &'static str,
    route: &std::sync::Arc<str>,
    matched: bool,
) -> bool {
    if !errors_on() {
        return false;
    }
    with_request_of(span, true, |ext| {
        let Some(fields) = ext.get_mut::<SpanFields>() else {
            return false;
        };
        match &mut fields.http {
            Some(http) if std::sync::Arc::ptr_eq(&http.route, route) && http.method == method => {
                http.matched = matched;
            }
            http => {
                *http = Some(HttpRequest {
                    method,
                    route: route.clone(),
                    matched,
                });
            }
        }
        true
    })
    .unwrap_or(false)
}

/// Whether an event was captured in the request of `span`.
pub(crate) fn reported(span: &tracing::Span) -> bool {
    if !errors_on() {
        return false;
    }
    with_request_of(span, false, |ext| {
        ext.get_mut::<RequestScope>().is_some_and(|s| s.reported)
    })
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_keeps_its_latest_breadcrumbs_only() {
        let mut scope = RequestScope::new();
        for i in 0..(MAX_BREADCRUMBS + 5) {
            scope.push(Breadcrumb {
                message: Some(format!("crumb {i}")),
                ..Default::default()
            });
        }
        assert_eq!(scope.breadcrumbs.len(), MAX_BREADCRUMBS);
        assert_eq!(scope.breadcrumbs[0].message.as_deref(), Some("crumb 5"));
    }
}
