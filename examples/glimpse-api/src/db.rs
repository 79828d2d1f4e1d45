//! The database: SQLite embedded by default, PostgreSQL when `DATABASE_URL` says so, both behind
//! glimpse-telemetry-sqlx's instrumented pools. Queries are plain `sqlx::query(..)` calls.

use std::time::{Duration, Instant};

use glimpse_telemetry_sqlx::{PgPool, SqlitePool};
use serde::Serialize;

/// One of the two supported databases.
#[derive(Clone)]
pub enum Db {
    /// The embedded default.
    Sqlite {
        /// The instrumented pool.
        pool: SqlitePool,
        /// Iterations of the recursive query that take about 100 ms here (SQLite has no sleep).
        slow_unit: i64,
    },
    /// PostgreSQL.
    Postgres(PgPool),
}

/// Runs the same statement on whichever pool is configured (the SQL is portable: `$1`
/// placeholders work in both).
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            Db::Sqlite { pool: $pool, .. } => $body,
            Db::Postgres($pool) => $body,
        }
    };
}

/// A registered user.
#[derive(Clone, Serialize)]
pub struct User {
    /// The id.
    pub id: String,
    /// The display name.
    pub name: String,
}

const MIGRATIONS: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, name TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS matches (id TEXT PRIMARY KEY, user_a TEXT NOT NULL REFERENCES users(id), user_b TEXT NOT NULL REFERENCES users(id))",
    "CREATE TABLE IF NOT EXISTS messages (id TEXT PRIMARY KEY, author TEXT NOT NULL, body TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS payments (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, amount_minor BIGINT NOT NULL, currency TEXT NOT NULL, status TEXT NOT NULL)",
];

impl Db {
    /// Connects, instruments the pool as `main`, and applies the migrations.
    pub async fn connect(url: &str) -> Result<Db, sqlx::Error> {
        let db = if url.starts_with("sqlite:") {
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(4)
                .acquire_timeout(Duration::from_secs(5))
                .connect(url)
                .await?;
            let pool = glimpse_telemetry_sqlx::instrument(&pool, "main");
            let slow_unit = calibrate(&pool).await?;
            Db::Sqlite { pool, slow_unit }
        } else {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(10)
                .acquire_timeout(Duration::from_secs(5))
                .connect(url)
                .await?;
            Db::Postgres(glimpse_telemetry_sqlx::instrument(&pool, "main"))
        };
        for statement in MIGRATIONS {
            on_pool!(&db, pool => sqlx::query(statement).execute(pool).await.map(|_| ()))?;
        }
        Ok(db)
    }

    /// `SELECT 1`, for the readiness check.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        on_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))
    }

    /// Adds a user.
    pub async fn insert_user(&self, id: &str, name: &str) -> Result<(), sqlx::Error> {
        on_pool!(self, pool => sqlx::query("INSERT INTO users (id, name) VALUES ($1, $2)").bind(id).bind(name).execute(pool).await.map(|_| ()))
    }

    /// A user by id.
    pub async fn get_user(&self, id: &str) -> Result<Option<User>, sqlx::Error> {
        let row: Option<(String, String)> = on_pool!(self, pool => sqlx::query_as("SELECT id, name FROM users WHERE id = $1").bind(id).fetch_optional(pool).await)?;
        Ok(row.map(|(id, name)| User { id, name }))
    }

    /// Records a match between two existing users, in a transaction (counted in
    /// `db_client_transactions_total`; a failed insert drops it, which rolls it back).
    pub async fn insert_match(&self, id: &str, a: &str, b: &str) -> Result<(), sqlx::Error> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("INSERT INTO matches (id, user_a, user_b) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(a)
                .bind(b)
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        })
    }

    /// Stores a chat message.
    pub async fn insert_message(
        &self,
        id: &str,
        author: &str,
        body: &str,
    ) -> Result<(), sqlx::Error> {
        on_pool!(self, pool => sqlx::query("INSERT INTO messages (id, author, body) VALUES ($1, $2, $3)").bind(id).bind(author).bind(body).execute(pool).await.map(|_| ()))
    }

    /// Records a payment and its outcome.
    pub async fn insert_payment(
        &self,
        id: &str,
        user_id: &str,
        amount_minor: i64,
        currency: &str,
        status: &str,
    ) -> Result<(), sqlx::Error> {
        on_pool!(self, pool => sqlx::query("INSERT INTO payments (id, user_id, amount_minor, currency, status) VALUES ($1, $2, $3, $4, $5)")
            .bind(id).bind(user_id).bind(amount_minor).bind(currency).bind(status).execute(pool).await.map(|_| ()))
    }

    /// A deliberately slow query of about `ms` milliseconds, for the slow-query path.
    pub async fn slow_report(&self, ms: u64) -> Result<i64, sqlx::Error> {
        match self {
            Db::Postgres(pool) => {
                sqlx::query("SELECT pg_sleep($1)")
                    .bind(ms as f64 / 1000.0)
                    .execute(pool)
                    .await?;
                Ok(0)
            }
            Db::Sqlite { pool, slow_unit } => {
                let n = slow_unit.saturating_mul(ms as i64) / 100;
                let (count,): (i64,) = sqlx::query_as(COUNT_TO).bind(n).fetch_one(pool).await?;
                Ok(count)
            }
        }
    }

    /// A query on a table that does not exist: a database error, for the error path.
    pub async fn broken_query(&self) -> Result<(), sqlx::Error> {
        on_pool!(self, pool => sqlx::query("SELECT amount FROM ledger WHERE id = $1").bind("x").execute(pool).await.map(|_| ()))
    }
}

const COUNT_TO: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < $1) SELECT count(*) FROM c";

/// How many iterations of [`COUNT_TO`] take about 100 ms on this machine.
async fn calibrate(pool: &SqlitePool) -> Result<i64, sqlx::Error> {
    let n: i64 = 200_000;
    let mut fastest = f64::MAX;
    // The first run warms caches up; keep the fastest, so the report is never shorter than asked.
    for _ in 0..3 {
        let start = Instant::now();
        let _: (i64,) = sqlx::query_as(COUNT_TO).bind(n).fetch_one(pool).await?;
        fastest = fastest.min(start.elapsed().as_secs_f64());
    }
    Ok((n as f64 * 0.1 / fastest.max(1e-6)).max(1.0) as i64)
}

/// A new random id with a prefix (`u_3f9a...`).
pub fn new_id(prefix: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    format!("{prefix}_{:016x}", h.finish())
}
