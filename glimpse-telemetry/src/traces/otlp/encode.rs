//! OTLP/protobuf encoding of finished spans, written straight from `SpanData` into a buffer that
//! the exporter reuses from batch to batch.
//!
//! Hand-written rather than opentelemetry-otlp's conversion, because a measurement says so:
//! that exporter deep-clones every batch, converts each span into opentelemetry-proto structs (a
//! `String` per attribute key and value, a `Vec` per id, all freed again on another thread), and
//! prost encodes those on the gRPC client's thread. Under load that was 7.4 µs of export-thread
//! CPU per span (`scripts/profile-stacks`, docs/load-test.md); once its buffer has grown, this
//! encoder allocates per span only the W3C `tracestate` header of a span that carries one. The bytes are exactly what opentelemetry-proto and prost
//! produce for the same batch (the tests below compare them), so a collector cannot tell.
//!
//! Protobuf in brief: a field is a key (`field << 3 | wire type`) and a value; a nested message is
//! its length, then its bytes. Fields go out in tag order and proto3 defaults (0, "") are left
//! out, as prost does.

use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::{Array, InstrumentationScope, KeyValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SpanData;

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;

/// Encodes `ExportTraceServiceRequest` messages; holds the resource, encoded once.
#[derive(Debug, Default)]
pub(crate) struct SpanEncoder {
    /// The `Resource` message's body (its attributes).
    resource: Vec<u8>,
    resource_schema_url: String,
}

impl SpanEncoder {
    /// Encodes the resource once: it is the same for every batch.
    pub(crate) fn set_resource(&mut self, resource: &Resource) {
        let mut buf = Vec::new();
        for (k, v) in resource.iter() {
            message(&mut buf, 1, |buf| key_value(buf, k.as_str(), v));
        }
        self.resource = buf;
        self.resource_schema_url = resource.schema_url().unwrap_or_default().to_owned();
    }

    /// Writes the request for `spans` into `buf` (cleared first), grouping the spans by
    /// instrumentation scope in the order each scope first appears.
    pub(crate) fn encode(&self, spans: &[SpanData], buf: &mut Vec<u8>) {
        buf.clear();
        // A batch holds a handful of scopes (the server's, the database adapter's): a linear
        // search beats hashing every span's scope.
        let mut scopes: Vec<&InstrumentationScope> = Vec::new();
        for span in spans {
            if !scopes.contains(&&span.instrumentation_scope) {
                scopes.push(&span.instrumentation_scope);
            }
        }
        message(buf, 1, |buf| {
            message(buf, 1, |buf| buf.extend_from_slice(&self.resource));
            for scope in &scopes {
                message(buf, 2, |buf| {
                    message(buf, 1, |buf| instrumentation_scope(buf, scope));
                    for span in spans.iter().filter(|s| &s.instrumentation_scope == *scope) {
                        message(buf, 2, |buf| encode_span(buf, span));
                    }
                    string(buf, 3, scope.schema_url().unwrap_or_default());
                });
            }
            string(buf, 3, &self.resource_schema_url);
        });
    }
}

fn instrumentation_scope(buf: &mut Vec<u8>, scope: &InstrumentationScope) {
    string(buf, 1, scope.name());
    string(buf, 2, scope.version().unwrap_or_default());
    for kv in scope.attributes() {
        message(buf, 3, |buf| key_value(buf, kv.key.as_str(), &kv.value));
    }
}

fn encode_span(buf: &mut Vec<u8>, span: &SpanData) {
    let cx = &span.span_context;
    bytes(buf, 1, &cx.trace_id().to_bytes());
    bytes(buf, 2, &cx.span_id().to_bytes());
    string(buf, 3, &cx.trace_state().header());
    if span.parent_span_id != opentelemetry::trace::SpanId::INVALID {
        bytes(buf, 4, &span.parent_span_id.to_bytes());
    }
    string(buf, 5, &span.name);
    uint(buf, 6, span_kind(&span.span_kind));
    fixed64(buf, 7, nanos(span.start_time));
    fixed64(buf, 8, nanos(span.end_time));
    attributes(buf, 9, &span.attributes);
    uint(buf, 10, u64::from(span.dropped_attributes_count));
    for event in span.events.iter() {
        message(buf, 11, |buf| {
            fixed64(buf, 1, nanos(event.timestamp));
            string(buf, 2, &event.name);
            attributes(buf, 3, &event.attributes);
            uint(buf, 4, u64::from(event.dropped_attributes_count));
        });
    }
    uint(buf, 12, u64::from(span.events.dropped_count));
    for link in span.links.iter() {
        message(buf, 13, |buf| {
            let cx = &link.span_context;
            bytes(buf, 1, &cx.trace_id().to_bytes());
            bytes(buf, 2, &cx.span_id().to_bytes());
            string(buf, 3, &cx.trace_state().header());
            attributes(buf, 4, &link.attributes);
            uint(buf, 5, u64::from(link.dropped_attributes_count));
            fixed32(buf, 6, flags(cx.is_remote(), cx.trace_flags().to_u8()));
        });
    }
    uint(buf, 14, u64::from(span.links.dropped_count));
    // Always present, as the reference conversion writes it, even when unset.
    message(buf, 15, |buf| match &span.status {
        Status::Error { description } => {
            string(buf, 2, description);
            uint(buf, 3, 2);
        }
        Status::Ok => uint(buf, 3, 1),
        Status::Unset => {}
    });
    fixed32(
        buf,
        16,
        flags(span.parent_span_is_remote, cx.trace_flags().to_u8()),
    );
}

/// OTLP's span flags: the W3C trace flags, plus "whether the parent is remote is known" and,
/// when it is, "it is remote".
fn flags(remote: bool, trace_flags: u8) -> u32 {
    let known = 0x100;
    let is_remote = if remote { 0x200 } else { 0 };
    u32::from(trace_flags) | known | is_remote
}

fn span_kind(kind: &SpanKind) -> u64 {
    match kind {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

fn nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn attributes(buf: &mut Vec<u8>, field: u32, attrs: &[KeyValue]) {
    for kv in attrs {
        message(buf, field, |buf| key_value(buf, kv.key.as_str(), &kv.value));
    }
}

fn key_value(buf: &mut Vec<u8>, key: &str, value: &Value) {
    string(buf, 1, key);
    message(buf, 2, |buf| any_value(buf, value));
}

/// `AnyValue`: a oneof, so its field is written even when it holds the default.
fn any_value(buf: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Bool(b) => {
            tag(buf, 2, VARINT);
            varint(buf, u64::from(*b));
        }
        Value::I64(i) => {
            tag(buf, 3, VARINT);
            // Two's complement, as protobuf's int64.
            varint(buf, *i as u64);
        }
        Value::F64(f) => {
            tag(buf, 4, FIXED64);
            buf.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        Value::String(s) => string_value(buf, s.as_str()),
        Value::Array(array) => message(buf, 5, |buf| match array {
            Array::Bool(v) => array_values(buf, v, |b| Value::Bool(*b)),
            Array::I64(v) => array_values(buf, v, |i| Value::I64(*i)),
            Array::F64(v) => array_values(buf, v, |f| Value::F64(*f)),
            Array::String(v) => {
                for s in v {
                    message(buf, 1, |buf| string_value(buf, s.as_str()));
                }
            }
            // A kind of array added after this was written: sent as its text rather than lost.
            other => message(buf, 1, |buf| string_value(buf, &other.to_string())),
        }),
        other => string_value(buf, &other.to_string()),
    }
}

/// `AnyValue.string_value`, written even when empty (a oneof).
fn string_value(buf: &mut Vec<u8>, s: &str) {
    tag(buf, 1, LEN);
    len_bytes(buf, s.as_bytes());
}

fn array_values<T>(buf: &mut Vec<u8>, values: &[T], value: impl Fn(&T) -> Value) {
    for v in values {
        message(buf, 1, |buf| any_value(buf, &value(v)));
    }
}

fn tag(buf: &mut Vec<u8>, field: u32, wire_type: u8) {
    varint(buf, u64::from(field << 3 | u32::from(wire_type)));
}

fn varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

fn len_bytes(buf: &mut Vec<u8>, b: &[u8]) {
    varint(buf, b.len() as u64);
    buf.extend_from_slice(b);
}

fn bytes(buf: &mut Vec<u8>, field: u32, b: &[u8]) {
    if !b.is_empty() {
        tag(buf, field, LEN);
        len_bytes(buf, b);
    }
}

fn string(buf: &mut Vec<u8>, field: u32, s: &str) {
    bytes(buf, field, s.as_bytes());
}

fn uint(buf: &mut Vec<u8>, field: u32, v: u64) {
    if v != 0 {
        tag(buf, field, VARINT);
        varint(buf, v);
    }
}

fn fixed64(buf: &mut Vec<u8>, field: u32, v: u64) {
    if v != 0 {
        tag(buf, field, FIXED64);
        buf.extend_from_slice(&v.to_le_bytes());
    }
}

fn fixed32(buf: &mut Vec<u8>, field: u32, v: u32) {
    if v != 0 {
        tag(buf, field, FIXED32);
        buf.extend_from_slice(&v.to_le_bytes());
    }
}

/// A nested message: its body is written in place after a one-byte length, which most bodies
/// fit; a longer body is shifted right to make room for its length (once per long message, not
/// per field).
fn message(buf: &mut Vec<u8>, field: u32, body: impl FnOnce(&mut Vec<u8>)) {
    tag(buf, field, LEN);
    let at = buf.len();
    buf.push(0);
    body(buf);
    let len = buf.len() - at - 1;
    if len < 0x80 {
        buf[at] = len as u8;
    } else {
        let mut prefix = Vec::with_capacity(10);
        varint(&mut prefix, len as u64);
        buf.splice(at..=at, prefix);
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::time::Duration;

    use opentelemetry::trace::{Event, Link, SpanContext, SpanId, TraceFlags, TraceId, TraceState};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
    use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
    use prost::Message as _;

    use super::*;

    fn span(name: &'static str, scope: &InstrumentationScope, n: u64) -> SpanData {
        let state = TraceState::from_key_value([("vendor", "v1")]).expect("valid trace state");
        let cx = SpanContext::new(
            TraceId::from(0x0123_4567_89ab_cdef_u128 << 64 | u128::from(n)),
            SpanId::from(n + 1),
            TraceFlags::SAMPLED,
            false,
            if n % 2 == 0 {
                state.clone()
            } else {
                TraceState::NONE
            },
        );
        let long = "x".repeat(300);
        let mut events = SpanEvents::default();
        events.events.push(Event::new(
            "slow query",
            UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789),
            vec![
                KeyValue::new("level", "WARN"),
                KeyValue::new("db.rows", 3_i64),
            ],
            0,
        ));
        events.dropped_count = u32::try_from(n).unwrap_or(0);
        let mut links = SpanLinks::default();
        if n == 1 {
            links.links.push(Link::new(
                SpanContext::new(
                    TraceId::from(7),
                    SpanId::from(8),
                    TraceFlags::SAMPLED,
                    true,
                    state,
                ),
                vec![KeyValue::new("link", true)],
                1,
            ));
        }
        SpanData {
            span_context: cx,
            parent_span_id: if n == 0 {
                SpanId::INVALID
            } else {
                SpanId::from(99)
            },
            parent_span_is_remote: n == 2,
            span_kind: [SpanKind::Server, SpanKind::Client, SpanKind::Internal][(n % 3) as usize]
                .clone(),
            name: Cow::Borrowed(name),
            start_time: UNIX_EPOCH + Duration::from_nanos(1_700_000_000_000_000_000 + n),
            end_time: UNIX_EPOCH + Duration::from_nanos(1_700_000_000_500_000_000 + n),
            attributes: vec![
                KeyValue::new("http.route", "/users/{id}"),
                KeyValue::new("http.response.status_code", 200_i64),
                KeyValue::new("negative", -5_i64),
                KeyValue::new("ratio", 0.25_f64),
                KeyValue::new("zero", 0_i64),
                KeyValue::new("empty", ""),
                KeyValue::new("flag", false),
                KeyValue::new("long", long),
                KeyValue::new(
                    "list",
                    Value::Array(Array::String(vec!["a".into(), "".into()])),
                ),
                KeyValue::new("ints", Value::Array(Array::I64(vec![1, -1, 0]))),
                KeyValue::new("bools", Value::Array(Array::Bool(vec![true, false]))),
                KeyValue::new("floats", Value::Array(Array::F64(vec![1.5, 0.0]))),
            ],
            dropped_attributes_count: if n == 1 { 2 } else { 0 },
            events,
            links,
            status: match n % 3 {
                0 => Status::Unset,
                1 => Status::Ok,
                _ => Status::error("boom"),
            },
            instrumentation_scope: scope.clone(),
        }
    }

    fn reference(spans: &[SpanData], resource: &Resource) -> Vec<u8> {
        let attrs = ResourceAttributesWithSchema::from(resource);
        let resource_spans = group_spans_by_resource_and_scope(spans.to_vec(), &attrs);
        ExportTraceServiceRequest { resource_spans }.encode_to_vec()
    }

    #[test]
    fn bytes_match_the_reference_conversion() {
        let server = InstrumentationScope::builder("glimpse-telemetry-axum")
            .with_version("0.1.0")
            .with_attributes([KeyValue::new("scope.attr", 1_i64)])
            .build();
        let sql = InstrumentationScope::builder("glimpse-telemetry-sqlx")
            .with_schema_url("https://opentelemetry.io/schemas/1.30.0")
            .build();
        let spans: Vec<SpanData> = (0..6)
            .map(|n| {
                span(
                    if n % 2 == 0 {
                        "GET /users/{id}"
                    } else {
                        "SELECT users"
                    },
                    if n % 2 == 0 { &server } else { &sql },
                    n,
                )
            })
            .collect();
        let resource = Resource::builder_empty()
            .with_attributes([
                KeyValue::new("service.name", "glimpse-api"),
                KeyValue::new("service.version", "1.2.3"),
            ])
            .with_schema_url([], "https://opentelemetry.io/schemas/1.30.0")
            .build();
        let mut encoder = SpanEncoder::default();
        encoder.set_resource(&resource);
        let mut buf = vec![1, 2, 3];
        encoder.encode(&spans, &mut buf);
        let want = reference(&spans, &resource);
        assert_eq!(
            ExportTraceServiceRequest::decode(buf.as_slice()).expect("decodes"),
            ExportTraceServiceRequest::decode(want.as_slice()).expect("decodes"),
        );
        assert_eq!(buf, want, "byte for byte");

        // Reused: a second, smaller batch leaves nothing of the first behind.
        encoder.encode(&spans[..1], &mut buf);
        assert_eq!(buf, reference(&spans[..1], &resource));
    }

    #[test]
    fn an_empty_resource_and_batch_match_too() {
        let resource = Resource::builder_empty().build();
        let mut encoder = SpanEncoder::default();
        encoder.set_resource(&resource);
        let mut buf = Vec::new();
        encoder.encode(&[], &mut buf);
        assert_eq!(buf, reference(&[], &resource));
    }

    #[test]
    fn long_messages_get_multi_byte_lengths() {
        for len in [0_usize, 1, 126, 127, 128, 129, 16_383, 16_384, 70_000] {
            let mut buf = Vec::new();
            message(&mut buf, 1, |buf| buf.extend(std::iter::repeat_n(7, len)));
            let mut want = Vec::new();
            tag(&mut want, 1, LEN);
            len_bytes(&mut want, &vec![7; len]);
            assert_eq!(buf, want, "len {len}");
        }
    }
}
