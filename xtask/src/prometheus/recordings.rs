//! The recording rules of the guide's KPIs and the expressions they share with the
//! dashboards and docs/metrics.md (error ratio, latency quantiles, payment failures, pool use).

use crate::names::{bucket, count, sample};
use crate::prometheus::model::{BUSINESS, DATABASE, HTTP, Recording};
use glimpse_telemetry::metrics::catalogue::{
    DB_CLIENT_CONNECTION_COUNT, DB_CLIENT_CONNECTION_MAX, DB_CLIENT_SLOW_QUERIES,
    GLIMPSE_PAYMENTS_PROCESSED, HTTP_SERVER_REQUEST_DURATION,
};

pub(crate) const HTTP_REQUESTS_RATE: &str = "glimpse:http_requests:rate5m";
pub(crate) const HTTP_ERRORS_RATE: &str = "glimpse:http_errors:rate5m";
pub(crate) const HTTP_ERROR_RATIO: &str = "glimpse:http_error_ratio:rate5m";
pub(crate) const HTTP_P50: &str = "glimpse:http_request_duration_seconds:p50_5m";
pub(crate) const HTTP_P95: &str = "glimpse:http_request_duration_seconds:p95_5m";
pub(crate) const HTTP_P99: &str = "glimpse:http_request_duration_seconds:p99_5m";
pub(crate) const DB_UTILIZATION: &str = "glimpse:db_connection_utilization:ratio";
pub(crate) const DB_SLOW_QUERIES_RATE: &str = "glimpse:db_slow_queries:rate5m";
pub(crate) const PAYMENT_FAILURE_RATIO: &str = "glimpse:payment_failure_ratio:rate5m";

/// `name{m1, m2}` from the non-empty matchers, or just `name`.
pub(crate) fn selector(name: &str, matchers: &[&str]) -> String {
    let ms: Vec<&str> = matchers.iter().copied().filter(|m| !m.is_empty()).collect();
    if ms.is_empty() {
        name.to_owned()
    } else {
        format!("{name}{{{}}}", ms.join(", "))
    }
}

/// The 5xx selector of the request counter, with extra matchers `m`.
pub(crate) fn http_5xx_count(m: &str) -> String {
    selector(
        &count(&HTTP_SERVER_REQUEST_DURATION),
        &[r#"http_response_status_code=~"5..""#, m],
    )
}

/// The share of requests answered with a 5xx over `window`, by `by`, for the matchers `m`
/// (e.g. `job=~"$job"`, or empty). 0, not empty, while there is traffic but no 5xx series.
pub(crate) fn http_error_ratio_expr(by: &str, m: &str, window: &str) -> String {
    let all = format!(
        "sum by ({by}) (rate({}[{window}]))",
        selector(&count(&HTTP_SERVER_REQUEST_DURATION), &[m])
    );
    format!(
        "(\n  sum by ({by}) (rate({}[{window}]))\n  or\n  {all} * 0\n)\n/\n{all}",
        http_5xx_count(m)
    )
}

/// The `q` quantile of request duration over `window`, by `by` (which must include `le`).
pub(crate) fn http_quantile_expr(q: &str, by: &str, m: &str, window: &str) -> String {
    format!(
        "histogram_quantile({q}, sum by ({by}) (rate({}[{window}])))",
        selector(&bucket(&HTTP_SERVER_REQUEST_DURATION), &[m])
    )
}

/// The share of payments that failed over `window`.
pub(crate) fn payment_failure_ratio_expr(by: &str, m: &str, window: &str) -> String {
    let payments = sample(&GLIMPSE_PAYMENTS_PROCESSED);
    format!(
        "sum by ({by}) (rate({}[{window}]))\n/\nsum by ({by}) (rate({}[{window}]))",
        selector(&payments, &[r#"outcome="failed""#, m]),
        selector(&payments, &[m]),
    )
}

/// The share of each pool's connections in use; pools with a maximum of 0 are left out.
pub(crate) fn db_utilization_expr(by: &str, m: &str) -> String {
    format!(
        "sum by ({by}) ({})\n/\nsum by ({by}) ({} > 0)",
        selector(
            DB_CLIENT_CONNECTION_COUNT.name,
            &[r#"db_client_connection_state="used""#, m]
        ),
        selector(DB_CLIENT_CONNECTION_MAX.name, &[m]),
    )
}

/// The recording rules of the guide's KPIs, in evaluation order.
pub(crate) fn guide_recordings() -> Vec<Recording> {
    let requests = count(&HTTP_SERVER_REQUEST_DURATION);
    let pool = "job, db_client_connection_pool_name";
    vec![
        Recording {
            group: HTTP,
            record: HTTP_REQUESTS_RATE,
            expr: format!("sum by (job) (rate({requests}[5m]))"),
            why: "Requests per second per service (Application Overview: request rate).",
        },
        Recording {
            group: HTTP,
            record: HTTP_ERRORS_RATE,
            expr: format!("sum by (job) (rate({}[5m]))", http_5xx_count("")),
            why: "5xx responses per second per service.",
        },
        Recording {
            group: HTTP,
            record: HTTP_ERROR_RATIO,
            expr: http_error_ratio_expr("job", "", "5m"),
            why: "Share of requests answered with a 5xx (HighErrorRate). `or ... * 0` makes it 0,\n\
                  not absent, while a service has traffic but no 5xx series yet.",
        },
        Recording {
            group: HTTP,
            record: HTTP_P50,
            expr: http_quantile_expr("0.5", "job, le", "", "5m"),
            why: "Median request duration (KPI: p50 < 200 ms).",
        },
        Recording {
            group: HTTP,
            record: HTTP_P95,
            expr: http_quantile_expr("0.95", "job, le", "", "5m"),
            why: "95th percentile of request duration (KPI: p95 < 500 ms; HighResponseTime at 1 s).",
        },
        Recording {
            group: HTTP,
            record: HTTP_P99,
            expr: http_quantile_expr("0.99", "job, le", "", "5m"),
            why: "99th percentile of request duration.",
        },
        Recording {
            group: DATABASE,
            record: DB_UTILIZATION,
            expr: db_utilization_expr(pool, ""),
            why: "Share of a pool's connections in use (DatabaseConnectionsExhausted at 80 %).\n\
                  Pools with a maximum of 0 are left out rather than divided by zero.",
        },
        Recording {
            group: DATABASE,
            record: DB_SLOW_QUERIES_RATE,
            expr: format!(
                "sum by (job) (rate({}[5m]))",
                sample(&DB_CLIENT_SLOW_QUERIES)
            ),
            why: "Queries slower than the SDK's slow-query threshold (500 ms) per second.",
        },
        Recording {
            group: BUSINESS,
            record: PAYMENT_FAILURE_RATIO,
            expr: payment_failure_ratio_expr("job", "", "5m"),
            why: "Share of payments that failed (PaymentFailures at 10 %). NaN, so never alerting,\n\
                  when no payment was processed.",
        },
    ]
}
