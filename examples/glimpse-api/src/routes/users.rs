//! Registering and fetching users.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use glimpse_telemetry::business;
use glimpse_telemetry::logs::audit;
use glimpse_telemetry::tracing;
use serde::Deserialize;

use crate::auth::Caller;
use crate::db::{User, new_id};
use crate::error::ApiError;
use crate::state::AppState;

/// `POST /users {"name": "..."}`
#[derive(Deserialize)]
pub struct Registration {
    name: String,
}

/// Registers a user.
pub async fn register(
    State(state): State<AppState>,
    Json(body): Json<Registration>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let name = body.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::BadRequest("name must be 1 to 100 characters"));
    }
    let id = new_id("u");
    state.db.insert_user(&id, name).await?;
    business::user_registered();
    tracing::info!(new_user_id = %id, "user registered");
    Ok((
        StatusCode::CREATED,
        Json(User {
            id,
            name: name.to_owned(),
        }),
    ))
}

/// Fetches a user (through the user cache); reading someone else's profile is an audited
/// access.
pub async fn fetch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<User>, ApiError> {
    let user = state
        .users
        .get(&state.db, &id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    if let Some(me) = caller.0.as_deref().filter(|me| *me != id) {
        audit::user_data_access(me, &id, "profile", "read");
    }
    Ok(Json(user))
}
