//! Error reporting to GlitchTip (any Sentry-compatible server) through the `sentry` crate.
//!
//! With `SENTRY_DSN` set: `ERROR` events and panics become GlitchTip events with a stack trace,
//! `WARN` and `INFO` events become breadcrumbs, and every event carries the request's
//! `request_id` and `trace_id` (as tags, and the trace context), the user (`user_id`, as the
//! Sentry user), the environment and the release. No personal data is sent by default
//! (`send_default_pii` stays off) and secrets are redacted. Events leave from sentry's own
//! thread through a bounded queue: a dead or slow GlitchTip never blocks or fails a request.
//!
//! Breadcrumbs and the request's description live on the request's span, not in a sentry hub
//! per request: a request that logs nothing at `INFO` or above and captures no event costs error
//! reporting nothing. Inside a request (a span that recorded `request_id`, as the HTTP layer's
//! does), `WARN` and `INFO` events become breadcrumbs of that request only (its latest 20), and
//! every event captured in it (a log line, a panic, `capture_error`, `sentry::capture_*`) carries
//! them, with the transaction and the `http.route` and `http.request.method` tags an HTTP adapter
//! gave ([`describe_request`]); [`reported`] tells whether one was captured. Outside any request,
//! breadcrumbs go to the sentry hub's scope. Inside a request, set tags through `tracing` fields:
//! `sentry::configure_scope` changes the thread's scope, shared by the requests it serves.
//!
//! Panics are also written as one `ERROR` JSON line with target `glimpse_telemetry::panic`
//! (whether or not GlitchTip is configured), before Rust's usual message on stderr.
//!
//! ```no_run
//! # fn charge() -> Result<(), std::io::Error> { Ok(()) }
//! if let Err(e) = charge() {
//!     // Either log it (the ERROR event is reported) ...
//!     tracing::error!(error = &e as &dyn std::error::Error, "charge failed");
//!     // ... or report it directly, with its source chain.
//!     glimpse_telemetry::reporting::capture_error(&e);
//! }
//! ```

use std::panic::PanicHookInfo;
use std::sync::Arc;

/// The target of the log line written for a panic.
pub const PANIC_TARGET: &str = "glimpse_telemetry::panic";

/// A field that keeps an event from becoming a GlitchTip breadcrumb (an `ERROR` event is still
/// reported). The HTTP layer marks its access lines with it: a request's summary, written when it
/// is over, is not a step towards one of its errors. Like every `log.*` field, it is not written
/// to the log line.
///
/// ```
/// tracing::info!(log.no_breadcrumb = true, "cache warmed");
/// assert_eq!(glimpse_telemetry::reporting::NO_BREADCRUMB_FIELD, "log.no_breadcrumb");
/// ```
pub const NO_BREADCRUMB_FIELD: &str = "log.no_breadcrumb";

/// Tells error reporting which HTTP request `span` serves (an HTTP adapter calls it for its
/// request span, again when it learns the route): the events captured in the request are named
/// `GET /users/{id}` (`GET` when `matched` is false; `HTTP` for the method `_OTHER`) and tagged
/// `http.request.method` and `http.route`. It is kept on the request's span without allocating,
/// and read only when an event is captured. Applies to the outermost request span in `span`'s
/// scope, else to `span`. Returns whether it was kept (not without error reporting).
///
/// ```
/// use std::sync::Arc;
///
/// let route: Arc<str> = Arc::from("/users/{id}"); // made once per route, not per request
/// let span = tracing::info_span!("HTTP request", request_id = "req-1");
/// let kept = glimpse_telemetry::reporting::describe_request(&span, "GET", &route, true);
/// assert!(!kept); // no subscriber with error reporting here
/// ```
pub fn describe_request(
    span: &tracing::Span,
    method: &'static str,
    route: &Arc<str>,
    matched: bool,
) -> bool {
    #[cfg(feature = "sentry")]
    return scope::describe(span, method, route, matched);
    #[cfg(not(feature = "sentry"))]
    {
        let _ = (span, method, route, matched);
        false
    }
}

/// Whether a GlitchTip event was captured in the request `span` belongs to (a log line, a panic,
/// `capture_error`): an HTTP adapter that reports its 5xx responses itself does so only when
/// nothing else did, so that a failed request gives exactly one event.
///
/// ```
/// let span = tracing::info_span!("HTTP request", request_id = "req-1");
/// if !glimpse_telemetry::reporting::reported(&span) {
///     span.in_scope(|| tracing::error!(http_status = 500, "GET /users/{{id}} 500"));
/// }
/// ```
pub fn reported(span: &tracing::Span) -> bool {
    #[cfg(feature = "sentry")]
    return scope::reported(span);
    #[cfg(not(feature = "sentry"))]
    {
        let _ = span;
        false
    }
}

/// Reports an error, with its chain of sources, to GlitchTip (no-op without `SENTRY_DSN`).
/// Returns whether an event was captured. Under head sampling with "keep errors and slow", the
/// current trace is kept too ([`traces::keep_current_trace`](crate::traces::keep_current_trace)),
/// so the event's trace id is one the collector receives.
pub fn capture_error(err: &(dyn std::error::Error + 'static)) -> bool {
    // The event names the current trace: make sure the collector receives it.
    crate::traces::keep::keep_current_trace();
    #[cfg(feature = "sentry")]
    {
        if sentry::Hub::current()
            .client()
            .is_some_and(|c| c.is_enabled())
        {
            sentry::capture_error(err);
            return true;
        }
    }
    let _ = err;
    false
}

/// Starts GlitchTip reporting when `SENTRY_DSN` is set (binding the client to the process-wide
/// hub, as the sentry crate does): environment from `SENTRY_ENVIRONMENT` or `environment`
/// (`GLIMPSE_ENV`), release from `SENTRY_RELEASE` or `<service>@<version>`.
///
/// # Errors
/// A DSN or transport the sentry client refuses.
#[cfg(feature = "sentry")]
pub(crate) fn start(
    config: &crate::config::ReportingConfig,
    environment: crate::Environment,
    identity: &crate::resource::ServiceIdentity,
    redactor: &crate::redact::Redactor,
    transport: Option<Arc<dyn sentry::TransportFactory>>,
) -> Result<Option<sentry::ClientInitGuard>, crate::Error> {
    let Some(dsn) = &config.sentry_dsn else {
        return Ok(None);
    };
    let environment = config
        .sentry_environment
        .clone()
        .unwrap_or_else(|| environment.as_str().to_owned());
    let release = config.sentry_release.clone().or_else(|| {
        identity
            .version
            .as_ref()
            .map(|v| format!("{}@{}", identity.name, v))
    });
    Ok(Some(sentry::init(client_options(
        dsn,
        environment,
        release,
        config.sentry_sample_rate,
        identity.host.clone(),
        redactor.clone(),
        transport,
    )?)))
}

/// Installs the panic hook: one JSON `ERROR` line per panic, and a GlitchTip event with a stack
/// trace when error reporting is on; then the previous hook runs (Rust's message on stderr).
pub(crate) fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = panic_message(info);
        let location = info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
            .unwrap_or_default();
        #[cfg(feature = "sentry")]
        glitchtip::capture_panic(&message, &location);
        tracing::error!(
            target: PANIC_TARGET,
            panic_message = %message,
            panic_location = %location,
            "panic: {message}"
        );
        previous(info);
    }));
}

fn panic_message(info: &PanicHookInfo<'_>) -> String {
    if let Some(s) = info.payload().downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = info.payload().downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any>".to_owned()
    }
}

#[cfg(feature = "sentry")]
mod glitchtip;
#[cfg(feature = "sentry")]
pub(crate) mod reporter;
#[cfg(feature = "sentry")]
pub(crate) mod scope;
#[cfg(feature = "sentry")]
pub(crate) use glitchtip::{SentryLayer, client_options};
