//! Audit and security log lines, tagged for routing by the log pipeline.
//!
//! Each helper writes one JSON line with `log_type` (`audit` or `security`), `retention` (how
//! long the line must be kept, from the Glimpse retention policy: payment logs 7 years, user
//! activity 1 year, system logs 90 days, debug logs 7 days) and `event_type`, plus the request's
//! `requestId`, `userId` and `traceId` like every line. Lines without `log_type` are system logs
//! (`retention` 90 days) or, at DEBUG and TRACE, debug logs (7 days).
//!
//! They take identifiers, never personal data: log a user id, not an email.
//!
//! Each helper also counts its event in `glimpse_audit_events_total{log_type, event_type,
//! outcome}` (see [`metrics::security`](crate::metrics::security)), in the same call that writes
//! the line, so the Security dashboard and alerts count exactly the events the lines record.
//! The count does not depend on the log filter: a service that turns the `audit` target off
//! still counts its events.
//!
//! ```
//! use glimpse_telemetry::logs::audit;
//!
//! audit::user_data_access("admin-7", "user-42", "profile", "read");
//! audit::failed_login("user-42", "bad_password");
//! ```

pub use super::log_type::{LogType, Retention};
use crate::metrics::security::{self, DataAction, LoginFailure};
use crate::redact::{REDACTED, Redactor};

/// The target of audit lines (filter them with `RUST_LOG=audit=info`).
pub const AUDIT_TARGET: &str = "audit";
/// The target of security lines.
pub const SECURITY_TARGET: &str = "security";

/// Someone read or changed a user's data (`action`: `read`, `update`, `delete`, `export`...).
pub fn user_data_access(actor_id: &str, subject_user_id: &str, resource: &str, action: &str) {
    tracing::info!(
        target: AUDIT_TARGET,
        log_type = LogType::Audit.as_str(),
        retention = Retention::Year1.as_str(),
        event_type = "user_data_access",
        actor_id,
        subject_user_id,
        resource,
        action,
        "user data {action}: {resource} of {subject_user_id} by {actor_id}"
    );
    security::count(
        LogType::Audit,
        "user_data_access",
        DataAction::from_action(action).as_str(),
    );
}

/// A configuration setting changed. Values of secret-looking settings are written redacted.
pub fn config_change(actor_id: &str, setting: &str, old_value: &str, new_value: &str) {
    let secret = Redactor::default().is_secret_key(setting);
    let (old_value, new_value) = if secret {
        (REDACTED, REDACTED)
    } else {
        (old_value, new_value)
    };
    tracing::info!(
        target: AUDIT_TARGET,
        log_type = LogType::Audit.as_str(),
        retention = Retention::Year1.as_str(),
        event_type = "config_change",
        actor_id,
        setting,
        old_value,
        new_value,
        "configuration {setting} changed by {actor_id}"
    );
    let outcome = if secret { "secret_changed" } else { "changed" };
    security::count(LogType::Audit, "config_change", outcome);
}

/// An administrator did something (`action`) to something (`object`).
pub fn admin_action(actor_id: &str, action: &str, object: &str) {
    tracing::info!(
        target: AUDIT_TARGET,
        log_type = LogType::Audit.as_str(),
        retention = Retention::Year1.as_str(),
        event_type = "admin_action",
        actor_id,
        action,
        object,
        "admin {actor_id}: {action} {object}"
    );
    // `action` is the verb (`ban`, `reset_password`): kept when it is a short identifier.
    security::count(
        LogType::Audit,
        "admin_action",
        security::bounded_word(action),
    );
}

/// A login failed (`reason`: `bad_password`, `unknown_user`, `locked`...; see
/// [`LoginFailure`] for the values counted apart, anything else counts as `other`). WARN level.
pub fn failed_login(account_id: &str, reason: &str) {
    tracing::warn!(
        target: SECURITY_TARGET,
        log_type = LogType::Security.as_str(),
        retention = Retention::Year1.as_str(),
        event_type = "failed_login",
        account_id,
        reason,
        "failed login for {account_id}: {reason}"
    );
    security::count(
        LogType::Security,
        "failed_login",
        LoginFailure::from_reason(reason).as_str(),
    );
}

/// A permission was granted or revoked.
pub fn permission_change(actor_id: &str, subject_user_id: &str, permission: &str, granted: bool) {
    let change = if granted { "granted" } else { "revoked" };
    tracing::warn!(
        target: SECURITY_TARGET,
        log_type = LogType::Security.as_str(),
        retention = Retention::Year1.as_str(),
        event_type = "permission_change",
        actor_id,
        subject_user_id,
        permission,
        change,
        "permission {permission} {change} for {subject_user_id} by {actor_id}"
    );
    security::count(LogType::Security, "permission_change", change);
}
