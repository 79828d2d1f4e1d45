//! The instrumented executors: [`InstrumentedPool`] (`&pool`), and the connection and
//! transaction it lends ([`InstrumentedConnection`], [`InstrumentedTransaction`]), both of which
//! dereference to a [`TracedConnection`] so that sqlx's usual `&mut *conn` / `&mut *tx` runs
//! through the instrumentation too.
//!
//! Every measured query then takes the one path of `run.rs`; the executors here only say where
//! its connection comes from (the pool, or the connection held).

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use futures_core::future::BoxFuture;
use futures_core::stream::BoxStream;
use sqlx::pool::{MaybePoolConnection, PoolConnection};
use sqlx::{Database, Describe, Either, Error, Execute, Executor, Transaction};

use crate::SupportedDatabase;
use crate::config::Config;
use crate::pool::{self, PoolEntry, PoolStats};
use crate::pool_state::PoolState;
use crate::query::Op;
use crate::run::{Source, acquire_for, fetch_many, fetch_optional};

/// A sqlx pool whose queries are measured. Use `&pool` wherever sqlx takes an executor, as
/// with [`sqlx::Pool`]: `sqlx::query(..).fetch_all(&pool)` is unchanged.
///
/// Get one with [`instrument`](crate::instrument) or [`Config::instrument`]; it is a cheap
/// handle (clone it freely), like `sqlx::Pool`. It deliberately does not dereference to
/// `sqlx::Pool`: a function that takes `&sqlx::PgPool` would then silently receive the bare
/// pool and its queries would go unmeasured; with [`PgPool`](crate::PgPool) (this type) in its
/// signature instead, the compiler points at every such place. [`inner`](Self::inner) gives the
/// bare pool where one is really needed.
///
/// ```
/// # #[cfg(feature = "sqlite")]
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use glimpse_telemetry_sqlx::SqlitePool;
///
/// async fn count(pool: &SqlitePool) -> Result<i64, sqlx::Error> {
///     sqlx::query_scalar("SELECT count(*) FROM sqlite_master").fetch_one(pool).await
/// }
///
/// let pool = sqlx::SqlitePool::connect("sqlite::memory:").await?;
/// let pool = glimpse_telemetry_sqlx::instrument(&pool, "main");
/// assert_eq!(count(&pool).await?, 0);
/// # Ok::<(), sqlx::Error>(()) }).unwrap();
/// ```
pub struct InstrumentedPool<DB: SupportedDatabase> {
    entry: Arc<PoolEntry<DB>>,
}

impl<DB: SupportedDatabase> Clone for InstrumentedPool<DB> {
    fn clone(&self) -> Self {
        InstrumentedPool {
            entry: self.entry.clone(),
        }
    }
}

impl<DB: SupportedDatabase> fmt::Debug for InstrumentedPool<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstrumentedPool")
            .field("name", &self.entry.state.pool_name)
            .field("system", &self.entry.state.system)
            .field("stats", &self.entry.stats())
            .finish()
    }
}

impl<DB: SupportedDatabase> InstrumentedPool<DB> {
    pub(crate) fn new(pool: sqlx::Pool<DB>, config: Config) -> Self {
        if !config.keep_sqlx_statement_logs {
            use sqlx::ConnectOptions as _;
            let options = (*pool.connect_options())
                .clone()
                .disable_statement_logging();
            pool.set_connect_options(options);
        }
        let state = Arc::new(PoolState::new::<DB>(&config));
        let entry = Arc::new(PoolEntry { pool, state });
        pool::register(&entry);
        InstrumentedPool { entry }
    }

    /// The bare sqlx pool: queries run on it are not measured.
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")]
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let pool = glimpse_telemetry_sqlx::instrument(&sqlx::SqlitePool::connect("sqlite::memory:").await?, "main");
    /// assert_eq!(pool.inner().options().get_max_connections(), 10);
    /// # Ok::<(), sqlx::Error>(()) }).unwrap();
    /// ```
    pub fn inner(&self) -> &sqlx::Pool<DB> {
        &self.entry.pool
    }

    /// The pool's name (`db_client_connection_pool_name`).
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")]
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let pool = glimpse_telemetry_sqlx::instrument(&sqlx::SqlitePool::connect("sqlite::memory:").await?, "cache");
    /// assert_eq!(pool.name(), "cache");
    /// # Ok::<(), sqlx::Error>(()) }).unwrap();
    /// ```
    pub fn name(&self) -> &str {
        &self.entry.state.pool_name
    }

    /// The pool's connections now: what the next scrape would report for it.
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")]
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let pool = glimpse_telemetry_sqlx::instrument(&sqlx::SqlitePool::connect("sqlite::memory:").await?, "main");
    /// let conn = pool.acquire().await?;
    /// assert_eq!(pool.stats().used, 1);
    /// drop(conn);
    /// # Ok::<(), sqlx::Error>(()) }).unwrap();
    /// ```
    pub fn stats(&self) -> PoolStats {
        self.entry.stats()
    }

    /// Takes a connection from the pool, measuring the wait. Queries on `&mut *conn` are
    /// measured; the connection returns to the pool when dropped.
    ///
    /// # Errors
    /// As [`sqlx::Pool::acquire`]: [`sqlx::Error::PoolTimedOut`] after `acquire_timeout`
    /// (counted in `db_client_connection_timeouts_total`), [`sqlx::Error::PoolClosed`].
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")]
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let pool = glimpse_telemetry_sqlx::instrument(&sqlx::SqlitePool::connect("sqlite::memory:").await?, "main");
    /// let mut conn = pool.acquire().await?;
    /// sqlx::query("CREATE TEMP TABLE t (x INTEGER)").execute(&mut *conn).await?;
    /// sqlx::query("INSERT INTO t VALUES (1)").execute(&mut *conn).await?;
    /// # Ok::<(), sqlx::Error>(()) }).unwrap();
    /// ```
    pub async fn acquire(&self) -> Result<InstrumentedConnection<DB>, Error> {
        let state = &self.entry.state;
        let conn = state.acquire(&self.entry.pool).await?;
        Ok(InstrumentedConnection {
            inner: TracedConnection {
                conn: Inner::Pool(conn),
                state: state.clone(),
            },
        })
    }

    /// Takes a connection and begins a transaction on it (`BEGIN` is measured as an
    /// operation). Queries on `&mut *tx` are measured, and so are
    /// [`commit`](InstrumentedTransaction::commit) and
    /// [`rollback`](InstrumentedTransaction::rollback). Dropped without either, it rolls
    /// back, as sqlx's transactions do.
    ///
    /// # Errors
    /// As [`sqlx::Pool::begin`].
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")]
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let pool = glimpse_telemetry_sqlx::instrument(&sqlx::SqlitePool::connect("sqlite::memory:").await?, "main");
    /// let mut tx = pool.begin().await?;
    /// sqlx::query("CREATE TABLE t (x INTEGER)").execute(&mut *tx).await?;
    /// tx.commit().await?;
    /// # Ok::<(), sqlx::Error>(()) }).unwrap();
    /// ```
    pub async fn begin(&self) -> Result<InstrumentedTransaction<DB>, Error> {
        let state = self.entry.state.clone();
        let mut op = Op::new(state.clone(), "BEGIN");
        let failed = |_: &Error| state.transactions.error.inc();
        let conn = acquire_for(&self.entry, &mut op)
            .await
            .inspect_err(failed)?;
        let result = Transaction::begin(MaybePoolConnection::PoolConnection(conn), None).await;
        op.finish(result.as_ref().err());
        let tx = result.inspect_err(failed)?;
        Ok(InstrumentedTransaction {
            open: Open {
                state: state.clone(),
                ended: false,
            },
            inner: TracedConnection {
                conn: Inner::Transaction(tx),
                state,
            },
        })
    }

    /// Closes the pool, as [`sqlx::Pool::close`]: waits for lent connections to come back,
    /// then closes them all. The pool leaves the scrape.
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")]
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let pool = glimpse_telemetry_sqlx::instrument(&sqlx::SqlitePool::connect("sqlite::memory:").await?, "main");
    /// pool.close().await;
    /// assert!(pool.is_closed());
    /// # Ok::<(), sqlx::Error>(()) }).unwrap();
    /// ```
    pub async fn close(&self) {
        self.entry.pool.close().await;
    }

    /// Whether [`close`](Self::close) was called.
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")]
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let pool = glimpse_telemetry_sqlx::instrument(&sqlx::SqlitePool::connect("sqlite::memory:").await?, "main");
    /// assert!(!pool.is_closed());
    /// # Ok::<(), sqlx::Error>(()) }).unwrap();
    /// ```
    pub fn is_closed(&self) -> bool {
        self.entry.pool.is_closed()
    }
}

impl<'p, DB: SupportedDatabase> Executor<'p> for &'_ InstrumentedPool<DB> {
    type Database = DB;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<DB::QueryResult, DB::Row>, Error>>
    where
        E: 'q + Execute<'q, DB>,
    {
        let op = Op::new(self.entry.state.clone(), query.sql());
        fetch_many(op, Source::Pool(self.entry.clone()), query)
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<DB::Row>, Error>>
    where
        E: 'q + Execute<'q, DB>,
    {
        let op = Op::new(self.entry.state.clone(), query.sql());
        fetch_optional(op, Source::Pool(self.entry.clone()), query)
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [DB::TypeInfo],
    ) -> BoxFuture<'e, Result<DB::Statement<'q>, Error>> {
        let entry = self.entry.clone();
        Box::pin(async move {
            let mut conn = entry.state.acquire(&entry.pool).await?;
            DB::prepare_with(&mut *conn, sql, parameters).await
        })
    }

    fn describe<'e, 'q: 'e>(self, sql: &'q str) -> BoxFuture<'e, Result<Describe<DB>, Error>> {
        let entry = self.entry.clone();
        Box::pin(async move {
            let mut conn = entry.state.acquire(&entry.pool).await?;
            DB::describe(&mut *conn, sql).await
        })
    }
}

enum Inner<DB: Database> {
    Pool(PoolConnection<DB>),
    Transaction(Transaction<'static, DB>),
}

/// A connection whose queries are measured: what `&mut *conn` and `&mut *tx` give for an
/// [`InstrumentedConnection`] and an [`InstrumentedTransaction`]. Pass it on as
/// `&mut PgConnection` (this crate's alias, [`crate::PgConnection`]) or as any
/// `impl sqlx::Executor`.
///
/// It does not dereference to the driver's connection, for the same reason as
/// [`InstrumentedPool`]; [`as_raw`](Self::as_raw) gives it where one is really needed
/// (its queries are not measured).
///
/// ```
/// # #[cfg(feature = "sqlite")]
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use glimpse_telemetry_sqlx::SqliteConnection;
///
/// async fn add(conn: &mut SqliteConnection, x: i64) -> Result<(), sqlx::Error> {
///     sqlx::query("INSERT INTO t VALUES (?)").bind(x).execute(conn).await.map(drop)
/// }
///
/// let pool = glimpse_telemetry_sqlx::instrument(&sqlx::SqlitePool::connect("sqlite::memory:").await?, "main");
/// let mut tx = pool.begin().await?;
/// sqlx::query("CREATE TABLE t (x INTEGER)").execute(&mut *tx).await?;
/// add(&mut tx, 1).await?;
/// tx.commit().await?;
/// # Ok::<(), sqlx::Error>(()) }).unwrap();
/// ```
pub struct TracedConnection<DB: SupportedDatabase> {
    conn: Inner<DB>,
    state: Arc<PoolState>,
}

impl<DB: SupportedDatabase> fmt::Debug for TracedConnection<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracedConnection")
            .field("pool", &self.state.pool_name)
            .field("system", &self.state.system)
            .field("transaction", &matches!(self.conn, Inner::Transaction(_)))
            .finish()
    }
}

impl<DB: SupportedDatabase> TracedConnection<DB> {
    /// The driver's connection: queries run on it are not measured.
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")]
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use sqlx::Connection as _;
    /// let pool = glimpse_telemetry_sqlx::instrument(&sqlx::SqlitePool::connect("sqlite::memory:").await?, "main");
    /// let mut conn = pool.acquire().await?;
    /// conn.as_raw().ping().await?;
    /// # Ok::<(), sqlx::Error>(()) }).unwrap();
    /// ```
    pub fn as_raw(&mut self) -> &mut DB::Connection {
        match &mut self.conn {
            Inner::Pool(c) => c,
            Inner::Transaction(t) => t,
        }
    }
}

impl<'t, DB: SupportedDatabase> Executor<'t> for &'t mut TracedConnection<DB> {
    type Database = DB;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<DB::QueryResult, DB::Row>, Error>>
    where
        't: 'e,
        E: 'q + Execute<'q, DB>,
    {
        let op = Op::new(self.state.clone(), query.sql());
        fetch_many(op, Source::Held(self.as_raw()), query)
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<DB::Row>, Error>>
    where
        't: 'e,
        E: 'q + Execute<'q, DB>,
    {
        let op = Op::new(self.state.clone(), query.sql());
        fetch_optional(op, Source::Held(self.as_raw()), query)
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [DB::TypeInfo],
    ) -> BoxFuture<'e, Result<DB::Statement<'q>, Error>>
    where
        't: 'e,
    {
        DB::prepare_with(self.as_raw(), sql, parameters)
    }

    fn describe<'e, 'q: 'e>(self, sql: &'q str) -> BoxFuture<'e, Result<Describe<DB>, Error>>
    where
        't: 'e,
    {
        DB::describe(self.as_raw(), sql)
    }
}

/// A connection lent by [`InstrumentedPool::acquire`]; returns to the pool when dropped.
/// `&mut *conn` is its measured executor ([`TracedConnection`]).
pub struct InstrumentedConnection<DB: SupportedDatabase> {
    inner: TracedConnection<DB>,
}

impl<DB: SupportedDatabase> fmt::Debug for InstrumentedConnection<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl<DB: SupportedDatabase> Deref for InstrumentedConnection<DB> {
    type Target = TracedConnection<DB>;
    fn deref(&self) -> &TracedConnection<DB> {
        &self.inner
    }
}

impl<DB: SupportedDatabase> DerefMut for InstrumentedConnection<DB> {
    fn deref_mut(&mut self) -> &mut TracedConnection<DB> {
        &mut self.inner
    }
}

/// A transaction begun by [`InstrumentedPool::begin`]. `&mut *tx` is its measured executor
/// ([`TracedConnection`]); [`commit`](Self::commit) and [`rollback`](Self::rollback) are measured
/// as `COMMIT` and `ROLLBACK`. Dropped without either, it rolls back.
///
/// Each transaction is counted once in `db_client_transactions_total{outcome}`: `commit`,
/// `rollback` (explicit, or dropped without either), or `error` (`BEGIN`, `COMMIT` or
/// `ROLLBACK` failed).
pub struct InstrumentedTransaction<DB: SupportedDatabase> {
    inner: TracedConnection<DB>,
    open: Open,
}

/// Counts a transaction dropped without commit or rollback as a rollback (sqlx rolls it back).
struct Open {
    state: Arc<PoolState>,
    ended: bool,
}

/// How a transaction ended.
enum Outcome {
    Commit,
    Rollback,
    Error,
}

/// Counts a transaction's end once: its outcome, or `error` when the commit or rollback was
/// dropped before it finished.
struct Ended {
    state: Arc<PoolState>,
    outcome: Option<Outcome>,
}

impl Drop for Ended {
    fn drop(&mut self) {
        let t = &self.state.transactions;
        match self.outcome {
            Some(Outcome::Commit) => t.commit.inc(),
            Some(Outcome::Rollback) => t.rollback.inc(),
            Some(Outcome::Error) | None => t.error.inc(),
        }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        if !self.ended {
            self.state.transactions.rollback.inc();
        }
    }
}

impl<DB: SupportedDatabase> fmt::Debug for InstrumentedTransaction<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl<DB: SupportedDatabase> Deref for InstrumentedTransaction<DB> {
    type Target = TracedConnection<DB>;
    fn deref(&self) -> &TracedConnection<DB> {
        &self.inner
    }
}

impl<DB: SupportedDatabase> DerefMut for InstrumentedTransaction<DB> {
    fn deref_mut(&mut self) -> &mut TracedConnection<DB> {
        &mut self.inner
    }
}

impl<DB: SupportedDatabase> InstrumentedTransaction<DB> {
    async fn end(self, sql: &'static str, commit: bool) -> Result<(), Error> {
        let InstrumentedTransaction { inner, mut open } = self;
        let TracedConnection { conn, state } = inner;
        let Inner::Transaction(tx) = conn else {
            return Ok(()); // never built: an InstrumentedTransaction always holds a transaction
        };
        // Counted here, whatever happens next (a future dropped mid-commit counts as an error).
        open.ended = true;
        let mut op = Op::new(state.clone(), sql);
        op.executing();
        let mut counted = Ended {
            state,
            outcome: None,
        };
        let result = if commit {
            tx.commit().await
        } else {
            tx.rollback().await
        };
        op.finish(result.as_ref().err());
        counted.outcome = Some(match (&result, commit) {
            (Ok(()), true) => Outcome::Commit,
            (Ok(()), false) => Outcome::Rollback,
            (Err(_), _) => Outcome::Error,
        });
        result
    }

    /// Commits, measured as a `COMMIT` operation.
    ///
    /// # Errors
    /// As [`sqlx::Transaction::commit`].
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")]
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let pool = glimpse_telemetry_sqlx::instrument(&sqlx::SqlitePool::connect("sqlite::memory:").await?, "main");
    /// pool.begin().await?.commit().await?;
    /// # Ok::<(), sqlx::Error>(()) }).unwrap();
    /// ```
    pub async fn commit(self) -> Result<(), Error> {
        self.end("COMMIT", true).await
    }

    /// Rolls back, measured as a `ROLLBACK` operation.
    ///
    /// # Errors
    /// As [`sqlx::Transaction::rollback`].
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")]
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let pool = glimpse_telemetry_sqlx::instrument(&sqlx::SqlitePool::connect("sqlite::memory:").await?, "main");
    /// pool.begin().await?.rollback().await?;
    /// # Ok::<(), sqlx::Error>(()) }).unwrap();
    /// ```
    pub async fn rollback(self) -> Result<(), Error> {
        self.end("ROLLBACK", false).await
    }
}
