//! One query, measured: its span, the time from its call (or from its connection) to its last
//! row, the rows it returned or changed, and at its end the duration metric, the span's outcome
//! and the slow-query or failure report.
//!
//! Like the HTTP layer's server span, the exported span is built with the tracer, not through
//! the tracing-to-OpenTelemetry bridge. The `tracing` span, which only carries the `db_*` fields
//! to the report's log lines (`otel.skip`), is made at the end and only when there is a report
//! to write (a slow or failed query): measured, it was a third of a query's instrumentation.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use glimpse_telemetry::otel::semconv::attribute as attr;
use glimpse_telemetry::otel::trace::{
    Span as _, SpanKind, Status, TraceContextExt as _, Tracer as _,
};
use glimpse_telemetry::otel::{Context, KeyValue};
use sqlx::Either;
use tracing::Span;

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
    /// The current `tracing` span at the call: the parent of the span the report's lines are
    /// written in, made only when there is a report.
    parent: Span,
    /// The exported span and its parent, when traces are on and the span records.
    otel: Option<(glimpse_telemetry::otel::sdk::trace::Span, Context)>,
    called: Instant,
    executing: Option<Instant>,
    rows_returned: u64,
    rows_affected: u64,
    done: bool,
}

impl<'q> Op<'q> {
    /// Starts measuring `sql`: parses its summary (or finds it in the cache) and starts its
    /// exported span, as a child of the active context. The current `tracing` span is kept as
    /// the parent of the report's span, should the query be slow or fail.
    pub(crate) fn new(state: Arc<PoolState>, sql: &'q str) -> Op<'q> {
        let parsed = state.parsed(sql);
        let otel = if tracing::span_enabled!(target: DATABASE_TARGET, tracing::Level::INFO) {
            start_span(&state, &parsed, sql)
        } else {
            None
        };
        Op {
            state,
            sql,
            parsed,
            parent: Span::current(),
            otel,
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
        let state = &*self.state;
        // Without a connection (a pool timeout) the operation lasted as long as the wait.
        let (elapsed, executed) = match self.executing {
            Some(t) => (t.elapsed(), true),
            None => (self.called.elapsed(), false),
        };
        let error_type = error.map(error_type);
        let code = error.and_then(database_code);
        let parsed = &*self.parsed;
        // The outcome goes on the exported span while it is still owned (no lock); then it
        // becomes the active context, so the duration's exemplar and the report's lines point
        // at it, as they would inside a bridged span.
        let cx = self.otel.take().map(|(mut span, parent)| {
            if self.rows_returned > 0 {
                span.set_attribute(KeyValue::new(
                    ROWS_RETURNED,
                    report::int(self.rows_returned),
                ));
            }
            if let Some(error_type) = &error_type {
                span.set_status(Status::error(""));
                span.set_attribute(KeyValue::new(attr::ERROR_TYPE, error_type.clone()));
            }
            if let Some(code) = &code {
                span.set_attribute(KeyValue::new(attr::DB_RESPONSE_STATUS_CODE, code.clone()));
            }
            parent.with_span(span)
        });
        let _active = cx.as_ref().map(|cx| cx.clone().attach());

        state.observe_duration(parsed, error_type.as_deref(), elapsed.as_secs_f64());
        let slow = executed && elapsed >= state.slow_threshold;
        if slow {
            state.count_slow(parsed);
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
        let span = cx.as_ref().map(|cx| cx.span());
        if error.is_some() || slow {
            // The lines' span, with what the span of a bridged query would have recorded.
            let summary = &*parsed.summary;
            let text = state
                .capture_query_text
                .then(|| sanitize(self.sql, state.dialect));
            let lines = tracing::info_span!(
                target: DATABASE_TARGET,
                parent: &self.parent,
                "db.query",
                otel.skip = true,
                db.system.name = state.system,
                db.operation.name = parsed.operation,
                db.collection.name = parsed.collection.as_deref(),
                db.query.summary = (!summary.is_empty()).then_some(summary),
                db.query.text = text.as_deref(),
                db.response.returned_rows =
                    (self.rows_returned > 0).then(|| report::int(self.rows_returned)),
                error.type = error_type.as_deref(),
                db.response.status_code = code.as_deref(),
            );
            let _entered = lines.enter();
            match (error, &error_type) {
                (Some(error), Some(error_type)) => {
                    report.failed(error, error_type, code.as_deref(), span.as_ref());
                }
                _ => report.slow(span.as_ref()),
            }
        }
        if let Some(span) = span {
            span.end();
        }
    }
}

/// How many attributes a query's span can get: 5 at the start (`query_attributes`), 3 at the
/// end (`Op::finish`).
const MAX_ATTRIBUTES: usize = 8;

/// The query's attributes, handed one by one to `add` (the builder's list or the span).
fn query_attributes(state: &PoolState, parsed: &Parsed, sql: &str, mut add: impl FnMut(KeyValue)) {
    add(KeyValue::new(attr::DB_SYSTEM_NAME, state.system));
    if let Some(op) = parsed.operation {
        add(KeyValue::new(attr::DB_OPERATION_NAME, op));
    }
    if let Some(collection) = &parsed.collection {
        add(KeyValue::new(attr::DB_COLLECTION_NAME, collection.clone()));
    }
    if !parsed.summary.is_empty() {
        add(KeyValue::new(
            attr::DB_QUERY_SUMMARY,
            parsed.summary.clone(),
        ));
    }
    if state.capture_query_text {
        add(KeyValue::new(
            attr::DB_QUERY_TEXT,
            sanitize(sql, state.dialect),
        ));
    }
}

/// `db.response.returned_rows` (still experimental in the semantic conventions, so not among
/// the stable names the crate exports by default).
const ROWS_RETURNED: &str = "db.response.returned_rows";

/// Starts the exported span, child of the active context (the request's server span, or the
/// span of whatever `tracing` span the query runs in); `None` when traces are off or the
/// sampler drops it.
fn start_span(
    state: &PoolState,
    parsed: &Parsed,
    sql: &str,
) -> Option<(glimpse_telemetry::otel::sdk::trace::Span, Context)> {
    let (tracer, head) = glimpse_telemetry::traces::tracer_with_head_sampling()?;
    let parent = Context::current();
    // Refused whatever its trace id: nothing would be recorded, so nothing is built.
    if head.refuses(&parent) {
        return None;
    }
    // The summary (`SELECT users`), or the system for a statement without one. A cached
    // statement's strings are interned (`Parsed`): cloning them allocates nothing.
    let text = &parsed.summary;
    let name = if text.is_empty() {
        Cow::Borrowed(state.system)
    } else {
        text.clone()
    };
    // When the span is recorded whatever its trace id, its attributes go in the builder's list,
    // with room for the 3 of the end: the SDK takes the list as the span's own in one move, not
    // a call each. Otherwise they are set once the sampler said the span records (a ratio
    // sampler refuses most spans after their trace id is drawn: no list is made for those).
    let early = head.records(&parent);
    let mut attributes = Vec::new();
    if early {
        attributes.reserve_exact(MAX_ATTRIBUTES);
        query_attributes(state, parsed, sql, |kv| attributes.push(kv));
    }
    let mut span = tracer
        .span_builder(name)
        .with_kind(SpanKind::Client)
        .with_attributes(attributes)
        .start_with_context(&tracer, &parent);
    if !span.is_recording() {
        return None;
    }
    if !early {
        query_attributes(state, parsed, sql, |kv| span.set_attribute(kv));
    }
    Some((span, parent))
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
