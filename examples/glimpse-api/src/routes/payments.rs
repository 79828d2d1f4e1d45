//! Processing payments (simulated: `"simulate_failure": true` declines the card).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use glimpse_telemetry::business::{self, PaymentOutcome};
use serde::{Deserialize, Serialize};

use crate::db::new_id;
use crate::error::ApiError;
use crate::state::AppState;

/// `POST /payments {"user_id": "...", "amount_minor": 1999, "currency": "EUR"}`
#[derive(Deserialize)]
pub struct PaymentRequest {
    user_id: String,
    amount_minor: i64,
    currency: String,
    /// The card number, for realism: it is never stored or logged.
    #[serde(default)]
    card_number: Option<String>,
    #[serde(default)]
    simulate_failure: bool,
}

/// The outcome.
#[derive(Serialize)]
pub struct Payment {
    id: String,
    status: &'static str,
}

/// Charges the card (declined on request), records and audits the payment.
pub async fn process(
    State(state): State<AppState>,
    Json(p): Json<PaymentRequest>,
) -> Result<(StatusCode, Json<Payment>), ApiError> {
    if p.amount_minor <= 0 || p.currency.len() != 3 {
        return Err(ApiError::BadRequest(
            "amount_minor must be positive and currency a 3-letter code",
        ));
    }
    state
        .db
        .get_user(&p.user_id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    let _card = p.card_number; // handed to the payment provider in a real service
    let outcome = if p.simulate_failure {
        PaymentOutcome::Failed
    } else {
        PaymentOutcome::Succeeded
    };
    let id = new_id("pay");
    state
        .db
        .insert_payment(
            &id,
            &p.user_id,
            p.amount_minor,
            &p.currency,
            outcome.as_str(),
        )
        .await?;
    business::payment_processed(outcome);
    business::payment_amount(outcome, p.amount_minor, &p.currency);
    business::payment_transaction(&id, p.amount_minor, &p.currency, outcome);
    let status = if outcome == PaymentOutcome::Failed {
        StatusCode::PAYMENT_REQUIRED
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        Json(Payment {
            id,
            status: outcome.as_str(),
        }),
    ))
}
