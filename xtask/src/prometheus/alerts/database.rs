//! The guide's database alerts: DatabaseConnectionsExhausted and SlowQueries.

use crate::names::sample;
use crate::prometheus::model::{
    Alert, Case, DATABASE, Fired, JOB, Severity, job_label, series, series_selector,
};
use crate::prometheus::recordings::{DB_SLOW_QUERIES_RATE, DB_UTILIZATION};
use glimpse_telemetry::metrics::catalogue::{
    DB_CLIENT_CONNECTION_COUNT, DB_CLIENT_CONNECTION_MAX, DB_CLIENT_SLOW_QUERIES,
};

fn pool_series(state: Option<&str>, values: &str) -> (String, String) {
    let base = [
        ("job", JOB),
        ("instance", "glimpse-api:8080"),
        ("db_client_connection_pool_name", "main"),
    ];
    match state {
        Some(st) => {
            let mut labels = base.to_vec();
            labels.push(("db_client_connection_state", st));
            series(DB_CLIENT_CONNECTION_COUNT.name, &labels, values)
        }
        None => series(DB_CLIENT_CONNECTION_MAX.name, &base, values),
    }
}

pub(crate) fn database_connections_exhausted() -> Alert {
    Alert {
        group: DATABASE,
        name: "DatabaseConnectionsExhausted",
        severity: Severity::Critical,
        guide: "Database Connection Exhausted: >80% connections used",
        expr: format!("{DB_UTILIZATION} > 0.8"),
        for_: "1m",
        summary: "Connection pool {{ $labels.db_client_connection_pool_name }} of \
            {{ $labels.job }} is nearly exhausted",
        description: "{{ $value | humanizePercentage }} of the pool's connections are in use \
            (threshold 80%): requests will soon queue for a connection and time out.",
        why: "Per pool. `for: 1m` (the guide gives no duration) ignores a momentary burst.",
        tests: vec![
            Case {
                what: "8 of 10 connections used (80%): not above the threshold.".into(),
                series: vec![
                    pool_series(Some("used"), "8x10"),
                    pool_series(Some("idle"), "2x10"),
                    pool_series(None, "10x10"),
                ],
                checks: vec![("0m", vec![]), ("5m", vec![])],
                exprs: vec![(
                    DB_UTILIZATION.to_owned(),
                    "5m",
                    vec![(
                        series_selector(
                            DB_UTILIZATION,
                            &[("db_client_connection_pool_name", "main"), ("job", JOB)],
                        ),
                        "0.8".into(),
                    )],
                )],
            },
            Case {
                what: "81 of 100 used: pending at once, firing after 1 minute.".into(),
                series: vec![
                    pool_series(Some("used"), "81x10"),
                    pool_series(Some("idle"), "19x10"),
                    pool_series(None, "100x10"),
                ],
                checks: vec![
                    ("0m", vec![]),
                    (
                        "1m",
                        vec![Fired {
                            labels: vec![
                                job_label(),
                                ("db_client_connection_pool_name", "main".into()),
                            ],
                            summary: format!("Connection pool main of {JOB} is nearly exhausted"),
                            description: "81% of the pool's connections are in use (threshold \
                                80%): requests will soon queue for a connection and time out."
                                .into(),
                        }],
                    ),
                ],
                exprs: vec![],
            },
            Case {
                what: "A pool whose maximum reads 0 (closed) is not divided by zero.".into(),
                series: vec![pool_series(Some("used"), "1x10"), pool_series(None, "0x10")],
                checks: vec![("5m", vec![])],
                exprs: vec![],
            },
        ],
    }
}

fn slow_query_series(values: &str) -> (String, String) {
    series(
        &sample(&DB_CLIENT_SLOW_QUERIES),
        &[
            ("job", JOB),
            ("instance", "glimpse-api:8080"),
            ("db_system_name", "postgresql"),
            ("db_operation_name", "SELECT"),
            ("db_collection_name", "matches"),
        ],
        values,
    )
}

pub(crate) fn slow_queries() -> Alert {
    Alert {
        group: DATABASE,
        name: "SlowQueries",
        severity: Severity::Warning,
        guide: "Slow Queries: >500ms for 5 minutes",
        expr: format!("{DB_SLOW_QUERIES_RATE} * 60 > 0"),
        for_: "5m",
        summary: "Slow database queries on {{ $labels.job }}",
        description: "{{ $labels.job }} has been running queries slower than 500 ms for 5 \
            minutes ({{ $value | humanize }} per minute now). Its WARN log lines \
            \"slow query: ...\" name them.",
        why: "The SDK counts every query that takes 500 ms or more (its slow-query threshold, the\n\
              guide's) in db_client_slow_queries_total, so \"queries over 500 ms for 5 minutes\"\n\
              is: slow queries kept happening in every 5-minute window for 5 minutes. A single\n\
              slow query does not fire (its rate lasts at most 5 minutes, the `for` needs more).\n\
              A p95 of the duration histogram would hide a slow query among many fast ones.",
        tests: vec![
            Case {
                what: "One slow query, then none: the rate stays positive for 4 minutes only, \
                       never fires."
                    .into(),
                series: vec![slow_query_series("0x10 1x20")],
                checks: vec![
                    ("14m", vec![]),
                    ("15m", vec![]),
                    ("16m", vec![]),
                    ("20m", vec![]),
                ],
                exprs: vec![],
            },
            Case {
                what: "A slow query every minute: pending at 5m, firing at 6m.".into(),
                series: vec![slow_query_series("0+1x20")],
                checks: vec![
                    ("5m", vec![]),
                    (
                        "6m",
                        vec![Fired {
                            labels: vec![job_label()],
                            summary: format!("Slow database queries on {JOB}"),
                            description: format!(
                                "{JOB} has been running queries slower than 500 ms for 5 \
                                 minutes (1 per minute now). Its WARN log lines \"slow query: \
                                 ...\" name them."
                            ),
                        }],
                    ),
                ],
                exprs: vec![],
            },
        ],
    }
}
