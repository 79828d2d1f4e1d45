//! SQLite in memory: always available, so these run everywhere.
#![cfg(feature = "sqlite")]

mod common;

use std::time::Duration;

use common::*;
use glimpse_telemetry_sqlx::{Config, SqliteConnection, SqlitePool};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use tracing::Instrument as _;

const LITE: &str = "sqlite";

/// A pool on a private in-memory database (shared by its connections).
async fn raw_pool(max: u32, acquire_timeout: Duration) -> sqlx::SqlitePool {
    telemetry();
    // Each `sqlite::memory:` options value is its own database, shared by its connections.
    let options: SqliteConnectOptions = "sqlite::memory:".parse().unwrap();
    SqlitePoolOptions::new()
        .max_connections(max)
        .acquire_timeout(acquire_timeout)
        .connect_with(options)
        .await
        .unwrap()
}

async fn pool(name: &str, config: impl FnOnce(Config) -> Config) -> SqlitePool {
    let raw = raw_pool(2, Duration::from_secs(5)).await;
    config(Config::new(name)).instrument(&raw)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_error_types_spans_and_logs() {
    let pool = pool(&unique("lite_ops"), |c| c).await;
    let table = unique("lite_items");
    let request_id = unique("req-lite-ops");
    let (span, trace_id) = request_span("POST /items", &request_id, "user-1");
    async {
        exec(
            &pool,
            &format!("CREATE TABLE {table} (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"),
        )
        .await
        .unwrap();
        for (id, name) in [(1_i64, "a"), (2, "b"), (3, "c")] {
            sqlx::query(&format!("INSERT INTO {table} (id, name) VALUES (?, ?)"))
                .bind(id)
                .bind(name)
                .execute(&pool)
                .await
                .unwrap();
        }
        let names: Vec<String> =
            sqlx::query_scalar(&format!("SELECT name FROM {table} ORDER BY id"))
                .fetch_all(&pool)
                .await
                .unwrap();
        assert_eq!(names, ["a", "b", "c"]);
        let one: Option<(i64,)> = sqlx::query_as(&format!("SELECT id FROM {table} WHERE id = ?"))
            .bind(2_i64)
            .fetch_optional(&pool)
            .await
            .unwrap();
        assert_eq!(one, Some((2,)));
        let deleted = exec(&pool, &format!("DELETE FROM {table} WHERE id > 1"))
            .await
            .unwrap();
        assert_eq!(deleted.rows_affected(), 2);
        let missing = fetch_all(&pool, "SELECT * FROM lite_no_such_table").await;
        assert!(missing.is_err());
        let dup = exec(
            &pool,
            &format!("INSERT INTO {table} (id, name) VALUES (1, 'x')"),
        )
        .await;
        assert!(dup.is_err());
    }
    .instrument(span)
    .await;

    assert_eq!(op_count(LITE, "CREATE", &table, ""), 1.0);
    assert_eq!(op_count(LITE, "INSERT", &table, ""), 3.0);
    assert_eq!(op_count(LITE, "SELECT", &table, ""), 2.0);
    assert_eq!(op_count(LITE, "DELETE", &table, ""), 1.0);
    // SQLite's result codes: 1 (SQLITE_ERROR) for a missing table, 1555 for a primary key.
    assert_eq!(op_count(LITE, "SELECT", "lite_no_such_table", "1"), 1.0);
    assert_eq!(op_count(LITE, "INSERT", &table, "1555"), 1.0);

    let t = telemetry();
    let lines = t.request_lines(&request_id);
    let errors = at_level(&lines, "ERROR");
    assert_eq!(errors.len(), 2, "{lines:#?}");
    let missing = errors.iter().find(|l| l["error_type"] == "1").unwrap();
    assert_eq!(missing["db_query_text"], "SELECT * FROM lite_no_such_table");
    assert_eq!(missing["userId"], "user-1");
    assert_eq!(missing["db_client_connection_pool_name"], pool.name());
    assert_eq!(missing["traceId"], trace_id.as_str());
    assert!(
        missing["error_message"]
            .as_str()
            .unwrap()
            .contains("no such table")
    );
    assert!(
        !lines.iter().any(|l| l["level"] == "WARN"),
        "fast queries are not logged: {lines:#?}"
    );

    let spans = t.trace_spans(&trace_id);
    let select = spans
        .iter()
        .find(|s| {
            s.name == format!("SELECT {table}")
                && attr(s, "db.response.returned_rows").as_deref() == Some("3")
        })
        .expect("the SELECT span with its rows");
    assert_eq!(attr(select, "db.system.name").as_deref(), Some(LITE));
    assert_eq!(
        attr(select, "db.collection.name").as_deref(),
        Some(table.as_str())
    );
    let request = spans.iter().find(|s| s.name == "POST /items").unwrap();
    assert!(
        spans
            .iter()
            .filter(|s| s.name != "POST /items")
            .all(|s| s.parent_span_id == request.span_context.span_id()),
        "every query span is a child of the request span"
    );
    assert_eq!(spans.len(), 1 + 1 + 3 + 2 + 1 + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_and_acquired_connections_are_measured() {
    let pool = pool(&unique("lite_tx"), |c| c).await;
    let table = unique("lite_tx_items");
    exec(&pool, &format!("CREATE TABLE {table} (x INTEGER)"))
        .await
        .unwrap();

    async fn insert(conn: &mut SqliteConnection, table: &str, x: i64) {
        sqlx::query(&format!("INSERT INTO {table} (x) VALUES (?)"))
            .bind(x)
            .execute(conn)
            .await
            .unwrap();
    }

    let mut tx = pool.begin().await.unwrap();
    insert(&mut tx, &table, 1).await;
    sqlx::query(&format!("INSERT INTO {table} (x) VALUES (2)"))
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut tx = pool.begin().await.unwrap();
    insert(&mut tx, &table, 3).await;
    tx.rollback().await.unwrap();

    let mut conn = pool.acquire().await.unwrap();
    insert(&mut conn, &table, 4).await;
    let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(n, 3);
    drop(conn);

    assert_eq!(op_count(LITE, "INSERT", &table, ""), 4.0);
    assert_eq!(op_count(LITE, "SELECT", &table, ""), 1.0);
    assert!(op_count(LITE, "BEGIN", "", "") >= 2.0);
    assert!(op_count(LITE, "COMMIT", "", "") >= 1.0);
    assert!(op_count(LITE, "ROLLBACK", "", "") >= 1.0);
}

fn transactions(pool: &str, outcome: &str) -> f64 {
    metric(
        "db_client_transactions_total",
        &[
            ("db_system_name", LITE),
            ("db_client_connection_pool_name", pool),
            ("outcome", outcome),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_are_counted_once_by_outcome() {
    let name = unique("lite_tx_outcomes");
    let pool = pool(&name, |c| c).await;
    let (parent, child) = (unique("lite_parent"), unique("lite_child"));
    exec(
        &pool,
        &format!("CREATE TABLE {parent} (id INTEGER PRIMARY KEY)"),
    )
    .await
    .unwrap();
    exec(
        &pool,
        &format!("CREATE TABLE {child} (parent_id INTEGER NOT NULL REFERENCES {parent}(id))"),
    )
    .await
    .unwrap();
    // Every outcome reads 0 from the pool's creation.
    for outcome in ["commit", "rollback", "error"] {
        assert!(
            scrape().contains(&format!(
                r#"db_client_transactions_total{{db_system_name="sqlite",db_client_connection_pool_name="{name}",outcome="{outcome}"}} 0"#
            )),
            "{outcome}"
        );
    }
    for _ in 0..3 {
        pool.begin().await.unwrap().commit().await.unwrap();
    }
    pool.begin().await.unwrap().rollback().await.unwrap();
    drop(pool.begin().await.unwrap()); // rolled back by sqlx
    // A deferred foreign key fails at COMMIT.
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("PRAGMA defer_foreign_keys = ON")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query(&format!("INSERT INTO {child} (parent_id) VALUES (42)"))
        .execute(&mut *tx)
        .await
        .unwrap();
    assert!(tx.commit().await.is_err(), "the deferred constraint fails");

    assert_eq!(transactions(&name, "commit"), 3.0);
    assert_eq!(transactions(&name, "rollback"), 2.0);
    assert_eq!(transactions(&name, "error"), 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_dropped_early_is_recorded_once() {
    let pool = pool(&unique("lite_stream"), |c| c).await;
    let table = unique("lite_stream_items");
    exec(&pool, &format!("CREATE TABLE {table} (x INTEGER)"))
        .await
        .unwrap();
    for x in 0..10_i64 {
        sqlx::query(&format!("INSERT INTO {table} (x) VALUES (?)"))
            .bind(x)
            .execute(&pool)
            .await
            .unwrap();
    }
    {
        let sql = format!("SELECT x FROM {table}");
        let mut rows = sqlx::query(&sql).fetch(&pool);
        let first = std::future::poll_fn(|cx| rows.as_mut().poll_next(cx)).await;
        assert!(matches!(first, Some(Ok(_))));
    }
    assert_eq!(op_count(LITE, "SELECT", &table, ""), 1.0);
    // The connection went back to the pool.
    assert!(eventually(Duration::from_secs(5), || pool.stats().used == 0).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_queries_use_the_configured_threshold() {
    let pool = pool(&unique("lite_slow"), |c| {
        c.slow_threshold(Duration::from_nanos(1))
    })
    .await;
    let request_id = unique("req-lite-slow");
    let (span, _) = request_span("GET /slow", &request_id, "user-2");
    // A recursive count that takes a few milliseconds.
    let n: i64 = sqlx::query_scalar(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000) SELECT count(*) FROM c",
    )
    .fetch_one(&pool)
    .instrument(span)
    .await
    .unwrap();
    assert_eq!(n, 20000);
    let lines = telemetry().request_lines(&request_id);
    let slow = at_level(&lines, "WARN");
    assert_eq!(slow.len(), 1, "{lines:#?}");
    assert_eq!(
        slow[0]["db_query_text"],
        "WITH RECURSIVE c(x) AS (SELECT ? UNION ALL SELECT x + ? FROM c WHERE x < ?) SELECT count(*) FROM c"
    );
    assert_eq!(slow[0]["db_operation_name"], "SELECT");
    assert_eq!(slow[0]["rows_returned"], 1);
    assert!(slow_queries(LITE, "SELECT", "") >= 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_gauges_follow_holders_waiters_and_timeouts() {
    let name = unique("lite_pool");
    let raw = raw_pool(2, Duration::from_millis(300)).await;
    let pool = glimpse_telemetry_sqlx::instrument(&raw, &name);
    let labels = [("db_client_connection_pool_name", name.as_str())];
    let (a, b, waiter) = hold_both_and_wait(&pool).await;
    assert!(matches!(
        waiter.await.unwrap(),
        Err(sqlx::Error::PoolTimedOut)
    ));
    assert_eq!(metric("db_client_connection_timeouts_total", &labels), 1.0);
    assert!(metric("db_client_connection_wait_time_seconds_count", &labels) >= 2.0);
    drop((a, b));
    assert_all_idle(&name, 2.0).await;

    // A dropped pool leaves the scrape.
    drop(pool);
    assert_eq!(
        glimpse_telemetry::testing::metric_value("db_client_connection_max", &labels),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn literals_never_reach_spans_or_logs() {
    let pool = pool(&unique("lite_secrets"), log_every_query_with_text).await;
    let table = unique("lite_secrets");
    const EMAIL: &str = "bob.secret@example.com";
    const CARD: &str = "5500005555555559";
    const BLOB: &str = "DEADBEEFCAFE";
    let request_id = unique("req-lite-secrets");
    let (span, trace_id) = request_span("POST /pay", &request_id, "user-3");
    async {
        let create = format!("CREATE TABLE {table} (email TEXT UNIQUE, card TEXT, blob BLOB)");
        exec(&pool, &create).await.unwrap();
        sqlx::query(&format!("INSERT INTO {table} VALUES (?1, ?2, ?3)"))
            .bind(EMAIL)
            .bind(CARD)
            .bind(BLOB.as_bytes())
            .execute(&pool)
            .await
            .unwrap();
        let select = format!(
            "SELECT * FROM {table} WHERE email = '{EMAIL}' AND card IN ('{CARD}', \"{CARD}\") AND blob <> X'{BLOB}' -- {EMAIL}"
        );
        fetch_all(&pool, &select).await.unwrap();
        let dup = format!("INSERT INTO {table} (email) VALUES ('{EMAIL}')");
        assert!(exec(&pool, &dup).await.is_err());
    }
    .instrument(span)
    .await;
    let secrets = [EMAIL, "bob.secret", CARD, BLOB];
    let (_, span_text) = assert_no_secrets(&request_id, &trace_id, 4, &secrets);
    assert!(
        span_text.contains("db.query.text=SELECT * FROM"),
        "{span_text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instrumenting_a_pool_twice_does_not_count_it_twice() {
    let name = unique("lite_twice");
    let raw = raw_pool(3, Duration::from_secs(5)).await;
    let first = glimpse_telemetry_sqlx::instrument(&raw, &name);
    let second = glimpse_telemetry_sqlx::instrument(&raw, &name);
    let _conn = second.acquire().await.unwrap();
    let labels = [("db_client_connection_pool_name", name.as_str())];
    assert_eq!(metric("db_client_connection_max", &labels), 3.0);
    assert_eq!(
        metric(
            "db_client_connection_count",
            &[
                ("db_client_connection_pool_name", name.as_str()),
                ("db_client_connection_state", "used"),
            ],
        ),
        1.0
    );
    drop(first);
}
