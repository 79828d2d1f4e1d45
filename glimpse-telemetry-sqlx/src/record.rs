//! One query, measured: its span, its duration in `db_client_operation_duration_seconds`, and
//! the slow-query and failure reports.

use std::borrow::Cow;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use glimpse_telemetry::metrics::catalogue::{
    DB_CLIENT_CONNECTION_TIMEOUTS, DB_CLIENT_CONNECTION_WAIT_TIME, DB_CLIENT_OPERATION_DURATION,
    DB_CLIENT_SLOW_QUERIES, DB_CLIENT_TRANSACTIONS,
};
use glimpse_telemetry::metrics::{Counter, Family, Histogram};
use sqlx::Either;
use tracing::Span;
use tracing::field::Empty;

use crate::config::Config;
use crate::report;
use crate::sql::{Dialect, Summary, sanitize};
use crate::{SupportedDatabase, TARGET};

/// Statements longer than this are parsed every time rather than cached.
const MAX_CACHED_SQL_LEN: usize = 1024;
/// The most statements cached per pool; the cache starts over when full, so memory stays
/// under `MAX_CACHED_STATEMENTS * MAX_CACHED_SQL_LEN` even when every statement is new.
const MAX_CACHED_STATEMENTS: usize = 512;

/// What a statement's text says, parsed once per distinct text.
pub(crate) struct Parsed {
    pub(crate) operation: Option<&'static str>,
    /// Already `None` when the pool does not report table names.
    pub(crate) collection: Option<Box<str>>,
    pub(crate) summary: Box<str>,
    /// The duration histogram's series for this statement's successes (most observations).
    ok_duration: OnceLock<Histogram>,
}

impl Parsed {
    fn new(sql: &str, dialect: Dialect, collection_names: bool) -> Parsed {
        let s = Summary::parse(sql, dialect);
        Parsed {
            operation: s.operation(),
            collection: s.collection().filter(|_| collection_names).map(Into::into),
            summary: s.text().into(),
            ok_duration: OnceLock::new(),
        }
    }
}

/// What every query of one pool shares: its configuration and metric handles.
pub(crate) struct Shared {
    pub(crate) pool_name: Box<str>,
    pub(crate) system: &'static str,
    pub(crate) dialect: Dialect,
    pub(crate) slow_threshold: Duration,
    pub(crate) capture_query_text: bool,
    pub(crate) collection_names: bool,
    duration: Option<Family<Histogram>>,
    slow: Option<Family<Counter>>,
    /// `db_client_connection_wait_time_seconds{pool}`.
    pub(crate) wait_time: Histogram,
    /// `db_client_connection_timeouts_total{pool}`.
    pub(crate) timeouts: Counter,
    /// Callers inside [`Shared::acquire`](crate::pool) now.
    pub(crate) pending: AtomicI64,
    /// `db_client_transactions_total{system, pool, outcome}`.
    pub(crate) transactions: Transactions,
    statements: RwLock<hashbrown::HashMap<Box<str>, Arc<Parsed>>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("pool_name", &self.pool_name)
            .field("system", &self.system)
            .field("slow_threshold", &self.slow_threshold)
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub(crate) fn new<DB: SupportedDatabase>(config: &Config) -> Shared {
        let mut failed = Vec::new();
        let mut note =
            |name: &str, e: glimpse_telemetry::Error| failed.push(format!("{name}: {e}"));
        let duration = DB_CLIENT_OPERATION_DURATION
            .register::<Histogram>()
            .map_err(|e| note(DB_CLIENT_OPERATION_DURATION.name, e))
            .ok();
        let slow = DB_CLIENT_SLOW_QUERIES
            .register::<Counter>()
            .map_err(|e| note(DB_CLIENT_SLOW_QUERIES.name, e))
            .ok();
        let pool = config.pool_name.as_str();
        let wait_time = DB_CLIENT_CONNECTION_WAIT_TIME
            .register::<Histogram>()
            .map_err(|e| note(DB_CLIENT_CONNECTION_WAIT_TIME.name, e))
            .map(|f| f.get_or_create(&[pool]))
            .unwrap_or_else(|()| Histogram::new(&[]));
        let timeouts = DB_CLIENT_CONNECTION_TIMEOUTS
            .register::<Counter>()
            .map_err(|e| note(DB_CLIENT_CONNECTION_TIMEOUTS.name, e))
            .map(|f| f.get_or_create(&[pool]))
            .unwrap_or_default();
        let transactions = DB_CLIENT_TRANSACTIONS
            .register::<Counter>()
            .map_err(|e| note(DB_CLIENT_TRANSACTIONS.name, e))
            .ok();
        let system = config.system_name.unwrap_or(DB::SYSTEM_NAME);
        let tx = |outcome: &str| {
            transactions
                .as_ref()
                .map(|f| f.get_or_create(&[system, pool, outcome]))
                .unwrap_or_default()
        };
        let transactions = Transactions {
            commit: tx("commit"),
            rollback: tx("rollback"),
            error: tx("error"),
        };
        if !failed.is_empty() {
            tracing::warn!(
                target: TARGET,
                component = glimpse_telemetry::logs::catalogue::COMPONENT_DATABASE,
                errors = %failed.join("; "),
                db.client.connection.pool.name = pool,
                "database metrics could not be registered; queries are still traced"
            );
        }
        Shared {
            pool_name: pool.into(),
            system,
            dialect: DB::DIALECT,
            slow_threshold: config.slow_threshold,
            capture_query_text: config.capture_query_text,
            collection_names: config.collection_names,
            duration,
            slow,
            wait_time,
            timeouts,
            pending: AtomicI64::new(0),
            transactions,
            statements: RwLock::new(hashbrown::HashMap::new()),
        }
    }

    /// The parse of `sql`, from the cache when this text was seen before.
    fn parsed(&self, sql: &str) -> Arc<Parsed> {
        let cacheable = sql.len() <= MAX_CACHED_SQL_LEN;
        if cacheable {
            let cache = self.statements.read().unwrap_or_else(|e| e.into_inner());
            if let Some(p) = cache.get(sql) {
                return p.clone();
            }
        }
        let parsed = Arc::new(Parsed::new(sql, self.dialect, self.collection_names));
        if cacheable {
            let mut cache = self.statements.write().unwrap_or_else(|e| e.into_inner());
            if cache.len() >= MAX_CACHED_STATEMENTS {
                cache.clear();
            }
            cache.insert(sql.into(), parsed.clone());
        }
        parsed
    }
}

/// The series of `db_client_transactions_total` of one pool, created with the pool (so every
/// outcome reads 0 before the first transaction).
pub(crate) struct Transactions {
    pub(crate) commit: Counter,
    pub(crate) rollback: Counter,
    pub(crate) error: Counter,
}

/// One operation being measured. Recording happens once, in [`Op::finish`] or, when the
/// caller drops the query before its end, in `Drop`.
pub(crate) struct Op<'q> {
    shared: Arc<Shared>,
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
    pub(crate) fn new(shared: Arc<Shared>, sql: &'q str) -> Op<'q> {
        let parsed = shared.parsed(sql);
        let text = &*parsed.summary;
        let name = if text.is_empty() { shared.system } else { text };
        let span = tracing::info_span!(
            target: TARGET,
            "db.query",
            otel.name = name,
            otel.kind = "client",
            otel.status_code = Empty,
            db.system.name = shared.system,
            db.operation.name = parsed.operation,
            db.collection.name = parsed.collection.as_deref(),
            db.query.summary = (!text.is_empty()).then_some(text),
            db.query.text = Empty,
            db.response.returned_rows = Empty,
            db.response.status_code = Empty,
            error.type = Empty,
        );
        if shared.capture_query_text && !span.is_disabled() {
            span.record("db.query.text", sanitize(sql, shared.dialect).as_str());
        }
        Op {
            shared,
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
        let shared = &*self.shared;
        // Without a connection (a pool timeout) the operation lasted as long as the wait.
        let (elapsed, executed) = match self.executing {
            Some(t) => (t.elapsed(), true),
            None => (self.called.elapsed(), false),
        };
        let error_type = error.map(error_type);
        let parsed = &*self.parsed;
        let operation = parsed.operation.unwrap_or("");
        let collection = parsed.collection.as_deref().unwrap_or("");
        if let Some(family) = &shared.duration {
            let secs = elapsed.as_secs_f64();
            match &error_type {
                None => parsed
                    .ok_duration
                    .get_or_init(|| {
                        family.get_or_create(&[shared.system, operation, collection, ""])
                    })
                    .observe(secs),
                Some(e) => family
                    .get_or_create(&[shared.system, operation, collection, e])
                    .observe(secs),
            }
        }
        let slow = executed && elapsed >= shared.slow_threshold;
        if slow {
            if let Some(family) = &shared.slow {
                family
                    .get_or_create(&[shared.system, operation, collection])
                    .inc();
            }
        }
        let span_on = !self.span.is_disabled();
        if span_on && self.rows_returned > 0 {
            self.span
                .record("db.response.returned_rows", report::int(self.rows_returned));
        }
        let report = report::Report {
            pool_name: &shared.pool_name,
            system: shared.system,
            dialect: shared.dialect,
            slow_threshold: shared.slow_threshold,
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

/// The longest SQLSTATE-like code kept as a label value.
const MAX_CODE_LEN: usize = 16;

/// The database's own error code (SQLSTATE for PostgreSQL and MySQL, the extended result code
/// for SQLite), when it looks like one.
pub(crate) fn database_code(error: &sqlx::Error) -> Option<String> {
    match error {
        sqlx::Error::Database(e) => e.code().and_then(|code| {
            let ok = !code.is_empty()
                && code.len() <= MAX_CODE_LEN
                && code.bytes().all(|b| b.is_ascii_alphanumeric());
            ok.then(|| code.into_owned())
        }),
        _ => None,
    }
}

/// `error_type`: the database's error code (`23505`, `42P01`), or the kind of client-side
/// failure (`pool_timed_out`, `io`...): a bounded set either way.
pub(crate) fn error_type(error: &sqlx::Error) -> Cow<'static, str> {
    use sqlx::Error as E;
    let kind = match error {
        E::Database(_) => {
            return match database_code(error) {
                Some(code) => Cow::Owned(code),
                None => Cow::Borrowed("database_error"),
            };
        }
        E::PoolTimedOut => "pool_timed_out",
        E::PoolClosed => "pool_closed",
        E::Io(_) => "io",
        E::Tls(_) => "tls",
        E::Protocol(_) => "protocol",
        E::RowNotFound => "row_not_found",
        E::TypeNotFound { .. } => "type_not_found",
        E::ColumnIndexOutOfBounds { .. } => "column_index_out_of_bounds",
        E::ColumnNotFound(_) => "column_not_found",
        E::ColumnDecode { .. } => "column_decode",
        E::Encode(_) => "encode",
        E::Decode(_) => "decode",
        E::Configuration(_) => "configuration",
        E::InvalidArgument(_) => "invalid_argument",
        E::WorkerCrashed => "worker_crashed",
        E::BeginFailed => "begin_failed",
        E::InvalidSavePointStatement => "invalid_savepoint_statement",
        E::AnyDriverError(_) => "driver",
        _ => "other",
    };
    Cow::Borrowed(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "sqlite")]
    #[test]
    fn statements_are_parsed_once_and_the_cache_stays_bounded() {
        let shared = Shared::new::<sqlx::Sqlite>(&Config::new("cache-test"));
        let a = shared.parsed("SELECT * FROM users WHERE id = ?");
        let b = shared.parsed("SELECT * FROM users WHERE id = ?");
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(
            (a.operation, a.collection.as_deref(), &*a.summary),
            (Some("SELECT"), Some("users"), "SELECT users")
        );
        for i in 0..MAX_CACHED_STATEMENTS * 3 {
            shared.parsed(&format!("SELECT {i}"));
            let len = shared.statements.read().unwrap().len();
            assert!(len <= MAX_CACHED_STATEMENTS);
        }
        let long = format!("SELECT 1 -- {}", "x".repeat(MAX_CACHED_SQL_LEN));
        let (c, d) = (shared.parsed(&long), shared.parsed(&long));
        assert!(!Arc::ptr_eq(&c, &d), "long statements are not cached");
        let no_tables =
            Shared::new::<sqlx::Sqlite>(&Config::new("cache-test-2").collection_names(false));
        assert_eq!(no_tables.parsed("DELETE FROM t").collection, None);
    }

    #[test]
    fn client_errors_have_fixed_types() {
        assert_eq!(error_type(&sqlx::Error::PoolTimedOut), "pool_timed_out");
        assert_eq!(error_type(&sqlx::Error::PoolClosed), "pool_closed");
        assert_eq!(
            error_type(&sqlx::Error::Io(std::io::Error::other("x"))),
            "io"
        );
        assert_eq!(error_type(&sqlx::Error::RowNotFound), "row_not_found");
    }
}
