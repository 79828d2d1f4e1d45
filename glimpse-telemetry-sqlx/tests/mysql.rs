//! Against a real MariaDB/MySQL (`MYSQL_URL`, `DATABASE_URL` when it is a mysql URL, or
//! 127.0.0.1:3306 database `test` as `root` without password). Skipped when there is none,
//! unless `GLIMPSE_REQUIRE_PEERS=1`.
#![cfg(feature = "mysql")]

mod common;

use std::time::Duration;

use common::*;
use glimpse_telemetry_sqlx::{Config, MySqlPool};
use sqlx::mysql::MySqlPoolOptions;
use tracing::Instrument as _;

const MARIADB: &str = "mariadb";

async fn pool(name: &str, config: impl FnOnce(Config) -> Config) -> Option<MySqlPool> {
    telemetry();
    let pool = mysql(MySqlPoolOptions::new().max_connections(4)).await?;
    Some(config(Config::new(name).system_name(MARIADB)).instrument(&pool))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_error_types_and_slow_queries() {
    let table = unique("gts_my_ops");
    let Some(pool) = pool(&unique("my_ops"), |c| c).await else {
        return;
    };
    sqlx::query(&format!("DROP TABLE IF EXISTS {table}"))
        .execute(&pool)
        .await
        .unwrap();
    let request_id = unique("req-my-ops");
    let (span, trace_id) = request_span("POST /my", &request_id, "user-5");
    async {
        sqlx::query(&format!(
            "CREATE TABLE {table} (id BIGINT PRIMARY KEY, name VARCHAR(64) NOT NULL)"
        ))
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query(&format!("INSERT INTO `{table}` (id, name) VALUES (?, ?)"))
            .bind(1_i64)
            .bind("a")
            .execute(&pool)
            .await
            .unwrap();
        let rows = sqlx::query(&format!("SELECT id, name FROM {table}"))
            .fetch_all(&pool)
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
        let dup = sqlx::query(&format!("INSERT INTO {table} (id, name) VALUES (1, 'b')"))
            .execute(&pool)
            .await;
        assert!(dup.is_err());
        let missing = sqlx::query("SELECT * FROM gts_my_no_such_table")
            .fetch_all(&pool)
            .await;
        assert!(missing.is_err());
        sqlx::query("SELECT SLEEP(0.6)")
            .execute(&pool)
            .await
            .unwrap();
    }
    .instrument(span)
    .await;

    assert_eq!(op_count(MARIADB, "CREATE", &table, ""), 1.0);
    assert_eq!(
        op_count(MARIADB, "INSERT", &table, ""),
        1.0,
        "backquotes are removed"
    );
    assert_eq!(op_count(MARIADB, "SELECT", &table, ""), 1.0);
    assert_eq!(
        op_count(MARIADB, "INSERT", &table, "23000"),
        1.0,
        "duplicate key"
    );
    assert_eq!(
        op_count(MARIADB, "SELECT", "gts_my_no_such_table", "42S02"),
        1.0,
        "missing table"
    );

    let lines = telemetry().request_lines(&request_id);
    let slow: Vec<_> = lines.iter().filter(|l| l["level"] == "WARN").collect();
    assert_eq!(slow.len(), 1, "{lines:#?}");
    assert_eq!(slow[0]["db_query_text"], "SELECT SLEEP(?)");
    assert_eq!(slow[0]["db_system_name"], MARIADB);
    assert_eq!(slow[0]["userId"], "user-5");
    assert_eq!(slow[0]["traceId"], trace_id.as_str());
    let errors: Vec<_> = lines.iter().filter(|l| l["level"] == "ERROR").collect();
    assert_eq!(errors.len(), 2, "{lines:#?}");
    // MySQL quotes the duplicate value in its message; the log line does not.
    let dup = errors.iter().find(|l| l["error_type"] == "23000").unwrap();
    let message = dup["error_message"].as_str().unwrap();
    assert!(message.starts_with("Duplicate entry ?"), "{message}");

    sqlx::query(&format!("DROP TABLE {table}"))
        .execute(&pool)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn literals_never_reach_spans_or_logs() {
    let table = unique("gts_my_secrets");
    let Some(pool) = pool(&unique("my_secrets"), |c| {
        c.capture_query_text(true).slow_threshold(Duration::ZERO)
    })
    .await
    else {
        return;
    };
    const EMAIL: &str = "carol.secret@example.com";
    const CARD: &str = "378282246310005";
    let request_id = unique("req-my-secrets");
    let (span, trace_id) = request_span("POST /my-secrets", &request_id, "user-6");
    async {
        sqlx::query(&format!(
            "CREATE TABLE IF NOT EXISTS {table} (email VARCHAR(64) UNIQUE, card VARCHAR(32), note TEXT)"
        ))
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query(&format!("INSERT INTO {table} (email, card) VALUES (?, ?)"))
            .bind(EMAIL)
            .bind(CARD)
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query(&format!(
            "UPDATE {table} SET note = 'it\\'s {EMAIL}', card = \"{CARD}\" WHERE email = '{EMAIL}' # {CARD}"
        ))
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query(&format!("SELECT * FROM {table} WHERE card = x'{}'", "41414141"))
            .fetch_all(&pool)
            .await
            .unwrap();
        let dup = sqlx::query(&format!("INSERT INTO {table} (email) VALUES ('{EMAIL}')"))
            .execute(&pool)
            .await;
        assert!(dup.is_err());
    }
    .instrument(span)
    .await;
    let t = telemetry();
    let lines = t.request_lines(&request_id);
    assert!(lines.len() >= 5, "{lines:#?}");
    let logs = serde_json::to_string(&lines).unwrap();
    let span_text = all_span_text(&t.trace_spans(&trace_id));
    for secret in [EMAIL, "carol.secret", CARD, "41414141"] {
        assert!(!logs.contains(secret), "{secret} in the logs: {logs}");
        assert!(
            !span_text.contains(secret),
            "{secret} in a span: {span_text}"
        );
    }
    sqlx::query(&format!("DROP TABLE {table}"))
        .execute(&pool)
        .await
        .unwrap();
}
