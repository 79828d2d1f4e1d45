//! The routing vocabulary of log lines: `log_type` (audit, security, system, debug) and the
//! `retention` hint, shared by the audit helpers and the counters that count their lines.

/// The `log_type` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogType {
    /// Who did what to which data (kept per [`Retention`]).
    Audit,
    /// Authentication and authorization events.
    Security,
    /// Everything else the service logs.
    System,
    /// DEBUG and TRACE lines.
    Debug,
}

impl LogType {
    /// The value written in `log_type`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogType::Audit => "audit",
            LogType::Security => "security",
            LogType::System => "system",
            LogType::Debug => "debug",
        }
    }
}

/// How long a line must be kept (the `retention` hint).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Retention {
    /// Debug logs: 7 days (`7d`).
    Days7,
    /// System logs: 90 days (`90d`).
    Days90,
    /// User activity, security events: 1 year (`1y`).
    Year1,
    /// Payment logs: 7 years (`7y`).
    Years7,
}

impl Retention {
    /// The value written in `retention`.
    pub fn as_str(self) -> &'static str {
        match self {
            Retention::Days7 => "7d",
            Retention::Days90 => "90d",
            Retention::Year1 => "1y",
            Retention::Years7 => "7y",
        }
    }
}
