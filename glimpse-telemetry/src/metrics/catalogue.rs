//! Every metric the SDK and its adapters emit, described once: name, type, unit, labels and
//! meaning.
//!
//! The adapters register their families from these definitions, and `docs/metrics.md`, the
//! Prometheus alert rules and the Grafana dashboards are generated from [`ALL`] (see
//! `cargo run -p xtask -- gen`), so a rule can never query a name the code
//! does not emit. Names follow the OpenTelemetry semantic conventions, translated to Prometheus
//! (`http.server.request.duration` → `http_server_request_duration_seconds`).
//!
//! One long file on purpose: it is a table, read top to bottom by group, and a new metric is one
//! entry here (the definition types live in `definition.rs`, the label value docs in
//! `label_values.rs`).
//!
//! ```
//! use glimpse_telemetry::metrics::catalogue;
//!
//! let d = &catalogue::DB_CLIENT_SLOW_QUERIES;
//! assert_eq!(d.sample_name(), "db_client_slow_queries_total");
//! assert!(catalogue::ALL.iter().any(|m| m.name == d.name));
//! ```

use super::definition::def;
pub use super::definition::{Group, Kind, MetricDef};
use super::instruments::{DURATION_BUCKETS, SIZE_BUCKETS};
pub use super::label_values::label_values;
use super::unit::Unit;

const HTTP_LABELS: &[&str] = &[
    "http_request_method",
    "http_route",
    "http_response_status_code",
    "error_type",
];
const DB_LABELS: &[&str] = &[
    "db_system_name",
    "db_operation_name",
    "db_collection_name",
    "error_type",
];
const POOL: &[&str] = &["db_client_connection_pool_name"];

/// Buckets for database operations, from the OpenTelemetry advice for
/// `db.client.operation.duration` (with 0.5 s, the slow-query threshold, as a bound).
pub const DB_DURATION_BUCKETS: &[f64] = &[0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 10.0];

// ---- HTTP (glimpse-telemetry-axum) ----

/// `http.server.request.duration`: time from request head to the end of the response body.
pub const HTTP_SERVER_REQUEST_DURATION: MetricDef = def(
    "http_server_request_duration_seconds",
    Kind::Histogram,
    Some(Unit::Seconds),
    "Duration of HTTP server requests, by method, route template, status code and error type.",
    HTTP_LABELS,
    Some(DURATION_BUCKETS),
    Group::Http,
);
/// `http.server.active_requests`: requests being served now.
pub const HTTP_SERVER_ACTIVE_REQUESTS: MetricDef = def(
    "http_server_active_requests",
    Kind::Gauge,
    None,
    "Number of HTTP server requests in flight.",
    &["http_request_method", "url_scheme"],
    None,
    Group::Http,
);
/// `http.server.request.body.size`.
pub const HTTP_SERVER_REQUEST_BODY_SIZE: MetricDef = def(
    "http_server_request_body_size_bytes",
    Kind::Histogram,
    Some(Unit::Bytes),
    "Size of HTTP server request bodies.",
    HTTP_LABELS,
    Some(SIZE_BUCKETS),
    Group::Http,
);
/// `http.server.response.body.size`.
pub const HTTP_SERVER_RESPONSE_BODY_SIZE: MetricDef = def(
    "http_server_response_body_size_bytes",
    Kind::Histogram,
    Some(Unit::Bytes),
    "Size of HTTP server response bodies.",
    HTTP_LABELS,
    Some(SIZE_BUCKETS),
    Group::Http,
);

// ---- WebSocket (glimpse-telemetry-axum) ----

/// Open WebSocket connections.
pub const WEBSOCKET_SERVER_ACTIVE_CONNECTIONS: MetricDef = def(
    "websocket_server_active_connections",
    Kind::Gauge,
    None,
    "Number of open WebSocket connections, by route.",
    &["http_route"],
    None,
    Group::WebSocket,
);
/// WebSocket messages by direction (`received`, `sent`) and type (`text`, `binary`, `ping`, `pong`, `close`).
pub const WEBSOCKET_SERVER_MESSAGES: MetricDef = def(
    "websocket_server_messages",
    Kind::Counter,
    None,
    "WebSocket messages, by route, direction and message type.",
    &["http_route", "direction", "message_type"],
    None,
    Group::WebSocket,
);
/// WebSocket message payload sizes.
pub const WEBSOCKET_SERVER_MESSAGE_SIZE: MetricDef = def(
    "websocket_server_message_size_bytes",
    Kind::Histogram,
    Some(Unit::Bytes),
    "Size of WebSocket message payloads, by route and direction.",
    &["http_route", "direction"],
    Some(SIZE_BUCKETS),
    Group::WebSocket,
);
/// How long WebSocket connections stay open.
pub const WEBSOCKET_SERVER_CONNECTION_DURATION: MetricDef = def(
    "websocket_server_connection_duration_seconds",
    Kind::Histogram,
    Some(Unit::Seconds),
    "Duration of WebSocket connections, by route.",
    &["http_route"],
    Some(&[1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 14400.0]),
    Group::WebSocket,
);
/// Closed WebSocket connections by close code (`1000`, `1001`, ..., `none` when the peer vanished).
pub const WEBSOCKET_SERVER_CLOSES: MetricDef = def(
    "websocket_server_closes",
    Kind::Counter,
    None,
    "Closed WebSocket connections, by route and close code (none: dropped without a close frame).",
    &["http_route", "websocket_close_code"],
    None,
    Group::WebSocket,
);
/// Buckets of the WebSocket ping round trip, with the KPI (100 ms) as a bound.
pub const WEBSOCKET_PING_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];
/// Ping-to-pong round trip of the pings the instrumented WebSocket sends on an interval.
pub const WEBSOCKET_SERVER_PING_DURATION: MetricDef = def(
    "websocket_server_ping_duration_seconds",
    Kind::Histogram,
    Some(Unit::Seconds),
    "Round trip of the server's WebSocket pings, from sending the ping to receiving its pong, by route.",
    &["http_route"],
    Some(WEBSOCKET_PING_BUCKETS),
    Group::WebSocket,
);

// ---- Database (glimpse-telemetry-sqlx) ----

/// `db.client.operation.duration`: one query, from start to its last row.
pub const DB_CLIENT_OPERATION_DURATION: MetricDef = def(
    "db_client_operation_duration_seconds",
    Kind::Histogram,
    Some(Unit::Seconds),
    "Duration of database queries, by system, operation (SELECT, INSERT...), table and error type.",
    DB_LABELS,
    Some(DB_DURATION_BUCKETS),
    Group::Database,
);
/// Queries slower than the slow-query threshold (default 500 ms).
pub const DB_CLIENT_SLOW_QUERIES: MetricDef = def(
    "db_client_slow_queries",
    Kind::Counter,
    None,
    "Database queries slower than the slow-query threshold.",
    &["db_system_name", "db_operation_name", "db_collection_name"],
    None,
    Group::Database,
);
/// `db.client.connection.count`: connections by state (`idle`, `used`), read at scrape time.
pub const DB_CLIENT_CONNECTION_COUNT: MetricDef = def(
    "db_client_connection_count",
    Kind::Gauge,
    None,
    "Connections of a pool, by state (idle, used).",
    &[
        "db_client_connection_pool_name",
        "db_client_connection_state",
    ],
    None,
    Group::Database,
);
/// `db.client.connection.max`.
pub const DB_CLIENT_CONNECTION_MAX: MetricDef = def(
    "db_client_connection_max",
    Kind::Gauge,
    None,
    "Maximum number of connections a pool may open.",
    POOL,
    None,
    Group::Database,
);
/// `db.client.connection.pending_requests`: callers waiting for a connection.
pub const DB_CLIENT_CONNECTION_PENDING_REQUESTS: MetricDef = def(
    "db_client_connection_pending_requests",
    Kind::Gauge,
    None,
    "Callers waiting for a connection from a pool.",
    POOL,
    None,
    Group::Database,
);
/// `db.client.connection.wait_time`: time to get a connection from the pool.
pub const DB_CLIENT_CONNECTION_WAIT_TIME: MetricDef = def(
    "db_client_connection_wait_time_seconds",
    Kind::Histogram,
    Some(Unit::Seconds),
    "Time spent waiting for a connection from a pool.",
    POOL,
    Some(DB_DURATION_BUCKETS),
    Group::Database,
);
/// `db.client.connection.timeouts`: acquires that gave up.
pub const DB_CLIENT_CONNECTION_TIMEOUTS: MetricDef = def(
    "db_client_connection_timeouts",
    Kind::Counter,
    None,
    "Attempts to get a connection that timed out.",
    POOL,
    None,
    Group::Database,
);
/// Transactions of [`InstrumentedPool::begin`] by outcome (`commit`, `rollback`, `error`).
///
/// [`InstrumentedPool::begin`]: https://docs.rs/glimpse-telemetry-sqlx
pub const DB_CLIENT_TRANSACTIONS: MetricDef = def(
    "db_client_transactions",
    Kind::Counter,
    None,
    "Database transactions, by system, pool and outcome (commit, rollback: explicit or dropped, error: BEGIN, COMMIT or ROLLBACK failed).",
    &[
        "db_system_name",
        "db_client_connection_pool_name",
        "outcome",
    ],
    None,
    Group::Database,
);

// ---- Caches (metrics::cache) ----

/// The most series [`GLIMPSE_CACHE_LOOKUPS`] keeps (two per cache name).
pub const CACHE_MAX_SERIES: usize = 100;
/// Cache lookups by cache and result (`hit`, `miss`).
pub const GLIMPSE_CACHE_LOOKUPS: MetricDef = MetricDef {
    max_series: Some(CACHE_MAX_SERIES),
    ..def(
        "glimpse_cache_lookups",
        Kind::Counter,
        None,
        "Cache lookups, by cache name and result (hit, miss).",
        &["cache_name", "result"],
        None,
        Group::Database,
    )
};

// ---- Business (crate::business) ----

/// Users who completed registration.
pub const GLIMPSE_USER_REGISTRATIONS: MetricDef = def(
    "glimpse_user_registrations",
    Kind::Counter,
    None,
    "Users registered.",
    &[],
    None,
    Group::Business,
);
/// Matches created.
pub const GLIMPSE_MATCHES_CREATED: MetricDef = def(
    "glimpse_matches_created",
    Kind::Counter,
    None,
    "Matches created.",
    &[],
    None,
    Group::Business,
);
/// Chat messages sent.
pub const GLIMPSE_MESSAGES_SENT: MetricDef = def(
    "glimpse_messages_sent",
    Kind::Counter,
    None,
    "Chat messages sent.",
    &[],
    None,
    Group::Business,
);
/// Payments processed, by outcome (`succeeded`, `failed`).
pub const GLIMPSE_PAYMENTS_PROCESSED: MetricDef = def(
    "glimpse_payments_processed",
    Kind::Counter,
    None,
    "Payments processed, by outcome (succeeded, failed).",
    &["outcome"],
    None,
    Group::Business,
);
/// Payment amounts in minor units (cents), by currency and outcome: revenue is the
/// `succeeded` sum per currency.
pub const GLIMPSE_PAYMENT_AMOUNT: MetricDef = def(
    "glimpse_payment_amount_minor",
    Kind::Counter,
    None,
    "Sum of payment amounts in minor units (cents), by currency (ISO 4217, a fixed list, other) and outcome.",
    &["currency", "outcome"],
    None,
    Group::Business,
);
/// Users active in the last five minutes, as the service counts them.
pub const GLIMPSE_ACTIVE_USERS: MetricDef = def(
    "glimpse_active_users",
    Kind::Gauge,
    None,
    "Distinct users seen in the last five minutes.",
    &[],
    None,
    Group::Business,
);

// ---- Security (logs::audit, metrics::security) ----

/// Audit and security log lines, counted by the [`logs::audit`](crate::logs::audit) helper that
/// writes them (so a line and its count never disagree).
pub const GLIMPSE_AUDIT_EVENTS: MetricDef = def(
    "glimpse_audit_events",
    Kind::Counter,
    None,
    "Audit and security log lines written, by log type, event type and bounded outcome.",
    &["log_type", "event_type", "outcome"],
    None,
    Group::Security,
);
/// The most API key ids [`GLIMPSE_API_KEY_REQUESTS`] keeps apart (more land in its overflow
/// series).
pub const API_KEY_MAX_SERIES: usize = 200;
/// Requests authenticated with an API key, by key id (never the key) and outcome.
pub const GLIMPSE_API_KEY_REQUESTS: MetricDef = MetricDef {
    max_series: Some(API_KEY_MAX_SERIES),
    ..def(
        "glimpse_api_key_requests",
        Kind::Counter,
        None,
        "Requests that presented an API key, by key id (never the key) and outcome (accepted, rejected).",
        &["api_key_id", "outcome"],
        None,
        Group::Security,
    )
};

// ---- Tokio runtime (metrics::runtime, stable RuntimeMetrics, read at scrape time) ----

/// `RuntimeMetrics::num_workers`.
pub const TOKIO_RUNTIME_WORKERS: MetricDef = def(
    "tokio_runtime_workers",
    Kind::Gauge,
    None,
    "Worker threads of the service's tokio runtime.",
    &[],
    None,
    Group::Runtime,
);
/// `RuntimeMetrics::num_alive_tasks`.
pub const TOKIO_RUNTIME_ALIVE_TASKS: MetricDef = def(
    "tokio_runtime_alive_tasks",
    Kind::Gauge,
    None,
    "Tasks spawned on the runtime and not finished yet.",
    &[],
    None,
    Group::Runtime,
);
/// `RuntimeMetrics::global_queue_depth`.
pub const TOKIO_RUNTIME_GLOBAL_QUEUE_DEPTH: MetricDef = def(
    "tokio_runtime_global_queue_depth",
    Kind::Gauge,
    None,
    "Tasks waiting in the runtime's global (injection) queue for a worker.",
    &[],
    None,
    Group::Runtime,
);
/// `RuntimeMetrics::worker_total_busy_duration`, per worker.
pub const TOKIO_RUNTIME_WORKER_BUSY_DURATION: MetricDef = def(
    "tokio_runtime_worker_busy_duration_seconds",
    Kind::Counter,
    Some(Unit::Seconds),
    "Time each worker thread spent running tasks (not parked), by worker index.",
    &["tokio_worker"],
    None,
    Group::Runtime,
);
/// `RuntimeMetrics::worker_park_count`, per worker.
pub const TOKIO_RUNTIME_WORKER_PARKS: MetricDef = def(
    "tokio_runtime_worker_parks",
    Kind::Counter,
    None,
    "Times each worker thread parked (found no work and went to sleep), by worker index.",
    &["tokio_worker"],
    None,
    Group::Runtime,
);

// ---- Core ----

/// Log events written, by level (the Logs Analysis dashboard's error frequency).
pub const GLIMPSE_LOG_EVENTS: MetricDef = def(
    "glimpse_log_events",
    Kind::Counter,
    None,
    "Log events written, by level (ERROR, WARN, INFO, DEBUG, TRACE).",
    &["level"],
    None,
    Group::Core,
);
/// Log lines dropped because stdout could not keep up (the writer never blocks a request).
pub const GLIMPSE_TELEMETRY_LOG_LINES_DROPPED: MetricDef = def(
    "glimpse_telemetry_log_lines_dropped",
    Kind::Counter,
    None,
    "Log lines dropped because the output could not keep up.",
    &[],
    None,
    Group::Core,
);
/// Spans handed to the exporter, by outcome (`exported`, `failed`, `dropped`: queue full).
pub const GLIMPSE_TELEMETRY_SPANS: MetricDef = def(
    "glimpse_telemetry_spans",
    Kind::Counter,
    None,
    "Finished spans, by outcome: exported, failed (collector error) or dropped (queue full).",
    &["outcome"],
    None,
    Group::Core,
);
/// Spans recorded for "keep errors and slow" and held until their local root decides.
pub const GLIMPSE_TELEMETRY_HELD_SPANS: MetricDef = def(
    "glimpse_telemetry_held_spans",
    Kind::Gauge,
    None,
    "Spans head sampling refused, held until their local root ends decides whether the trace is kept (keep errors and slow).",
    &[],
    None,
    Group::Core,
);
/// Traces head sampling refused, by what their local root decided (`kept_error`, `kept_slow`,
/// `dropped`).
pub const GLIMPSE_TELEMETRY_HELD_TRACES: MetricDef = def(
    "glimpse_telemetry_held_traces",
    Kind::Counter,
    None,
    "Local traces head sampling refused, by decision when their root ended: kept_error, kept_slow (exported after all) or dropped.",
    &["decision"],
    None,
    Group::Core,
);
/// Held spans discarded by a bound (`trace_limit`, `process_limit`) or for ending after their
/// root with no decision remembered (`late`).
pub const GLIMPSE_TELEMETRY_HELD_SPANS_DISCARDED: MetricDef = def(
    "glimpse_telemetry_held_spans_discarded",
    Kind::Counter,
    None,
    "Spans lost by keep errors and slow: trace_limit and process_limit (a bound on held spans was reached), late (ended after their root, decision forgotten).",
    &["reason"],
    None,
    Group::Core,
);
/// Error events for GlitchTip, by outcome (`captured`, or `dropped` when the queue was full).
pub const GLIMPSE_TELEMETRY_ERROR_EVENTS: MetricDef = def(
    "glimpse_telemetry_error_events",
    Kind::Counter,
    None,
    "Error events for GlitchTip, by outcome: captured, or dropped (reporter queue full).",
    &["outcome"],
    None,
    Group::Core,
);
/// Lookups that hit a family's series limit (see [`Family`](super::Family)).
pub const GLIMPSE_TELEMETRY_CARDINALITY_OVERFLOW: MetricDef = def(
    "glimpse_telemetry_cardinality_overflow",
    Kind::Counter,
    None,
    "Lookups that landed in a family's overflow series because it reached its series limit.",
    &["metric"],
    None,
    Group::Core,
);
/// The resource attributes (`service_name`, `service_version`, ...), value 1.
pub const TARGET_INFO: MetricDef = def(
    "target",
    Kind::Info,
    None,
    "Target metadata: the service's resource attributes.",
    &[],
    None,
    Group::Core,
);
/// `process_cpu_seconds_total`.
pub const PROCESS_CPU: MetricDef = def(
    "process_cpu_seconds",
    Kind::Counter,
    Some(Unit::Seconds),
    "Total user and system CPU time spent in seconds.",
    &[],
    None,
    Group::Core,
);
/// `process_resident_memory_bytes`.
pub const PROCESS_RESIDENT_MEMORY: MetricDef = def(
    "process_resident_memory_bytes",
    Kind::Gauge,
    Some(Unit::Bytes),
    "Resident memory size in bytes.",
    &[],
    None,
    Group::Core,
);
/// `process_virtual_memory_bytes`.
pub const PROCESS_VIRTUAL_MEMORY: MetricDef = def(
    "process_virtual_memory_bytes",
    Kind::Gauge,
    Some(Unit::Bytes),
    "Virtual memory size in bytes.",
    &[],
    None,
    Group::Core,
);
/// `process_open_fds`.
pub const PROCESS_OPEN_FDS: MetricDef = def(
    "process_open_fds",
    Kind::Gauge,
    None,
    "Number of open file descriptors.",
    &[],
    None,
    Group::Core,
);
/// `process_max_fds`.
pub const PROCESS_MAX_FDS: MetricDef = def(
    "process_max_fds",
    Kind::Gauge,
    None,
    "Maximum number of open file descriptors.",
    &[],
    None,
    Group::Core,
);
/// `process_start_time_seconds`.
pub const PROCESS_START_TIME: MetricDef = def(
    "process_start_time_seconds",
    Kind::Gauge,
    Some(Unit::Seconds),
    "Start time of the process since unix epoch in seconds.",
    &[],
    None,
    Group::Core,
);
/// `process_threads`.
pub const PROCESS_THREADS: MetricDef = def(
    "process_threads",
    Kind::Gauge,
    None,
    "Number of OS threads in the process.",
    &[],
    None,
    Group::Core,
);

// ---- Browser: real-user monitoring (glimpse-telemetry-axum, feature `rum`) ----
//
// One histogram per measure (their buckets differ), labelled `page_route`: the page's route
// template as the service declared it, or `other`, never a raw URL. web-vitals reports in
// milliseconds; the endpoint converts to seconds. Each page view counts once per measure (the
// first report of a web-vitals `id`, see glimpse_telemetry_axum::rum).

/// Buckets for Largest Contentful Paint: good up to 2.5 s, poor above 4 s.
pub const LCP_BUCKETS: &[f64] = &[0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 7.5, 10.0, 20.0];
/// Buckets for Interaction to Next Paint: good up to 200 ms, poor above 500 ms.
pub const INP_BUCKETS: &[f64] = &[0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.0, 5.0];
/// Buckets for Cumulative Layout Shift (unitless): good up to 0.1, poor above 0.25.
pub const CLS_BUCKETS: &[f64] = &[0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.5, 1.0, 2.5];
/// Buckets for First Contentful Paint: good up to 1.8 s, poor above 3 s.
pub const FCP_BUCKETS: &[f64] = &[0.5, 1.0, 1.5, 1.8, 2.4, 3.0, 4.0, 6.0, 10.0, 20.0];
/// Buckets for Time to First Byte: good up to 0.8 s, poor above 1.8 s.
pub const TTFB_BUCKETS: &[f64] = &[0.1, 0.2, 0.4, 0.6, 0.8, 1.2, 1.8, 3.0, 5.0, 10.0];
/// Buckets for page-load time (Navigation Timing's `loadEventEnd`).
pub const PAGE_LOAD_BUCKETS: &[f64] = &[0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 10.0, 20.0, 30.0];

const PAGE: &[&str] = &["page_route"];

/// Largest Contentful Paint per page view, from web-vitals' `onLCP`.
pub const BROWSER_WEB_VITAL_LCP: MetricDef = def(
    "browser_web_vital_lcp_seconds",
    Kind::Histogram,
    Some(Unit::Seconds),
    "Largest Contentful Paint measured by browsers, one observation per page view, by page route template.",
    PAGE,
    Some(LCP_BUCKETS),
    Group::Browser,
);
/// Interaction to Next Paint per page view, from web-vitals' `onINP`.
pub const BROWSER_WEB_VITAL_INP: MetricDef = def(
    "browser_web_vital_inp_seconds",
    Kind::Histogram,
    Some(Unit::Seconds),
    "Interaction to Next Paint measured by browsers, one observation per page view, by page route template.",
    PAGE,
    Some(INP_BUCKETS),
    Group::Browser,
);
/// Cumulative Layout Shift per page view (unitless score), from web-vitals' `onCLS`.
pub const BROWSER_WEB_VITAL_CLS: MetricDef = def(
    "browser_web_vital_cls",
    Kind::Histogram,
    None,
    "Cumulative Layout Shift (unitless score) measured by browsers, one observation per page view, by page route template.",
    PAGE,
    Some(CLS_BUCKETS),
    Group::Browser,
);
/// First Contentful Paint per page view, from web-vitals' `onFCP`.
pub const BROWSER_WEB_VITAL_FCP: MetricDef = def(
    "browser_web_vital_fcp_seconds",
    Kind::Histogram,
    Some(Unit::Seconds),
    "First Contentful Paint measured by browsers, one observation per page view, by page route template.",
    PAGE,
    Some(FCP_BUCKETS),
    Group::Browser,
);
/// Time to First Byte of the document per page view, from web-vitals' `onTTFB`.
pub const BROWSER_WEB_VITAL_TTFB: MetricDef = def(
    "browser_web_vital_ttfb_seconds",
    Kind::Histogram,
    Some(Unit::Seconds),
    "Time to First Byte of the document measured by browsers, one observation per page view, by page route template.",
    PAGE,
    Some(TTFB_BUCKETS),
    Group::Browser,
);
/// Page-load time per page view: Navigation Timing's `loadEventEnd`, from navigation start.
pub const BROWSER_PAGE_LOAD_DURATION: MetricDef = def(
    "browser_page_load_duration_seconds",
    Kind::Histogram,
    Some(Unit::Seconds),
    "Page-load time (Navigation Timing loadEventEnd) measured by browsers, one observation per page view, by page route template.",
    PAGE,
    Some(PAGE_LOAD_BUCKETS),
    Group::Browser,
);
/// Web-vitals reports by page, measure (`lcp`, `inp`, `cls`, `fcp`, `ttfb`) and rating (`good`,
/// `needs-improvement`, `poor`, from the web-vitals thresholds).
pub const BROWSER_WEB_VITAL_RATINGS: MetricDef = def(
    "browser_web_vital_ratings",
    Kind::Counter,
    None,
    "Page views by page route template, web vital (lcp, inp, cls, fcp, ttfb) and rating (good, needs-improvement, poor).",
    &["page_route", "web_vital", "rating"],
    None,
    Group::Browser,
);
/// Beacons the endpoint received, by outcome: `accepted`, `invalid` (400), `too_large` (413),
/// `unsupported_media_type` (415) or `rate_limited` (429).
pub const GLIMPSE_TELEMETRY_RUM_BEACONS: MetricDef = def(
    "glimpse_telemetry_rum_beacons",
    Kind::Counter,
    None,
    "Beacons received by the RUM endpoint, by outcome: accepted, invalid, too_large, unsupported_media_type or rate_limited.",
    &["outcome"],
    None,
    Group::Browser,
);
/// Reports of an accepted beacon that were not recorded because their page view already counted
/// (a later report of the same web-vitals `id`).
pub const GLIMPSE_TELEMETRY_RUM_DUPLICATE_REPORTS: MetricDef = def(
    "glimpse_telemetry_rum_duplicate_reports",
    Kind::Counter,
    None,
    "Web-vitals reports not recorded because their page view had already been counted.",
    &[],
    None,
    Group::Browser,
);

/// Every metric the SDK and its adapters can emit.
pub static ALL: &[&MetricDef] = &[
    &HTTP_SERVER_REQUEST_DURATION,
    &HTTP_SERVER_ACTIVE_REQUESTS,
    &HTTP_SERVER_REQUEST_BODY_SIZE,
    &HTTP_SERVER_RESPONSE_BODY_SIZE,
    &WEBSOCKET_SERVER_ACTIVE_CONNECTIONS,
    &WEBSOCKET_SERVER_MESSAGES,
    &WEBSOCKET_SERVER_MESSAGE_SIZE,
    &WEBSOCKET_SERVER_CONNECTION_DURATION,
    &WEBSOCKET_SERVER_CLOSES,
    &WEBSOCKET_SERVER_PING_DURATION,
    &DB_CLIENT_OPERATION_DURATION,
    &DB_CLIENT_SLOW_QUERIES,
    &DB_CLIENT_CONNECTION_COUNT,
    &DB_CLIENT_CONNECTION_MAX,
    &DB_CLIENT_CONNECTION_PENDING_REQUESTS,
    &DB_CLIENT_CONNECTION_WAIT_TIME,
    &DB_CLIENT_CONNECTION_TIMEOUTS,
    &DB_CLIENT_TRANSACTIONS,
    &GLIMPSE_CACHE_LOOKUPS,
    &GLIMPSE_USER_REGISTRATIONS,
    &GLIMPSE_MATCHES_CREATED,
    &GLIMPSE_MESSAGES_SENT,
    &GLIMPSE_PAYMENTS_PROCESSED,
    &GLIMPSE_PAYMENT_AMOUNT,
    &GLIMPSE_ACTIVE_USERS,
    &GLIMPSE_AUDIT_EVENTS,
    &GLIMPSE_API_KEY_REQUESTS,
    &TOKIO_RUNTIME_WORKERS,
    &TOKIO_RUNTIME_ALIVE_TASKS,
    &TOKIO_RUNTIME_GLOBAL_QUEUE_DEPTH,
    &TOKIO_RUNTIME_WORKER_BUSY_DURATION,
    &TOKIO_RUNTIME_WORKER_PARKS,
    &GLIMPSE_LOG_EVENTS,
    &GLIMPSE_TELEMETRY_LOG_LINES_DROPPED,
    &GLIMPSE_TELEMETRY_SPANS,
    &GLIMPSE_TELEMETRY_HELD_SPANS,
    &GLIMPSE_TELEMETRY_HELD_TRACES,
    &GLIMPSE_TELEMETRY_HELD_SPANS_DISCARDED,
    &GLIMPSE_TELEMETRY_ERROR_EVENTS,
    &GLIMPSE_TELEMETRY_CARDINALITY_OVERFLOW,
    &TARGET_INFO,
    &PROCESS_CPU,
    &PROCESS_RESIDENT_MEMORY,
    &PROCESS_VIRTUAL_MEMORY,
    &PROCESS_OPEN_FDS,
    &PROCESS_MAX_FDS,
    &PROCESS_START_TIME,
    &PROCESS_THREADS,
    &BROWSER_WEB_VITAL_LCP,
    &BROWSER_WEB_VITAL_INP,
    &BROWSER_WEB_VITAL_CLS,
    &BROWSER_WEB_VITAL_FCP,
    &BROWSER_WEB_VITAL_TTFB,
    &BROWSER_PAGE_LOAD_DURATION,
    &BROWSER_WEB_VITAL_RATINGS,
    &GLIMPSE_TELEMETRY_RUM_BEACONS,
    &GLIMPSE_TELEMETRY_RUM_DUPLICATE_REPORTS,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Counter, Gauge, Histogram};

    #[test]
    fn names_are_unique_and_units_match() {
        let mut names: Vec<_> = ALL.iter().map(|m| m.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
        for m in ALL {
            if let Some(u) = m.unit {
                assert!(m.name.ends_with(u.suffix()), "{}", m.name);
            }
            assert!(!m.name.ends_with("_total"), "{}", m.name);
        }
    }

    #[test]
    fn definitions_register_as_their_kind_only() {
        assert!(GLIMPSE_MESSAGES_SENT.register::<Counter>().is_ok());
        assert!(GLIMPSE_MESSAGES_SENT.register::<Gauge>().is_err());
        assert!(
            DB_CLIENT_CONNECTION_WAIT_TIME
                .register::<Histogram>()
                .is_ok()
        );
    }
}
