//! Administration: granting and revoking permissions (callers whose id starts with `admin-`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use glimpse_telemetry::logs::audit;
use serde::Deserialize;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// `POST /admin/users/{id}/permissions {"permission": "moderator", "granted": true}`
#[derive(Deserialize)]
pub struct PermissionChange {
    permission: String,
    granted: bool,
}

/// Grants or revokes a permission: an admin action and a permission change, both audited.
pub async fn set_permission(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(change): Json<PermissionChange>,
) -> Result<StatusCode, ApiError> {
    let Some(admin) = caller.0.filter(|c| c.starts_with("admin-")) else {
        return Err(ApiError::Forbidden);
    };
    let permission = change.permission.trim();
    if permission.is_empty()
        || permission.len() > 32
        || !permission
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_')
    {
        return Err(ApiError::BadRequest("permission must be a lower-case word"));
    }
    state
        .db
        .get_user(&id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    audit::admin_action(&admin, "set_permission", &id);
    audit::permission_change(&admin, &id, permission, change.granted);
    Ok(StatusCode::NO_CONTENT)
}
