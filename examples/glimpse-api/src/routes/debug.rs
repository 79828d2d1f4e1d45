//! Endpoints that misbehave on purpose, to exercise the slow-query and error paths.

use axum::extract::{Query, State};
use serde::Deserialize;

use crate::error::ApiError;
use crate::state::AppState;

/// `?ms=600`
#[derive(Deserialize)]
pub struct Slow {
    ms: Option<u64>,
}

/// Runs a query that takes about `ms` milliseconds (default 700: above the 500 ms threshold).
pub async fn slow_report(
    State(state): State<AppState>,
    Query(q): Query<Slow>,
) -> Result<String, ApiError> {
    let ms = q.ms.unwrap_or(700).min(5_000);
    let rows = state.db.slow_report(ms).await?;
    Ok(format!("report ready ({rows})\n"))
}

/// Panics: the layer turns it into a 500 and one GlitchTip event.
pub async fn panic() -> &'static str {
    panic!("the debug endpoint panicked on purpose");
}

/// Fails with a database error: a 500 reported once.
pub async fn error(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    state.db.broken_query().await?;
    Ok("unreachable")
}
