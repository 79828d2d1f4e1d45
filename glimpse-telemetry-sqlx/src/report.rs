//! The two log lines this crate writes: a slow query (WARN, which GlitchTip keeps as a
//! breadcrumb) and a failed query (ERROR, a GlitchTip event).
//!
//! Both are emitted inside the query's span, so the JSON line carries the request's
//! `requestId`, `userId` and `traceId`, plus the span's `db_*` fields (`db_system_name`,
//! `db_operation_name`, `db_query_summary`, ...). Statement text and error messages go through
//! [`sanitize`] first: no literal from the SQL (or quoted by the server in its error message,
//! as MySQL does) reaches the logs or GlitchTip.
//!
//! Each line is also an event on the query's exported span (what Jaeger shows), with the
//! line's fields as attributes: the span is built with the tracer, so the bridge that would
//! otherwise copy events onto spans does not see it.

use std::time::Duration;

use glimpse_telemetry::otel::KeyValue;
use glimpse_telemetry::otel::trace::SpanRef;
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

    /// The first attributes of a line's span event, as the tracing bridge writes them: the
    /// level, the target, then the line's first fields.
    fn event_attributes(&self, level: &'static str, ms: f64) -> Vec<KeyValue> {
        let mut attributes = Vec::with_capacity(10);
        attributes.extend([
            KeyValue::new("level", level),
            KeyValue::new("target", DATABASE_TARGET),
            KeyValue::new(
                "component",
                glimpse_telemetry::logs::catalogue::COMPONENT_DATABASE,
            ),
            KeyValue::new("duration_ms", ms),
            KeyValue::new("db.client.connection.pool.name", self.pool_name.to_owned()),
        ]);
        attributes
    }

    /// One WARN line per slow query (and an event on `span`).
    pub(crate) fn slow(&self, span: Option<&SpanRef<'_>>) {
        if !tracing::enabled!(target: DATABASE_TARGET, Level::WARN) {
            return;
        }
        let text = sanitize(self.sql, self.dialect);
        let ms = millis(self.elapsed);
        let threshold = millis(self.slow_threshold);
        let message = format!("slow query: {} took {} ms", self.name(), ms);
        tracing::warn!(
            target: DATABASE_TARGET,
            component = glimpse_telemetry::logs::catalogue::COMPONENT_DATABASE,
            duration_ms = ms,
            db.client.connection.pool.name = self.pool_name,
            db.query.text = %text,
            threshold_ms = threshold,
            rows_returned = int(self.rows_returned),
            rows_affected = int(self.rows_affected),
            "{message}"
        );
        if let Some(span) = span {
            let mut attributes = self.event_attributes("WARN", ms);
            attributes.extend([
                KeyValue::new("db.query.text", text),
                KeyValue::new("threshold_ms", threshold),
                KeyValue::new("rows_returned", int(self.rows_returned)),
                KeyValue::new("rows_affected", int(self.rows_affected)),
            ]);
            span.add_event(message, attributes);
        }
    }

    /// One ERROR line per failed query (and an event on `span`).
    pub(crate) fn failed(
        &self,
        error: &sqlx::Error,
        error_type: &str,
        code: Option<&str>,
        span: Option<&SpanRef<'_>>,
    ) {
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
        let ms = millis(self.elapsed);
        let line = format!("database query failed: {} ({})", self.name(), error_type);
        tracing::error!(
            target: DATABASE_TARGET,
            component = glimpse_telemetry::logs::catalogue::COMPONENT_DATABASE,
            duration_ms = ms,
            db.client.connection.pool.name = self.pool_name,
            error.type = error_type,
            error.message = %message,
            db.response.status_code = code,
            db.query.text = %text,
            rows_returned = int(self.rows_returned),
            "{line}"
        );
        if let Some(span) = span {
            let mut attributes = self.event_attributes("ERROR", ms);
            attributes.extend([
                KeyValue::new("error.type", error_type.to_owned()),
                KeyValue::new("error.message", message),
            ]);
            if let Some(code) = code {
                attributes.push(KeyValue::new("db.response.status_code", code.to_owned()));
            }
            attributes.push(KeyValue::new("db.query.text", text));
            attributes.push(KeyValue::new("rows_returned", int(self.rows_returned)));
            span.add_event(line, attributes);
        }
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
