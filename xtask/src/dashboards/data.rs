//! The Infrastructure dashboard's row for transactions and caches.

use glimpse_telemetry::metrics::catalogue::{DB_CLIENT_TRANSACTIONS, GLIMPSE_CACHE_LOOKUPS};

use super::{Layout, M, W, q, rate, ts};
use crate::names::s;
use crate::rules::data::cache_hit_ratio_expr;

/// Adds the "Transactions and caches" row.
pub(super) fn panels(l: &mut Layout) {
    l.row("Transactions and caches");
    l.add(
        ts(
            "Transactions per second by outcome",
            "Transactions of the instrumented pools: commit, rollback (explicit or dropped), \
             error (BEGIN, COMMIT or ROLLBACK failed). Rising rollbacks or errors: conflicts, \
             constraint violations, timeouts.",
            "short",
            vec![q(
                format!(
                    "sum by (db_client_connection_pool_name, outcome) ({})",
                    rate(&s(&DB_CLIENT_TRANSACTIONS), "")
                ),
                "{{db_client_connection_pool_name}} {{outcome}}",
            )],
        )
        .stacked()
        .w(8),
    );
    l.add(
        ts(
            "Cache hit ratio",
            "Share of lookups that found their value, per cache. A drop sends the load to the \
             database: look at query rate and pool usage at the same time.",
            "percentunit",
            vec![q(
                cache_hit_ratio_expr("cache_name", M, W),
                "{{cache_name}}",
            )],
        )
        .ratio()
        .w(8),
    );
    l.add(
        ts(
            "Cache lookups per second",
            "Hits and misses per cache.",
            "short",
            vec![q(
                format!(
                    "sum by (cache_name, result) ({})",
                    rate(&s(&GLIMPSE_CACHE_LOOKUPS), "")
                ),
                "{{cache_name}} {{result}}",
            )],
        )
        .stacked()
        .w(8),
    );
}
