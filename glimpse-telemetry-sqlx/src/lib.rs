//! sqlx instrumentation for Glimpse services: every query measured, traced and, when slow or
//! failed, reported; every connection pool's usage exposed for the "connections exhausted"
//! alert. PostgreSQL, MySQL/MariaDB and SQLite.
//!
//! # What you write
//!
//! One line where the pool is created, and an import change where its type is named:
//!
//! ```no_run
//! # #[cfg(feature = "postgres")]
//! # mod example {
//! use glimpse_telemetry_sqlx::PgPool; // instead of sqlx::PgPool
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let _telemetry = glimpse_telemetry::init!()?;
//! let pool = sqlx::PgPool::connect("postgres://postgres@127.0.0.1/test").await?;
//! let pool: PgPool = glimpse_telemetry_sqlx::instrument(&pool, "main");
//!
//! // Queries are unchanged.
//! let users: Vec<(i64, String)> = sqlx::query_as("SELECT id, name FROM users WHERE active = $1")
//!     .bind(true)
//!     .fetch_all(&pool)
//!     .await?;
//!
//! // So are transactions and acquired connections: `&mut *tx`, `&mut *conn`.
//! let mut tx = pool.begin().await?;
//! sqlx::query("UPDATE users SET active = false WHERE id = $1").bind(7_i64).execute(&mut *tx).await?;
//! tx.commit().await?;
//! # Ok(()) }
//! # }
//! ```
//!
//! Each query then gives:
//!
//! - `db_client_operation_duration_seconds{db_system_name, db_operation_name, db_collection_name,
//!   error_type}`: a histogram (OpenTelemetry's buckets for `db.client.operation.duration`,
//!   with 0.5 s as a bound), with the trace id of the query's span as exemplar. The operation
//!   comes from a fixed list (`SELECT`, `INSERT`, `UPDATE`, `DELETE`, `BEGIN`, ...); the table
//!   only when the statement certainly touches exactly one (no join, no subquery); `error_type`
//!   is the SQLSTATE (`23505`, `42P01`; the result code for SQLite) or a client-side kind
//!   (`pool_timed_out`, `io`, ...), empty on success.
//! - a span `SELECT users` (kind client) under the current span, normally the HTTP request's,
//!   with `db.system.name`, `db.operation.name`, `db.collection.name`, `db.query.summary`,
//!   `db.response.returned_rows`, and on failure `error.type`, `db.response.status_code` and an
//!   error status (each attribute costs the SDK about 0.7 µs per span, so there are no others;
//!   the pool's name is in the metrics and log lines). `db.query.text` only with
//!   [`Config::capture_query_text`], and then sanitized: every literal becomes `?`
//!   ([`sql::sanitize`]), so no email, password hash or card number leaves the process.
//! - when it takes 500 ms or more ([`Config::slow_threshold`]), from the moment it has a
//!   connection to its last row: `db_client_slow_queries_total` + 1 and one WARN JSON line,
//!   `slow query: SELECT users took 612.3 ms`, with `db_query_text` (sanitized), `duration_ms`,
//!   `rows_returned`, `rows_affected` and the request's `requestId`, `userId` and `traceId`
//!   (the core turns it into a GlitchTip breadcrumb).
//! - when it fails: one ERROR JSON line (a GlitchTip event) with `error_type`, the server's
//!   message sanitized the same way, and the sanitized statement.
//!
//! And each pool, labelled `db_client_connection_pool_name` (see [`pool`]):
//! `db_client_connection_count{db_client_connection_state="idle"|"used"}`,
//! `db_client_connection_max`, `db_client_connection_pending_requests` (read at scrape time),
//! `db_client_connection_wait_time_seconds` and `db_client_connection_timeouts_total`. The
//! critical alert, more than 80 % of a pool's connections used:
//!
//! ```text
//! db_client_connection_count{db_client_connection_state="used"}
//!   / ignoring(db_client_connection_state) db_client_connection_max > 0.8
//! ```
//!
//! # Why a pool wrapper
//!
//! Two designs measure plain `sqlx::query(..).fetch_all(&pool)` calls without touching them:
//!
//! 1. A `tracing` layer that turns sqlx's own per-statement events (target `sqlx::query`,
//!    emitted by its `QueryLogger`) into metrics and spans. It needs no type change, but those
//!    events cannot carry what the requirements ask for: they are emitted when the statement's
//!    stream is dropped, failed or not, with no error at all (a failed query looks like one that
//!    returned no rows, so `error_type` is impossible); they do not say which database they come
//!    from (the target is `sqlx::query` for every driver, so `db_system_name` would be a guess);
//!    they come after the fact, so a span would have to be fabricated with a back-dated start
//!    rather than enclose the query; and to exist they make sqlx format a copy of each statement
//!    (`summary` and `db.statement`) per query. The pool side is no better: sqlx exposes
//!    `size()` and `num_idle()`, but neither its waiters nor timeouts (`sqlx::pool::acquire`
//!    events come only after a successful acquire, and only when enabled in the pool options
//!    when it is built).
//! 2. A pool type that implements `sqlx::Executor` for `&pool` by delegating to the driver's
//!    own connection executor, chosen here. It sees the statement before it runs (the span
//!    encloses the query from the call to the last row, child of the request span), every
//!    row and result, and the `sqlx::Error` itself; it knows its database statically; and it
//!    acquires the connection itself, so the time waited, the callers waiting and the timeouts
//!    are exact. Call sites are unchanged; the pool's *type* changes
//!    (`glimpse_telemetry_sqlx::PgPool` for `sqlx::PgPool`). It deliberately does not
//!    dereference to `sqlx::Pool`: a function taking `&sqlx::PgPool` would then accept it and
//!    run its queries unmeasured, silently; as it is, the compiler lists those functions.
//!
//! Overhead per query, on top of sqlx's own work: finding the statement's operation and tables
//! (parsed in one pass the first time a statement text is seen, then cached), one span
//! (created at the call, entered only once, to record the outcome: not on every poll, which
//! would cost an enter and exit per row), one histogram observation, and two small
//! allocations for the stream that owns the pool connection. The statement is sanitized only
//! when a span or a log line needs its text. `instrument` also turns off sqlx's own statement logging for the
//! connections the pool opens from then on (see [`Config::keep_sqlx_statement_logs`]), which
//! saves sqlx's per-query copy of the statement.
//!
//! Measured (`benches/overhead.rs`, see the README) on SQLite in memory, where a query is
//! cheapest and the overhead shows most, with telemetry initialized and every span sampled and
//! exported: about 5 µs per query (a one-row query goes from 15–17 µs to 18–23 µs), plus up to
//! 0.15 µs per row; against a real server, where a round trip is 100 µs to several ms, 1–5 %.
//! Most of it is the span itself. The statement's summary is parsed once per distinct
//! statement text (a bounded per-pool cache), so repeated queries pay a hash lookup.
//!
//! The per-pool gauges are read at scrape time by one collector that holds the pools weakly:
//! nothing polls, nothing can die or leak, and the values are those of the scrape's instant.
//!
//! # What is not measured
//!
//! Queries on [`InstrumentedPool::inner`] or [`TracedConnection::as_raw`] (the bare sqlx
//! types), and statements run by sqlx itself (migrations, `after_connect` hooks). `prepare` and
//! `describe` are passed through untraced.
//!
//! # Features
//!
//! `postgres`, `mysql`, `sqlite` (all three by default): compile only the drivers you use. The
//! crate enables no TLS feature of sqlx; your own sqlx dependency chooses one if you need it.
#![warn(missing_docs)]

mod config;
mod database;
mod error_type;
mod executor;
pub mod pool;
mod pool_state;
mod query;
mod report;
mod run;
pub mod sql;
mod stream;

pub use config::{Config, DEFAULT_SLOW_THRESHOLD, MAX_POOL_NAME_LEN};
pub use database::SupportedDatabase;
pub use executor::{
    InstrumentedConnection, InstrumentedPool, InstrumentedTransaction, TracedConnection,
};
pub use pool::PoolStats;

/// The target of this crate's spans and log lines (for `RUST_LOG` directives such as
/// `glimpse_telemetry_sqlx=error`, which keeps failures and drops the slow-query lines).
///
/// ```
/// assert_eq!(glimpse_telemetry_sqlx::DATABASE_TARGET, "glimpse_telemetry_sqlx");
/// ```
pub const DATABASE_TARGET: &str = "glimpse_telemetry_sqlx";

/// Instruments `pool` under the name `pool_name`, with the defaults of [`Config::new`]:
/// `Config::new(pool_name).instrument(pool)`.
///
/// ```
/// # #[cfg(feature = "sqlite")]
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let pool = sqlx::SqlitePool::connect("sqlite::memory:").await?;
/// let pool = glimpse_telemetry_sqlx::instrument(&pool, "main");
/// sqlx::query("CREATE TABLE t (x INTEGER)").execute(&pool).await?;
/// # Ok::<(), sqlx::Error>(()) }).unwrap();
/// ```
pub fn instrument<DB: SupportedDatabase>(
    pool: &sqlx::Pool<DB>,
    pool_name: &str,
) -> InstrumentedPool<DB> {
    Config::new(pool_name).instrument(pool)
}

/// An instrumented PostgreSQL pool (use it where you wrote `sqlx::PgPool`).
#[cfg(feature = "postgres")]
pub type PgPool = InstrumentedPool<sqlx::Postgres>;
/// A measured PostgreSQL connection, `&mut *conn` or `&mut *tx` (where you wrote
/// `&mut sqlx::PgConnection`).
#[cfg(feature = "postgres")]
pub type PgConnection = TracedConnection<sqlx::Postgres>;
/// A PostgreSQL transaction from [`PgPool::begin`](InstrumentedPool::begin).
#[cfg(feature = "postgres")]
pub type PgTransaction = InstrumentedTransaction<sqlx::Postgres>;

/// An instrumented MySQL or MariaDB pool (use it where you wrote `sqlx::MySqlPool`).
#[cfg(feature = "mysql")]
pub type MySqlPool = InstrumentedPool<sqlx::MySql>;
/// A measured MySQL connection, `&mut *conn` or `&mut *tx`.
#[cfg(feature = "mysql")]
pub type MySqlConnection = TracedConnection<sqlx::MySql>;
/// A MySQL transaction from [`MySqlPool::begin`](InstrumentedPool::begin).
#[cfg(feature = "mysql")]
pub type MySqlTransaction = InstrumentedTransaction<sqlx::MySql>;

/// An instrumented SQLite pool (use it where you wrote `sqlx::SqlitePool`).
#[cfg(feature = "sqlite")]
pub type SqlitePool = InstrumentedPool<sqlx::Sqlite>;
/// A measured SQLite connection, `&mut *conn` or `&mut *tx`.
#[cfg(feature = "sqlite")]
pub type SqliteConnection = TracedConnection<sqlx::Sqlite>;
/// A SQLite transaction from [`SqlitePool::begin`](InstrumentedPool::begin).
#[cfg(feature = "sqlite")]
pub type SqliteTransaction = InstrumentedTransaction<sqlx::Sqlite>;
