//! Shared by the integration tests: telemetry initialized once per process with in-memory
//! outputs, the databases (skipped with a clear message when absent, unless
//! `GLIMPSE_REQUIRE_PEERS=1`), and metric helpers.
//!
//! Every test uses its own pool name, tables and request ids, so the tests hold whether each
//! runs in its own process (`cargo nextest`) or all share one (`cargo test`).
#![allow(dead_code)]

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use glimpse_telemetry::TelemetryGuard;
use glimpse_telemetry::metrics::{self, Format};
use glimpse_telemetry::otel::sdk::error::OTelSdkResult;
use glimpse_telemetry::otel::sdk::trace::{SpanData, SpanExporter};
use glimpse_telemetry::otel::trace::TraceContextExt as _;
use glimpse_telemetry::otel::tracing_opentelemetry::OpenTelemetrySpanExt as _;
use serde_json::Value;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        lock(&self.0).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[derive(Debug)]
struct MemoryExporter(Arc<Mutex<Vec<SpanData>>>);

impl SpanExporter for MemoryExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        lock(&self.0).extend(batch);
        Ok(())
    }
}

/// The process's telemetry, writing JSON lines and spans to memory.
pub struct Telemetry {
    logs: Arc<Mutex<Vec<u8>>>,
    spans: Arc<Mutex<Vec<SpanData>>>,
    guard: TelemetryGuard,
}

pub fn telemetry() -> &'static Telemetry {
    static T: OnceLock<Telemetry> = OnceLock::new();
    T.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let spans = Arc::new(Mutex::new(Vec::new()));
        let config = glimpse_telemetry::Config::from_vars([
            ("RUST_LOG", "info"),
            ("OTEL_SERVICE_NAME", "sqlx-tests"),
        ])
        .expect("valid test configuration");
        let guard = glimpse_telemetry::builder()
            .config(config)
            .log_writer(SharedBuf(logs.clone()))
            .span_exporter(MemoryExporter(spans.clone()))
            .init()
            .expect("telemetry starts once per process");
        Telemetry { logs, spans, guard }
    })
}

impl Telemetry {
    /// Every JSON line written so far.
    pub fn log_lines(&self) -> Vec<Value> {
        self.guard.flush();
        let text = String::from_utf8_lossy(&lock(&self.logs)).into_owned();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }

    /// The raw log output so far.
    pub fn log_text(&self) -> String {
        self.guard.flush();
        String::from_utf8_lossy(&lock(&self.logs)).into_owned()
    }

    /// The lines of one request.
    pub fn request_lines(&self, request_id: &str) -> Vec<Value> {
        self.log_lines()
            .into_iter()
            .filter(|l| l["requestId"] == request_id)
            .collect()
    }

    /// Every span exported so far.
    pub fn spans(&self) -> Vec<SpanData> {
        self.guard.flush();
        lock(&self.spans).clone()
    }

    /// The spans of one trace.
    pub fn trace_spans(&self, trace_id: &str) -> Vec<SpanData> {
        self.spans()
            .into_iter()
            .filter(|s| s.span_context.trace_id().to_string() == trace_id)
            .collect()
    }
}

/// A request span as the HTTP layer makes one, and its trace id.
pub fn request_span(
    name: &'static str,
    request_id: &str,
    user_id: &str,
) -> (tracing::Span, String) {
    telemetry();
    let span = tracing::info_span!(
        "request",
        otel.name = name,
        otel.kind = "server",
        request_id = request_id,
        user_id = user_id,
    );
    let trace_id = span.context().span().span_context().trace_id().to_string();
    (span, trace_id)
}

/// A string attribute of a span.
pub fn attr(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str().into_owned())
}

/// Every attribute of every span, as text (for "this value never appears" checks).
pub fn all_span_text(spans: &[SpanData]) -> String {
    let mut out = String::new();
    for s in spans {
        out.push_str(&s.name);
        out.push('\n');
        for kv in &s.attributes {
            out.push_str(&format!("{}={}\n", kv.key, kv.value.as_str()));
        }
        for e in s.events.iter() {
            out.push_str(&e.name);
            for kv in &e.attributes {
                out.push_str(&format!("{}={}\n", kv.key, kv.value.as_str()));
            }
        }
    }
    out
}

/// The value of one sample (`name` as exposed), or 0 when absent.
pub fn metric(name: &str, labels: &[(&str, &str)]) -> f64 {
    glimpse_telemetry::testing::metric_value(name, labels).unwrap_or(0.0)
}

/// `db_client_operation_duration_seconds_count` for these labels.
pub fn op_count(system: &str, op: &str, collection: &str, error_type: &str) -> f64 {
    metric(
        "db_client_operation_duration_seconds_count",
        &[
            ("db_system_name", system),
            ("db_operation_name", op),
            ("db_collection_name", collection),
            ("error_type", error_type),
        ],
    )
}

pub fn scrape() -> String {
    metrics::encode(Format::Text)
}

pub fn scrape_openmetrics() -> String {
    metrics::encode(Format::OpenMetrics)
}

/// A name unique to this test process (tables, pools).
pub fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", std::process::id())
}

fn database_url(scheme_prefixes: &[&str], defaults: &[&str]) -> Vec<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if scheme_prefixes.iter().any(|p| url.starts_with(p)) => vec![url],
        _ => defaults.iter().map(|s| (*s).to_owned()).collect(),
    }
}

/// The first of `urls` that answers within 5 s; `None` after reporting `peer` missing.
#[cfg(any(feature = "postgres", feature = "mysql"))]
async fn connect_first<DB: sqlx::Database>(
    options: sqlx::pool::PoolOptions<DB>,
    urls: &[String],
    peer: &str,
) -> Option<sqlx::Pool<DB>> {
    let mut errors = Vec::new();
    for url in urls {
        match tokio::time::timeout(Duration::from_secs(5), options.clone().connect(url)).await {
            Ok(Ok(pool)) => return Some(pool),
            Ok(Err(e)) => errors.push(format!("{url}: {e}")),
            Err(_) => errors.push(format!("{url}: no answer within 5 s")),
        }
    }
    glimpse_test_support::peer_missing(peer, &errors.join("; "));
    None
}

#[cfg(feature = "postgres")]
/// PostgreSQL from `DATABASE_URL` (when it is a postgres URL) or the local server; `None`
/// after reporting it missing.
pub async fn postgres(options: sqlx::postgres::PgPoolOptions) -> Option<sqlx::PgPool> {
    let urls = database_url(
        &["postgres://", "postgresql://"],
        &[
            "postgres://postgres@127.0.0.1:5432/test",
            "postgres://root@127.0.0.1:5432/test",
        ],
    );
    connect_first(options, &urls, "postgresql").await
}

#[cfg(feature = "mysql")]
/// MariaDB/MySQL from `MYSQL_URL`, `DATABASE_URL` (when it is a mysql URL) or the local
/// server.
pub async fn mysql(options: sqlx::mysql::MySqlPoolOptions) -> Option<sqlx::MySqlPool> {
    let urls = match std::env::var("MYSQL_URL") {
        Ok(url) => vec![url],
        Err(_) => database_url(
            &["mysql://", "mariadb://"],
            &["mysql://root@127.0.0.1:3306/test"],
        ),
    };
    connect_first(options, &urls, "mariadb").await
}

/// Waits until `f` holds (polling every 10 ms), up to `timeout`.
pub async fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Runs `sql` on an instrumented pool (a prepared statement, as `sqlx::query` makes one).
pub async fn exec<DB>(
    pool: &glimpse_telemetry_sqlx::InstrumentedPool<DB>,
    sql: &str,
) -> Result<DB::QueryResult, sqlx::Error>
where
    DB: glimpse_telemetry_sqlx::SupportedDatabase,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    sqlx::query::<DB>(sql).execute(pool).await
}

/// The lines of `lines` at `level` (`"WARN"`, `"ERROR"`).
pub fn at_level<'a>(lines: &'a [Value], level: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["level"] == level).collect()
}

/// `db_client_slow_queries_total` for these labels.
pub fn slow_queries(system: &str, op: &str, collection: &str) -> f64 {
    metric(
        "db_client_slow_queries_total",
        &[
            ("db_system_name", system),
            ("db_operation_name", op),
            ("db_collection_name", collection),
        ],
    )
}

/// What the "literals never reach spans or logs" tests configure: every query logged (as slow)
/// with its text on its span.
pub fn log_every_query_with_text(
    config: glimpse_telemetry_sqlx::Config,
) -> glimpse_telemetry_sqlx::Config {
    config
        .capture_query_text(true)
        .slow_threshold(Duration::ZERO)
}

/// After a request that used `secrets` as literals and bound values: at least `min_lines` of
/// its lines were logged, and no secret is in them or in its spans. Returns the spans and
/// their text for the database's own checks.
pub fn assert_no_secrets(
    request_id: &str,
    trace_id: &str,
    min_lines: usize,
    secrets: &[&str],
) -> (Vec<SpanData>, String) {
    let t = telemetry();
    let lines = t.request_lines(request_id);
    assert!(
        lines.len() >= min_lines,
        "every query logged as slow or failed: {lines:#?}"
    );
    let spans = t.trace_spans(trace_id);
    let logs = serde_json::to_string(&lines).unwrap();
    let span_text = all_span_text(&spans);
    for secret in secrets {
        assert!(!logs.contains(secret), "{secret} in the logs: {logs}");
        assert!(
            !span_text.contains(secret),
            "{secret} in a span: {span_text}"
        );
    }
    (spans, span_text)
}

/// `db_client_connection_count` of one pool in one state (`"used"`, `"idle"`).
pub fn connections(pool_name: &str, state: &str) -> f64 {
    metric(
        "db_client_connection_count",
        &[
            ("db_client_connection_pool_name", pool_name),
            ("db_client_connection_state", state),
        ],
    )
}

/// A gauge or counter of one pool (`db_client_connection_max`, …).
pub fn pool_metric(name: &str, pool_name: &str) -> f64 {
    metric(name, &[("db_client_connection_pool_name", pool_name)])
}

/// On a pool of two connections: two holders take both and a third waits, which the gauges
/// show. Returns the holders and the waiter (which ends when the acquire does).
pub async fn hold_both_and_wait<DB>(
    pool: &glimpse_telemetry_sqlx::InstrumentedPool<DB>,
) -> (
    glimpse_telemetry_sqlx::InstrumentedConnection<DB>,
    glimpse_telemetry_sqlx::InstrumentedConnection<DB>,
    tokio::task::JoinHandle<Result<(), sqlx::Error>>,
)
where
    DB: glimpse_telemetry_sqlx::SupportedDatabase,
{
    let name = pool.name();
    let a = pool.acquire().await.unwrap();
    let b = pool.acquire().await.unwrap();
    let waiter = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.acquire().await.map(drop) })
    };
    assert!(eventually(Duration::from_secs(5), || pool.stats().pending == 1).await);
    assert_eq!(connections(name, "used"), 2.0);
    assert_eq!(connections(name, "idle"), 0.0);
    assert_eq!(pool_metric("db_client_connection_max", name), 2.0);
    assert_eq!(
        pool_metric("db_client_connection_pending_requests", name),
        1.0
    );
    (a, b, waiter)
}

/// Once every connection is back: none used, `idle` idle, nobody waiting.
pub async fn assert_all_idle(pool_name: &str, idle: f64) {
    assert!(
        eventually(Duration::from_secs(5), || connections(pool_name, "used")
            == 0.0)
        .await
    );
    assert_eq!(connections(pool_name, "idle"), idle);
    assert_eq!(
        pool_metric("db_client_connection_pending_requests", pool_name),
        0.0
    );
}

/// Fetches every row of `sql` on an instrumented pool.
pub async fn fetch_all<DB>(
    pool: &glimpse_telemetry_sqlx::InstrumentedPool<DB>,
    sql: &str,
) -> Result<Vec<DB::Row>, sqlx::Error>
where
    DB: glimpse_telemetry_sqlx::SupportedDatabase,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    sqlx::query::<DB>(sql).fetch_all(pool).await
}
