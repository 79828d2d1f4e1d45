//! The ids of the current span, for what points at a trace (exemplars).

use opentelemetry::Context;
use opentelemetry::trace::{SpanId, TraceContextExt as _, TraceId};

/// The trace and span id of the current span when it is sampled (what exemplars carry).
///
/// ```
/// // Outside any span there is nothing to point at.
/// assert!(glimpse_telemetry::traces::current_sampled_ids().is_none());
/// ```
#[inline]
pub fn current_sampled_ids() -> Option<(TraceId, SpanId)> {
    Context::map_current(|cx| {
        let span = cx.span();
        let sc = span.span_context();
        sc.is_sampled().then(|| (sc.trace_id(), sc.span_id()))
    })
}
