//! One JSON line per request, written when the response body is finished, in the request span (so
//! it carries `requestId`, `userId`, `traceId` and `spanId`):
//!
//! ```json
//! {"timestamp":"2026-11-23T10:15:02.311Z","level":"INFO","service":"glimpse-api",
//!  "message":"GET /users/{id} 200","requestId":"0193...","userId":"user123",
//!  "traceId":"4bf92f35...","spanId":"00f067aa...","target":"glimpse_telemetry_axum::access",
//!  "method":"GET","route":"/users/{id}","path":"/users/42","http_status":200,
//!  "response_time":3.127,"bytes":512}
//! ```
//!
//! - `response_time` is in milliseconds (a number, so `response_time:>1000` works in Kibana),
//!   `bytes` is the response body size, `path` has no query string (unless
//!   [`log_query_string`](crate::TelemetryLayerBuilder::log_query_string) adds `query`);
//! - the level follows the status: `INFO` for 1xx–3xx, `WARN` for 4xx and for requests the client
//!   cancelled (written with `http_status` 499, as nginx does), `ERROR` for 5xx (`panic: true`
//!   when the handler panicked, and `error` when the response carried a
//!   [`ResponseError`](crate::ResponseError));
//! - successful requests can be sampled per route; 4xx, 5xx, cancelled and slow requests are
//!   always written.
//!
//! The `ERROR` line of a 5xx is also how the response reaches GlitchTip, exactly once (see
//! [the crate docs](crate#errors-and-glitchtip)).
//!
//! Options: [`TelemetryLayerBuilder`](crate::TelemetryLayerBuilder)'s `access_log`,
//! `sample_successes`, `slow_threshold` and `log_query_string`.

use std::error::Error;

use glimpse_telemetry::otel::Context;
use glimpse_telemetry::otel::trace::TraceContextExt as _;
use glimpse_telemetry::sentry::Hub;
use tracing::{Level, Span};

use super::outcome::{Finished, Outcome};
use super::routes::RouteState;
use crate::glitchtip::silent_hub;

/// The target of access log lines.
pub const ACCESS_LOG_TARGET: &str = "glimpse_telemetry_axum::access";

/// The `http_status` written for requests the client cancelled before the response.
pub const CLIENT_CLOSED_REQUEST: u16 = 499;

/// Writes the line of a finished request (or nothing, per the level, sampling and filter), in
/// the request's span and OpenTelemetry context `cx`.
pub(crate) fn write(f: &Finished, route: &RouteState, span: &Span, cx: &Context) {
    let outcome = f.outcome;
    let (level, always) = match outcome {
        Outcome::Response(s) if s.is_server_error() => (Level::ERROR, true),
        Outcome::Failed => (Level::ERROR, true),
        Outcome::Response(s) if s.is_client_error() => (Level::WARN, true),
        Outcome::Cancelled => (Level::WARN, true),
        Outcome::Response(_) => (Level::INFO, false),
    };
    let config = &route.config;
    if level != Level::ERROR && !config.access_log {
        return;
    }
    if !always && f.elapsed < config.slow && !route.log_success() {
        return;
    }
    // Nothing to prepare when the line would be filtered out (`RUST_LOG=warn`...).
    let enabled = if level == Level::INFO {
        tracing::enabled!(target: ACCESS_LOG_TARGET, Level::INFO)
    } else if level == Level::WARN {
        tracing::enabled!(target: ACCESS_LOG_TARGET, Level::WARN)
    } else {
        tracing::enabled!(target: ACCESS_LOG_TARGET, Level::ERROR)
    };
    if !enabled {
        return;
    }

    // Log lines read the trace and span ids from the active OpenTelemetry context.
    let _otel = cx.has_active_span().then(|| cx.clone().attach());
    let status = match outcome {
        Outcome::Response(s) => s.as_u16(),
        Outcome::Cancelled => CLIENT_CLOSED_REQUEST,
        Outcome::Failed => 500,
    };
    let line = Line {
        method: f.method.as_str(),
        route: f.route,
        path: f.path.as_str(),
        query: f.query,
        status,
        // Milliseconds with microsecond precision.
        response_time: f.elapsed.as_micros() as f64 / 1000.0,
        bytes: f.response_bytes,
        panic: f.panicked.then_some(true),
        error: f
            .error
            .map(|e| e.error() as &(dyn Error + Send + Sync + 'static)),
        cancelled: outcome == Outcome::Cancelled,
    };

    if level == Level::ERROR {
        // In the request span (GlitchTip reads the request's context from it), reported when
        // nothing reported for this request yet, else under a silent hub: one event per failed
        // request.
        if glimpse_telemetry::reporting::reported(span) {
            Hub::run(silent_hub(), || span.in_scope(|| line.error()));
        } else {
            span.in_scope(|| line.error());
        }
    } else {
        // Never a breadcrumb (`log.no_breadcrumb`): the request is over.
        line.emit(level, span);
    }
}

struct Line<'a> {
    method: &'a str,
    route: &'a str,
    path: &'a str,
    query: Option<&'a str>,
    status: u16,
    response_time: f64,
    bytes: u64,
    panic: Option<bool>,
    error: Option<&'a (dyn Error + Send + Sync + 'static)>,
    cancelled: bool,
}

impl Line<'_> {
    fn emit(&self, level: Level, span: &tracing::Span) {
        let Line {
            method,
            route,
            path,
            query,
            status,
            response_time,
            bytes,
            ..
        } = *self;
        // tracing needs a constant level per call site: one per level, with the same fields.
        macro_rules! line {
            ($level:expr, $($message:tt)+) => {
                tracing::event!(
                    target: ACCESS_LOG_TARGET,
                    parent: span,
                    $level,
                    log.no_breadcrumb = true,
                    method,
                    route,
                    path,
                    query,
                    http_status = status,
                    response_time,
                    bytes,
                    $($message)+
                )
            };
        }
        if level == Level::INFO {
            line!(Level::INFO, "{method} {route} {status}");
        } else if self.cancelled {
            line!(Level::WARN, "{method} {route} cancelled by the client");
        } else {
            line!(Level::WARN, "{method} {route} {status}");
        }
    }

    /// Contextual (the caller entered the request span).
    fn error(&self) {
        let Line {
            method,
            route,
            path,
            query,
            status,
            response_time,
            bytes,
            panic,
            error,
            ..
        } = *self;
        tracing::error!(
            target: ACCESS_LOG_TARGET,
            method,
            route,
            path,
            query,
            http_status = status,
            response_time,
            bytes,
            panic,
            error,
            "{method} {route} {status}"
        );
    }
}
