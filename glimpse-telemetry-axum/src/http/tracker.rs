//! The state of one request, from the layer's `call` to the end of its response body, and the
//! work done once at the end: the metrics, the span's status, the access log line.
//!
//! A [`Tracker`] is owned by the response future, then by the response body; whichever drops it
//! finishes the request (`Drop`), so a request is finished exactly once however it ends: body
//! read to the end, body dropped half-way, future cancelled by a client that went away, or a panic
//! unwinding through any of them. The active-requests gauge cannot leak.

use std::sync::Arc;
use std::time::Instant;

use glimpse_telemetry::metrics::Gauge;
use glimpse_telemetry::otel::trace::{
    Span as _, SpanId, SpanKind, Status, TraceContextExt as _, TraceId, Tracer as _,
};
use glimpse_telemetry::otel::{Context, KeyValue};
use http::header::{HOST, HeaderName, USER_AGENT};
use http::uri::Scheme;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Version};
use tracing::Span;

use super::layer::{RouteState, Shared};
use super::metrics::{METHODS, Observation, active_requests, error_type, method_index};
use super::request_body::{self, ReadBytes};
use super::route_report::Slot;
use crate::report::{RequestHub, ResponseError, request_hub};
use crate::request_id;
use crate::user::UserId;

/// The target of the request spans.
pub const SPAN_TARGET: &str = "glimpse_telemetry_axum";

/// The name of the request spans in `tracing` (the exported span is renamed `{METHOD} {route}`).
pub const SPAN_NAME: &str = "HTTP request";

const OTHER_METHOD: usize = METHODS.len() - 1;

pub(crate) const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const BAGGAGE: HeaderName = HeaderName::from_static("baggage");

/// How the request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A response (its status).
    Response(StatusCode),
    /// The future was dropped before a response: the client went away.
    Cancelled,
    /// The inner service returned an error instead of a response.
    Failed,
}

pub(crate) struct Tracker {
    pub(crate) route: Arc<RouteState>,
    pub(crate) method_index: usize,
    pub(crate) method: Method,
    pub(crate) path: PathText,
    /// The query string, kept only when the access log writes it.
    pub(crate) query: Option<Box<str>>,
    pub(crate) start: Instant,
    pub(crate) span: Span,
    /// The OpenTelemetry context of `span`, known once the span was first entered.
    pub(crate) cx: Context,
    /// Trace and span id when the span is sampled (exemplars point at it).
    pub(crate) sampled: Option<(TraceId, SpanId)>,
    /// Whether the span is recorded (sampled), so attributes are worth building.
    pub(crate) recording: bool,
    pub(crate) traceparent: Option<HeaderValue>,
    pub(crate) request_id: HeaderValue,
    pub(crate) active: Option<&'static Gauge>,
    pub(crate) request_size: Option<u64>,
    /// The request body's bytes read so far, when its size was not announced.
    request_read: Option<ReadBytes>,
    /// The layer, while the route is still to be learned from an inner service.
    learn_from: Option<Arc<Shared>>,
    /// Whether the route was learned after the span started (its name and `http.route` wait).
    route_learned: bool,
    /// The learned route is an excluded one: nothing is recorded, no header is added.
    pub(crate) suppressed: bool,
    pub(crate) status: Option<StatusCode>,
    pub(crate) failed: bool,
    pub(crate) response_bytes: u64,
    pub(crate) error: Option<ResponseError>,
    pub(crate) panicked: bool,
    pub(crate) hub: Option<RequestHub>,
    done: bool,
}

/// The request entered (fields drop in order: the context is detached before the span exits).
pub(crate) struct Entered<'a> {
    _cx: Option<glimpse_telemetry::otel::ContextGuard>,
    _span: tracing::span::Entered<'a>,
}

/// What starting the OpenTelemetry span tells.
#[derive(Default)]
pub(crate) struct Started {
    cx: Context,
    sampled: Option<(TraceId, SpanId)>,
    recording: bool,
    traceparent: Option<HeaderValue>,
}

/// The request's parts the span's attributes are made of (cheap clones: shared buffers).
pub(crate) struct RequestInfo {
    https: bool,
    authority: Option<http::uri::Authority>,
    version: Version,
    user_agent: Option<HeaderValue>,
    host: Option<HeaderValue>,
    peer: Option<std::net::SocketAddr>,
}

impl Tracker {
    /// Starts tracking `req`: request id, span, gauge.
    /// `trace`: whether to start the server span (not for a path that is probably an excluded
    /// route, known only after routing).
    pub(crate) fn start<B>(
        route: Arc<RouteState>,
        req: &Request<B>,
        start: Instant,
        trace: bool,
    ) -> Box<Tracker> {
        let method_index = method_index(req.method());
        let https = req.uri().scheme() == Some(&Scheme::HTTPS);
        let active = active_requests(method_index, https);
        if let Some(g) = active {
            g.inc();
        }

        let config = &route.config;
        // Not written into the request's headers: that would allocate a header map on most
        // requests; the handler gets the id from the span (`RequestId`, `context::current`).
        let request_id = match req.headers().get(&config.request_id_header) {
            Some(v) if config.trust_request_id && request_id::is_valid(v.as_bytes()) => v.clone(),
            _ => request_id::generate_at(start),
        };
        let user = req.extensions().get::<UserId>().map(UserId::as_str);

        // The `tracing` span carries the request's ids to log lines and GlitchTip events; it is
        // kept away from the tracing-to-OpenTelemetry bridge (`otel.skip`), because the exported
        // server span is built right here, with the tracer: one span's bookkeeping, not two.
        let span = tracing::info_span!(
            target: SPAN_TARGET,
            parent: None,
            SPAN_NAME,
            otel.skip = true,
            request_id = request_id.to_str().unwrap_or_default(),
            user_id = user,
        );
        let headers = req.headers();
        let tracer = if span.is_disabled() || !trace {
            None
        } else {
            glimpse_telemetry::traces::tracer()
        };
        let hub = request_hub(
            || span_name(method_index, &route),
            METHODS[method_index],
            &route.route,
        );
        let info = RequestInfo {
            https,
            authority: req.uri().authority().cloned(),
            version: req.version(),
            user_agent: headers.get(USER_AGENT).cloned(),
            host: headers.get(HOST).cloned(),
            peer: req
                .extensions()
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0),
        };

        let path = PathText::new(req.uri().path());
        let started = match tracer {
            Some(tracer) => {
                let parent = if headers.contains_key(TRACEPARENT) || headers.contains_key(BAGGAGE) {
                    glimpse_telemetry::propagation::extract(headers)
                } else {
                    Context::new()
                };
                let otel = tracer
                    .span_builder(SPAN_NAME)
                    .with_kind(SpanKind::Server)
                    .start_with_context(&tracer, &parent);
                start_span(
                    parent,
                    otel,
                    &route,
                    method_index,
                    req.method(),
                    path.as_str(),
                    &info,
                )
            }
            None => Started::default(),
        };

        Box::new(Tracker {
            method_index,
            method: req.method().clone(),
            path,
            query: if route.config.log_query {
                req.uri().query().map(Into::into)
            } else {
                None
            },
            start,
            request_size: content_length(req.headers()),
            request_read: None,
            learn_from: None,
            route_learned: false,
            suppressed: false,
            route,
            span,
            cx: started.cx,
            sampled: started.sampled,
            recording: started.recording,
            traceparent: started.traceparent,
            request_id,
            active,
            status: None,
            failed: false,
            response_bytes: 0,
            error: None,
            panicked: false,
            hub,
            done: false,
        })
    }

    /// The route is to be learned from a telemetry service inside (see `route_report`).
    pub(crate) fn learn_routes_from(&mut self, layer: Arc<Shared>) {
        self.learn_from = Some(layer);
    }

    /// The slot inner services report into while this request runs.
    #[inline]
    pub(crate) fn open_slot(&self) -> Slot {
        Slot {
            hub: self.hub.is_some(),
            ..Slot::default()
        }
    }

    /// Takes the route an inner service reported, if this request waits for one.
    #[inline]
    pub(crate) fn learn(&mut self, slot: Slot) {
        if !slot.reported {
            return;
        }
        let Some(layer) = self.learn_from.take() else {
            return;
        };
        if let Some(path) = slot.route {
            self.route = layer.route(Some(path.as_str()));
            self.route_learned = true;
            self.suppressed = self.route.excluded;
        }
    }

    /// Whether the request announced no body size (`content-length`).
    pub(crate) fn request_size_unknown(&self) -> bool {
        self.request_size.is_none()
    }

    /// Counts the request body as it is read (`None`: nothing to count).
    pub(crate) fn count_request_body(&mut self, read: Option<ReadBytes>) {
        self.request_read = read;
    }

    /// Enters the request: its `tracing` span and, when there is one, its OpenTelemetry
    /// context (what log lines, child spans and outgoing calls read), until the guard drops.
    #[inline]
    pub(crate) fn enter(&self) -> Entered<'_> {
        Entered {
            _cx: self.attach_otel(),
            _span: self.span.enter(),
        }
    }

    /// Makes the request's OpenTelemetry context the active one, if it has a span.
    #[inline]
    pub(crate) fn attach_otel(&self) -> Option<glimpse_telemetry::otel::ContextGuard> {
        self.cx.has_active_span().then(|| self.cx.clone().attach())
    }

    pub(crate) fn outcome(&self) -> Outcome {
        match self.status {
            Some(s) => Outcome::Response(s),
            None if self.failed => Outcome::Failed,
            None => Outcome::Cancelled,
        }
    }

    /// Records the metrics, the span's status and the access log line, and ends the span.
    /// Idempotent.
    pub(crate) fn finish(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        let elapsed = self.start.elapsed();
        if let Some(g) = self.active {
            g.dec();
        }
        if self.suppressed {
            return;
        }
        let outcome = self.outcome();
        self.route.metrics.record(
            self.method_index,
            outcome,
            &Observation {
                seconds: elapsed.as_secs_f64(),
                exemplar: self.sampled,
                request_size: self
                    .request_size
                    .or_else(|| self.request_read.as_ref().map(request_body::read)),
                response_size: matches!(outcome, Outcome::Response(_))
                    .then_some(self.response_bytes),
            },
        );
        if self.recording {
            let otel = self.cx.span();
            let (status_code, error, status) = self.response_attributes(outcome);
            // The ids the `tracing` span recorded (the user may have been named by a handler).
            let ids = glimpse_telemetry::context::of_span(&self.span);
            // Learned after the span started: the name and `http.route` come now.
            let route = if self.route_learned && self.route.matched {
                otel.update_name(span_name(self.method_index, &self.route));
                Some(KeyValue::new("http.route", self.route.route.clone()))
            } else {
                None
            };
            // One call, so one turn of the shared span's lock.
            otel.set_attributes(
                [
                    route,
                    status_code,
                    error,
                    ids.request_id
                        .map(|id| KeyValue::new(glimpse_telemetry::logs::REQUEST_ID_FIELD, id)),
                    ids.user_id
                        .map(|id| KeyValue::new(glimpse_telemetry::logs::USER_ID_FIELD, id)),
                ]
                .into_iter()
                .flatten(),
            );
            if let Some(status) = status {
                otel.set_status(status);
            }
            // The exported span ends with the response (not at its last poll), and before the
            // access line: that line is a log line of the request, not an event of its span (it
            // would be one more copy to export).
            otel.end();
        }
        super::access_log::write(self, outcome, elapsed);
        self.span = Span::none();
        self.cx = Context::new();
        self.hub = None;
    }

    /// `http.response.status_code`, `error.type` and the span status for the outcome.
    fn response_attributes(
        &self,
        outcome: Outcome,
    ) -> (Option<KeyValue>, Option<KeyValue>, Option<Status>) {
        match outcome {
            Outcome::Response(status) => {
                let code = Some(KeyValue::new(
                    "http.response.status_code",
                    i64::from(status.as_u16()),
                ));
                if status.is_server_error() {
                    let message = if self.panicked {
                        "panic"
                    } else {
                        status.canonical_reason().unwrap_or("")
                    };
                    (
                        code,
                        Some(KeyValue::new("error.type", error_type(status))),
                        Some(Status::error(message)),
                    )
                } else {
                    (code, None, None)
                }
            }
            Outcome::Cancelled => (
                None,
                Some(KeyValue::new("error.type", super::metrics::CANCELLED)),
                None,
            ),
            Outcome::Failed => (
                None,
                Some(KeyValue::new("error.type", "_OTHER")),
                Some(Status::error("the service returned an error")),
            ),
        }
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Reads the new span's ids and sampling decision, sets its attributes if it records, and puts
/// it in the request's context. The attributes go on the SDK span itself, before it is shared
/// through the context (after, each call would take the shared span's lock).
fn start_span(
    parent: Context,
    mut otel: glimpse_telemetry::otel::sdk::trace::Span,
    route: &RouteState,
    method_index: usize,
    method: &Method,
    path: &str,
    info: &RequestInfo,
) -> Started {
    let sc = otel.span_context();
    let traceparent = sc
        .is_valid()
        .then(|| traceparent(sc.trace_id(), sc.span_id(), sc.is_sampled()));
    let sampled = sc.is_sampled().then(|| (sc.trace_id(), sc.span_id()));
    let recording = otel.is_recording();
    if recording {
        set_request_attributes(&mut otel, route, method_index, method, path, info);
    }
    Started {
        cx: parent.with_span(otel),
        sampled,
        recording,
        traceparent,
    }
}

/// `GET /users/{id}`; `GET` for unmatched requests and `HTTP` for unknown methods, as the
/// semantic conventions name server spans.
pub(crate) fn span_name(method_index: usize, route: &RouteState) -> String {
    let method = if method_index == OTHER_METHOD {
        "HTTP"
    } else {
        METHODS[method_index]
    };
    if route.matched {
        let mut s = String::with_capacity(method.len() + 1 + route.route.len());
        s.push_str(method);
        s.push(' ');
        s.push_str(&route.route);
        s
    } else {
        method.to_owned()
    }
}

/// The semantic-convention request attributes, for sampled spans only.
fn set_request_attributes(
    span: &mut glimpse_telemetry::otel::sdk::trace::Span,
    route: &RouteState,
    method_index: usize,
    method: &Method,
    path: &str,
    info: &RequestInfo,
) {
    span.update_name(span_name(method_index, route));
    let mut attrs = Vec::with_capacity(12);
    attrs.push(KeyValue::new("http.request.method", METHODS[method_index]));
    if method_index == OTHER_METHOD {
        attrs.push(KeyValue::new(
            "http.request.method_original",
            bounded(method.as_str(), 64).to_owned(),
        ));
    }
    if route.matched {
        attrs.push(KeyValue::new("http.route", route.route.clone()));
    }
    attrs.push(KeyValue::new(
        "url.scheme",
        if info.https { "https" } else { "http" },
    ));
    attrs.push(KeyValue::new("url.path", bounded(path, 2048).to_owned()));
    if let Some(ua) = info.user_agent.as_ref().and_then(|v| v.to_str().ok()) {
        attrs.push(KeyValue::new(
            "user_agent.original",
            bounded(ua, 512).to_owned(),
        ));
    }
    let host = info
        .authority
        .as_ref()
        .map(|a| a.as_str())
        .or_else(|| info.host.as_ref().and_then(|v| v.to_str().ok()));
    if let Some((address, port)) = host.and_then(split_host) {
        attrs.push(KeyValue::new(
            "server.address",
            bounded(address, 256).to_owned(),
        ));
        if let Some(port) = port {
            attrs.push(KeyValue::new("server.port", i64::from(port)));
        }
    }
    attrs.push(KeyValue::new(
        "network.protocol.version",
        match info.version {
            Version::HTTP_09 => "0.9",
            Version::HTTP_10 => "1.0",
            Version::HTTP_2 => "2",
            Version::HTTP_3 => "3",
            _ => "1.1",
        },
    ));
    if let Some(peer) = info.peer {
        attrs.push(KeyValue::new("client.address", peer.ip().to_string()));
    }
    span.set_attributes(attrs);
}

/// The request's path, copied so the request can move on: inline up to 62 bytes (most paths),
/// without an allocation or a shared-buffer reference count.
pub(crate) enum PathText {
    Inline { len: u8, buf: [u8; 62] },
    Heap(Box<str>),
}

impl PathText {
    #[inline]
    fn new(path: &str) -> PathText {
        let bytes = path.as_bytes();
        if bytes.len() <= 62 {
            let mut buf = [0u8; 62];
            buf[..bytes.len()].copy_from_slice(bytes);
            PathText::Inline {
                len: bytes.len() as u8,
                buf,
            }
        } else {
            PathText::Heap(bounded(path, 8192).into())
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            // Copied whole from a `&str`: valid UTF-8.
            PathText::Inline { len, buf } => {
                std::str::from_utf8(&buf[..usize::from(*len)]).unwrap_or("/")
            }
            PathText::Heap(s) => s,
        }
    }
}

/// `host` or `host:port` (or `[v6]:port`) → host and port.
fn split_host(host: &str) -> Option<(&str, Option<u16>)> {
    if host.is_empty() {
        return None;
    }
    if let Some(rest) = host.strip_prefix('[') {
        let (addr, after) = rest.split_once(']')?;
        let port = after.strip_prefix(':').and_then(|p| p.parse().ok());
        return Some((addr, port));
    }
    match host.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => Some((h, p.parse().ok())),
        _ => Some((host, None)),
    }
}

/// `s` cut to at most `max` bytes on a character boundary.
fn bounded(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// `00-<trace id>-<span id>-<flags>`, written without formatting machinery.
pub(crate) fn traceparent(trace_id: TraceId, span_id: SpanId, sampled: bool) -> HeaderValue {
    let mut buf = *b"00-00000000000000000000000000000000-0000000000000000-00";
    request_id::hex_into(&mut buf[3..35], &trace_id.to_bytes());
    request_id::hex_into(&mut buf[36..52], &span_id.to_bytes());
    if sampled {
        buf[54] = b'1';
    }
    HeaderValue::from_bytes(&buf).unwrap_or(HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_is_w3c() {
        let t = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
        let s = SpanId::from_hex("00f067aa0ba902b7").unwrap();
        assert_eq!(
            traceparent(t, s, true),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        );
        assert_eq!(
            traceparent(t, s, false),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
        );
    }

    #[test]
    fn hosts_split() {
        assert_eq!(split_host("example.com"), Some(("example.com", None)));
        assert_eq!(
            split_host("example.com:8080"),
            Some(("example.com", Some(8080)))
        );
        assert_eq!(split_host("[::1]:3000"), Some(("::1", Some(3000))));
        assert_eq!(split_host("::1"), Some(("::1", None)));
        assert_eq!(split_host(""), None);
        assert_eq!(bounded("héllo", 2), "h");
        assert_eq!(PathText::new("/users/42").as_str(), "/users/42");
        let long = format!("/{}", "é".repeat(100));
        assert_eq!(PathText::new(&long).as_str(), long);
    }
}
