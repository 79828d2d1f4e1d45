//! Logging in (a demo: there are no passwords, `demo` logs any existing user in). What matters
//! is the failure path: every failed login is a security line and a count.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use glimpse_telemetry::logs::audit;
use glimpse_telemetry::metrics::security::LoginFailure;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::state::AppState;

/// The demo's one password.
const DEMO_PASSWORD: &str = "demo";

/// `POST /sessions {"user_id": "...", "password": "..."}`
#[derive(Deserialize)]
pub struct Login {
    user_id: String,
    password: String,
}

/// A session.
#[derive(Serialize)]
pub struct Session {
    user_id: String,
}

/// Logs a user in; an unknown user or a wrong password is a failed login (401).
pub async fn login(
    State(state): State<AppState>,
    Json(l): Json<Login>,
) -> Result<(StatusCode, Json<Session>), ApiError> {
    if l.user_id.is_empty() || l.user_id.len() > 64 {
        return Err(ApiError::BadRequest("user_id must be 1 to 64 characters"));
    }
    let failure = if state.db.get_user(&l.user_id).await?.is_none() {
        Some(LoginFailure::UnknownUser)
    } else if l.password != DEMO_PASSWORD {
        Some(LoginFailure::BadPassword)
    } else {
        None
    };
    if let Some(reason) = failure {
        audit::failed_login(&l.user_id, reason.as_str());
        return Err(ApiError::Unauthorized);
    }
    Ok((StatusCode::CREATED, Json(Session { user_id: l.user_id })))
}
