//! Creating matches between users.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use glimpse_telemetry::business;
use serde::{Deserialize, Serialize};

use crate::db::new_id;
use crate::error::ApiError;
use crate::state::AppState;

/// `POST /matches {"user_a": "...", "user_b": "..."}`
#[derive(Deserialize)]
pub struct NewMatch {
    user_a: String,
    user_b: String,
}

/// A created match.
#[derive(Serialize)]
pub struct Match {
    id: String,
    user_a: String,
    user_b: String,
}

/// Matches two existing users.
pub async fn create(
    State(state): State<AppState>,
    Json(m): Json<NewMatch>,
) -> Result<(StatusCode, Json<Match>), ApiError> {
    if m.user_a == m.user_b {
        return Err(ApiError::BadRequest("a user cannot match themselves"));
    }
    for id in [&m.user_a, &m.user_b] {
        state
            .db
            .get_user(id)
            .await?
            .ok_or(ApiError::NotFound("user"))?;
    }
    let id = new_id("m");
    state.db.insert_match(&id, &m.user_a, &m.user_b).await?;
    business::match_created();
    Ok((
        StatusCode::CREATED,
        Json(Match {
            id,
            user_a: m.user_a,
            user_b: m.user_b,
        }),
    ))
}
