//! What is known about the request being served: its request id, user id, trace and span.
//!
//! The ids live on spans: a span that records `request_id` or `user_id` (the HTTP layer's request
//! span does) gives them to every log line, GlitchTip event and slow-query report under it.
//! [`set_user_id`] lets an auth layer or a handler say who the user is after the request span
//! was created.
//!
//! ```
//! use glimpse_telemetry::context;
//!
//! let span = tracing::info_span!("request", request_id = "req-1", user_id = tracing::field::Empty);
//! let _g = span.enter();
//! // ... later, once the token is checked:
//! context::set_user_id("user123");
//! # // (without glimpse_telemetry::init the ids are not stored, so nothing to assert here)
//! ```

use opentelemetry::trace::{SpanId, TraceContextExt as _, TraceId};
use tracing::field::Value;
use tracing_subscriber::registry::{LookupSpan, Registry};

use crate::logs::fields::SpanFields;
use crate::logs::{REQUEST_ID_FIELD, USER_ID_FIELD};

/// The identifiers of the current request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestContext {
    /// The innermost `request_id` recorded on a span in scope.
    pub request_id: Option<String>,
    /// The innermost `user_id` recorded on a span in scope.
    pub user_id: Option<String>,
    /// The current span's trace id, when there is a valid span context.
    pub trace_id: Option<TraceId>,
    /// The current span's span id.
    pub span_id: Option<SpanId>,
    /// Whether the trace is sampled (exported to Jaeger).
    pub sampled: bool,
}

/// The ids of the current request (from the current span and its parents).
///
/// ```
/// let cx = glimpse_telemetry::context::current();
/// assert!(cx.request_id.is_none()); // no request here
/// ```
pub fn current() -> RequestContext {
    let mut out = of_span(&tracing::Span::current());
    with_active_trace(&mut out);
    out
}

/// Fills the trace fields from the active OpenTelemetry context.
fn with_active_trace(out: &mut RequestContext) {
    opentelemetry::Context::map_current(|cx| {
        let span = cx.span();
        let sc = span.span_context();
        if sc.is_valid() {
            out.trace_id = Some(sc.trace_id());
            out.span_id = Some(sc.span_id());
            out.sampled = sc.is_sampled();
        }
    });
}

/// The request and user ids recorded on `span` or its parents (the trace fields stay empty:
/// they belong to the active OpenTelemetry context, see [`current`]).
///
/// ```
/// let span = tracing::info_span!("job");
/// assert!(glimpse_telemetry::context::of_span(&span).request_id.is_none());
/// ```
pub fn of_span(span: &tracing::Span) -> RequestContext {
    let mut out = RequestContext::default();
    span.with_subscriber(|(id, dispatch)| {
        // The subscriber `init` builds first: a downcast finds it at its first check, and the
        // `Registry` under it only after asking every layer (about 240 instructions a request).
        if let Some(built) = dispatch.downcast_ref::<crate::subscriber::Built>() {
            take_ids_of(built, id, &mut out);
        } else if let Some(registry) = dispatch.downcast_ref::<Registry>() {
            take_ids_of(registry, id, &mut out);
        }
    });
    out
}

/// The ids on the span `id` or, where it has none, its parents.
fn take_ids_of<'a, R: LookupSpan<'a>>(
    spans: &'a R,
    id: &tracing::span::Id,
    out: &mut RequestContext,
) {
    // Parent by parent, not `scope()`: that looks the span up a second time, and a request span
    // is a root.
    let mut next = spans.span(id);
    while let Some(span) = next {
        if let Some(f) = span.extensions().get::<SpanFields>()
            && take_ids(out, f)
        {
            break;
        }
        next = span.parent();
    }
}

/// The ids of the span an event belongs to, read through a layer's context: inside a layer
/// callback, [`current`] cannot see a scoped (non-global) dispatcher. Only the GlitchTip layer
/// needs it.
#[cfg(feature = "sentry")]
pub(crate) fn of_event<S>(
    event: &tracing::Event<'_>,
    ctx: &tracing_subscriber::layer::Context<'_, S>,
) -> RequestContext
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    let mut out = RequestContext::default();
    if let Some(scope) = ctx.event_scope(event) {
        for span in scope {
            if let Some(f) = span.extensions().get::<SpanFields>() {
                if take_ids(&mut out, f) {
                    break;
                }
            }
        }
    }
    with_active_trace(&mut out);
    out
}

/// Fills the ids `out` lacks from one span's fields (the innermost span's win); true when both
/// are known, so the walk up the scope can stop.
fn take_ids(out: &mut RequestContext, f: &SpanFields) -> bool {
    if out.request_id.is_none() {
        out.request_id = f.request_id.as_deref().map(str::to_owned);
    }
    if out.user_id.is_none() {
        out.user_id = f.user_id.as_deref().map(str::to_owned);
    }
    out.request_id.is_some() && out.user_id.is_some()
}

/// Records who the user is on the nearest span in scope that declares a `user_id` field (the
/// request span of the HTTP layer does), so every later log line carries `userId` and GlitchTip
/// events carry the user. Returns false when no span in scope declares the field.
///
/// Use an opaque id, never an email or a name.
pub fn set_user_id(user_id: &str) -> bool {
    record_on_nearest(USER_ID_FIELD, &user_id)
}

/// Records the request id on the nearest span in scope that declares `request_id`.
pub fn set_request_id(request_id: &str) -> bool {
    record_on_nearest(REQUEST_ID_FIELD, &request_id)
}

fn record_on_nearest(field_name: &str, value: &dyn Value) -> bool {
    tracing::Span::current()
        .with_subscriber(|(id, dispatch)| {
            // The handler may be inside a child span (an #[instrument]ed function): walk up to
            // the span that has the field, since recording a field a span lacks does nothing.
            // As in `of_span`: the SDK's own subscriber first (an auth layer may call this on
            // every request).
            let target = if let Some(built) = dispatch.downcast_ref::<crate::subscriber::Built>() {
                declaring(built, id, field_name)
            } else if let Some(registry) = dispatch.downcast_ref::<Registry>() {
                declaring(registry, id, field_name)
            } else {
                None
            };
            let Some((target_id, meta)) = target else {
                return false;
            };
            let Some(field) = meta.fields().field(field_name) else {
                return false;
            };
            let values = [(&field, Some(value))];
            let value_set = meta.fields().value_set(&values);
            dispatch.record(&target_id, &tracing::span::Record::new(&value_set));
            true
        })
        .unwrap_or(false)
}

/// The nearest span, from `id` up, whose fields include `field_name`.
fn declaring<'a, R: LookupSpan<'a>>(
    spans: &'a R,
    id: &tracing::span::Id,
    field_name: &str,
) -> Option<(tracing::span::Id, &'static tracing::Metadata<'static>)> {
    spans
        .span(id)?
        .scope()
        .find(|s| s.metadata().fields().field(field_name).is_some())
        .map(|s| (s.id(), s.metadata()))
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;
    use crate::logs::fields::SpanFieldsLayer;
    use crate::redact::Redactor;
    use crate::subscriber::{BoxedLayer, Built};

    /// The request id on a request span, the user id on a child of it.
    fn ids_of_a_child() -> RequestContext {
        let request = tracing::info_span!("request", request_id = "req-1");
        let child = tracing::info_span!(parent: &request, "child", user_id = "u-2");
        of_span(&child)
    }

    #[test]
    fn ids_come_from_the_span_and_its_parents_under_either_subscriber() {
        let fields = || SpanFieldsLayer {
            redactor: Redactor::default(),
        };
        // The SDK's own subscriber, found at the first check of the downcast.
        let built: Built =
            tracing_subscriber::registry().with(vec![Box::new(fields()) as BoxedLayer]);
        let built = tracing::Dispatch::new(built);
        assert!(built.downcast_ref::<Built>().is_some());
        let cx = tracing::dispatcher::with_default(&built, ids_of_a_child);
        assert_eq!(cx.request_id.as_deref(), Some("req-1"));
        assert_eq!(cx.user_id.as_deref(), Some("u-2"));
        // Any other subscriber over a registry.
        let other = tracing_subscriber::registry().with(fields());
        let cx = tracing::subscriber::with_default(other, ids_of_a_child);
        assert_eq!(cx.request_id.as_deref(), Some("req-1"));
        assert_eq!(cx.user_id.as_deref(), Some("u-2"));
    }
}
