//! The HTTP API: the router, the shared state, and the error type handlers return.

mod admin;
mod chat;
mod debug;
mod matches;
mod payments;
mod sessions;
mod users;
mod web;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use glimpse_telemetry_axum::ResponseError;
use tokio::sync::broadcast;

use crate::auth;
use crate::db::Db;

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// The chat room: every message sent, to every connected client.
    pub chat: broadcast::Sender<Arc<str>>,
    /// Who was active recently.
    pub active: Arc<auth::ActiveUsers>,
    /// The API keys: id → secret.
    pub api_keys: Arc<HashMap<String, String>>,
    /// User lookups, cached.
    pub users: Arc<crate::cache::UserCache>,
    /// How often the chat pings its clients (`None`: never).
    pub ws_ping_interval: Option<std::time::Duration>,
}

/// The API routes, with the demo auth around them. `main` puts the telemetry layer around the
/// finished app (`glimpse_telemetry_axum::instrument`), so the auth runs inside the request span
/// and the user it finds lands on it.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/users", post(users::register))
        .route("/users/{id}", get(users::fetch))
        .route("/sessions", post(sessions::login))
        .route("/admin/users/{id}/permissions", post(admin::set_permission))
        .route("/matches", post(matches::create))
        .route("/chat", get(chat::connect))
        .route("/payments", post(payments::process))
        .route("/reports/slow", get(debug::slow_report))
        .route("/debug/panic", get(debug::panic))
        .route("/debug/error", get(debug::error))
        .merge(web::router())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::identify,
        ))
        .with_state(state)
}

/// Errors a handler returns; 5xx ones carry the cause for GlitchTip.
#[derive(Debug)]
pub enum ApiError {
    /// 400
    BadRequest(&'static str),
    /// 401
    Unauthorized,
    /// 403
    Forbidden,
    /// 404
    NotFound(&'static str),
    /// 500: the database failed (sqlx's instrumentation already logged and reported it).
    Database(sqlx::Error),
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::Database(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::BadRequest(msg) => (
                StatusCode::BAD_REQUEST,
                Json(serde_json::json!({ "error": msg })),
            )
                .into_response(),
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                Json(serde_json::json!({ "error": "unauthorized" })),
            )
                .into_response(),
            ApiError::Forbidden => (
                StatusCode::FORBIDDEN,
                Json(serde_json::json!({ "error": "forbidden" })),
            )
                .into_response(),
            ApiError::NotFound(what) => (
                StatusCode::NOT_FOUND,
                Json(serde_json::json!({ "error": format!("{what} not found") })),
            )
                .into_response(),
            ApiError::Database(e) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                ResponseError::new(e),
                Json(serde_json::json!({ "error": "internal error" })),
            )
                .into_response(),
        }
    }
}
