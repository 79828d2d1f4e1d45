//! End to end through a real OTLP receiver (the Jaeger side): the query span arrives as a
//! client span, child of the request span, with its database attributes. Needs the Node.js
//! test peers; skipped without them unless `GLIMPSE_REQUIRE_PEERS=1`.
#![cfg(feature = "sqlite")]

use std::time::Duration;

use sqlx::sqlite::SqlitePoolOptions;
use tracing::Instrument as _;

#[test]
fn query_spans_reach_the_collector_under_the_request_span() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let Some(otlp) = glimpse_test_support::OtlpReceiver::start() else {
        return;
    };
    let config = glimpse_telemetry::Config::from_vars([
        ("RUST_LOG", "info"),
        ("OTEL_SERVICE_NAME", "sqlx-otlp-test"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ])
    .unwrap();
    let telemetry = glimpse_telemetry::builder()
        .config(config)
        .otlp_endpoint(otlp.http_traces_url())
        .log_writer(std::io::sink())
        .init()
        .unwrap();

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let raw = SqlitePoolOptions::new()
            .connect("sqlite::memory:")
            .await
            .unwrap();
        let pool = glimpse_telemetry_sqlx::Config::new("otlp")
            .capture_query_text(true)
            .instrument(&raw);
        let span = tracing::info_span!(
            "request",
            otel.name = "GET /items/{id}",
            otel.kind = "server",
            request_id = "req-otlp",
        );
        async {
            sqlx::query("CREATE TABLE items (id INTEGER PRIMARY KEY, email TEXT)")
                .execute(&pool)
                .await
                .unwrap();
            sqlx::query("INSERT INTO items (id, email) VALUES (7, 'dan@example.com')")
                .execute(&pool)
                .await
                .unwrap();
            let _ = sqlx::query("SELECT * FROM missing").fetch_all(&pool).await;
        }
        .instrument(span)
        .await;
    });
    telemetry.flush();

    let spans = otlp.wait_until(Duration::from_secs(15), |spans| {
        spans.iter().any(|s| s.name == "GET /items/{id}")
            && spans.iter().any(|s| s.name == "SELECT missing")
    });
    let request = spans
        .iter()
        .find(|s| s.name == "GET /items/{id}")
        .unwrap_or_else(|| panic!("the request span: {spans:#?}"));
    let insert = spans
        .iter()
        .find(|s| s.name == "INSERT items")
        .expect("the INSERT span");
    assert_eq!(insert.kind, "SPAN_KIND_CLIENT");
    assert_eq!(insert.trace_id, request.trace_id);
    assert_eq!(
        insert.parent_span_id.as_deref(),
        Some(request.span_id.as_str())
    );
    assert_eq!(insert.attr_str("db.system.name"), Some("sqlite"));
    assert_eq!(insert.attr_str("db.operation.name"), Some("INSERT"));
    assert_eq!(insert.attr_str("db.collection.name"), Some("items"));
    assert_eq!(insert.attr_str("db.query.summary"), Some("INSERT items"));
    assert_eq!(
        insert.attr_str("db.query.text"),
        Some("INSERT INTO items (id, email) VALUES (?, ?)")
    );
    let failed = spans.iter().find(|s| s.name == "SELECT missing").unwrap();
    assert_eq!(failed.status_code.as_deref(), Some("STATUS_CODE_ERROR"));
    assert_eq!(failed.attr_str("error.type"), Some("1"));
    assert_eq!(failed.attr_str("db.response.status_code"), Some("1"));
    let all = format!("{spans:?}");
    assert!(!all.contains("dan@example.com"), "{all}");
}
