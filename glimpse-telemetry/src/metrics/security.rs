//! Security counters: every line of the [`logs::audit`](crate::logs::audit) helpers counted in
//! `glimpse_audit_events_total{log_type, event_type, outcome}` by the helper that writes it, and
//! API key usage per key id in `glimpse_api_key_requests_total{api_key_id, outcome}`.
//!
//! Every label is bounded: `event_type` and `log_type` are fixed by the helpers, `outcome` comes
//! from a fixed vocabulary per event type ([`LoginFailure`], [`DataAction`], `granted` /
//! `revoked`, `succeeded` / `failed`), anything else is `other`; API key ids are capped by
//! the family's series limit ([`API_KEY_MAX_SERIES`](super::catalogue::API_KEY_MAX_SERIES)).
//!
//! ```
//! use glimpse_telemetry::logs::audit;
//! use glimpse_telemetry::metrics::security::{self, ApiKeyOutcome, LoginFailure};
//! use glimpse_telemetry::metrics::{self, Format};
//!
//! audit::failed_login("user-42", LoginFailure::BadPassword.as_str());
//! security::api_key_used("ci-deploy", ApiKeyOutcome::Accepted);
//!
//! let text = metrics::encode(Format::Text);
//! assert!(text.contains(
//!     r#"glimpse_audit_events_total{log_type="security",event_type="failed_login",outcome="bad_password"} 1"#
//! ));
//! assert!(text.contains(r#"glimpse_api_key_requests_total{api_key_id="ci-deploy",outcome="accepted"} 1"#));
//! ```

use std::sync::OnceLock;

use super::catalogue::{GLIMPSE_API_KEY_REQUESTS, GLIMPSE_AUDIT_EVENTS};
use super::{Counter, Family};
use crate::logs::log_type::LogType;

/// Why a login failed: the bounded `outcome` of `failed_login` events.
///
/// ```
/// use glimpse_telemetry::metrics::security::LoginFailure;
/// assert_eq!(LoginFailure::from_reason("locked"), LoginFailure::Locked);
/// assert_eq!(LoginFailure::from_reason("cosmic rays").as_str(), "other");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoginFailure {
    /// `bad_password`
    BadPassword,
    /// `unknown_user`
    UnknownUser,
    /// `locked`: the account is locked.
    Locked,
    /// `mfa_failed`: the second factor was wrong.
    MfaFailed,
    /// `expired`: the credentials expired.
    Expired,
    /// `rate_limited`: too many attempts.
    RateLimited,
    /// `other`: any other reason.
    Other,
}

impl LoginFailure {
    /// Every reason, in label order.
    pub const ALL: [LoginFailure; 7] = [
        LoginFailure::BadPassword,
        LoginFailure::UnknownUser,
        LoginFailure::Locked,
        LoginFailure::MfaFailed,
        LoginFailure::Expired,
        LoginFailure::RateLimited,
        LoginFailure::Other,
    ];

    /// The label value (and the `reason` written on the line).
    pub fn as_str(self) -> &'static str {
        match self {
            LoginFailure::BadPassword => "bad_password",
            LoginFailure::UnknownUser => "unknown_user",
            LoginFailure::Locked => "locked",
            LoginFailure::MfaFailed => "mfa_failed",
            LoginFailure::Expired => "expired",
            LoginFailure::RateLimited => "rate_limited",
            LoginFailure::Other => "other",
        }
    }

    /// The reason a free-text `reason` names, [`Other`](LoginFailure::Other) when none.
    pub fn from_reason(reason: &str) -> LoginFailure {
        LoginFailure::ALL
            .into_iter()
            .find(|r| r.as_str() == reason)
            .unwrap_or(LoginFailure::Other)
    }
}

/// What was done to a user's data: the bounded `outcome` of `user_data_access` events.
///
/// ```
/// use glimpse_telemetry::metrics::security::DataAction;
/// assert_eq!(DataAction::from_action("export"), DataAction::Export);
/// assert_eq!(DataAction::from_action("peek").as_str(), "other");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DataAction {
    /// `read`
    Read,
    /// `create`
    Create,
    /// `update`
    Update,
    /// `delete`
    Delete,
    /// `export`
    Export,
    /// `other`
    Other,
}

impl DataAction {
    /// Every action, in label order.
    pub const ALL: [DataAction; 6] = [
        DataAction::Read,
        DataAction::Create,
        DataAction::Update,
        DataAction::Delete,
        DataAction::Export,
        DataAction::Other,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            DataAction::Read => "read",
            DataAction::Create => "create",
            DataAction::Update => "update",
            DataAction::Delete => "delete",
            DataAction::Export => "export",
            DataAction::Other => "other",
        }
    }

    /// The action a free-text `action` names, [`Other`](DataAction::Other) when none.
    pub fn from_action(action: &str) -> DataAction {
        DataAction::ALL
            .into_iter()
            .find(|a| a.as_str() == action)
            .unwrap_or(DataAction::Other)
    }
}

/// Whether a presented API key was accepted.
///
/// ```
/// use glimpse_telemetry::metrics::security::ApiKeyOutcome;
/// assert_eq!(ApiKeyOutcome::Rejected.as_str(), "rejected");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiKeyOutcome {
    /// The key is valid and the request went on.
    Accepted,
    /// The key was unknown, revoked or did not match.
    Rejected,
}

impl ApiKeyOutcome {
    /// The `outcome` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiKeyOutcome::Accepted => "accepted",
            ApiKeyOutcome::Rejected => "rejected",
        }
    }
}

/// The `api_key_id` written when the id given is not a plausible key id.
pub const INVALID_KEY_ID: &str = "invalid";

/// A request presented the API key whose public id is `key_id`
/// (`glimpse_api_key_requests_total{api_key_id, outcome}`).
///
/// Pass the key's id (the public prefix, or the id your key store gives it), never the key
/// itself. Ids longer than 64 characters or with characters other than ASCII letters, digits,
/// `-`, `_` and `.` are counted as `invalid`; past 200 distinct ids the counts land in the
/// family's overflow series. For a key nobody issued, pass a fixed id such as `unknown` rather
/// than what the caller sent.
///
/// ```
/// use glimpse_telemetry::metrics::security::{self, ApiKeyOutcome};
/// security::api_key_used("partner-acme", ApiKeyOutcome::Accepted);
/// security::api_key_used("unknown", ApiKeyOutcome::Rejected);
/// ```
pub fn api_key_used(key_id: &str, outcome: ApiKeyOutcome) {
    let valid = !key_id.is_empty()
        && key_id.len() <= 64
        && key_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    let id = if valid { key_id } else { INVALID_KEY_ID };
    api_keys().get_or_create(&[id, outcome.as_str()]).inc();
}

/// An `outcome` made of a free-text word: kept when it is a short lower-case identifier
/// (`ban`, `reset_password`), `other` otherwise. The family's series limit bounds the rest.
pub(crate) fn bounded_word(word: &str) -> &str {
    let ok = !word.is_empty()
        && word.len() <= 32
        && word.starts_with(|c: char| c.is_ascii_lowercase())
        && word
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok { word } else { "other" }
}

/// Counts one audit or security line (called by the [`logs::audit`](crate::logs::audit)
/// helpers, next to the line they write).
pub(crate) fn count(log_type: LogType, event_type: &'static str, outcome: &str) {
    audit_events()
        .get_or_create(&[log_type.as_str(), event_type, outcome])
        .inc();
}

fn audit_events() -> &'static Family<Counter> {
    static FAMILY: OnceLock<Family<Counter>> = OnceLock::new();
    FAMILY.get_or_init(|| family(&GLIMPSE_AUDIT_EVENTS))
}

fn api_keys() -> &'static Family<Counter> {
    static FAMILY: OnceLock<Family<Counter>> = OnceLock::new();
    FAMILY.get_or_init(|| family(&GLIMPSE_API_KEY_REQUESTS))
}

fn family(def: &'static super::catalogue::MetricDef) -> Family<Counter> {
    // The SDK's own metrics never fail a service: if user code took the name with other labels,
    // count into a detached family of the same shape.
    def.register::<Counter>().unwrap_or_else(|_| {
        Family::new(
            super::family::Descriptor {
                base_name: def.name.to_owned(),
                help: def.help.to_owned(),
                unit: None,
                label_keys: def.labels.into(),
                max_series: def.max_series.unwrap_or(super::DEFAULT_MAX_SERIES),
            },
            Box::new(Counter::default),
            Counter::default(),
        )
    })
}

/// Registers the families and creates the series of every bounded event (called by `init`),
/// so rates read 0, not "no data", before the first event and the baselines of the security
/// alerts start with the service.
pub(crate) fn register() {
    api_keys();
    let audit = LogType::Audit;
    let security = LogType::Security;
    for r in LoginFailure::ALL {
        count_zero(security, "failed_login", r.as_str());
    }
    for change in ["granted", "revoked"] {
        count_zero(security, "permission_change", change);
    }
    for a in DataAction::ALL {
        count_zero(audit, "user_data_access", a.as_str());
    }
    count_zero(audit, "config_change", "changed");
    count_zero(audit, "config_change", "secret_changed");
}

/// Creates the series of one event at 0 (its count stays until the event happens).
pub(crate) fn count_zero(log_type: LogType, event_type: &'static str, outcome: &str) {
    let _ = audit_events().get_or_create(&[log_type.as_str(), event_type, outcome]);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(log_type, event_type, outcome, the call that must count once)`.
    type Case = (&'static str, &'static str, &'static str, Box<dyn Fn()>);

    fn events(log_type: &str, event_type: &str, outcome: &str) -> u64 {
        audit_events()
            .get_or_create(&[log_type, event_type, outcome])
            .get()
    }

    #[test]
    fn every_audit_helper_counts_its_line_once_with_a_bounded_outcome() {
        use crate::business::{self, PaymentOutcome};
        use crate::logs::audit;
        let cases: Vec<Case> = vec![
            (
                "security",
                "failed_login",
                "bad_password",
                Box::new(|| audit::failed_login("u-1", "bad_password")),
            ),
            (
                "security",
                "failed_login",
                "other",
                Box::new(|| audit::failed_login("u-1", "Cosmic Rays!")),
            ),
            (
                "security",
                "permission_change",
                "revoked",
                Box::new(|| audit::permission_change("a-1", "u-1", "admin", false)),
            ),
            (
                "audit",
                "user_data_access",
                "export",
                Box::new(|| audit::user_data_access("a-1", "u-1", "profile", "export")),
            ),
            (
                "audit",
                "user_data_access",
                "other",
                Box::new(|| audit::user_data_access("a-1", "u-1", "profile", "peek at")),
            ),
            (
                "audit",
                "config_change",
                "secret_changed",
                Box::new(|| audit::config_change("a-1", "stripe_api_key", "a", "b")),
            ),
            (
                "audit",
                "config_change",
                "changed",
                Box::new(|| audit::config_change("a-1", "max_upload_mb", "5", "10")),
            ),
            (
                "audit",
                "admin_action",
                "ban",
                Box::new(|| audit::admin_action("a-1", "ban", "u-9")),
            ),
            (
                "audit",
                "admin_action",
                "other",
                Box::new(|| audit::admin_action("a-1", "Ban User 9", "u-9")),
            ),
            (
                "audit",
                "payment_transaction",
                "failed",
                Box::new(|| {
                    business::payment_transaction("p-1", 100, "EUR", PaymentOutcome::Failed)
                }),
            ),
        ];
        for (log_type, event_type, outcome, call) in cases {
            let before = events(log_type, event_type, outcome);
            call();
            call();
            call();
            assert_eq!(
                events(log_type, event_type, outcome),
                before + 3,
                "{event_type} {outcome}"
            );
        }
    }

    #[test]
    fn bounded_events_read_zero_after_registration() {
        register();
        let text = crate::metrics::encode(crate::metrics::Format::Text);
        for line in [
            r#"glimpse_audit_events_total{log_type="security",event_type="failed_login",outcome="locked"} 0"#,
            r#"glimpse_audit_events_total{log_type="audit",event_type="user_data_access",outcome="delete"} 0"#,
            "# TYPE glimpse_api_key_requests_total counter",
        ] {
            assert!(text.contains(line), "{line} not in\n{text}");
        }
    }

    #[test]
    fn words_are_bounded() {
        assert_eq!(bounded_word("ban"), "ban");
        assert_eq!(bounded_word("reset_password2"), "reset_password2");
        assert_eq!(bounded_word("Ban user-99"), "other");
        assert_eq!(bounded_word(""), "other");
        assert_eq!(bounded_word(&"a".repeat(33)), "other");
    }

    #[test]
    fn api_key_ids_that_look_like_secrets_or_garbage_are_invalid() {
        let before = api_keys()
            .get_or_create(&[INVALID_KEY_ID, "rejected"])
            .get();
        api_key_used(&"k".repeat(65), ApiKeyOutcome::Rejected);
        api_key_used("key with spaces", ApiKeyOutcome::Rejected);
        api_key_used("", ApiKeyOutcome::Rejected);
        assert_eq!(
            api_keys()
                .get_or_create(&[INVALID_KEY_ID, "rejected"])
                .get(),
            before + 3
        );
    }
}
