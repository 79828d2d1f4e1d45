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
use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};

/// A propagator `OTEL_PROPAGATORS` can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Propagator {
    /// W3C `traceparent` and `tracestate`.
    TraceContext,
    /// W3C `baggage`.
    Baggage,
}

impl Propagator {
    /// The default: both.
    pub(crate) const DEFAULT: &[Propagator] = &[Propagator::TraceContext, Propagator::Baggage];

    /// The propagator `OTEL_PROPAGATORS` calls `name`, if this SDK has it.
    pub(crate) fn from_name(name: &str) -> Option<Propagator> {
        match name {
            "tracecontext" => Some(Propagator::TraceContext),
            "baggage" => Some(Propagator::Baggage),
            _ => None,
        }
    }
}

#[derive(Debug, Default)]
struct Propagators {
    trace_context: Option<TraceContextPropagator>,
    baggage: Option<BaggagePropagator>,
}

static PROPAGATORS: OnceLock<Propagators> = OnceLock::new();

fn propagators() -> &'static Propagators {
    PROPAGATORS.get_or_init(|| configure(Propagator::DEFAULT))
}

fn configure(list: &[Propagator]) -> Propagators {
    Propagators {
        trace_context: list
            .contains(&Propagator::TraceContext)
            .then(TraceContextPropagator::new),
        baggage: list
            .contains(&Propagator::Baggage)
            .then(BaggagePropagator::new),
    }
}

/// Chooses the propagators (called by `init`, from `OTEL_PROPAGATORS`); first call wins.
pub(crate) fn set(list: &[Propagator]) {
    let _ = PROPAGATORS.set(configure(list));
}

/// The same propagators as OpenTelemetry's global propagator, for code that uses the
/// OpenTelemetry API directly.
pub(crate) fn global(
    list: &[Propagator],
) -> opentelemetry::propagation::TextMapCompositePropagator {
    let propagators: Vec<Box<dyn TextMapPropagator + Send + Sync>> = list
        .iter()
        .map(|p| -> Box<dyn TextMapPropagator + Send + Sync> {
            match p {
                Propagator::TraceContext => Box::new(TraceContextPropagator::new()),
                Propagator::Baggage => Box::new(BaggagePropagator::new()),
            }
        })
        .collect();
    opentelemetry::propagation::TextMapCompositePropagator::new(propagators)
}

/// opentelemetry-http's header extractor, made strict: the SDK's parser is lenient
/// (`00-1-1-01` passes), so only exact W3C values go through, and `tracestate` only with one.
struct StrictExtractor<'a>(HeaderExtractor<'a>);

impl Extractor for StrictExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        let value = self.0.get(key)?;
        match key {
            "traceparent" => is_w3c_traceparent(value.trim()).then_some(value.trim()),
            "tracestate" => self.get("traceparent").and(Some(value)),
            _ => Some(value),
        }
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys()
    }
}

/// `version-traceid-parentid-flags` exactly as W3C Trace Context writes it: lowercase hex of
/// 2, 32, 16 and 2 digits; version `ff` is invalid; version `00` has nothing after the flags,
/// later versions may (after a `-`).
fn is_w3c_traceparent(v: &str) -> bool {
    let b = v.as_bytes();
    let hex = |r: std::ops::Range<usize>| {
        b.get(r)
            .is_some_and(|s| s.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')))
    };
    if b.len() < 55
        || !hex(0..2)
        || &b[0..2] == b"ff"
        || b[2] != b'-'
        || !hex(3..35)
        || b[35] != b'-'
        || !hex(36..52)
        || b[52] != b'-'
        || !hex(53..55)
    {
        return false;
    }
    match (&b[0..2], b.len()) {
        (b"00", 55) => true,
        (b"00", _) => false,
        (_, 55) => true,
        (_, _) => b[55] == b'-',
    }
}

/// The remote context carried by incoming request headers (empty when there is none or it is
/// malformed), to use as the parent of the request's span.
pub fn extract(headers: &HeaderMap) -> Context {
    let p = propagators();
    let extractor = StrictExtractor(HeaderExtractor(headers));
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
    use http::HeaderValue;
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
    fn only_exact_w3c_traceparents_pass() {
        for ok in [
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-future-fields",
        ] {
            assert!(is_w3c_traceparent(ok), "{ok}");
        }
        for bad in [
            "00-1-1-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
        ] {
            assert!(!is_w3c_traceparent(bad), "{bad}");
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
