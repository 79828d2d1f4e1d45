//! The state of one request, from the layer's `call` to the end of its response body.
//!
//! A [`Tracker`] is owned by the response future, then by the response body; whichever drops it
//! finishes the request (`Drop`), so a request is finished exactly once however it ends: body
//! read to the end, body dropped half-way, future cancelled by a client that went away, or a panic
//! unwinding through any of them. The active-requests gauge cannot leak.
//!
//! Its fields are private: the future and the body tell it what happened through intent methods
//! (`on_response`, `on_error`, `on_panic`, `add_body_bytes`), and at the end it hands a plain
//! [`Finished`] record to the metrics, the server span and the access line.

use std::sync::Arc;
use std::time::Instant;

use glimpse_telemetry::metrics::Gauge;
use glimpse_telemetry::otel::trace::{SpanId, TraceContextExt as _, TraceId};
use glimpse_telemetry::otel::{Context, ContextGuard};
use http::uri::Scheme;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use tracing::Span;

use super::metrics::{METHODS, Observation, active_requests, method_index};
use super::outcome::{Finished, Outcome};
use super::request::{PathText, content_length};
use super::request_body::{self, ReadBytes};
use super::route_report::Slot;
use super::routes::{RouteState, RouteTable};
use super::server_span::{self, REQUEST_SPAN_TARGET, SPAN_NAME, TRACEPARENT};
use crate::glitchtip::ResponseError;
use crate::request_id;
use crate::user::UserId;

pub(crate) struct Tracker {
    route: Arc<RouteState>,
    method_index: usize,
    method: Method,
    path: PathText,
    /// The query string, kept only when the access log writes it.
    query: Option<Box<str>>,
    start: Instant,
    span: Span,
    /// The OpenTelemetry context of the server span (empty when there is none).
    cx: Context,
    /// Trace and span id when the span is sampled (exemplars point at it).
    sampled: Option<(TraceId, SpanId)>,
    /// Whether the span is recorded (sampled), so attributes are worth building.
    recording: bool,
    traceparent: Option<HeaderValue>,
    request_id: HeaderValue,
    active: Option<&'static Gauge>,
    request_size: Option<u64>,
    /// The request body's bytes read so far, when its size was not announced.
    request_read: Option<ReadBytes>,
    /// The layer's routes, while the route is still to be learned from an inner service.
    learn_from: Option<Arc<RouteTable>>,
    /// Whether the route was learned after the span started (its name and `http.route` wait).
    route_learned: bool,
    /// The learned route is an excluded one: nothing is recorded, no header is added.
    suppressed: bool,
    status: Option<StatusCode>,
    failed: bool,
    response_bytes: u64,
    error: Option<ResponseError>,
    panicked: bool,
    /// Whether error reporting keeps the request's method and route (it is on).
    described: bool,
    done: bool,
}

/// The request entered (fields drop in order: the context is detached before the span exits).
pub(crate) struct Entered<'a> {
    _cx: Option<ContextGuard>,
    _span: tracing::span::Entered<'a>,
}

impl Tracker {
    /// Starts tracking `req`: request id, span, gauge. `trace`: whether to start the server span
    /// (not for a path that is probably an excluded route, known only after routing).
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
        // server span is built with the tracer (`server_span`): one span's bookkeeping, not two.
        let span = tracing::info_span!(
            target: REQUEST_SPAN_TARGET,
            parent: None,
            SPAN_NAME,
            otel.skip = true,
            // Visible ASCII (checked, or generated): `from_utf8` reads it a word at a time,
            // where `HeaderValue::to_str` checks it byte by byte.
            request_id = std::str::from_utf8(request_id.as_bytes()).unwrap_or_default(),
            user_id = user,
        );
        let tracer = if span.is_disabled() || !trace {
            None
        } else {
            glimpse_telemetry::traces::tracer_with_head_sampling()
        };
        // What GlitchTip events captured in the request say about it, kept on the span (no
        // allocation); nothing else of error reporting is made unless something is captured.
        let described = glimpse_telemetry::reporting::describe_request(
            &span,
            METHODS[method_index],
            &route.route,
            route.matched,
        );

        let path = PathText::new(req.uri().path());
        let started = match tracer {
            Some((tracer, head)) => {
                server_span::start(&tracer, head, req, &route, method_index, https)
            }
            None => server_span::Started::default(),
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
            described,
            done: false,
        })
    }

    /// The route is to be learned from a telemetry service inside (see `route_report`).
    pub(crate) fn learn_routes_from(&mut self, routes: Arc<RouteTable>) {
        self.learn_from = Some(routes);
    }

    /// Whether an inner service that reports the route while this request is polled (its span
    /// entered) describes the request to GlitchTip itself: only with error reporting on. Not
    /// while the app's `call` builds its future, when the span is not entered.
    #[inline]
    pub(crate) fn describes_in_poll(&self) -> bool {
        self.described
    }

    /// Whether the route is still to be learned from an inner service.
    #[inline]
    pub(crate) fn waits_for_route(&self) -> bool {
        self.learn_from.is_some()
    }

    /// Takes the route an inner service reported, if this request waits for one.
    #[inline]
    pub(crate) fn learn(&mut self, slot: Slot) {
        if !slot.reported {
            return;
        }
        let Some(routes) = self.learn_from.take() else {
            return;
        };
        if let Some(path) = slot.route {
            self.route = routes.route(Some(path.as_str()));
            self.route_learned = true;
            self.suppressed = self.route.excluded;
            // While polled, the inner service described the request itself, before the handler
            // ran; from `call`, the span was not entered: describe it here, before any poll.
            if self.described && !slot.in_poll {
                glimpse_telemetry::reporting::describe_request(
                    &self.span,
                    METHODS[self.method_index],
                    &self.route.route,
                    self.route.matched,
                );
            }
        }
    }

    /// Whether the learned route is one the layer leaves alone.
    pub(crate) fn suppressed(&self) -> bool {
        self.suppressed
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
    fn attach_otel(&self) -> Option<ContextGuard> {
        self.cx.has_active_span().then(|| self.cx.clone().attach())
    }

    /// The response arrived: its status, the user it names, the error it carries.
    pub(crate) fn on_response(
        &mut self,
        status: StatusCode,
        user: Option<&UserId>,
        error: Option<&ResponseError>,
    ) {
        self.status = Some(status);
        if let Some(user) = user {
            self.span
                .record(glimpse_telemetry::logs::USER_ID_FIELD, user.as_str());
        }
        if let Some(e) = error {
            self.error = Some(e.clone());
        }
    }

    /// The inner service returned an error instead of a response.
    pub(crate) fn on_error(&mut self) {
        self.failed = true;
    }

    /// The handler panicked; the layer answers `500`.
    pub(crate) fn on_panic(&mut self) {
        self.panicked = true;
        self.status = Some(StatusCode::INTERNAL_SERVER_ERROR);
    }

    /// A frame of the response body went out.
    #[inline]
    pub(crate) fn add_body_bytes(&mut self, n: u64) {
        self.response_bytes += n;
    }

    /// `x-request-id` (unless the handler set one) and `traceparent` on the response. Moves the
    /// values out: nothing needs them after the response.
    pub(crate) fn set_response_headers(&mut self, headers: &mut HeaderMap) {
        let id = std::mem::replace(&mut self.request_id, HeaderValue::from_static(""));
        if let Ok(http::header::Entry::Vacant(slot)) =
            headers.try_entry(self.route.config.request_id_header.clone())
        {
            slot.insert(id);
        }
        if let Some(tp) = self.traceparent.take() {
            headers.insert(TRACEPARENT, tp);
        }
    }

    fn outcome(&self) -> Outcome {
        match self.status {
            Some(s) => Outcome::Response(s),
            None if self.failed => Outcome::Failed,
            None => Outcome::Cancelled,
        }
    }

    /// Records the metrics, ends the span and writes the access line. Idempotent.
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
        let finished = Finished {
            outcome: self.outcome(),
            elapsed,
            method_index: self.method_index,
            method: &self.method,
            route: &self.route.route,
            path: &self.path,
            query: self.query.as_deref(),
            response_bytes: self.response_bytes,
            panicked: self.panicked,
            error: self.error.as_ref(),
        };
        self.route.metrics.record(
            finished.method_index,
            finished.outcome,
            &Observation {
                seconds: elapsed.as_secs_f64(),
                exemplar: self.sampled,
                request_size: self
                    .request_size
                    .or_else(|| self.request_read.as_ref().map(request_body::read)),
                response_size: matches!(finished.outcome, Outcome::Response(_))
                    .then_some(self.response_bytes),
            },
        );
        if self.recording {
            // The exported span ends with the response (not at its last poll), and before the
            // access line: that line is a log line of the request, not an event of its span (it
            // would be one more copy to export).
            let ids = glimpse_telemetry::context::of_span(&self.span);
            server_span::end(&self.cx, &finished, &self.route, self.route_learned, ids);
        }
        super::access_log::write(&finished, &self.route, &self.span, &self.cx);
        self.span = Span::none();
        self.cx = Context::new();
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        self.finish();
    }
}
