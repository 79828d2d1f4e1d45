//! Error reporting to GlitchTip (any Sentry-compatible server) through the `sentry` crate.
//!
//! With `SENTRY_DSN` set: `ERROR` events and panics become GlitchTip events with a stack trace,
//! `WARN` and `INFO` events become breadcrumbs, and every event carries the request's
//! `request_id` and `trace_id` (as tags, and the trace context), the user (`user_id`, as the
//! Sentry user), the environment and the release. No personal data is sent by default
//! (`send_default_pii` stays off) and secrets are redacted. Events leave from sentry's own
//! thread through a bounded queue: a dead or slow GlitchTip never blocks or fails a request.
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
//!     glimpse_telemetry::errors::capture_error(&e);
//! }
//! ```

use std::panic::PanicHookInfo;

/// The target of the log line written for a panic.
pub const PANIC_TARGET: &str = "glimpse_telemetry::panic";

/// Reports an error, with its chain of sources, to GlitchTip (no-op without `SENTRY_DSN`).
/// Returns whether an event was captured.
pub fn capture_error(err: &(dyn std::error::Error + 'static)) -> bool {
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
pub(crate) use glitchtip::{SentryLayer, client_options};
