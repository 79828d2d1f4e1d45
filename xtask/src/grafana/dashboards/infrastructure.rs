//! The Infrastructure dashboard: connection pools and queries, process resources, the data
//! and runtime rows, hosts and Redis.

use glimpse_telemetry::metrics::catalogue::{
    DB_CLIENT_CONNECTION_COUNT, DB_CLIENT_CONNECTION_MAX, DB_CLIENT_CONNECTION_PENDING_REQUESTS,
    DB_CLIENT_CONNECTION_TIMEOUTS, DB_CLIENT_CONNECTION_WAIT_TIME, DB_CLIENT_OPERATION_DURATION,
    DB_CLIENT_SLOW_QUERIES, PROCESS_CPU, PROCESS_MAX_FDS, PROCESS_OPEN_FDS,
    PROCESS_RESIDENT_MEMORY, PROCESS_START_TIME, PROCESS_THREADS, PROCESS_VIRTUAL_MEMORY,
};
use serde_json::Value;

use crate::grafana::dashboards::{data, runtime};
use crate::grafana::layout::{Layout, dashboard};
use crate::grafana::model::{
    JOB_FILTER, Panel, RATE_WINDOW, job_selector, per_minute, query, query_with_exemplars, rate,
    stat, timeseries,
};
use crate::names::{bucket, count, sample};
use crate::prometheus::recordings::{DB_UTILIZATION, selector};

const NODE_FS: &str = r#"fstype!~"tmpfs|ramfs|devtmpfs|overlay|squashfs|nsfs|fuse.*""#;

pub(crate) fn infrastructure() -> Value {
    let pool = "db_client_connection_pool_name";
    let mut l = Layout::new();
    l.row("Connection pools");
    l.add(timeseries(
        "Connections: used, idle, max",
        "Connections of each pool by state, and the pool's maximum.",
        "short",
        vec![
            query(
                format!(
                    "sum by ({pool}, db_client_connection_state) ({})",
                    selector(DB_CLIENT_CONNECTION_COUNT.name, &[JOB_FILTER])
                ),
                "{{db_client_connection_pool_name}} {{db_client_connection_state}}",
            ),
            query(
                format!(
                    "sum by ({pool}) ({})",
                    selector(DB_CLIENT_CONNECTION_MAX.name, &[JOB_FILTER])
                ),
                "{{db_client_connection_pool_name}} max",
            ),
        ],
    ));
    l.add(
        timeseries(
            "Pool utilization",
            "Share of each pool's connections in use. DatabaseConnectionsExhausted fires above 80 % for 1 minute.",
            "percentunit",
            vec![query(
                selector(DB_UTILIZATION, &[JOB_FILTER]),
                "{{job}} {{db_client_connection_pool_name}}",
            )],
        )
        .thresholds(&[(0.8, "red")])
        .ratio(),
    );
    l.add(
        timeseries(
            "Callers waiting for a connection",
            "Callers waiting for a connection from the pool right now.",
            "short",
            vec![query(
                format!(
                    "sum by ({pool}) ({})",
                    selector(DB_CLIENT_CONNECTION_PENDING_REQUESTS.name, &[JOB_FILTER])
                ),
                "{{db_client_connection_pool_name}}",
            )],
        )
        .w(8),
    );
    l.add(
        timeseries(
            "Connection wait time p95",
            "95th percentile of the time spent waiting for a connection. Exemplars open the trace in Jaeger.",
            "s",
            vec![query_with_exemplars(
                format!(
                    "histogram_quantile(0.95, sum by (le, {pool}) ({}))",
                    rate(&bucket(&DB_CLIENT_CONNECTION_WAIT_TIME), "")
                ),
                "{{db_client_connection_pool_name}}",
            )],
        )
        .w(8),
    );
    l.add(
        timeseries(
            "Connection timeouts per minute",
            "Attempts to get a connection that gave up.",
            "short",
            vec![query(
                per_minute(&DB_CLIENT_CONNECTION_TIMEOUTS, "", pool),
                "{{db_client_connection_pool_name}}",
            )],
        )
        .thresholds(&[(1.0, "red")])
        .w(8),
    );

    l.row("Queries");
    let op = bucket(&DB_CLIENT_OPERATION_DURATION);
    l.add(
        timeseries(
            "Query latency p95 by operation",
            "95th percentile of query duration by operation. Queries at or above 500 ms count as slow. Exemplars open the trace in Jaeger.",
            "s",
            vec![query_with_exemplars(
                format!(
                    "histogram_quantile(0.95, sum by (le, db_operation_name) ({}))",
                    rate(&op, "")
                ),
                "{{db_operation_name}}",
            )],
        )
        .thresholds(&[(0.5, "red")]),
    );
    l.add(timeseries(
        "Queries per second by operation",
        "Queries per second by operation and table.",
        "short",
        vec![query(
            format!(
                "sum by (db_operation_name, db_collection_name) ({})",
                rate(&count(&DB_CLIENT_OPERATION_DURATION), "")
            ),
            "{{db_operation_name}} {{db_collection_name}}",
        )],
    ));
    l.add(
        timeseries(
            "Slow queries per minute (≥ 500 ms)",
            "Queries at or above the slow-query threshold, by operation and table. SlowQueries fires when they keep coming for 5 minutes; the WARN log lines \"slow query\" show the statements.",
            "short",
            vec![query(
                per_minute(
                    &DB_CLIENT_SLOW_QUERIES,
                    "",
                    "db_operation_name, db_collection_name",
                ),
                "{{db_operation_name}} {{db_collection_name}}",
            )],
        )
        .thresholds(&[(1.0, "red")]),
    );
    l.add(timeseries(
        "Query errors per second by type",
        "Failed queries by error type (SQLSTATE or client-side kind).",
        "short",
        vec![query(
            format!(
                "sum by (error_type) ({})",
                rate(&count(&DB_CLIENT_OPERATION_DURATION), r#"error_type!="""#)
            ),
            "{{error_type}}",
        )],
    ));

    l.row("Process");
    l.add(
        timeseries(
            "CPU",
            "CPU time used per second (1 = one core busy).",
            "short",
            vec![query(
                format!(
                    "sum by (job, instance) ({})",
                    rate(&sample(&PROCESS_CPU), "")
                ),
                "{{instance}}",
            )],
        )
        .w(6),
    );
    l.add(
        timeseries(
            "Memory",
            "Resident and virtual memory of each process.",
            "bytes",
            vec![
                query(
                    job_selector(&PROCESS_RESIDENT_MEMORY, ""),
                    "resident {{instance}}",
                ),
                query(
                    job_selector(&PROCESS_VIRTUAL_MEMORY, ""),
                    "virtual {{instance}}",
                ),
            ],
        )
        .w(6),
    );
    l.add(
        timeseries(
            "Open file descriptors",
            "Open file descriptors against the process limit.",
            "short",
            vec![
                query(job_selector(&PROCESS_OPEN_FDS, ""), "open {{instance}}"),
                query(job_selector(&PROCESS_MAX_FDS, ""), "max {{instance}}"),
            ],
        )
        .w(5),
    );
    l.add(
        timeseries(
            "Threads",
            "OS threads of each process.",
            "short",
            vec![query(job_selector(&PROCESS_THREADS, ""), "{{instance}}")],
        )
        .w(4),
    );
    l.add(Panel {
        h: 8,
        ..stat(
            "Uptime",
            "Time since the process started (the youngest instance).",
            "s",
            format!("min(time() - {})", job_selector(&PROCESS_START_TIME, "")),
        )
        .w(3)
    });

    data::panels(&mut l);
    runtime::panels(&mut l);
    l.row("Hosts and Redis (node_exporter, redis_exporter)");
    l.add(
        timeseries(
            "Host memory used",
            "Share of host memory not available. MemoryUsageHigh fires above 85 % for 5 minutes.",
            "percentunit",
            vec![query(
                "1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes",
                "{{instance}}",
            )],
        )
        .thresholds(&[(0.85, "red")])
        .ratio()
        .w(6),
    );
    l.add(
        timeseries(
            "Disk free",
            "Free share of each disk-backed file system. DiskSpaceLow fires below 15 % for 5 minutes.",
            "percentunit",
            vec![query(
                format!(
                    "node_filesystem_avail_bytes{{{NODE_FS}}} / node_filesystem_size_bytes{{{NODE_FS}}}"
                ),
                "{{instance}} {{mountpoint}}",
            )],
        )
        .floor(0.15)
        .ratio()
        .w(6),
    );
    l.add(
        timeseries(
            "Host CPU busy",
            "Share of CPU time not idle, per host.",
            "percentunit",
            vec![query(
                format!(
                    "1 - avg by (instance) (rate(node_cpu_seconds_total{{mode=\"idle\"}}[{RATE_WINDOW}]))"
                ),
                "{{instance}}",
            )],
        )
        .ratio()
        .w(6),
    );
    l.add(
        timeseries(
            "Redis memory used",
            "Redis memory against maxmemory. RedisMemoryHigh fires above 80 % for 5 minutes.",
            "percentunit",
            vec![query(
                "redis_memory_used_bytes / (redis_memory_max_bytes > 0)",
                "{{instance}}",
            )],
        )
        .thresholds(&[(0.8, "red")])
        .ratio()
        .w(6),
    );

    dashboard(
        "glimpse-infrastructure",
        "Glimpse / Infrastructure",
        "Database connection pools and queries (glimpse-telemetry-sqlx), process resources, hosts and Redis.",
        l,
    )
}
