//! Against a real PostgreSQL (`DATABASE_URL`, or 127.0.0.1:5432 database `test` as `postgres`
//! or `root`). Skipped when there is none, unless `GLIMPSE_REQUIRE_PEERS=1`.
#![cfg(feature = "postgres")]

mod common;

use std::time::Duration;

use common::*;
use glimpse_telemetry_sqlx::{Config, PgConnection, PgPool};
use sqlx::postgres::PgPoolOptions;
use tracing::Instrument as _;

const PG: &str = "postgresql";

async fn pool(name: &str, config: impl FnOnce(Config) -> Config) -> Option<PgPool> {
    telemetry();
    let pool = postgres(PgPoolOptions::new().max_connections(4)).await?;
    Some(config(Config::new(name)).instrument(&pool))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_query_is_counted_and_logged_once_with_the_request_ids() {
    let Some(pool) = pool(&unique("pg_slow"), |c| c).await else {
        return;
    };
    let slow_before = slow_queries(PG, "SELECT", "");
    let request_id = unique("req-pg-slow");
    let (span, trace_id) = request_span("GET /slow", &request_id, "user-42");
    async {
        exec(&pool, "SELECT pg_sleep(0.6)").await.unwrap();
        // Below the threshold: measured, not logged.
        exec(&pool, "SELECT pg_sleep(0.05)").await.unwrap();
    }
    .instrument(span)
    .await;

    let t = telemetry();
    let lines = t.request_lines(&request_id);
    let slow: Vec<_> = lines
        .iter()
        .filter(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("slow query"))
        })
        .collect();
    assert_eq!(slow.len(), 1, "one slow-query line: {lines:#?}");
    let line = slow[0];
    assert_eq!(line["level"], "WARN");
    assert_eq!(line["requestId"], request_id.as_str());
    assert_eq!(line["userId"], "user-42");
    assert_eq!(line["traceId"], trace_id.as_str());
    assert_eq!(line["target"], "glimpse_telemetry_sqlx");
    assert_eq!(line["db_query_text"], "SELECT pg_sleep(?)");
    assert_eq!(line["db_system_name"], PG);
    assert_eq!(line["db_operation_name"], "SELECT");
    assert_eq!(line["rows_returned"], 1);
    let ms = line["duration_ms"]
        .as_f64()
        .expect("duration_ms is a number");
    assert!((600.0..5000.0).contains(&ms), "{ms}");
    assert_eq!(line["threshold_ms"], 500.0);

    let slow_after = slow_queries(PG, "SELECT", "");
    assert_eq!(slow_after - slow_before, 1.0);

    // Both queries are in the histogram, the slow one above the 0.5 s bound, with this
    // request's trace id as exemplar.
    let text = scrape_openmetrics();
    let exemplar = text.lines().find(|l| {
        l.starts_with("db_client_operation_duration_seconds_bucket{")
            && l.contains("db_operation_name=\"SELECT\"")
            && l.contains(&trace_id)
    });
    assert!(
        exemplar.is_some(),
        "an exemplar with trace {trace_id}:\n{text}"
    );

    // The query spans are children of the request span.
    let spans = t.trace_spans(&trace_id);
    let request = spans
        .iter()
        .find(|s| s.name == "GET /slow")
        .expect("request span");
    let queries: Vec<_> = spans.iter().filter(|s| s.name == "SELECT").collect();
    assert_eq!(queries.len(), 2, "{spans:#?}");
    for q in &queries {
        assert_eq!(q.parent_span_id, request.span_context.span_id());
        assert_eq!(
            q.span_kind,
            glimpse_telemetry::otel::trace::SpanKind::Client
        );
        assert_eq!(attr(q, "db.system.name").as_deref(), Some(PG));
        assert_eq!(attr(q, "db.operation.name").as_deref(), Some("SELECT"));
        assert_eq!(attr(q, "db.query.summary").as_deref(), Some("SELECT"));
        assert_eq!(attr(q, "db.query.text"), None, "text is off by default");
    }
    // The slow line is also an event on its query's span (what Jaeger shows).
    assert!(
        queries
            .iter()
            .any(|q| q.events.iter().any(|e| e.name.starts_with("slow query")))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_and_error_types_are_labelled() {
    let table = unique("gts_pg_ops");
    let Some(pool) = pool(&unique("pg_ops"), |c| c).await else {
        return;
    };
    exec(&pool, &format!("DROP TABLE IF EXISTS {table}"))
        .await
        .unwrap();
    exec(
        &pool,
        &format!("CREATE TABLE {table} (id BIGINT PRIMARY KEY, name TEXT NOT NULL)"),
    )
    .await
    .unwrap();
    let request_id = unique("req-pg-ops");
    let (span, trace_id) = request_span("POST /ops", &request_id, "user-7");
    async {
        for id in [1_i64, 2] {
            sqlx::query(&format!("INSERT INTO {table} (id, name) VALUES ($1, $2)"))
                .bind(id)
                .bind("n")
                .execute(&pool)
                .await
                .unwrap();
        }
        let rows = fetch_all(&pool, &format!("SELECT id FROM {table} ORDER BY id"))
            .await
            .unwrap();
        assert_eq!(rows.len(), 2);
        exec(
            &pool,
            &format!("UPDATE {table} SET name = 'm' WHERE id = 1"),
        )
        .await
        .unwrap();
        // Failures: a duplicate key, a missing table, a syntax error.
        let dup = exec(
            &pool,
            &format!("INSERT INTO {table} (id, name) VALUES (1, 'x')"),
        )
        .await;
        assert!(dup.is_err());
        let missing = sqlx::query("SELECT * FROM gts_no_such_table_at_all")
            .fetch_optional(&pool)
            .await;
        assert!(missing.is_err());
        let syntax = exec(&pool, "SELEC 1").await;
        assert!(syntax.is_err());
        exec(&pool, &format!("DELETE FROM {table}")).await.unwrap();
    }
    .instrument(span)
    .await;

    assert_eq!(op_count(PG, "INSERT", &table, ""), 2.0);
    assert_eq!(op_count(PG, "SELECT", &table, ""), 1.0);
    assert_eq!(op_count(PG, "UPDATE", &table, ""), 1.0);
    assert_eq!(op_count(PG, "DELETE", &table, ""), 1.0);
    assert_eq!(op_count(PG, "CREATE", &table, ""), 1.0);
    assert_eq!(
        op_count(PG, "INSERT", &table, "23505"),
        1.0,
        "unique violation"
    );
    assert!(op_count(PG, "SELECT", "gts_no_such_table_at_all", "42P01") >= 1.0);
    assert!(op_count(PG, "", "", "42601") >= 1.0, "syntax error");

    let t = telemetry();
    let errors: Vec<_> = t
        .request_lines(&request_id)
        .into_iter()
        .filter(|l| l["level"] == "ERROR")
        .collect();
    assert_eq!(errors.len(), 3, "{errors:#?}");
    let dup = errors
        .iter()
        .find(|l| l["error_type"] == "23505")
        .expect("the duplicate key is logged");
    assert_eq!(dup["db_response_status_code"], "23505");
    assert_eq!(dup["db_operation_name"], "INSERT");
    assert_eq!(dup["userId"], "user-7");
    assert_eq!(dup["traceId"], trace_id.as_str());
    assert_eq!(
        dup["db_query_text"],
        format!("INSERT INTO {table} (id, name) VALUES (?, ?)")
    );
    assert!(
        dup["message"]
            .as_str()
            .is_some_and(|m| m.starts_with(&format!("database query failed: INSERT {table}"))),
        "{dup}"
    );

    let spans = t.trace_spans(&trace_id);
    let failed = spans
        .iter()
        .find(|s| attr(s, "error.type").as_deref() == Some("42P01"))
        .expect("the failed span");
    assert!(matches!(
        failed.status,
        glimpse_telemetry::otel::trace::Status::Error { .. }
    ));
    assert_eq!(
        attr(failed, "db.response.status_code").as_deref(),
        Some("42P01")
    );
    let select = spans
        .iter()
        .find(|s| s.name == format!("SELECT {table}"))
        .expect("the select span");
    assert_eq!(
        attr(select, "db.collection.name").as_deref(),
        Some(table.as_str())
    );
    assert_eq!(
        select
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == "db.response.returned_rows")
            .map(|kv| kv.value.as_str().into_owned())
            .as_deref(),
        Some("2")
    );

    exec(&pool, &format!("DROP TABLE {table}")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_gauges_show_used_pending_waits_and_timeouts() {
    telemetry();
    let name = unique("pg_pool");
    let Some(raw) = postgres(
        PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_millis(1200)),
    )
    .await
    else {
        return;
    };
    let pool = glimpse_telemetry_sqlx::instrument(&raw, &name);
    let labels = [("db_client_connection_pool_name", name.as_str())];

    // Two holders take both connections; a third waits.
    let (a, b, waiter) = hold_both_and_wait(&pool).await;
    if glimpse_test_support::promtool().is_some() {
        // The exposition is valid; promtool's only remark is a naming lint on the catalogue's
        // `db_client_connection_count` (OpenTelemetry's `db.client.connection.count`).
        if let Err(problems) = glimpse_test_support::promtool_check_metrics(&scrape()) {
            for line in problems.lines().skip(1) {
                assert!(
                    line.starts_with("db_client_connection_count ")
                        && line.contains("\"_count\" suffix"),
                    "promtool: {problems}"
                );
            }
        }
    }

    // The third gives up after acquire_timeout.
    let waited = waiter.await.unwrap();
    assert!(
        matches!(waited, Err(sqlx::Error::PoolTimedOut)),
        "{waited:?}"
    );
    assert_eq!(metric("db_client_connection_timeouts_total", &labels), 1.0);
    assert_eq!(
        metric("db_client_connection_pending_requests", &labels),
        0.0
    );

    // A fourth waits until a holder lets go: its wait is observed.
    let count_before = metric("db_client_connection_wait_time_seconds_count", &labels);
    let sum_before = metric("db_client_connection_wait_time_seconds_sum", &labels);
    let releaser = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        drop(a);
    });
    let c = pool.acquire().await.unwrap();
    releaser.await.unwrap();
    let count_after = metric("db_client_connection_wait_time_seconds_count", &labels);
    let sum_after = metric("db_client_connection_wait_time_seconds_sum", &labels);
    assert_eq!(count_after - count_before, 1.0);
    assert!(sum_after - sum_before >= 0.15, "{}", sum_after - sum_before);

    // Queries wait the same way: with both connections held, one times out.
    let timed_out = exec(&pool, "SELECT 1").await;
    assert!(matches!(timed_out, Err(sqlx::Error::PoolTimedOut)));
    assert_eq!(metric("db_client_connection_timeouts_total", &labels), 2.0);

    // Everything back: all idle.
    drop(b);
    drop(c);
    assert_all_idle(&name, 2.0).await;

    // A closed pool leaves the scrape.
    pool.close().await;
    assert!(!scrape().contains(&format!(
        "db_client_connection_pool_name=\"{name}\",db_client_connection_state"
    )));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn literals_never_reach_spans_or_logs() {
    let table = unique("gts_pg_secrets");
    let Some(pool) = pool(&unique("pg_secrets"), log_every_query_with_text).await else {
        return;
    };
    const EMAIL: &str = "ann.secret@example.com";
    const HASH: &str = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";
    const CARD: &str = "4111111111111111";
    const PIN: &str = "987654321";
    let request_id = unique("req-pg-secrets");
    let (span, trace_id) = request_span("POST /signup", &request_id, "user-9");
    async {
        let create = format!(
            "CREATE TABLE IF NOT EXISTS {table} (email TEXT UNIQUE, hash TEXT, card TEXT, pin BIGINT, note TEXT)"
        );
        exec(&pool, &create).await.unwrap();
        // Bound values.
        let insert = format!("INSERT INTO {table} (email, hash, card, pin) VALUES ($1, $2, $3, $4)");
        sqlx::query(&insert)
            .bind(EMAIL)
            .bind(HASH)
            .bind(CARD)
            .bind(PIN.parse::<i64>().unwrap())
            .execute(&pool)
            .await
            .unwrap();
        // Inlined values, in every kind of literal PostgreSQL has.
        let update = format!(
            "UPDATE {table} SET note = E'{EMAIL}\\'s', hash = $q${HASH}$q$, card = '{CARD}' /* {PIN} */ WHERE pin IN ({PIN}, {PIN}) AND email = '{EMAIL}' -- {CARD}"
        );
        exec(&pool, &update).await.unwrap();
        let select = format!("SELECT * FROM {table} WHERE email = '{EMAIL}' OR card = $${CARD}$$");
        fetch_all(&pool, &select).await.unwrap();
        // Failures whose server message quotes the value.
        let dup = format!("INSERT INTO {table} (email) VALUES ('{EMAIL}')");
        assert!(exec(&pool, &dup).await.is_err());
        let cast = exec(&pool, &format!("SELECT '{EMAIL}'::int")).await;
        assert!(cast.is_err());
        let mut tx = pool.begin().await.unwrap();
        set_pin(&mut tx, &table).await;
        tx.rollback().await.unwrap();
    }
    .instrument(span)
    .await;

    let secrets = [EMAIL, "ann.secret", HASH, "R9h/cIPz0gi", CARD, PIN];
    let (spans, _) = assert_no_secrets(&request_id, &trace_id, 6, &secrets);
    assert!(spans.iter().any(|s| attr(s, "db.query.text").is_some()));
    exec(&pool, &format!("DROP TABLE {table}")).await.unwrap();
}

async fn set_pin(conn: &mut PgConnection, table: &str) {
    sqlx::query(&format!(
        "UPDATE {table} SET pin = 123456789 WHERE card = '4111111111111111'"
    ))
    .execute(conn)
    .await
    .unwrap();
}
