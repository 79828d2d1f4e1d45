//! One query, measured: its span, the time from its call (or from its connection) to its last
//! row, the rows it returned or changed, and at its end the duration metric, the span's outcome
//! and the slow-query or failure report.

use std::sync::Arc;
use std::time::Instant;

use sqlx::Either;
use tracing::Span;
use tracing::field::Empty;

use crate::error_type::{database_code, error_type};
use crate::pool_state::{Parsed, PoolState};
use crate::sql::sanitize;
use crate::{DATABASE_TARGET, SupportedDatabase, report};

/// One operation being measured. Recording happens once, in [`Op::finish`] or, when the
/// caller drops the query before its end, in `Drop`.
pub(crate) struct Op<'q> {
    state: Arc<PoolState>,
    sql: &'q str,
    parsed: Arc<Parsed>,
    span: Span,
    called: Instant,
    executing: Option<Instant>,
    rows_returned: u64,
    rows_affected: u64,
    done: bool,
}

impl<'q> Op<'q> {
    /// Starts measuring `sql`: parses its summary (or finds it in the cache) and opens its
    /// span, as a child of the current span.
    pub(crate) fn new(state: Arc<PoolState>, sql: &'q str) -> Op<'q> {
        let parsed = state.parsed(sql);
        let text = &*parsed.summary;
        let name = if text.is_empty() { state.system } else { text };
        let span = tracing::info_span!(
            target: DATABASE_TARGET,
            "db.query",
            otel.name = name,
            otel.kind = "client",
            otel.status_code = Empty,
            db.system.name = state.system,
            db.operation.name = parsed.operation,
            db.collection.name = parsed.collection.as_deref(),
            db.query.summary = (!text.is_empty()).then_some(text),
            db.query.text = Empty,
            db.response.returned_rows = Empty,
            db.response.status_code = Empty,
            error.type = Empty,
        );
        if state.capture_query_text && !span.is_disabled() {
            span.record("db.query.text", sanitize(sql, state.dialect).as_str());
        }
        Op {
            state,
            sql,
            parsed,
            span,
            called: Instant::now(),
            executing: None,
            rows_returned: 0,
            rows_affected: 0,
            done: false,
        }
    }

    /// The connection is there: the query starts now.
    #[inline]
    pub(crate) fn executing(&mut self) {
        if self.executing.is_none() {
            self.executing = Some(Instant::now());
        }
    }

    /// Counts a result set or a row.
    #[inline]
    pub(crate) fn observe<DB: SupportedDatabase>(
        &mut self,
        item: &Either<DB::QueryResult, DB::Row>,
    ) {
        match item {
            Either::Left(result) => {
                self.rows_affected = self.rows_affected.saturating_add(DB::rows_affected(result));
            }
            Either::Right(_) => self.rows_returned = self.rows_returned.saturating_add(1),
        }
    }

    #[inline]
    pub(crate) fn add_returned_rows(&mut self, n: u64) {
        self.rows_returned = self.rows_returned.saturating_add(n);
    }

    /// Records the operation: its duration, the span's outcome, and the slow-query or failure
    /// report. Runs once.
    pub(crate) fn finish(&mut self, error: Option<&sqlx::Error>) {
        if self.done {
            return;
        }
        self.done = true;
        // The span is entered only here, not on every poll of the query (which would cost an
        // enter and exit per row): the exemplar and the log lines below belong to it.
        let _entered = self.span.enter();
        let state = &*self.state;
        // Without a connection (a pool timeout) the operation lasted as long as the wait.
        let (elapsed, executed) = match self.executing {
            Some(t) => (t.elapsed(), true),
            None => (self.called.elapsed(), false),
        };
        let error_type = error.map(error_type);
        let parsed = &*self.parsed;
        state.observe_duration(parsed, error_type.as_deref(), elapsed.as_secs_f64());
        let slow = executed && elapsed >= state.slow_threshold;
        if slow {
            state.count_slow(parsed);
        }
        let span_on = !self.span.is_disabled();
        if span_on && self.rows_returned > 0 {
            self.span
                .record("db.response.returned_rows", report::int(self.rows_returned));
        }
        let report = report::Report {
            pool_name: &state.pool_name,
            system: state.system,
            dialect: state.dialect,
            slow_threshold: state.slow_threshold,
            sql: self.sql,
            summary: &parsed.summary,
            elapsed,
            rows_returned: self.rows_returned,
            rows_affected: self.rows_affected,
        };
        match (error, error_type) {
            (Some(error), Some(error_type)) => {
                let code = database_code(error);
                if span_on {
                    self.span.record("otel.status_code", "ERROR");
                    self.span.record("error.type", &*error_type);
                    if let Some(code) = &code {
                        self.span.record("db.response.status_code", code.as_str());
                    }
                }
                report.failed(error, &error_type, code.as_deref());
            }
            _ if slow => report.slow(),
            _ => {}
        }
    }
}

impl Drop for Op<'_> {
    fn drop(&mut self) {
        // Dropped before the end: fetch(..) read only as far as it needed, or the caller gave
        // up. A query that ran is recorded as it stands; one still waiting for a connection is
        // not (the pool metrics show the wait).
        if !self.done && self.executing.is_some() {
            self.finish(None);
        }
    }
}
