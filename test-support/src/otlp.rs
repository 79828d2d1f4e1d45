//! A real OTLP receiver: `@elastic/mockotlpserver` run by
//! `test-support/peers/otlp-receiver.js`.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::peers::{PeerProcess, PeerSpec};

const SPEC: PeerSpec = PeerSpec {
    name: "otlp-receiver",
    script: "otlp-receiver.js",
    package: "@elastic/mockotlpserver",
};

/// A real OTLP receiver (`@elastic/mockotlpserver`) listening on 127.0.0.1
/// for OTLP/HTTP (`application/x-protobuf` and `application/json`) and
/// OTLP/gRPC. Every trace export request it receives is recorded. The child
/// process is killed on drop.
///
/// Notes on what the receiver accepts and reports:
/// * OTLP/HTTP requests must be `POST {http_endpoint}/v1/traces` with a
///   `Content-Type` of exactly `application/x-protobuf` or `application/json`
///   (a `; charset=...` suffix is rejected with 400). Responses are `200`.
/// * Integer attributes arrive as JSON numbers over OTLP/HTTP (protobuf ones
///   lose precision above 2^53) and as decimal strings over OTLP/gRPC;
///   [`ReceivedSpan::attr_i64`] accepts both.
pub struct OtlpReceiver {
    peer: PeerProcess,
    http: String,
    grpc: String,
}

impl OtlpReceiver {
    /// Starts a receiver on free ports. Returns `None` (after
    /// [`peer_missing`](crate::peer_missing)) when `node` or the npm package
    /// is not installed; panics with the receiver's stderr when it is
    /// installed but fails to start within 15 s.
    pub fn start() -> Option<OtlpReceiver> {
        let (peer, ready) = PeerProcess::start(&SPEC)?;
        let url = |key: &str| -> String {
            ready
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("otlp-receiver ready line lacks {key:?}: {ready}"))
                .trim_end_matches('/')
                .to_owned()
        };
        let http = url("http");
        let grpc = url("grpc");
        Some(OtlpReceiver { peer, http, grpc })
    }

    /// The OTLP/gRPC endpoint, `http://127.0.0.1:PORT`.
    pub fn grpc_endpoint(&self) -> &str {
        &self.grpc
    }

    /// The OTLP/HTTP base endpoint, `http://127.0.0.1:PORT` (without a
    /// trailing slash; an exporter appends `/v1/traces`).
    pub fn http_endpoint(&self) -> &str {
        &self.http
    }

    /// The OTLP/HTTP traces URL, `http://127.0.0.1:PORT/v1/traces`.
    pub fn http_traces_url(&self) -> String {
        format!("{}/v1/traces", self.http)
    }

    /// Every span received so far, in arrival order.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        spans_of(&self.peer.messages())
    }

    /// Every trace export request received so far, as normalized by
    /// mockotlpserver's `normalizeTrace` (ids as hex strings, attributes as
    /// plain objects, `kind` and `status.code` as enum names).
    pub fn trace_requests(&self) -> Vec<Value> {
        self.export_requests("trace")
    }

    /// Every export request of a signal (`"trace"`, `"metrics"` or `"logs"`)
    /// received so far, normalized by mockotlpserver.
    pub fn export_requests(&self, signal: &str) -> Vec<Value> {
        self.peer
            .messages()
            .iter()
            .filter(|m| m.get("signal").and_then(Value::as_str) == Some(signal))
            .filter_map(|m| m.get("data").cloned())
            .collect()
    }

    /// Waits until at least one received span matches `pred` or `timeout`
    /// passes; returns all matching spans (empty on timeout). Panics if the
    /// receiver dies meanwhile.
    pub fn wait_for_spans(
        &self,
        timeout: Duration,
        pred: impl Fn(&ReceivedSpan) -> bool,
    ) -> Vec<ReceivedSpan> {
        self.peer
            .wait_until(timeout, |messages| {
                let matching: Vec<_> = spans_of(messages).into_iter().filter(&pred).collect();
                (!matching.is_empty()).then_some(matching)
            })
            .unwrap_or_default()
    }

    /// Waits until `done` returns true for the spans received so far (for
    /// example "both the parent and the child arrived") or `timeout` passes;
    /// returns every span received by then.
    pub fn wait_until(
        &self,
        timeout: Duration,
        done: impl Fn(&[ReceivedSpan]) -> bool,
    ) -> Vec<ReceivedSpan> {
        self.peer
            .wait_until(timeout, |messages| {
                let spans = spans_of(messages);
                done(&spans).then_some(spans)
            })
            .unwrap_or_else(|| self.spans())
    }

    /// The tail of the receiver's stderr (its own warnings), for diagnostics.
    pub fn stderr(&self) -> String {
        self.peer.stderr()
    }
}

fn spans_of(messages: &[Value]) -> Vec<ReceivedSpan> {
    messages
        .iter()
        .filter(|m| m.get("signal").and_then(Value::as_str) == Some("trace"))
        .filter_map(|m| m.get("data"))
        .flat_map(spans_from_export_request)
        .collect()
}

/// One span as received by the [`OtlpReceiver`], flattened out of its
/// `resourceSpans[].scopeSpans[].spans[]` nesting.
#[derive(Clone, Debug, PartialEq)]
pub struct ReceivedSpan {
    /// Trace id, 32 lowercase hex digits.
    pub trace_id: String,
    /// Span id, 16 lowercase hex digits.
    pub span_id: String,
    /// Parent span id (lowercase hex); `None` for a root span (absent or
    /// empty on the wire).
    pub parent_span_id: Option<String>,
    /// Span name.
    pub name: String,
    /// The OTLP enum name: `SPAN_KIND_INTERNAL`, `SPAN_KIND_SERVER`,
    /// `SPAN_KIND_CLIENT`, `SPAN_KIND_PRODUCER`, `SPAN_KIND_CONSUMER` or
    /// `SPAN_KIND_UNSPECIFIED` (also used when the field is absent).
    pub kind: String,
    /// The OTLP status code enum name (`STATUS_CODE_UNSET`, `STATUS_CODE_OK`,
    /// `STATUS_CODE_ERROR`); `None` when the span carries no status code
    /// (which means unset).
    pub status_code: Option<String>,
    /// The status message, if any (normally only set for errors).
    pub status_message: Option<String>,
    /// Span attributes as a plain object (`{"http.route": "/users", ...}`).
    pub attributes: Map<String, Value>,
    /// Resource attributes of the span's `resourceSpans` entry.
    pub resource: Map<String, Value>,
    /// Instrumentation scope name, if any.
    pub scope_name: Option<String>,
    /// Span events as received: `{"name": .., "timeUnixNano": "..",
    /// "attributes": {..}}`.
    pub events: Vec<Value>,
    /// Start time in nanoseconds since the Unix epoch, if present.
    pub start_time_unix_nano: Option<u64>,
    /// End time in nanoseconds since the Unix epoch, if present.
    pub end_time_unix_nano: Option<u64>,
}

impl ReceivedSpan {
    /// A span attribute, as JSON.
    pub fn attr(&self, key: &str) -> Option<&Value> {
        self.attributes.get(key)
    }

    /// A string span attribute.
    pub fn attr_str(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).and_then(Value::as_str)
    }

    /// An integer span attribute (a JSON number or a decimal string, see
    /// [`OtlpReceiver`]).
    pub fn attr_i64(&self, key: &str) -> Option<i64> {
        self.attributes.get(key).and_then(value_i64)
    }

    /// A boolean span attribute.
    pub fn attr_bool(&self, key: &str) -> Option<bool> {
        self.attributes.get(key).and_then(Value::as_bool)
    }

    /// A floating-point span attribute.
    pub fn attr_f64(&self, key: &str) -> Option<f64> {
        self.attributes.get(key).and_then(Value::as_f64)
    }

    /// A string resource attribute (e.g. `service.name`).
    pub fn resource_str(&self, key: &str) -> Option<&str> {
        self.resource.get(key).and_then(Value::as_str)
    }

    /// True for a span without a parent.
    pub fn is_root(&self) -> bool {
        self.parent_span_id.is_none()
    }

    /// The span's events with the given name.
    pub fn events_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.events
            .iter()
            .filter(move |e| e.get("name").and_then(Value::as_str) == Some(name))
    }
}

fn value_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn value_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Flattens one normalized `ExportTraceServiceRequest` (as printed by the
/// receiver, or any OTLP/JSON request whose attributes are either plain
/// objects or `[{"key":..,"value":{"stringValue":..}}]` lists) into spans.
pub fn spans_from_export_request(request: &Value) -> Vec<ReceivedSpan> {
    let mut out = Vec::new();
    for rs in array(request, "resourceSpans") {
        let resource = rs
            .get("resource")
            .map(|r| attributes(r.get("attributes")))
            .unwrap_or_default();
        // `instrumentationLibrarySpans` is the pre-1.0 name of `scopeSpans`.
        let scope_spans = array(rs, "scopeSpans")
            .iter()
            .chain(array(rs, "instrumentationLibrarySpans"));
        for ss in scope_spans {
            let scope_name = ss
                .get("scope")
                .or_else(|| ss.get("instrumentationLibrary"))
                .and_then(|s| s.get("name"))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned);
            for span in array(ss, "spans") {
                out.push(parse_span(span, &resource, &scope_name));
            }
        }
    }
    out
}

fn parse_span(
    span: &Value,
    resource: &Map<String, Value>,
    scope_name: &Option<String>,
) -> ReceivedSpan {
    let s = |key: &str| span.get(key).and_then(Value::as_str);
    let id = |key: &str| {
        s(key)
            .filter(|v| !v.is_empty())
            .map(|v| v.to_ascii_lowercase())
    };
    let status = span.get("status");
    ReceivedSpan {
        trace_id: id("traceId").unwrap_or_default(),
        span_id: id("spanId").unwrap_or_default(),
        parent_span_id: id("parentSpanId").filter(|p| p.bytes().any(|b| b != b'0')),
        name: s("name").unwrap_or_default().to_owned(),
        kind: match span.get("kind") {
            Some(Value::String(k)) => k.clone(),
            Some(Value::Number(n)) => kind_name(n.as_u64()).to_owned(),
            _ => "SPAN_KIND_UNSPECIFIED".to_owned(),
        },
        status_code: status.and_then(|st| st.get("code")).and_then(|c| match c {
            Value::String(c) => Some(c.clone()),
            Value::Number(n) => Some(status_name(n.as_u64()).to_owned()),
            _ => None,
        }),
        status_message: status
            .and_then(|st| st.get("message"))
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
            .map(str::to_owned),
        attributes: attributes(span.get("attributes")),
        resource: resource.clone(),
        scope_name: scope_name.clone(),
        events: array(span, "events")
            .iter()
            .map(|e| {
                let mut e = e.clone();
                let normalized = e
                    .get("attributes")
                    .filter(|a| a.is_array())
                    .map(|a| Value::Object(attributes(Some(a))));
                if let (Some(attrs), Some(obj)) = (normalized, e.as_object_mut()) {
                    obj.insert("attributes".to_owned(), attrs);
                }
                e
            })
            .collect(),
        start_time_unix_nano: span.get("startTimeUnixNano").and_then(value_u64),
        end_time_unix_nano: span.get("endTimeUnixNano").and_then(value_u64),
    }
}

fn kind_name(n: Option<u64>) -> &'static str {
    match n {
        Some(1) => "SPAN_KIND_INTERNAL",
        Some(2) => "SPAN_KIND_SERVER",
        Some(3) => "SPAN_KIND_CLIENT",
        Some(4) => "SPAN_KIND_PRODUCER",
        Some(5) => "SPAN_KIND_CONSUMER",
        _ => "SPAN_KIND_UNSPECIFIED",
    }
}

fn status_name(n: Option<u64>) -> &'static str {
    match n {
        Some(1) => "STATUS_CODE_OK",
        Some(2) => "STATUS_CODE_ERROR",
        _ => "STATUS_CODE_UNSET",
    }
}

fn array<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// Attributes as a plain object, whether normalized already or still the OTLP
/// `[{"key": .., "value": {"stringValue": ..}}]` list.
fn attributes(v: Option<&Value>) -> Map<String, Value> {
    match v {
        Some(Value::Object(map)) => map.clone(),
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(|kv| {
                let key = kv.get("key")?.as_str()?.to_owned();
                Some((key, any_value(kv.get("value").unwrap_or(&Value::Null))))
            })
            .collect(),
        _ => Map::new(),
    }
}

fn any_value(v: &Value) -> Value {
    let Some(obj) = v.as_object() else {
        return v.clone();
    };
    if let Some(x) = obj.get("stringValue") {
        return x.clone();
    }
    if let Some(x) = obj.get("boolValue") {
        return x.clone();
    }
    if let Some(x) = obj.get("doubleValue") {
        return x.clone();
    }
    if let Some(x) = obj.get("intValue") {
        return match x {
            Value::String(s) => s
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or_else(|_| x.clone()),
            _ => x.clone(),
        };
    }
    if let Some(x) = obj.get("arrayValue") {
        return Value::Array(array(x, "values").iter().map(any_value).collect());
    }
    if let Some(x) = obj.get("kvlistValue") {
        return Value::Object(attributes(x.get("values")));
    }
    if let Some(x) = obj.get("bytesValue") {
        return x.clone();
    }
    Value::Null
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_http::http_request;
    use serde_json::json;

    const TRACE_ID: &str = "5b8efff798038103d269b633813fc60c";
    const ROOT_ID: &str = "eee19b7ec3c1b174";
    const CHILD_ID: &str = "0102030405060708";

    /// A hand-written OTLP/JSON ExportTraceServiceRequest: a server root span
    /// (ids in upper case, as the JSON encoding allows) and a client child.
    fn json_request() -> Value {
        json!({"resourceSpans": [{
            "resource": {"attributes": [
                {"key": "service.name", "value": {"stringValue": "harness-test"}},
                {"key": "service.version", "value": {"stringValue": "1.2.3"}}
            ]},
            "scopeSpans": [{
                "scope": {"name": "glimpse-telemetry", "version": "0.1.0"},
                "spans": [
                    {
                        "traceId": TRACE_ID.to_uppercase(),
                        "spanId": ROOT_ID.to_uppercase(),
                        "parentSpanId": "",
                        "name": "GET /users/{id}",
                        "kind": 2,
                        "startTimeUnixNano": "1700000000000000000",
                        "endTimeUnixNano": "1700000000500000000",
                        "attributes": [
                            {"key": "http.route", "value": {"stringValue": "/users/{id}"}},
                            {"key": "http.response.status_code", "value": {"intValue": "500"}},
                            {"key": "retry", "value": {"intValue": 3}},
                            {"key": "cached", "value": {"boolValue": false}}
                        ],
                        "status": {"code": 2, "message": "internal error"},
                        "events": [{
                            "timeUnixNano": "1700000000400000000",
                            "name": "exception",
                            "attributes": [
                                {"key": "exception.message", "value": {"stringValue": "boom"}}
                            ]
                        }]
                    },
                    {
                        "traceId": TRACE_ID,
                        "spanId": CHILD_ID,
                        "parentSpanId": ROOT_ID,
                        "name": "SELECT users",
                        "kind": 3,
                        "startTimeUnixNano": "1700000000100000000",
                        "endTimeUnixNano": "1700000000200000000",
                        "attributes": [{"key": "db.system.name", "value": {"stringValue": "postgresql"}}]
                    }
                ]
            }]
        }]})
    }

    fn check_spans(root: &ReceivedSpan, child: &ReceivedSpan) {
        assert_eq!(root.trace_id, TRACE_ID);
        assert_eq!(root.span_id, ROOT_ID);
        assert_eq!(root.parent_span_id, None);
        assert!(root.is_root());
        assert_eq!(root.kind, "SPAN_KIND_SERVER");
        assert_eq!(root.status_code.as_deref(), Some("STATUS_CODE_ERROR"));
        assert_eq!(root.status_message.as_deref(), Some("internal error"));
        assert_eq!(root.attr_str("http.route"), Some("/users/{id}"));
        assert_eq!(root.attr_i64("http.response.status_code"), Some(500));
        assert_eq!(root.attr_i64("retry"), Some(3));
        assert_eq!(root.attr_bool("cached"), Some(false));
        assert_eq!(root.resource_str("service.name"), Some("harness-test"));
        assert_eq!(root.resource_str("service.version"), Some("1.2.3"));
        assert_eq!(root.scope_name.as_deref(), Some("glimpse-telemetry"));
        assert_eq!(root.start_time_unix_nano, Some(1_700_000_000_000_000_000));
        assert_eq!(root.end_time_unix_nano, Some(1_700_000_000_500_000_000));
        let events: Vec<_> = root.events_named("exception").collect();
        assert_eq!(events.len(), 1, "{:?}", root.events);
        assert_eq!(events[0]["attributes"]["exception.message"], "boom");

        assert_eq!(child.trace_id, TRACE_ID);
        assert_eq!(child.span_id, CHILD_ID);
        assert_eq!(child.parent_span_id.as_deref(), Some(ROOT_ID));
        assert_eq!(child.kind, "SPAN_KIND_CLIENT");
        assert_eq!(child.status_code, None);
        assert_eq!(child.attr_str("db.system.name"), Some("postgresql"));
        assert_eq!(child.resource_str("service.name"), Some("harness-test"));
    }

    #[test]
    fn parses_raw_otlp_json_without_a_receiver() {
        let spans = spans_from_export_request(&json_request());
        assert_eq!(spans.len(), 2);
        check_spans(&spans[0], &spans[1]);
    }

    #[test]
    fn receives_otlp_http_json() {
        let Some(otlp) = OtlpReceiver::start() else {
            return;
        };
        assert!(otlp.http_endpoint().starts_with("http://127.0.0.1:"));
        assert!(otlp.grpc_endpoint().starts_with("http://127.0.0.1:"));
        assert_ne!(otlp.http_endpoint(), otlp.grpc_endpoint());

        let body = json_request().to_string();
        let (status, resp) = http_request(
            &otlp.http_traces_url(),
            "POST",
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        );
        assert_eq!(status, 200, "{resp}");

        let spans = otlp.wait_until(Duration::from_secs(10), |s| s.len() >= 2);
        assert_eq!(spans.len(), 2, "stderr: {}", otlp.stderr());
        let root = spans
            .iter()
            .find(|s| s.span_id == ROOT_ID)
            .expect("root span");
        let child = spans
            .iter()
            .find(|s| s.span_id == CHILD_ID)
            .expect("child span");
        check_spans(root, child);

        let found = otlp.wait_for_spans(Duration::from_secs(1), |s| s.name == "SELECT users");
        assert_eq!(found.len(), 1);
        assert!(
            otlp.wait_for_spans(Duration::from_millis(50), |s| s.name == "nope")
                .is_empty()
        );

        let requests = otlp.trace_requests();
        assert_eq!(requests.len(), 1);
        // The normalized shape: attributes are plain objects, kind an enum name.
        let span = &requests[0]["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        assert_eq!(span["kind"], "SPAN_KIND_SERVER");
        assert_eq!(span["attributes"]["http.route"], "/users/{id}");
    }

    /// Minimal protobuf encoding, enough for an ExportTraceServiceRequest.
    mod pb {
        pub fn varint(mut v: u64, out: &mut Vec<u8>) {
            while v >= 0x80 {
                out.push((v as u8) | 0x80);
                v >>= 7;
            }
            out.push(v as u8);
        }
        pub fn bytes(field: u32, data: &[u8], out: &mut Vec<u8>) {
            varint(u64::from(field << 3 | 2), out);
            varint(data.len() as u64, out);
            out.extend_from_slice(data);
        }
        pub fn uint(field: u32, v: u64, out: &mut Vec<u8>) {
            varint(u64::from(field << 3), out);
            varint(v, out);
        }
        pub fn fixed64(field: u32, v: u64, out: &mut Vec<u8>) {
            varint(u64::from(field << 3 | 1), out);
            out.extend_from_slice(&v.to_le_bytes());
        }
        pub fn hex(s: &str) -> Vec<u8> {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect()
        }
        /// KeyValue{key, value: AnyValue{string_value | int_value}}
        pub fn kv_str(key: &str, value: &str) -> Vec<u8> {
            let mut any = Vec::new();
            bytes(1, value.as_bytes(), &mut any);
            let mut kv = Vec::new();
            bytes(1, key.as_bytes(), &mut kv);
            bytes(2, &any, &mut kv);
            kv
        }
        pub fn kv_int(key: &str, value: i64) -> Vec<u8> {
            let mut any = Vec::new();
            uint(3, value as u64, &mut any);
            let mut kv = Vec::new();
            bytes(1, key.as_bytes(), &mut kv);
            bytes(2, &any, &mut kv);
            kv
        }
    }

    #[test]
    fn receives_otlp_http_protobuf() {
        let Some(otlp) = OtlpReceiver::start() else {
            return;
        };

        // Span{trace_id=1, span_id=2, parent_span_id=4, name=5, kind=6,
        //      start=7, end=8, attributes=9, status=15{message=2, code=3}}
        let mut span = Vec::new();
        pb::bytes(1, &pb::hex(TRACE_ID), &mut span);
        pb::bytes(2, &pb::hex(CHILD_ID), &mut span);
        pb::bytes(4, &pb::hex(ROOT_ID), &mut span);
        pb::bytes(5, b"SELECT users", &mut span);
        pb::uint(6, 3, &mut span);
        pb::fixed64(7, 1_700_000_000_100_000_000, &mut span);
        pb::fixed64(8, 1_700_000_000_200_000_000, &mut span);
        pb::bytes(9, &pb::kv_str("db.system.name", "postgresql"), &mut span);
        pb::bytes(9, &pb::kv_int("db.response.returned_rows", 7), &mut span);
        let mut status = Vec::new();
        pb::uint(3, 1, &mut status);
        pb::bytes(15, &status, &mut span);
        // ScopeSpans{scope=1{name=1}, spans=2}
        let mut scope = Vec::new();
        pb::bytes(1, b"glimpse-telemetry-sqlx", &mut scope);
        let mut scope_spans = Vec::new();
        pb::bytes(1, &scope, &mut scope_spans);
        pb::bytes(2, &span, &mut scope_spans);
        // ResourceSpans{resource=1{attributes=1}, scope_spans=2}
        let mut resource = Vec::new();
        pb::bytes(
            1,
            &pb::kv_str("service.name", "harness-test"),
            &mut resource,
        );
        let mut resource_spans = Vec::new();
        pb::bytes(1, &resource, &mut resource_spans);
        pb::bytes(2, &scope_spans, &mut resource_spans);
        let mut request = Vec::new();
        pb::bytes(1, &resource_spans, &mut request);

        let (status, resp) = http_request(
            &otlp.http_traces_url(),
            "POST",
            &[("Content-Type", "application/x-protobuf")],
            &request,
        );
        assert_eq!(status, 200, "{resp}");
        let spans = otlp.wait_for_spans(Duration::from_secs(10), |s| s.span_id == CHILD_ID);
        assert_eq!(spans.len(), 1, "stderr: {}", otlp.stderr());
        let s = &spans[0];
        assert_eq!(s.trace_id, TRACE_ID);
        assert_eq!(s.parent_span_id.as_deref(), Some(ROOT_ID));
        assert_eq!(s.name, "SELECT users");
        assert_eq!(s.kind, "SPAN_KIND_CLIENT");
        assert_eq!(s.status_code.as_deref(), Some("STATUS_CODE_OK"));
        assert_eq!(s.attr_str("db.system.name"), Some("postgresql"));
        assert_eq!(s.attr_i64("db.response.returned_rows"), Some(7));
        assert_eq!(s.resource_str("service.name"), Some("harness-test"));
        assert_eq!(s.scope_name.as_deref(), Some("glimpse-telemetry-sqlx"));
        assert_eq!(s.start_time_unix_nano, Some(1_700_000_000_100_000_000));
    }

    #[test]
    fn rejects_json_with_charset_suffix() {
        // Documented quirk of mockotlpserver: the Content-Type must match exactly.
        let Some(otlp) = OtlpReceiver::start() else {
            return;
        };
        let (status, _) = http_request(
            &otlp.http_traces_url(),
            "POST",
            &[("Content-Type", "application/json; charset=utf-8")],
            json_request().to_string().as_bytes(),
        );
        assert_eq!(status, 400);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn drop_kills_the_receiver() {
        let Some(otlp) = OtlpReceiver::start() else {
            return;
        };
        let pid = otlp.peer.pid();
        assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
        drop(otlp);
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    }

    #[test]
    fn exits_when_stdin_closes() {
        let Some(mut otlp) = OtlpReceiver::start() else {
            return;
        };
        otlp.peer.close_stdin();
        let status = otlp.peer.wait_exit(Duration::from_secs(10));
        assert!(
            status.is_some_and(|s| s.success()),
            "{status:?}, stderr: {}",
            otlp.stderr()
        );
    }
}
