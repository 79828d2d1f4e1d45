//! The HTTP API: the router. The state handlers share is in `crate::state`, the error type they
//! return in `crate::error`.

mod admin;
mod chat;
mod debug;
mod matches;
mod payments;
mod sessions;
mod users;
mod web;

use axum::Router;
use axum::routing::{get, post};

use crate::auth;
use crate::state::AppState;

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
