//! Per-query overhead of the instrumentation: the same queries on a bare sqlx pool and on an
//! instrumented one, SQLite in memory (the cheapest queries, where overhead shows most), with
//! telemetry initialized and every span sampled and exported (to a sink).
//!
//! `cargo bench -p glimpse-telemetry-sqlx --bench overhead`
//!
//! Besides criterion's groups, a last pass runs rounds of bare and instrumented queries in turn
//! and prints, per query, the median CPU time of every thread but SQLite's worker (the span
//! exporter's included) and the median wall time. sqlx's SQLite driver hands every statement
//! and row to a worker thread, so on a busy machine wall times mostly measure the scheduler
//! (criterion's groups can differ by 3x from one run to the next); CPU time outside the worker
//! is the stable measure of what the instrumentation costs. `OVERHEAD_SINGLE` (see `main`) runs
//! one case for callgrind's instruction counts.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use glimpse_telemetry::otel::sdk::error::OTelSdkResult;
use glimpse_telemetry::otel::sdk::trace::{SpanData, SpanExporter};
use glimpse_telemetry_sqlx::SqlitePool;
use glimpse_telemetry_sqlx::sql::{Dialect, Summary, sanitize};
use sqlx::sqlite::SqlitePoolOptions;
use tokio::runtime::Runtime;

#[derive(Debug)]
struct Discard;

impl SpanExporter for Discard {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

async fn database() -> sqlx::SqlitePool {
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await
        .expect("sqlite in memory");
    sqlx::query("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
        .execute(&pool)
        .await
        .expect("create");
    for id in 0..100_i64 {
        sqlx::query("INSERT INTO items (id, name) VALUES (?, ?)")
            .bind(id)
            .bind(format!("item {id}"))
            .execute(&pool)
            .await
            .expect("insert");
    }
    pool
}

const ONE: &str = "SELECT id, name FROM items WHERE id = ?";
const ALL: &str = "SELECT id, name FROM items";
const UPDATE: &str = "UPDATE items SET name = ? WHERE id = ?";

async fn fetch_one_bare(pool: &sqlx::SqlitePool) {
    let row: (i64, String) = sqlx::query_as(ONE)
        .bind(42_i64)
        .fetch_one(pool)
        .await
        .unwrap();
    black_box(row);
}

async fn fetch_one_instrumented(pool: &SqlitePool) {
    let row: (i64, String) = sqlx::query_as(ONE)
        .bind(42_i64)
        .fetch_one(pool)
        .await
        .unwrap();
    black_box(row);
}

async fn fetch_all_bare(pool: &sqlx::SqlitePool) {
    let rows: Vec<(i64, String)> = sqlx::query_as(ALL).fetch_all(pool).await.unwrap();
    black_box(rows);
}

async fn fetch_all_instrumented(pool: &SqlitePool) {
    let rows: Vec<(i64, String)> = sqlx::query_as(ALL).fetch_all(pool).await.unwrap();
    black_box(rows);
}

async fn update_bare(pool: &sqlx::SqlitePool) {
    let r = sqlx::query(UPDATE)
        .bind("x")
        .bind(7_i64)
        .execute(pool)
        .await
        .unwrap();
    black_box(r);
}

async fn update_instrumented(pool: &SqlitePool) {
    let r = sqlx::query(UPDATE)
        .bind("x")
        .bind(7_i64)
        .execute(pool)
        .await
        .unwrap();
    black_box(r);
}

fn criterion_groups(c: &mut Criterion, rt: &Runtime, bare: &sqlx::SqlitePool, inst: &SqlitePool) {
    let mut g = c.benchmark_group("fetch_one");
    g.bench_function("sqlx", |b| b.to_async(rt).iter(|| fetch_one_bare(bare)));
    g.bench_function("instrumented", |b| {
        b.to_async(rt).iter(|| fetch_one_instrumented(inst))
    });
    g.finish();

    let mut g = c.benchmark_group("fetch_all_100_rows");
    g.bench_function("sqlx", |b| b.to_async(rt).iter(|| fetch_all_bare(bare)));
    g.bench_function("instrumented", |b| {
        b.to_async(rt).iter(|| fetch_all_instrumented(inst))
    });
    g.finish();

    let mut g = c.benchmark_group("execute_update");
    g.bench_function("sqlx", |b| b.to_async(rt).iter(|| update_bare(bare)));
    g.bench_function("instrumented", |b| {
        b.to_async(rt).iter(|| update_instrumented(inst))
    });
    g.finish();

    // The instrumentation's own CPU work per statement, without a database.
    let mut g = c.benchmark_group("sql");
    let sql = "SELECT u.id, u.name FROM users u WHERE u.email = $1 AND u.active = true ORDER BY u.id LIMIT 10";
    g.bench_function("summary", |b| {
        b.iter(|| black_box(Summary::parse(black_box(sql), Dialect::Postgres)))
    });
    g.bench_function("sanitize", |b| {
        b.iter(|| black_box(sanitize(black_box(sql), Dialect::Postgres)))
    });
    g.finish();
}

/// CPU time of every thread of the process (the runtime, the span exporter, the log writer)
/// except sqlx's SQLite workers, from `/proc/self/task/*/schedstat` (nanoseconds). Waiting for
/// a CPU on a busy machine does not inflate it; the workers are left out because they do the
/// same work for both pools and, handing rows over between threads, spin for a time that
/// depends on the scheduler more than on the query.
fn cpu() -> Duration {
    let mut total = 0u64;
    for task in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let path = task.path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if comm.starts_with("sqlx-sqlite") {
            continue;
        }
        let stat = std::fs::read_to_string(path.join("schedstat")).unwrap_or_default();
        total += stat
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Duration::from_nanos(total)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_unstable_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs `rounds` rounds of `n` bare queries then `n` instrumented ones; prints the medians over
/// rounds of the CPU time and the wall time per query, and their ratios.
///
/// Each instrumented run ends with `flush` (exporting its spans), so that the exporter's work is
/// counted with the queries that made it rather than with whichever run it happens to overlap.
fn alternate<A, B, FA, FB>(
    rt: &Runtime,
    flush: &dyn Fn(),
    name: &str,
    rounds: usize,
    n: u32,
    a: A,
    b: B,
) where
    A: Fn() -> FA,
    B: Fn() -> FB,
    FA: Future<Output = ()>,
    FB: Future<Output = ()>,
{
    let (mut cpu_a, mut cpu_b, mut wall_a, mut wall_b) = (vec![], vec![], vec![], vec![]);
    rt.block_on(async {
        for round in 0..=rounds {
            let (c, t) = (cpu(), Instant::now());
            for _ in 0..n {
                a().await;
            }
            let (ca, wa) = (cpu() - c, t.elapsed());
            let (c, t) = (cpu(), Instant::now());
            for _ in 0..n {
                b().await;
            }
            flush();
            let (cb, wb) = (cpu() - c, t.elapsed());
            if round > 0 {
                // round 0 warms up
                let per = |d: Duration| d.as_secs_f64() * 1e6 / f64::from(n);
                cpu_a.push(per(ca));
                cpu_b.push(per(cb));
                wall_a.push(per(wa));
                wall_b.push(per(wb));
            }
        }
    });
    let (ca, cb) = (median(&mut cpu_a), median(&mut cpu_b));
    let (wa, wb) = (median(&mut wall_a), median(&mut wall_b));
    println!(
        "{name}: CPU per query (outside SQLite's worker) sqlx {ca:.1} µs, instrumented {cb:.1} µs, ratio {:.2} ({:+.1} µs); \
         wall per query sqlx {wa:.1} µs, instrumented {wb:.1} µs, ratio {:.2}",
        cb / ca,
        cb - ca,
        wb / wa,
    );
}

fn main() {
    // One thread runs the queries (and parks, rather than spinning like a multi-threaded
    // runtime's worker, while SQLite's worker thread answers).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let config = glimpse_telemetry::Config::from_vars([("RUST_LOG", "info")]).expect("config");
    let telemetry = glimpse_telemetry::builder()
        .config(config)
        .log_writer(std::io::sink())
        .span_exporter(Discard)
        .init()
        .expect("telemetry");
    let (bare, inst) = rt.block_on(async {
        let bare = database().await;
        let inst = glimpse_telemetry_sqlx::instrument(&database().await, "bench");
        (bare, inst)
    });

    // `OVERHEAD_SINGLE="<sqlx|instrumented> <n>"` runs only n point queries on that pool, then
    // flushes, for `valgrind --tool=callgrind` (instruction counts do not depend on the load of
    // the machine): the instrumentation's instructions per query are
    // (I(instrumented, 3000) - I(instrumented, 1000) - I(sqlx, 3000) + I(sqlx, 1000)) / 2000.
    if let Ok(single) = std::env::var("OVERHEAD_SINGLE") {
        let (case, n) = single.split_once(' ').unwrap_or((&single, "1000"));
        let n: u32 = n.parse().expect("OVERHEAD_SINGLE: a count after the case");
        rt.block_on(async {
            for _ in 0..n {
                match case {
                    "sqlx" => fetch_one_bare(&bare).await,
                    _ => fetch_one_instrumented(&inst).await,
                }
            }
        });
        telemetry.flush();
        return;
    }

    let mut c = Criterion::default().configure_from_args();
    criterion_groups(&mut c, &rt, &bare, &inst);
    c.final_summary();

    // Only when benchmarking (`cargo bench`), not in `cargo test --benches`' quick run.
    if std::env::args().any(|a| a == "--bench") {
        alternate(
            &rt,
            &|| telemetry.flush(),
            "fetch_one",
            21,
            1000,
            || fetch_one_bare(&bare),
            || fetch_one_instrumented(&inst),
        );
        alternate(
            &rt,
            &|| telemetry.flush(),
            "fetch_all_100_rows",
            21,
            100,
            || fetch_all_bare(&bare),
            || fetch_all_instrumented(&inst),
        );
        alternate(
            &rt,
            &|| telemetry.flush(),
            "execute_update",
            21,
            1000,
            || update_bare(&bare),
            || update_instrumented(&inst),
        );
    }
}
