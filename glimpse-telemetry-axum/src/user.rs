//! Who the user is: set once authentication knows, recorded on the request span so that every
//! later log line carries `userId`, the access log line too, and GlitchTip events carry the user.
//!
//! Three ways, for three places the code that knows may sit:
//! - code running inside the request (a handler, an extractor, a middleware added with
//!   `route_layer` or before the telemetry layer) calls [`set_user_id`];
//! - a middleware running outside the telemetry layer inserts a [`UserId`] into the request's
//!   extensions before passing it on;
//! - a handler returns a [`UserId`] in the response's extensions (`(UserId::new(id), body)`).
//!
//! Use an opaque id, never an email address or a name.

use std::sync::Arc;

use axum::response::{IntoResponseParts, ResponseParts};

/// Records the user on the current request (the nearest span that declares `user_id`: the
/// request span of [`TelemetryLayer`](crate::TelemetryLayer), or the connection span of an instrumented
/// WebSocket). Returns false outside any request.
///
/// ```no_run
/// async fn get_profile(/* auth: Claims */) -> &'static str {
///     glimpse_telemetry_axum::set_user_id("user123");
///     tracing::info!("profile read"); // {"userId":"user123",...}
///     "ok"
/// }
/// ```
pub fn set_user_id(user_id: &str) -> bool {
    glimpse_telemetry::context::set_user_id(user_id)
}

/// A user id travelling in a request's or a response's extensions, for code that runs outside the
/// request span.
///
/// ```
/// use axum::{Router, routing::get, middleware::{self, Next}, extract::Request};
/// use glimpse_telemetry_axum::UserId;
///
/// // An auth middleware wrapping the telemetry layer (added after it):
/// async fn auth(mut req: Request, next: Next) -> axum::response::Response {
///     req.extensions_mut().insert(UserId::new("user123"));
///     next.run(req).await
/// }
///
/// // Or a handler saying who it served:
/// async fn handler() -> (UserId, &'static str) {
///     (UserId::new("user123"), "hello")
/// }
///
/// let app: Router = Router::new()
///     .route("/", get(handler))
///     .layer(glimpse_telemetry_axum::TelemetryLayer::new())
///     .layer(middleware::from_fn(auth));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UserId(Arc<str>);

impl UserId {
    /// A user id.
    pub fn new(id: impl Into<Arc<str>>) -> UserId {
        UserId(id.into())
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl IntoResponseParts for UserId {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        res.extensions_mut().insert(self);
        Ok(res)
    }
}
