//! The seed's business metrics as typed helpers with fixed names, so every Glimpse service
//! reports them the same way and the Business Metrics dashboard and the payment-failure alert
//! work everywhere.
//!
//! ```
//! use glimpse_telemetry::metrics::business::{self, PaymentOutcome};
//!
//! business::user_registered();
//! business::match_created();
//! business::message_sent();
//! business::payment_processed(PaymentOutcome::Failed);
//! business::set_active_users(42);
//! ```
//!
//! Their families are registered by [`init`](fn@crate::init), so they read 0 (not "no data") before
//! the first event, and alert expressions over them are defined from the start.

use std::sync::OnceLock;

use super::catalogue::{
    GLIMPSE_ACTIVE_USERS, GLIMPSE_MATCHES_CREATED, GLIMPSE_MESSAGES_SENT,
    GLIMPSE_PAYMENTS_PROCESSED, GLIMPSE_USER_REGISTRATIONS,
};
use super::{Counter, Gauge};

/// How a payment ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PaymentOutcome {
    /// The payment went through.
    Succeeded,
    /// The payment was declined or failed.
    Failed,
}

impl PaymentOutcome {
    /// The `outcome` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentOutcome::Succeeded => "succeeded",
            PaymentOutcome::Failed => "failed",
        }
    }
}

struct Handles {
    registrations: Counter,
    matches: Counter,
    messages: Counter,
    payments_ok: Counter,
    payments_failed: Counter,
    active_users: Gauge,
}

fn handles() -> &'static Handles {
    static HANDLES: OnceLock<Handles> = OnceLock::new();
    HANDLES.get_or_init(|| {
        let counter = |def: &'static super::catalogue::MetricDef, labels: &[&str]| {
            def.series::<Counter>(labels)
        };
        Handles {
            registrations: counter(&GLIMPSE_USER_REGISTRATIONS, &[]),
            matches: counter(&GLIMPSE_MATCHES_CREATED, &[]),
            messages: counter(&GLIMPSE_MESSAGES_SENT, &[]),
            payments_ok: counter(
                &GLIMPSE_PAYMENTS_PROCESSED,
                &[PaymentOutcome::Succeeded.as_str()],
            ),
            payments_failed: counter(
                &GLIMPSE_PAYMENTS_PROCESSED,
                &[PaymentOutcome::Failed.as_str()],
            ),
            active_users: GLIMPSE_ACTIVE_USERS.series::<Gauge>(&[]),
        }
    })
}

/// Registers the business families (called by `init`).
pub(crate) fn register() {
    handles();
}

/// A user completed registration (`glimpse_user_registrations_total`).
pub fn user_registered() {
    handles().registrations.inc();
}

/// A match was created (`glimpse_matches_created_total`).
pub fn match_created() {
    handles().matches.inc();
}

/// A chat message was sent (`glimpse_messages_sent_total`).
pub fn message_sent() {
    handles().messages.inc();
}

/// A payment was processed (`glimpse_payments_processed_total{outcome}`).
pub fn payment_processed(outcome: PaymentOutcome) {
    match outcome {
        PaymentOutcome::Succeeded => handles().payments_ok.inc(),
        PaymentOutcome::Failed => handles().payments_failed.inc(),
    }
}

/// The number of distinct users active in the last five minutes (`glimpse_active_users`).
pub fn set_active_users(n: i64) {
    handles().active_users.set(n);
}
