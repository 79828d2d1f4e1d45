//! [`Config`]: how a pool is instrumented (name, slow-query threshold, query text).

use std::time::Duration;

use crate::{InstrumentedPool, SupportedDatabase};

/// The default slow-query threshold: the Glimpse alert's 500 ms.
pub const DEFAULT_SLOW_THRESHOLD: Duration = Duration::from_millis(500);

/// The longest pool name kept (it is a metric label value); longer names are cut.
pub const MAX_POOL_NAME_LEN: usize = 64;

/// How a pool is instrumented. Start with [`Config::new`], change what you need, finish with
/// [`Config::instrument`]. [`instrument`](crate::instrument) is `Config::new(name).instrument(pool)`.
///
/// ```no_run
/// use std::time::Duration;
/// use glimpse_telemetry_sqlx::Config;
///
/// # #[cfg(feature = "postgres")]
/// # async fn run() -> Result<(), sqlx::Error> {
/// let pool = sqlx::PgPool::connect("postgres://postgres@127.0.0.1/test").await?;
/// let pool = Config::new("main")
///     .slow_threshold(Duration::from_millis(250))
///     .capture_query_text(true) // sanitized: literals become `?`
///     .instrument(&pool);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    pub(crate) pool_name: String,
    pub(crate) slow_threshold: Duration,
    pub(crate) capture_query_text: bool,
    pub(crate) collection_names: bool,
    pub(crate) system_name: Option<&'static str>,
    pub(crate) keep_sqlx_statement_logs: bool,
}

impl Config {
    /// The defaults for a pool called `pool_name` (the `db_client_connection_pool_name` label):
    /// 500 ms slow threshold, no query text on spans, table names in metric labels when
    /// certain, sqlx's own statement logs turned off.
    ///
    /// ```
    /// let config = glimpse_telemetry_sqlx::Config::new("main");
    /// assert_eq!(config.slow_threshold_value(), std::time::Duration::from_millis(500));
    /// ```
    pub fn new(pool_name: impl Into<String>) -> Self {
        let mut pool_name = pool_name.into();
        if pool_name.len() > MAX_POOL_NAME_LEN {
            let mut cut = MAX_POOL_NAME_LEN;
            while !pool_name.is_char_boundary(cut) {
                cut -= 1;
            }
            pool_name.truncate(cut);
        }
        Config {
            pool_name,
            slow_threshold: DEFAULT_SLOW_THRESHOLD,
            capture_query_text: false,
            collection_names: true,
            system_name: None,
            keep_sqlx_statement_logs: false,
        }
    }

    /// Queries that take at least this long (from the moment they have a connection to their
    /// last row) are slow: counted in `db_client_slow_queries_total`, logged once at WARN.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let config = glimpse_telemetry_sqlx::Config::new("reports").slow_threshold(Duration::from_secs(2));
    /// assert_eq!(config.slow_threshold_value(), Duration::from_secs(2));
    /// ```
    pub fn slow_threshold(mut self, threshold: Duration) -> Self {
        self.slow_threshold = threshold;
        self
    }

    /// The slow-query threshold in effect.
    ///
    /// ```
    /// let config = glimpse_telemetry_sqlx::Config::new("main");
    /// assert_eq!(config.slow_threshold_value().as_millis(), 500);
    /// ```
    pub fn slow_threshold_value(&self) -> Duration {
        self.slow_threshold
    }

    /// Puts the query text on every query span as `db.query.text`, sanitized (every literal
    /// replaced by `?`, see [`sql::sanitize`](crate::sql::sanitize)). Off by default: the
    /// summary (`SELECT users`) is usually enough, and sanitizing costs a pass over the text
    /// per query. Slow and failed queries always carry the sanitized text in their log line.
    ///
    /// ```
    /// let config = glimpse_telemetry_sqlx::Config::new("main").capture_query_text(true);
    /// # let _ = config;
    /// ```
    pub fn capture_query_text(mut self, on: bool) -> Self {
        self.capture_query_text = on;
        self
    }

    /// Whether `db_collection_name` (metric label and span attribute) is filled in when the
    /// statement certainly touches one table. On by default; turn it off if your table names
    /// are generated (one table per tenant) to keep the series count down.
    ///
    /// ```
    /// let config = glimpse_telemetry_sqlx::Config::new("tenants").collection_names(false);
    /// # let _ = config;
    /// ```
    pub fn collection_names(mut self, on: bool) -> Self {
        self.collection_names = on;
        self
    }

    /// Overrides `db_system_name`, for servers sqlx cannot tell apart: `"mariadb"` for a
    /// MariaDB server behind sqlx's MySQL driver (which reports `"mysql"`).
    ///
    /// ```
    /// let config = glimpse_telemetry_sqlx::Config::new("main").system_name("mariadb");
    /// # let _ = config;
    /// ```
    pub fn system_name(mut self, name: &'static str) -> Self {
        self.system_name = Some(name);
        self
    }

    /// Keeps sqlx's own per-statement log events (target `sqlx::query`). By default
    /// [`instrument`](Config::instrument) turns them off for connections the pool opens from
    /// then on: they repeat what this crate reports, cost a copy of the statement per query,
    /// and their slow-statement WARN line carries the raw SQL with its literals.
    ///
    /// ```
    /// let config = glimpse_telemetry_sqlx::Config::new("main").keep_sqlx_statement_logs(true);
    /// # let _ = config;
    /// ```
    pub fn keep_sqlx_statement_logs(mut self, keep: bool) -> Self {
        self.keep_sqlx_statement_logs = keep;
        self
    }

    /// Instruments `pool` (a cheap handle: the returned pool shares its connections).
    ///
    /// Registers the pool's gauges, read from the pool at scrape time, and returns the pool to
    /// run queries on. Never fails: if the metric families cannot be registered (a name taken
    /// with other labels), queries still run and are traced, and one WARN line says why.
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")]
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let pool = sqlx::SqlitePool::connect("sqlite::memory:").await?;
    /// let pool = glimpse_telemetry_sqlx::Config::new("cache").instrument(&pool);
    /// let n: i64 = sqlx::query_scalar("SELECT 40 + 2").fetch_one(&pool).await?;
    /// assert_eq!(n, 42);
    /// # Ok::<(), sqlx::Error>(()) }).unwrap();
    /// ```
    pub fn instrument<DB: SupportedDatabase>(self, pool: &sqlx::Pool<DB>) -> InstrumentedPool<DB> {
        InstrumentedPool::new(pool.clone(), self)
    }
}
