//! The exported server span: started with the request's semantic-convention attributes (only
//! when it is sampled), ended with the response's, and the `traceparent` that quotes it.
//!
//! The span is built with the tracer, not through the `tracing` bridge: the request's `tracing`
//! span carries only the ids log lines need (`otel.skip`), so one span's bookkeeping, not two.

use std::borrow::Cow;

use glimpse_telemetry::otel::semconv::attribute as attr;
use glimpse_telemetry::otel::trace::{
    Span as _, SpanId, SpanKind, Status, TraceContextExt as _, TraceId, Tracer as _,
};
use glimpse_telemetry::otel::{Context, KeyValue};
use glimpse_telemetry::traces::HeadSampling;
use http::header::{HOST, HeaderName, USER_AGENT};
use http::{HeaderValue, Version};

use super::metrics::{CANCELLED, METHODS, error_type};
use super::outcome::{Finished, Outcome};
use super::request::bounded;
use super::routes::RouteState;
use super::span_name::{OTHER_METHOD, method_name};
use crate::request_id;

/// The target of the request spans.
pub const REQUEST_SPAN_TARGET: &str = "glimpse_telemetry_axum";

/// The name of the request spans in `tracing` (the exported span is renamed `{METHOD} {route}`).
pub const SPAN_NAME: &str = "HTTP request";

pub(crate) const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const BAGGAGE: HeaderName = HeaderName::from_static("baggage");

/// What starting the span tells.
#[derive(Default)]
pub(crate) struct Started {
    /// The request's context, with the span in it.
    pub(crate) cx: Context,
    /// Trace and span id when the span is sampled (exemplars point at it).
    pub(crate) sampled: Option<(TraceId, SpanId)>,
    /// Whether the span is recorded, so attributes are worth building.
    pub(crate) recording: bool,
    /// The `traceparent` of the response.
    pub(crate) traceparent: Option<HeaderValue>,
}

/// The request's parts the span's attributes are made of, borrowed from the request (read only
/// for a span that is recorded).
struct RequestInfo<'a> {
    https: bool,
    authority: Option<&'a http::uri::Authority>,
    version: Version,
    user_agent: Option<&'a HeaderValue>,
    host: Option<&'a HeaderValue>,
    peer: Option<std::net::SocketAddr>,
}

impl<'a> RequestInfo<'a> {
    fn of<B>(req: &'a http::Request<B>, https: bool) -> RequestInfo<'a> {
        let headers = req.headers();
        RequestInfo {
            https,
            authority: req.uri().authority(),
            version: req.version(),
            user_agent: headers.get(USER_AGENT),
            host: headers.get(HOST),
            peer: req
                .extensions()
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0),
        }
    }
}

/// Starts the server span of `req`, child of the caller's `traceparent` (and baggage). The
/// request's attributes are read only when the span is recorded; a span head sampling refuses
/// whatever its trace id is not built at all (`head`): only its ids are made.
pub(crate) fn start<B>(
    tracer: &glimpse_telemetry::otel::sdk::trace::Tracer,
    head: HeadSampling,
    req: &http::Request<B>,
    route: &RouteState,
    method_index: usize,
    https: bool,
) -> Started {
    let headers = req.headers();
    let parent = if headers.contains_key(TRACEPARENT) || headers.contains_key(BAGGAGE) {
        glimpse_telemetry::propagation::extract(headers)
    } else {
        Context::new()
    };
    if let Some(sc) = head.refused(&parent) {
        return Started {
            traceparent: Some(traceparent(sc.trace_id(), sc.span_id(), false)),
            cx: parent.with_remote_span_context(sc),
            sampled: None,
            recording: false,
        };
    }
    // A list with room for every attribute the span will get (request and response): the SDK
    // keeps this vector as the span's own. For a span recorded whatever its trace id (every
    // span, or "keep errors and slow"), the request's attributes go in it before the start,
    // with the span's name, so the SDK takes them in one move; otherwise they are set only
    // once the SDK says the span records (a ratio sampler with "keep errors and slow" off
    // frees the empty list of every span it refuses).
    let mut attributes = Vec::with_capacity(MAX_ATTRIBUTES);
    let early = head.records(&parent);
    let builder = if early {
        request_attributes(req, https, route, method_index, |kv| attributes.push(kv));
        tracer.span_builder(span_name(method_index, route))
    } else {
        tracer.span_builder(SPAN_NAME)
    };
    let mut otel = builder
        .with_kind(SpanKind::Server)
        .with_attributes(attributes)
        .start_with_context(tracer, &parent);
    // The ids and the sampling decision; the attributes go on the SDK span itself, before it is
    // shared through the context (after, each call would take the shared span's lock).
    let sc = otel.span_context();
    let traceparent = sc
        .is_valid()
        .then(|| traceparent(sc.trace_id(), sc.span_id(), sc.is_sampled()));
    let sampled = sc.is_sampled().then(|| (sc.trace_id(), sc.span_id()));
    let recording = otel.is_recording();
    if recording && !early {
        otel.update_name(span_name(method_index, route));
        request_attributes(req, https, route, method_index, |kv| otel.set_attribute(kv));
    }
    // A span sampled out is only its ids (what child spans and outgoing calls propagate): held
    // as a span context, without the boxed SDK span and its lock, which would record nothing.
    let cx = if recording {
        parent.with_span(otel)
    } else {
        parent.with_remote_span_context(otel.span_context().clone())
    };
    Started {
        cx,
        sampled,
        recording,
        traceparent,
    }
}

/// The ids the request's `tracing` span recorded (the user may have been named by a handler).
pub(crate) type Ids = glimpse_telemetry::context::RequestContext;

/// Ends the span with the response's attributes. `route_learned`: the route became known after
/// the span started, so its name and `http.route` are set now.
pub(crate) fn end(cx: &Context, f: &Finished, route: &RouteState, route_learned: bool, ids: Ids) {
    let otel = cx.span();
    let (status_code, error, status) = response_attributes(f.outcome, f.panicked);
    let route_attr = if route_learned && route.matched {
        otel.update_name(span_name(f.method_index, route));
        Some(KeyValue::new(attr::HTTP_ROUTE, route.route.clone()))
    } else {
        None
    };
    // One call, so one turn of the shared span's lock.
    otel.set_attributes(
        [
            route_attr,
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
    otel.end();
}

/// `http.response.status_code`, `error.type` and the span status for the outcome.
fn response_attributes(
    outcome: Outcome,
    panicked: bool,
) -> (Option<KeyValue>, Option<KeyValue>, Option<Status>) {
    match outcome {
        Outcome::Response(status) => {
            let code = Some(KeyValue::new(
                attr::HTTP_RESPONSE_STATUS_CODE,
                i64::from(status.as_u16()),
            ));
            if status.is_server_error() {
                let message = if panicked {
                    "panic"
                } else {
                    status.canonical_reason().unwrap_or("")
                };
                (
                    code,
                    Some(KeyValue::new(attr::ERROR_TYPE, error_type(status))),
                    Some(Status::error(message)),
                )
            } else {
                (code, None, None)
            }
        }
        Outcome::Cancelled => (None, Some(KeyValue::new(attr::ERROR_TYPE, CANCELLED)), None),
        Outcome::Failed => (
            None,
            Some(KeyValue::new(attr::ERROR_TYPE, "_OTHER")),
            Some(Status::error("the service returned an error")),
        ),
    }
}

/// `GET /users/{id}`; `GET` for unmatched requests and `HTTP` for unknown methods, as the
/// semantic conventions name server spans (see `span_name.rs`).
fn span_name(method_index: usize, route: &RouteState) -> Cow<'static, str> {
    if route.matched {
        route.span_names.get(method_index, &route.route)
    } else {
        Cow::Borrowed(method_name(method_index))
    }
}

/// How many attributes a server span can get: up to 10 at the start
/// (`request_attributes`), 5 at the end (`end`), and one spare.
const MAX_ATTRIBUTES: usize = 16;

/// The semantic-convention request attributes, for recorded spans only, handed one by one to
/// `add` (into the builder's list, or straight into the started span's: no list of our own to
/// copy from).
fn request_attributes<B>(
    req: &http::Request<B>,
    https: bool,
    route: &RouteState,
    method_index: usize,
    mut add: impl FnMut(KeyValue),
) {
    let info = RequestInfo::of(req, https);
    let method = req.method();
    // The request's own path, not the layer's copy: reading that checks its UTF-8 again.
    let path = req.uri().path();
    add(KeyValue::new(
        attr::HTTP_REQUEST_METHOD,
        METHODS[method_index],
    ));
    if method_index == OTHER_METHOD {
        add(KeyValue::new(
            attr::HTTP_REQUEST_METHOD_ORIGINAL,
            bounded(method.as_str(), 64).to_owned(),
        ));
    }
    if route.matched {
        add(KeyValue::new(attr::HTTP_ROUTE, route.route.clone()));
    }
    add(KeyValue::new(
        attr::URL_SCHEME,
        if info.https { "https" } else { "http" },
    ));
    add(KeyValue::new(
        attr::URL_PATH,
        bounded(path, 2048).to_owned(),
    ));
    if let Some(ua) = info.user_agent.and_then(|v| v.to_str().ok()) {
        add(KeyValue::new(
            attr::USER_AGENT_ORIGINAL,
            bounded(ua, 512).to_owned(),
        ));
    }
    let host = info
        .authority
        .map(|a| a.as_str())
        .or_else(|| info.host.and_then(|v| v.to_str().ok()));
    if let Some((address, port)) = host.and_then(split_host) {
        add(KeyValue::new(
            attr::SERVER_ADDRESS,
            bounded(address, 256).to_owned(),
        ));
        if let Some(port) = port {
            add(KeyValue::new(attr::SERVER_PORT, i64::from(port)));
        }
    }
    add(KeyValue::new(
        attr::NETWORK_PROTOCOL_VERSION,
        match info.version {
            Version::HTTP_09 => "0.9",
            Version::HTTP_10 => "1.0",
            Version::HTTP_2 => "2",
            Version::HTTP_3 => "3",
            _ => "1.1",
        },
    ));
    if let Some(peer) = info.peer {
        add(KeyValue::new(attr::CLIENT_ADDRESS, peer.ip().to_string()));
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

/// `00-<trace id>-<span id>-<flags>`, written without formatting machinery.
pub(crate) fn traceparent(trace_id: TraceId, span_id: SpanId, sampled: bool) -> HeaderValue {
    let mut buf = *b"00-00000000000000000000000000000000-0000000000000000-00";
    request_id::hex_into(&mut buf[3..35], &trace_id.to_bytes());
    request_id::hex_into(&mut buf[36..52], &span_id.to_bytes());
    if sampled {
        buf[54] = b'1';
    }
    request_id::hex_header_value(buf)
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
    }
}
