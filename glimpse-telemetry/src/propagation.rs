//! W3C trace context (`traceparent`, `tracestate`) and baggage across HTTP calls, so one trace
//! follows a request through every Glimpse service.
//!
//! These functions use the propagators chosen by `OTEL_PROPAGATORS` (default: `tracecontext`
//! and `baggage`) directly, without the lock around OpenTelemetry's global propagator.
//! Malformed headers are ignored (the request starts a new trace); they never fail a request.
//!
//! ```
//! use glimpse_telemetry::propagation;
//! use glimpse_telemetry::otel::trace::TraceContextExt as _;
//!
//! let mut headers = http::HeaderMap::new();
//! headers.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap());
//! let cx = propagation::extract(&headers);
//! assert_eq!(cx.span().span_context().trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
//!
//! let mut outgoing = http::HeaderMap::new();
//! propagation::inject(&cx, &mut outgoing);
//! assert!(outgoing.contains_key("traceparent"));
//! ```

use std::sync::OnceLock;

use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};
use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};

#[derive(Debug, Default)]
struct Propagators {
    trace_context: Option<TraceContextPropagator>,
    baggage: Option<BaggagePropagator>,
}

static PROPAGATORS: OnceLock<Propagators> = OnceLock::new();

fn propagators() -> &'static Propagators {
    PROPAGATORS.get_or_init(|| configure(&["tracecontext", "baggage"]))
}

fn configure(names: &[&str]) -> Propagators {
    Propagators {
        trace_context: names
            .contains(&"tracecontext")
            .then(TraceContextPropagator::new),
        baggage: names.contains(&"baggage").then(BaggagePropagator::new),
    }
}

/// Chooses the propagators (called by `init`, from `OTEL_PROPAGATORS`); first call wins.
pub(crate) fn set(names: &[&'static str]) {
    let _ = PROPAGATORS.set(configure(names));
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// The remote context carried by incoming request headers (empty when there is none or it is
/// malformed), to use as the parent of the request's span.
pub fn extract(headers: &HeaderMap) -> Context {
    let p = propagators();
    let extractor = HeaderExtractor(headers);
    let cx = Context::new();
    let cx = match &p.trace_context {
        Some(tc) => tc.extract_with_context(&cx, &extractor),
        None => cx,
    };
    match &p.baggage {
        Some(b) if headers.contains_key("baggage") => b.extract_with_context(&cx, &extractor),
        _ => cx,
    }
}

/// Writes `cx` (trace context and baggage) into outgoing request headers.
pub fn inject(cx: &Context, headers: &mut HeaderMap) {
    let p = propagators();
    let mut injector = HeaderInjector(headers);
    if let Some(tc) = &p.trace_context {
        tc.inject_context(cx, &mut injector);
    }
    if let Some(b) = &p.baggage {
        b.inject_context(cx, &mut injector);
    }
}

/// Writes the current span's context into outgoing request headers.
///
/// ```
/// let mut headers = http::HeaderMap::new();
/// glimpse_telemetry::propagation::inject_current(&mut headers); // no span: nothing written
/// assert!(headers.is_empty());
/// ```
pub fn inject_current(headers: &mut HeaderMap) {
    // The active OpenTelemetry context: the current span's, whether the tracing bridge started
    // it or an adapter attached it.
    let cx = Context::current();
    inject(&cx, headers);
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::TraceContextExt as _;

    #[test]
    fn malformed_traceparents_start_a_new_trace() {
        for bad in [
            "",
            "00-",
            "zz-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra-stuff-that-is-long",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            let mut h = HeaderMap::new();
            h.insert("traceparent", HeaderValue::from_str(bad).unwrap());
            h.insert("baggage", HeaderValue::from_static("a=b,,;;=%%%"));
            let cx = extract(&h);
            assert!(!cx.span().span_context().is_valid(), "{bad}");
        }
    }

    #[test]
    fn non_utf8_headers_are_ignored() {
        let mut h = HeaderMap::new();
        h.insert(
            "traceparent",
            HeaderValue::from_bytes(b"00-\xff\xfe").unwrap(),
        );
        assert!(!extract(&h).span().span_context().is_valid());
    }
}
