//! The error type handlers and middleware return, and the response each variant becomes. Its
//! own module so the routes and the auth middleware both use it without importing each other.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use glimpse_telemetry_axum::ResponseError;

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
