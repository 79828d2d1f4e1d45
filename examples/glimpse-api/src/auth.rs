//! A stand-in for real authentication: the caller names themselves in `x-user-id`. What matters
//! here is what a real auth layer does next: tell telemetry who the user is, so every later log
//! line, span and GlitchTip event of the request carries the user.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use glimpse_telemetry::metrics::security::{self, ApiKeyOutcome};

use crate::error::ApiError;
use crate::state::AppState;

/// The authenticated caller, if any (from the request's extensions).
#[derive(Clone, Debug, Default)]
pub struct Caller(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Caller>()
            .cloned()
            .unwrap_or_default())
    }
}

/// Checks the API key of a request that presents one (`x-api-key: <id>.<secret>`), counting
/// it by key id (never the key); then reads `x-user-id`, records the user on the request span
/// and counts them as active.
pub async fn identify(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if let Some(key) = req.headers().get("x-api-key") {
        let (id, secret) = key
            .to_str()
            .ok()
            .and_then(|k| k.split_once('.'))
            .unwrap_or(("", ""));
        match state.api_keys.get(id) {
            Some(expected) if !secret.is_empty() && expected == secret => {
                security::api_key_used(id, ApiKeyOutcome::Accepted);
            }
            // A known id with a wrong secret is counted under its id; anything else under
            // `unknown`, so callers cannot create series.
            Some(_) => {
                security::api_key_used(id, ApiKeyOutcome::Rejected);
                return ApiError::Unauthorized.into_response();
            }
            None => {
                security::api_key_used("unknown", ApiKeyOutcome::Rejected);
                return ApiError::Unauthorized.into_response();
            }
        }
    }
    let user = req
        .headers()
        .get("x-user-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
        .map(str::to_owned);
    if let Some(id) = &user {
        glimpse_telemetry_axum::set_user_id(id);
        state.active.seen(id);
    }
    req.extensions_mut().insert(Caller(user));
    next.run(req).await
}
