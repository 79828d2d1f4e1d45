//! Glimpse's own business vocabulary: the user, match, message and payment events the seed
//! defines, as metrics helpers and audit lines with fixed names, so every Glimpse service reports
//! them the same way and the Business Metrics dashboard and the payment alerts work everywhere.
//!
//! This is application vocabulary kept apart from the generic SDK: it builds only on the generic
//! parts (typed counters from [`metrics`](crate::metrics), the audit line writer of
//! [`logs::audit`](crate::logs::audit) with its `log_type` and `retention`). A service with other
//! business events defines its own in the same way (a catalogue entry, then a counter).
//!
//! ```
//! use glimpse_telemetry::business::{self, PaymentOutcome};
//!
//! business::user_registered();
//! business::match_created();
//! business::message_sent();
//! business::payment_processed(PaymentOutcome::Failed);
//! business::payment_amount(PaymentOutcome::Succeeded, 1999, "EUR");
//! business::set_active_users(42);
//! business::payment_transaction("pay_123", 1999, "EUR", PaymentOutcome::Succeeded);
//! ```
//!
//! Their families are registered by [`init`](fn@crate::init), so they read 0 (not "no data") before
//! the first event, and alert expressions over them are defined from the start.

mod audit;
mod metrics;
mod outcome;

pub use audit::payment_transaction;
pub use metrics::{
    CURRENCIES, currency_label, match_created, message_sent, payment_amount, payment_processed,
    set_active_users, user_registered,
};
pub use outcome::PaymentOutcome;

/// Registers the business families and the zero series of payment audit events (called by
/// `init`).
pub(crate) fn register() {
    metrics::register();
    audit::register();
}
