//! JSON log lines: one object per line on stdout, in the schema the Glimpse log pipeline
//! (Filebeat → Elasticsearch, Loki) indexes.
//!
//! ```json
//! {"timestamp":"2026-11-23T10:15:02.311Z","level":"INFO","service":"glimpse-api","message":"user fetched",
//!  "requestId":"0193...","userId":"user123","traceId":"4bf92f35...","spanId":"00f067aa...","target":"glimpse_api::users",
//!  "rows":1,"http_route":"/users/{id}"}
//! ```
//!
//! - always: `timestamp` (RFC 3339, UTC, milliseconds, `Z`), `level` (`ERROR` ... `TRACE`),
//!   `service`, `message`;
//! - when known: `requestId` and `userId` (from the innermost span that recorded `request_id` /
//!   `user_id`, even after the span was created), `traceId` and `spanId` (the ids Jaeger shows),
//!   `target`;
//! - then every field of the event and of its spans, innermost first, each key once, dots in
//!   keys written as `_` (so `error.type` cannot clash with an `error` string in Elasticsearch).
//!   A field named like a schema key is written as `fields_<name>`.
//!
//! Values of secret-looking keys are `"[REDACTED]"` and card numbers are masked anywhere (see
//! [`redact`](crate::redact)). [`catalogue`] lists every key the SDK and its adapters write
//! (`docs/log-schema.md` and the Elasticsearch, Filebeat and Loki configurations are generated
//! from it); [`audit`] has the helpers for audit and security lines.

pub mod audit;
pub mod catalogue;
pub(crate) mod fields;
pub(crate) mod json;
pub(crate) mod log_type;
pub(crate) mod writer;

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use opentelemetry::trace::{SpanId, TraceContextExt as _, TraceId};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use fields::{Entry, FieldVisitor, SpanFields};
pub use fields::{REQUEST_ID_FIELD, USER_ID_FIELD};
use writer::LogSink;

use crate::metrics::Counter;
use crate::redact::Redactor;

/// Keeps one DEBUG/TRACE event in `every` for targets starting with `target`.
struct SamplingRule {
    target: String,
    every: u64,
    seen: AtomicU64,
}

/// Writes events as JSON lines.
pub(crate) struct JsonLayer {
    /// `"service":"<name>"`, escaped once.
    service: String,
    redactor: Redactor,
    /// `None`: count events only (the pretty format writes them).
    sink: Option<LogSink>,
    sampling: Vec<SamplingRule>,
    /// `glimpse_log_events_total` by level: ERROR, WARN, INFO, DEBUG, TRACE.
    counts: [Counter; 5],
}

impl JsonLayer {
    pub(crate) fn new(
        service: &str,
        redactor: Redactor,
        sink: Option<LogSink>,
        sampling: &[(String, f64)],
    ) -> Self {
        let mut svc = String::from("\"service\":");
        json::write_str(&mut svc, service);
        let count =
            |level: &str| crate::metrics::catalogue::GLIMPSE_LOG_EVENTS.series::<Counter>(&[level]);
        JsonLayer {
            service: svc,
            redactor,
            sink,
            sampling: sampling
                .iter()
                .map(|(target, ratio)| SamplingRule {
                    target: target.clone(),
                    every: if *ratio <= 0.0 {
                        u64::MAX
                    } else {
                        (1.0 / ratio).round().max(1.0) as u64
                    },
                    seen: AtomicU64::new(0),
                })
                .collect(),
            counts: [
                count("ERROR"),
                count("WARN"),
                count("INFO"),
                count("DEBUG"),
                count("TRACE"),
            ],
        }
    }

    fn sampled_out(&self, level: &Level, target: &str) -> bool {
        if *level < Level::DEBUG {
            return false; // ERROR, WARN and INFO are never sampled
        }
        match self
            .sampling
            .iter()
            .find(|r| target.starts_with(r.target.as_str()))
        {
            Some(rule) => {
                rule.every == u64::MAX
                    || rule.seen.fetch_add(1, Ordering::Relaxed) % rule.every != 0
            }
            None => false,
        }
    }
}

/// The index of a level in per-level tables (ERROR 0 … TRACE 4).
pub(crate) fn level_index(level: &Level) -> usize {
    match *level {
        Level::ERROR => 0,
        Level::WARN => 1,
        Level::INFO => 2,
        Level::DEBUG => 3,
        Level::TRACE => 4,
    }
}

/// Reused per thread so that writing a line allocates nothing in the steady state.
#[derive(Default)]
struct Scratch {
    line: String,
    /// The event's own fields, as `"key":value` fragments indexed by `entries`.
    fields: String,
    entries: Vec<Entry>,
    message: String,
    /// Fields of the event's spans, already deduplicated, each preceded by a comma.
    span_fields: String,
    /// Keys written so far (hashes of the keys as written), so each appears once: the event's
    /// first, then inner spans' before outer ones'. Two field names can be written alike
    /// (`http.route` and `http_route`), so this compares what is written, not the names.
    written: Vec<u64>,
    /// The event's own fields that are written, each preceded by a comma.
    event_fields: String,
    /// `,"requestId":...,"userId":...` as found.
    ids: String,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

impl<S> tracing_subscriber::Layer<S> for JsonLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        if self.sampled_out(meta.level(), meta.target()) {
            return;
        }
        self.counts[level_index(meta.level())].inc();
        let Some(sink) = &self.sink else { return };
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => self.write_event(&mut scratch, event, &ctx, sink),
            // A Debug impl that logs while being formatted: use a fresh buffer.
            Err(_) => self.write_event(&mut Scratch::default(), event, &ctx, sink),
        });
    }
}

impl JsonLayer {
    fn write_event<S>(
        &self,
        s: &mut Scratch,
        event: &Event<'_>,
        ctx: &Context<'_, S>,
        sink: &LogSink,
    ) where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let meta = event.metadata();
        s.line.clear();
        s.fields.clear();
        s.entries.clear();
        s.message.clear();
        s.span_fields.clear();
        s.written.clear();
        s.event_fields.clear();
        s.ids.clear();

        let mut request_id = None;
        let mut user_id = None;
        event.record(&mut FieldVisitor {
            out: &mut s.fields,
            redactor: &self.redactor,
            entries: &mut s.entries,
            request_id: &mut request_id,
            user_id: &mut user_id,
            message: Some(&mut s.message),
        });
        // Event fields win over span fields of the same name; inner spans over outer ones.
        for &(_, hash, start, end) in &s.entries {
            let frag = &s.fields[start as usize..end as usize];
            if note_key_hash(&mut s.written, hash) {
                s.event_fields.push(',');
                s.event_fields.push_str(frag);
            }
        }
        let mut have_request_id = push_id(&mut s.ids, "requestId", request_id.as_deref());
        let mut have_user_id = push_id(&mut s.ids, "userId", user_id.as_deref());
        // Whether the span the event belongs to is one the OpenTelemetry bridge leaves out
        // (`otel.skip`: an adapter's request span, whose context the adapter attaches itself).
        let mut parent_skips_bridge = false;
        if let Some(scope) = ctx.event_scope(event) {
            for (i, span) in scope.enumerate() {
                if i == 0 {
                    parent_skips_bridge = span
                        .metadata()
                        .fields()
                        .field(crate::subscriber::SKIP_OTEL_FIELD)
                        .is_some();
                }
                let ext = span.extensions();
                let Some(f) = ext.get::<SpanFields>() else {
                    continue;
                };
                if !have_request_id {
                    have_request_id = push_id(&mut s.ids, "requestId", f.request_id.as_deref());
                }
                if !have_user_id {
                    have_user_id = push_id(&mut s.ids, "userId", f.user_id.as_deref());
                }
                for (hash, frag) in f.fragments() {
                    if note_key_hash(&mut s.written, hash) {
                        s.span_fields.push(',');
                        s.span_fields.push_str(frag);
                    }
                }
            }
        }

        let line = &mut s.line;
        line.push_str("{\"timestamp\":");
        json::write_timestamp(line, SystemTime::now());
        line.push_str(",\"level\":\"");
        line.push_str(meta.level().as_str());
        line.push_str("\",");
        line.push_str(&self.service);
        line.push_str(",\"message\":");
        json::write_str(line, &s.message);
        line.push_str(&s.ids);
        if let Some((trace_id, span_id)) = event_otel_ids(event, parent_skips_bridge) {
            line.push_str(",\"traceId\":\"");
            push_hex(line, &trace_id.to_bytes());
            line.push_str("\",\"spanId\":\"");
            push_hex(line, &span_id.to_bytes());
            line.push('"');
        }
        line.push_str(",\"target\":");
        json::write_str(line, meta.target());
        line.push_str(&s.event_fields);
        line.push_str(&s.span_fields);
        line.push_str("}\n");
        sink.write_line(line.as_bytes());
        // Do not keep a buffer grown by one huge line.
        if line.capacity() > 256 * 1024 {
            *line = String::new();
        }
    }
}

/// Records a key of the line by its hash ([`json::key_hash`]); false when a key written the same
/// way was already recorded (then the fragment must be skipped).
fn note_key_hash(written: &mut Vec<u64>, hash: u64) -> bool {
    if written.contains(&hash) {
        false
    } else {
        written.push(hash);
        true
    }
}

/// [`note_key_hash`] for a fragment's text.
#[cfg(test)]
fn note_key(written: &mut Vec<u64>, fragment: &str) -> bool {
    note_key_hash(written, json::key_hash(fragment))
}

#[cfg(test)]
use json::key_end;

/// Appends `,"key":"id"` when there is an id; returns whether there was.
fn push_id(out: &mut String, key: &str, id: Option<&str>) -> bool {
    let Some(id) = id else { return false };
    out.push_str(",\"");
    out.push_str(key);
    out.push_str("\":");
    json::write_str(out, id);
    true
}

/// The trace and span ids of the span an event belongs to. `skips_bridge`: that span is one the
/// OpenTelemetry bridge never sees (`otel.skip`), so asking the bridge is skipped: it would
/// downcast the subscriber three times and look the span up (about 950 instructions, on every
/// access line) only to answer that it does not know the span.
fn event_otel_ids(event: &Event<'_>, skips_bridge: bool) -> Option<(TraceId, SpanId)> {
    let ids = |cx: &opentelemetry::Context| {
        let span = cx.span();
        let sc = span.span_context();
        sc.is_valid().then(|| (sc.trace_id(), sc.span_id()))
    };
    let explicit = match event.parent() {
        // An explicit parent may not be the active span: ask the OpenTelemetry layer for it.
        Some(id) if !event.is_contextual() && !skips_bridge => {
            tracing::dispatcher::get_default(|d| tracing_opentelemetry::get_otel_context(id, d))
                .and_then(|cx| ids(&cx))
        }
        _ => None,
    };
    // A span the bridge does not know (an adapter built its OpenTelemetry span itself and
    // attached its context): the active context is the one.
    explicit.or_else(|| opentelemetry::Context::map_current(ids))
}

/// Appends `bytes` as lowercase hex (trace ids are 16 bytes, span ids 8; longer input is cut).
/// By hand, a nibble per table load: `hex::encode_to_slice` cost about twice as much here, and
/// this runs twice for every log line inside a trace.
fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 32];
    let bytes = &bytes[..bytes.len().min(16)];
    for (pair, b) in buf.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0xf)];
    }
    out.push_str(std::str::from_utf8(&buf[..2 * bytes.len()]).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_written_as_lowercase_hex() {
        let trace = opentelemetry::trace::TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736")
            .expect("hex");
        let span = opentelemetry::trace::SpanId::from_hex("00f067aa0ba902b7").expect("hex");
        let mut out = String::new();
        push_hex(&mut out, &trace.to_bytes());
        out.push('-');
        push_hex(&mut out, &span.to_bytes());
        assert_eq!(out, "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7");
    }

    #[test]
    fn keys_are_read_up_to_the_first_quote_colon() {
        assert_eq!(key_end(br#""route":"/users/{id}""#), Some(6));
        assert_eq!(
            key_end(br#""a\"b":1"#),
            Some(5),
            "an escaped quote is not the end"
        );
        assert_eq!(key_end(b"no key"), None);
        let mut written = Vec::new();
        assert!(note_key(&mut written, r#""route":"/a""#));
        assert!(
            !note_key(&mut written, r#""route":"/b""#),
            "the same key again"
        );
        assert!(
            note_key(&mut written, r#""router":"/a""#),
            "a longer key is another key"
        );
    }

    #[test]
    fn debug_sampling_keeps_one_in_n_of_matching_targets_only() {
        let layer = JsonLayer::new(
            "t",
            Redactor::default(),
            None,
            &[("sqlx".to_owned(), 0.1), ("quiet".to_owned(), 0.0)],
        );
        let kept = |level: Level, target: &str| {
            (0..1000)
                .filter(|_| !layer.sampled_out(&level, target))
                .count()
        };
        assert_eq!(kept(Level::DEBUG, "sqlx::query"), 100);
        assert_eq!(kept(Level::TRACE, "sqlx"), 100);
        assert_eq!(kept(Level::DEBUG, "quiet::x"), 0);
        assert_eq!(
            kept(Level::DEBUG, "my_app"),
            1000,
            "other targets are not sampled"
        );
        assert_eq!(
            kept(Level::INFO, "sqlx::query"),
            1000,
            "INFO and above are never sampled"
        );
        assert_eq!(kept(Level::ERROR, "quiet"), 1000);
    }
}
