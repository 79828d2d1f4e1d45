//! The seed's business metrics as typed helpers with fixed names, so every Glimpse service
//! reports them the same way and the Business Metrics dashboard and the payment-failure alert
//! work everywhere. Names, help and labels come from the metric catalogue.

use std::sync::OnceLock;

use super::outcome::PaymentOutcome;
use crate::metrics::catalogue::{
    self, GLIMPSE_ACTIVE_USERS, GLIMPSE_MATCHES_CREATED, GLIMPSE_MESSAGES_SENT,
    GLIMPSE_PAYMENT_AMOUNT, GLIMPSE_PAYMENTS_PROCESSED, GLIMPSE_USER_REGISTRATIONS,
};
use crate::metrics::{Counter, Family, Gauge};

struct Handles {
    registrations: Counter,
    matches: Counter,
    messages: Counter,
    payments_ok: Counter,
    payments_failed: Counter,
    /// `None` when user code took the name with other labels: amounts then count nowhere.
    amounts: Option<Family<Counter>>,
    active_users: Gauge,
}

fn handles() -> &'static Handles {
    static HANDLES: OnceLock<Handles> = OnceLock::new();
    HANDLES.get_or_init(|| {
        let counter =
            |def: &'static catalogue::MetricDef, labels: &[&str]| def.series::<Counter>(labels);
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
            amounts: GLIMPSE_PAYMENT_AMOUNT.register::<Counter>().ok(),
            active_users: GLIMPSE_ACTIVE_USERS.series::<Gauge>(&[]),
        }
    })
}

/// Registers the business families (called by `init` through [`super::register`]).
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

/// The currencies counted apart in `glimpse_payment_amount_minor_total{currency}`; any other
/// code is counted as `other`, so the label stays bounded whatever callers send.
pub const CURRENCIES: &[&str] = &[
    "AED", "AUD", "BGN", "BRL", "CAD", "CHF", "CNY", "CZK", "DKK", "EUR", "GBP", "HKD", "HUF",
    "IDR", "ILS", "INR", "JPY", "KRW", "MXN", "MYR", "NOK", "NZD", "PHP", "PLN", "RON", "SAR",
    "SEK", "SGD", "THB", "TRY", "USD", "ZAR",
];

/// The `currency` label of a currency code: the upper-cased code when it is in
/// [`CURRENCIES`], `other` otherwise.
///
/// ```
/// use glimpse_telemetry::business::currency_label;
/// assert_eq!(currency_label("eur"), "EUR");
/// assert_eq!(currency_label("XBT"), "other");
/// ```
pub fn currency_label(code: &str) -> &'static str {
    CURRENCIES
        .iter()
        .copied()
        .find(|c| c.eq_ignore_ascii_case(code.trim()))
        .unwrap_or("other")
}

/// A payment's amount, in minor units (cents; yen for JPY), added to
/// `glimpse_payment_amount_minor_total{currency, outcome}`: revenue is the `succeeded` sum per
/// currency. Negative amounts (refunds) are not counted here: a counter only goes up.
///
/// ```
/// use glimpse_telemetry::business::{self, PaymentOutcome};
/// use glimpse_telemetry::metrics::{self, Format};
///
/// business::payment_amount(PaymentOutcome::Succeeded, 1999, "usd");
/// business::payment_amount(PaymentOutcome::Succeeded, 1, "USD");
/// let text = metrics::encode(Format::Text);
/// assert!(text.contains(r#"glimpse_payment_amount_minor_total{currency="USD",outcome="succeeded"} 2000"#));
/// ```
pub fn payment_amount(outcome: PaymentOutcome, amount_minor: i64, currency: &str) {
    let Ok(amount) = u64::try_from(amount_minor) else {
        return;
    };
    if let Some(amounts) = &handles().amounts {
        amounts
            .get_or_create(&[currency_label(currency), outcome.as_str()])
            .inc_by(amount);
    }
}

/// The number of distinct users active in the last five minutes (`glimpse_active_users`).
pub fn set_active_users(n: i64) {
    handles().active_users.set(n);
}
