//! One pool's state, shared by all its queries: its configuration, its metric handles, the
//! cache of parsed statements, and the measured acquire of a connection.

use std::borrow::Cow;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use glimpse_telemetry::metrics::catalogue::{
    DB_CLIENT_CONNECTION_TIMEOUTS, DB_CLIENT_CONNECTION_WAIT_TIME, DB_CLIENT_OPERATION_DURATION,
    DB_CLIENT_SLOW_QUERIES, DB_CLIENT_TRANSACTIONS,
};
use glimpse_telemetry::metrics::{Counter, Family, Histogram};
use glimpse_telemetry::traces::intern;
use sqlx::Database;
use sqlx::pool::PoolConnection;

use crate::config::Config;
use crate::sql::{Dialect, Summary};
use crate::{DATABASE_TARGET, SupportedDatabase};

/// Statements longer than this are parsed every time rather than cached.
const MAX_CACHED_SQL_LEN: usize = 1024;
/// The most statements cached per pool; the cache starts over when full, so memory stays
/// under `MAX_CACHED_STATEMENTS * MAX_CACHED_SQL_LEN` even when every statement is new.
const MAX_CACHED_STATEMENTS: usize = 512;

/// What a statement's text says, parsed once per distinct text.
pub(crate) struct Parsed {
    pub(crate) operation: Option<&'static str>,
    /// Already `None` when the pool does not report table names.
    pub(crate) collection: Option<Cow<'static, str>>,
    /// Also the span's name when not empty. Like `collection`, the process's interned copy for
    /// a cached statement, so each query's span borrows it (see `traces::intern`).
    pub(crate) summary: Cow<'static, str>,
    /// The duration histogram's series for this statement's successes (most observations).
    ok_duration: OnceLock<Histogram>,
}

impl Parsed {
    /// `cached`: the parse is kept for later queries of the same text, so its strings are
    /// worth interning (once per statement, not per query: `intern` takes a lock).
    fn new(sql: &str, dialect: Dialect, collection_names: bool, cached: bool) -> Parsed {
        let s = Summary::parse(sql, dialect);
        let keep = |text: &str| match cached.then(|| intern(text)).flatten() {
            Some(kept) => Cow::Borrowed(kept),
            None => Cow::Owned(text.to_owned()),
        };
        Parsed {
            operation: s.operation(),
            collection: s.collection().filter(|_| collection_names).map(keep),
            summary: keep(s.text()),
            ok_duration: OnceLock::new(),
        }
    }

    /// `db_operation_name` and `db_collection_name`, empty when unknown.
    fn labels(&self) -> (&'static str, &str) {
        (
            self.operation.unwrap_or(""),
            self.collection.as_deref().unwrap_or(""),
        )
    }
}

/// What every query of one pool shares: its configuration, metric handles and statement cache.
pub(crate) struct PoolState {
    pub(crate) pool_name: Box<str>,
    pub(crate) system: &'static str,
    pub(crate) dialect: Dialect,
    pub(crate) slow_threshold: Duration,
    pub(crate) capture_query_text: bool,
    pub(crate) collection_names: bool,
    duration: Option<Family<Histogram>>,
    slow: Option<Family<Counter>>,
    /// `db_client_connection_wait_time_seconds{pool}`.
    wait_time: Histogram,
    /// `db_client_connection_timeouts_total{pool}`.
    timeouts: Counter,
    /// Callers inside [`PoolState::acquire`] now.
    pending: AtomicI64,
    /// `db_client_transactions_total{system, pool, outcome}`.
    pub(crate) transactions: Transactions,
    statements: RwLock<hashbrown::HashMap<Box<str>, Arc<Parsed>>>,
}

impl std::fmt::Debug for PoolState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolState")
            .field("pool_name", &self.pool_name)
            .field("system", &self.system)
            .field("slow_threshold", &self.slow_threshold)
            .finish_non_exhaustive()
    }
}

impl PoolState {
    pub(crate) fn new<DB: SupportedDatabase>(config: &Config) -> PoolState {
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
                target: DATABASE_TARGET,
                component = glimpse_telemetry::logs::catalogue::COMPONENT_DATABASE,
                errors = %failed.join("; "),
                db.client.connection.pool.name = pool,
                "database metrics could not be registered; queries are still traced"
            );
        }
        PoolState {
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
    pub(crate) fn parsed(&self, sql: &str) -> Arc<Parsed> {
        let cacheable = sql.len() <= MAX_CACHED_SQL_LEN;
        if cacheable {
            let cache = self.statements.read().unwrap_or_else(|e| e.into_inner());
            if let Some(p) = cache.get(sql) {
                return p.clone();
            }
        }
        let parsed = Arc::new(Parsed::new(
            sql,
            self.dialect,
            self.collection_names,
            cacheable,
        ));
        if cacheable {
            let mut cache = self.statements.write().unwrap_or_else(|e| e.into_inner());
            if cache.len() >= MAX_CACHED_STATEMENTS {
                cache.clear();
            }
            cache.insert(sql.into(), parsed.clone());
        }
        parsed
    }

    /// Observes a statement's duration in `db_client_operation_duration_seconds`, under its
    /// `error_type` (`None` for a success, whose series the statement's parse keeps).
    pub(crate) fn observe_duration(&self, parsed: &Parsed, error_type: Option<&str>, secs: f64) {
        let Some(family) = &self.duration else {
            return;
        };
        let (operation, collection) = parsed.labels();
        match error_type {
            None => parsed
                .ok_duration
                .get_or_init(|| family.get_or_create(&[self.system, operation, collection, ""]))
                .observe(secs),
            Some(e) => family
                .get_or_create(&[self.system, operation, collection, e])
                .observe(secs),
        }
    }

    /// Counts a slow statement in `db_client_slow_queries_total`.
    pub(crate) fn count_slow(&self, parsed: &Parsed) {
        if let Some(family) = &self.slow {
            let (operation, collection) = parsed.labels();
            family
                .get_or_create(&[self.system, operation, collection])
                .inc();
        }
    }

    /// Callers waiting for a connection now (`db_client_connection_pending_requests`).
    pub(crate) fn pending(&self) -> u32 {
        u32::try_from(self.pending.load(Ordering::Relaxed).max(0)).unwrap_or(u32::MAX)
    }

    /// `pool.acquire()`, counted in the pending gauge while it waits, its wait observed in
    /// `db_client_connection_wait_time_seconds` and its timeout in
    /// `db_client_connection_timeouts_total`.
    pub(crate) async fn acquire<DB: Database>(
        &self,
        pool: &sqlx::Pool<DB>,
    ) -> Result<PoolConnection<DB>, sqlx::Error> {
        let started = Instant::now();
        self.pending.fetch_add(1, Ordering::Relaxed);
        let pending = Pending(self);
        let result = pool.acquire().await;
        drop(pending);
        match &result {
            Ok(_) => self.wait_time.observe(started.elapsed().as_secs_f64()),
            Err(sqlx::Error::PoolTimedOut) => self.timeouts.inc(),
            Err(_) => {}
        }
        result
    }
}

/// The series of `db_client_transactions_total` of one pool, created with the pool (so every
/// outcome reads 0 before the first transaction).
pub(crate) struct Transactions {
    pub(crate) commit: Counter,
    pub(crate) rollback: Counter,
    pub(crate) error: Counter,
}

/// Decrements the pending count however the acquire ends (including when its future is
/// dropped).
struct Pending<'a>(&'a PoolState);

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.0.pending.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "sqlite")]
    #[test]
    fn statements_are_parsed_once_and_the_cache_stays_bounded() {
        let state = PoolState::new::<sqlx::Sqlite>(&Config::new("cache-test"));
        let a = state.parsed("SELECT * FROM users WHERE id = ?");
        let b = state.parsed("SELECT * FROM users WHERE id = ?");
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(
            (a.operation, a.collection.as_deref(), &*a.summary),
            (Some("SELECT"), Some("users"), "SELECT users")
        );
        for i in 0..MAX_CACHED_STATEMENTS * 3 {
            state.parsed(&format!("SELECT {i}"));
            let len = state.statements.read().unwrap().len();
            assert!(len <= MAX_CACHED_STATEMENTS);
        }
        let long = format!("SELECT 1 -- {}", "x".repeat(MAX_CACHED_SQL_LEN));
        let (c, d) = (state.parsed(&long), state.parsed(&long));
        assert!(!Arc::ptr_eq(&c, &d), "long statements are not cached");
        let no_tables =
            PoolState::new::<sqlx::Sqlite>(&Config::new("cache-test-2").collection_names(false));
        assert_eq!(no_tables.parsed("DELETE FROM t").collection, None);
    }

    /// A cached statement's summary and table are the process's interned copies (each query's
    /// span borrows them); a statement too long to cache takes no part of that bounded store.
    #[cfg(feature = "sqlite")]
    #[test]
    fn cached_statements_borrow_interned_strings() {
        let state = PoolState::new::<sqlx::Sqlite>(&Config::new("intern-test"));
        let a = state.parsed("SELECT name FROM accounts WHERE id = ?");
        let (Cow::Borrowed(summary), Some(Cow::Borrowed(table))) = (&a.summary, &a.collection)
        else {
            panic!("interned: {:?} {:?}", a.summary, a.collection);
        };
        assert!(std::ptr::eq(*summary, intern("SELECT accounts").unwrap()));
        assert!(std::ptr::eq(*table, intern("accounts").unwrap()));
        let long = format!("SELECT 1 FROM ledger -- {}", "x".repeat(MAX_CACHED_SQL_LEN));
        let b = state.parsed(&long);
        assert!(
            matches!(b.summary, Cow::Owned(_)),
            "not cached, not interned"
        );
        assert_eq!(&*b.summary, "SELECT ledger");
    }
}
