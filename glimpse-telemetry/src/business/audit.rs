//! The payment audit line: one JSON line per payment transaction, kept 7 years (`log_type`
//! `audit`, retention `7y`), counted in `glimpse_audit_events_total` in the same call.

use super::outcome::PaymentOutcome;
use crate::logs::audit::{AUDIT_TARGET, LogType, Retention};
use crate::metrics::security;

/// A payment transaction, with its amount in minor units (cents). Kept 7 years.
pub fn payment_transaction(
    payment_id: &str,
    amount_minor: i64,
    currency: &str,
    outcome: PaymentOutcome,
) {
    // tracing needs a constant level per call site: one per outcome, with the same fields.
    macro_rules! payment {
        ($level:expr) => {
            tracing::event!(
                target: AUDIT_TARGET,
                $level,
                log_type = LogType::Audit.as_str(),
                retention = Retention::Years7.as_str(),
                event_type = "payment_transaction",
                payment_id,
                amount_minor,
                currency,
                status = outcome.as_str(),
                "payment {payment_id} {}",
                outcome.as_str()
            )
        };
    }
    match outcome {
        PaymentOutcome::Succeeded => payment!(tracing::Level::INFO),
        _ => payment!(tracing::Level::WARN),
    }
    security::count(LogType::Audit, "payment_transaction", outcome.as_str());
}

/// Creates the zero series of both outcomes, so the payment alerts' rates read 0 from the start.
pub(super) fn register() {
    for o in [PaymentOutcome::Succeeded, PaymentOutcome::Failed] {
        security::count_zero(LogType::Audit, "payment_transaction", o.as_str());
    }
}
