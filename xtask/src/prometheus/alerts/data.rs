//! Recording rules of the data path beyond queries: transactions and caches.

use glimpse_telemetry::metrics::catalogue::{DB_CLIENT_TRANSACTIONS, GLIMPSE_CACHE_LOOKUPS};

use crate::names::sample;
use crate::prometheus::model::{DATABASE, Recording};
use crate::prometheus::recordings::selector;

pub(crate) const CACHE_HIT_RATIO: &str = "glimpse:cache_hit_ratio:rate5m";
pub(crate) const TRANSACTIONS_RATE: &str = "glimpse:db_transactions:rate5m";

/// The share of lookups that hit, by `by`, for the matchers `m`. Absent (not NaN) for a cache
/// without lookups in the window.
pub(crate) fn cache_hit_ratio_expr(by: &str, m: &str, window: &str) -> String {
    let lookups = sample(&GLIMPSE_CACHE_LOOKUPS);
    format!(
        "sum by ({by}) (rate({}[{window}]))\n/\n(sum by ({by}) (rate({}[{window}])) > 0)",
        selector(&lookups, &[r#"result="hit""#, m]),
        selector(&lookups, &[m]),
    )
}

pub(crate) fn recordings() -> Vec<Recording> {
    vec![
        Recording {
            group: DATABASE,
            record: TRANSACTIONS_RATE,
            expr: format!(
                "sum by (job, db_client_connection_pool_name, outcome) (rate({}[5m]))",
                sample(&DB_CLIENT_TRANSACTIONS)
            ),
            why: "Transactions per second by pool and outcome (the guide's \"Transaction Rate\").",
        },
        Recording {
            group: DATABASE,
            record: CACHE_HIT_RATIO,
            expr: cache_hit_ratio_expr("job, cache_name", "", "5m"),
            why: "Share of cache lookups that hit, per cache (the guide's \"Cache Hit Rate\").\n\
                  Left out for a cache with no lookups in the window, rather than 0/0.",
        },
    ]
}
