//! The two log lines this crate writes: a slow query (WARN, which GlitchTip keeps as a
//! breadcrumb) and a failed query (ERROR, a GlitchTip event).
//!
//! Both are emitted inside the query's span, so the JSON line carries the request's
//! `requestId`, `userId` and `traceId`, plus the span's `db_*` fields (`db_system_name`,
//! `db_operation_name`, `db_query_summary`, ...). Statement text and error messages go through
//! [`sanitize`] first: no literal from the SQL (or quoted by the server in its error message,
//! as MySQL does) reaches the logs or GlitchTip.

use std::time::Duration;

use tracing::Level;

use crate::DATABASE_TARGET;
use crate::sql::{Dialect, sanitize};

/// What the two lines say of one finished query: its pool, its statement and its outcome.
pub(crate) struct Report<'a, 'q> {
    pub(crate) pool_name: &'a str,
    /// `db_system_name`, the line's name when the statement has no summary.
    pub(crate) system: &'static str,
    pub(crate) dialect: Dialect,
    pub(crate) slow_threshold: Duration,
    pub(crate) sql: &'q str,
    pub(crate) summary: &'a str,
    pub(crate) elapsed: Duration,
    pub(crate) rows_returned: u64,
    pub(crate) rows_affected: u64,
}

/// A count as an OpenTelemetry integer attribute (tracing-opentelemetry exports `u64` values as
/// strings).
pub(crate) fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Milliseconds with microsecond precision.
fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

impl Report<'_, '_> {
    fn name(&self) -> &str {
        match self.summary {
            "" => self.system,
            text => text,
        }
    }

    /// One WARN line per slow query.
    pub(crate) fn slow(&self) {
        if !tracing::enabled!(target: DATABASE_TARGET, Level::WARN) {
            return;
        }
        let text = sanitize(self.sql, self.dialect);
        let ms = millis(self.elapsed);
        tracing::warn!(
            target: DATABASE_TARGET,
            component = glimpse_telemetry::logs::catalogue::COMPONENT_DATABASE,
            duration_ms = ms,
            db.client.connection.pool.name = self.pool_name,
            db.query.text = %text,
            threshold_ms = millis(self.slow_threshold),
            rows_returned = int(self.rows_returned),
            rows_affected = int(self.rows_affected),
            "slow query: {} took {} ms",
            self.name(),
            ms
        );
    }

    /// One ERROR line per failed query.
    pub(crate) fn failed(&self, error: &sqlx::Error, error_type: &str, code: Option<&str>) {
        if !tracing::enabled!(target: DATABASE_TARGET, Level::ERROR) {
            return;
        }
        let text = sanitize(self.sql, self.dialect);
        // Read as the most cautious dialect: servers quote values with either quote
        // (`Duplicate entry 'ann@example.com'`, `invalid input syntax for type integer: "abc"`).
        let message = match error {
            sqlx::Error::Database(e) => sanitize(e.message(), Dialect::Generic),
            other => sanitize(&other.to_string(), Dialect::Generic),
        };
        tracing::error!(
            target: DATABASE_TARGET,
            component = glimpse_telemetry::logs::catalogue::COMPONENT_DATABASE,
            duration_ms = millis(self.elapsed),
            db.client.connection.pool.name = self.pool_name,
            error.type = error_type,
            error.message = %message,
            db.response.status_code = code,
            db.query.text = %text,
            rows_returned = int(self.rows_returned),
            "database query failed: {} ({})",
            self.name(),
            error_type
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_keep_microseconds() {
        assert_eq!(millis(Duration::from_micros(612_345)), 612.345);
        assert_eq!(millis(Duration::from_nanos(1_499)), 0.001);
    }
}
