//! The Infrastructure dashboard's row for transactions and caches.

use glimpse_telemetry::metrics::catalogue::{DB_CLIENT_TRANSACTIONS, GLIMPSE_CACHE_LOOKUPS};

use crate::grafana::layout::Layout;
use crate::grafana::model::{JOB_FILTER, RATE_WINDOW, query, rate, timeseries};
use crate::names::sample;
use crate::prometheus::alerts::data::cache_hit_ratio_expr;

/// Adds the "Transactions and caches" row.
pub(super) fn panels(l: &mut Layout) {
    l.row("Transactions and caches");
    l.add(
        timeseries(
            "Transactions per second by outcome",
            "Transactions of the instrumented pools: commit, rollback (explicit or dropped), \
             error (BEGIN, COMMIT or ROLLBACK failed). Rising rollbacks or errors: conflicts, \
             constraint violations, timeouts.",
            "short",
            vec![query(
                format!(
                    "sum by (db_client_connection_pool_name, outcome) ({})",
                    rate(&sample(&DB_CLIENT_TRANSACTIONS), "")
                ),
                "{{db_client_connection_pool_name}} {{outcome}}",
            )],
        )
        .stacked()
        .w(8),
    );
    l.add(
        timeseries(
            "Cache hit ratio",
            "Share of lookups that found their value, per cache. A drop sends the load to the \
             database: look at query rate and pool usage at the same time.",
            "percentunit",
            vec![query(
                cache_hit_ratio_expr("cache_name", JOB_FILTER, RATE_WINDOW),
                "{{cache_name}}",
            )],
        )
        .ratio()
        .w(8),
    );
    l.add(
        timeseries(
            "Cache lookups per second",
            "Hits and misses per cache.",
            "short",
            vec![query(
                format!(
                    "sum by (cache_name, result) ({})",
                    rate(&sample(&GLIMPSE_CACHE_LOOKUPS), "")
                ),
                "{{cache_name}} {{result}}",
            )],
        )
        .stacked()
        .w(8),
    );
}
