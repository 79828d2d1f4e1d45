//! How server errors reach GlitchTip, once each.
//!
//! With error reporting on (the core's `SENTRY_DSN`), every request gets its own sentry `Hub`,
//! forked from the current one and bound while the handler runs (what `sentry-tower`'s
//! `NewFromTopProvider` does, without its extra service layers): breadcrumbs of one request never
//! show up in another's event, and the scope carries the request's transaction name
//! (`GET /users/{id}`) and its method and route as tags. The core adds the request id, the user
//! and the trace id to every event from the request span.
//!
//! A 5xx response then gives exactly one event:
//! - if something in the request already reported (an `ERROR` log in the handler, a panic through
//!   the core's panic hook, `capture_error`), the request scope's event processor noted it, and
//!   the access log's `ERROR` line is written without reporting again;
//! - otherwise the access log's `ERROR` line is the report: the core turns it into an event with
//!   the line's fields (method, route, path without the query string, status, duration), and with
//!   the error attached as a [`ResponseError`], its type and chain of sources.
//!
//! No request headers are ever attached, so `authorization` and `cookie` cannot leak, and the
//! query string is never part of an event.

use std::error::Error;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};

use axum::response::{IntoResponseParts, ResponseParts};
use glimpse_telemetry::sentry::{Hub, Scope};

/// An error a handler attaches to its (5xx) response, so that the GlitchTip event for the
/// response carries the error's type and chain of sources, not only the status code.
///
/// ```
/// use axum::{http::StatusCode, response::{IntoResponse, Response}};
/// use glimpse_telemetry_axum::ResponseError;
///
/// struct AppError(std::io::Error);
///
/// impl IntoResponse for AppError {
///     fn into_response(self) -> Response {
///         (StatusCode::INTERNAL_SERVER_ERROR, ResponseError::new(self.0), "internal error")
///             .into_response()
///     }
/// }
/// ```
#[derive(Clone, Debug)]
pub struct ResponseError(Arc<dyn Error + Send + Sync + 'static>);

impl ResponseError {
    /// Wraps an error.
    pub fn new(error: impl Error + Send + Sync + 'static) -> ResponseError {
        ResponseError(Arc::new(error))
    }

    /// Wraps an error that is already shared.
    pub fn from_arc(error: Arc<dyn Error + Send + Sync + 'static>) -> ResponseError {
        ResponseError(error)
    }

    /// The error.
    pub fn error(&self) -> &(dyn Error + Send + Sync + 'static) {
        &*self.0
    }
}

impl IntoResponseParts for ResponseError {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        res.extensions_mut().insert(self);
        Ok(res)
    }
}

/// One request's hub, and whether an event went out through its scope.
pub(crate) struct RequestHub {
    pub(crate) hub: Arc<Hub>,
    reported: Arc<AtomicBool>,
}

impl RequestHub {
    /// Whether an event of this request was captured (by any means: a log line, a panic,
    /// `capture_error`): every capture applies the request's scope, whose event processor notes it.
    pub(crate) fn reported(&self) -> bool {
        self.reported.load(Ordering::Relaxed)
    }
}

/// A hub for one request, when error reporting is on.
pub(crate) fn request_hub(
    transaction: impl FnOnce() -> String,
    method: &str,
    route: &str,
) -> Option<RequestHub> {
    Hub::with_active(|current| {
        let hub = Arc::new(Hub::new_from_top(current));
        let reported = Arc::new(AtomicBool::new(false));
        let flag = reported.clone();
        hub.configure_scope(|scope| {
            scope.set_transaction(Some(&transaction()));
            scope.set_tag("http.request.method", method);
            scope.set_tag("http.route", route);
            scope.add_event_processor(move |event| {
                flag.store(true, Ordering::Relaxed);
                Some(event)
            });
        });
        Some(RequestHub { hub, reported })
    })
}

/// Names the current request's scope after its route, once an inner service learned it: the
/// request's hub was made before routing, so its transaction was only the method.
pub(crate) fn name_request(transaction: &str, route: &str) {
    Hub::current().configure_scope(|scope| {
        scope.set_transaction(Some(transaction));
        scope.set_tag("http.route", route);
    });
}

/// A hub without a client: what runs under it reports nothing (breadcrumbs and events alike).
pub(crate) fn silent_hub() -> Arc<Hub> {
    static SILENT: LazyLock<Arc<Hub>> =
        LazyLock::new(|| Arc::new(Hub::new(None, Arc::new(Scope::default()))));
    SILENT.clone()
}
