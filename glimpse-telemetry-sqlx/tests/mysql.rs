//! Against a real MariaDB/MySQL (`MYSQL_URL`, `DATABASE_URL` when it is a mysql URL, or
//! 127.0.0.1:3306 database `test` as `root` without password). Skipped when there is none,
//! unless `GLIMPSE_REQUIRE_PEERS=1`.
#![cfg(feature = "mysql")]

mod common;

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
    exec(&pool, &format!("DROP TABLE IF EXISTS {table}"))
        .await
        .unwrap();
    let request_id = unique("req-my-ops");
    let (span, trace_id) = request_span("POST /my", &request_id, "user-5");
    async {
        exec(
            &pool,
            &format!("CREATE TABLE {table} (id BIGINT PRIMARY KEY, name VARCHAR(64) NOT NULL)"),
        )
        .await
        .unwrap();
        sqlx::query(&format!("INSERT INTO `{table}` (id, name) VALUES (?, ?)"))
            .bind(1_i64)
            .bind("a")
            .execute(&pool)
            .await
            .unwrap();
        let rows = fetch_all(&pool, &format!("SELECT id, name FROM {table}"))
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
        let dup = exec(
            &pool,
            &format!("INSERT INTO {table} (id, name) VALUES (1, 'b')"),
        )
        .await;
        assert!(dup.is_err());
        let missing = fetch_all(&pool, "SELECT * FROM gts_my_no_such_table").await;
        assert!(missing.is_err());
        exec(&pool, "SELECT SLEEP(0.6)").await.unwrap();
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
    let slow = at_level(&lines, "WARN");
    assert_eq!(slow.len(), 1, "{lines:#?}");
    assert_eq!(slow[0]["db_query_text"], "SELECT SLEEP(?)");
    assert_eq!(slow[0]["db_system_name"], MARIADB);
    assert_eq!(slow[0]["userId"], "user-5");
    assert_eq!(slow[0]["traceId"], trace_id.as_str());
    let errors = at_level(&lines, "ERROR");
    assert_eq!(errors.len(), 2, "{lines:#?}");
    // MySQL quotes the duplicate value in its message; the log line does not.
    let dup = errors.iter().find(|l| l["error_type"] == "23000").unwrap();
    let message = dup["error_message"].as_str().unwrap();
    assert!(message.starts_with("Duplicate entry ?"), "{message}");

    exec(&pool, &format!("DROP TABLE {table}")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn literals_never_reach_spans_or_logs() {
    let table = unique("gts_my_secrets");
    let Some(pool) = pool(&unique("my_secrets"), log_every_query_with_text).await else {
        return;
    };
    const EMAIL: &str = "carol.secret@example.com";
    const CARD: &str = "378282246310005";
    let request_id = unique("req-my-secrets");
    let (span, trace_id) = request_span("POST /my-secrets", &request_id, "user-6");
    async {
        let create = format!(
            "CREATE TABLE IF NOT EXISTS {table} (email VARCHAR(64) UNIQUE, card VARCHAR(32), note TEXT)"
        );
        exec(&pool, &create).await.unwrap();
        sqlx::query(&format!("INSERT INTO {table} (email, card) VALUES (?, ?)"))
            .bind(EMAIL)
            .bind(CARD)
            .execute(&pool)
            .await
            .unwrap();
        let update = format!(
            "UPDATE {table} SET note = 'it\\'s {EMAIL}', card = \"{CARD}\" WHERE email = '{EMAIL}' # {CARD}"
        );
        exec(&pool, &update).await.unwrap();
        let select = format!("SELECT * FROM {table} WHERE card = x'{}'", "41414141");
        fetch_all(&pool, &select).await.unwrap();
        let dup = format!("INSERT INTO {table} (email) VALUES ('{EMAIL}')");
        assert!(exec(&pool, &dup).await.is_err());
    }
    .instrument(span)
    .await;
    let secrets = [EMAIL, "carol.secret", CARD, "41414141"];
    assert_no_secrets(&request_id, &trace_id, 5, &secrets);
    exec(&pool, &format!("DROP TABLE {table}")).await.unwrap();
}
