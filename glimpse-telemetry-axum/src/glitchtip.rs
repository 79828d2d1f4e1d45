//! How server errors reach GlitchTip, once each.
//!
//! With error reporting on (the core's `SENTRY_DSN`), nothing is made per request: no sentry
//! `Hub`, no scope, no transaction name. The layer only tells the core, on the request span, the
//! request's method (a static name) and route (the route's shared label), when it starts and again
//! when it learns the route ([`describe_request`](glimpse_telemetry::reporting::describe_request)).
//! When an event is captured in the request, the core assembles its context from that span: the
//! transaction name (`GET /users/{id}`), the `http.route` and `http.request.method` tags, the
//! request id, the user, the trace id, and the request's own breadcrumbs (kept on its span, so
//! one request's never show up in another's event). The access lines are never breadcrumbs
//! ([`NO_BREADCRUMB_FIELD`](glimpse_telemetry::reporting::NO_BREADCRUMB_FIELD)).
//!
//! A 5xx response then gives exactly one event:
//! - if something in the request already reported (an `ERROR` log in the handler, a panic through
//!   the core's panic hook, `capture_error`), the core noted it on the request span
//!   ([`reported`](glimpse_telemetry::reporting::reported)), and the access log's `ERROR` line is
//!   written without reporting again;
//! - otherwise the access log's `ERROR` line is the report: the core turns it into an event with
//!   the line's fields (method, route, path without the query string, status, duration), and with
//!   the error attached as a [`ResponseError`], its type and chain of sources.
//!
//! No request headers are ever attached, so `authorization` and `cookie` cannot leak, and the
//! query string is never part of an event.

use std::error::Error;
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

/// A hub without a client: what runs under it reports nothing (breadcrumbs and events alike).
/// Only for the `ERROR` access line of a request that already reported.
pub(crate) fn silent_hub() -> Arc<Hub> {
    static SILENT: LazyLock<Arc<Hub>> =
        LazyLock::new(|| Arc::new(Hub::new(None, Arc::new(Scope::default()))));
    SILENT.clone()
}
