//! The Logs Analysis dashboard: log volume by level, the health of the telemetry pipeline,
//! and the Loki panels and query list of the log side.

use glimpse_telemetry::metrics::catalogue::{
    GLIMPSE_LOG_EVENTS, GLIMPSE_TELEMETRY_CARDINALITY_OVERFLOW, GLIMPSE_TELEMETRY_ERROR_EVENTS,
    GLIMPSE_TELEMETRY_LOG_LINES_DROPPED, GLIMPSE_TELEMETRY_SPANS, MetricDef,
};
use serde_json::Value;

use crate::grafana::layout::{Layout, dashboard};
use crate::grafana::model::{
    JOB_FILTER, RANGE, RATE_WINDOW, job_selector, per_minute, query, query_with_exemplars, rate,
    stat, text, timeseries,
};
use crate::names::sample;
use crate::prometheus::recordings::http_quantile_expr;

pub(crate) fn logs_analysis() -> Value {
    let logs = sample(&GLIMPSE_LOG_EVENTS);
    let in_range =
        |m: &MetricDef, extra: &str| format!("sum(increase({}[{RANGE}]))", job_selector(m, extra));
    let mut l = Layout::new();
    l.row("Log volume");
    l.add(
        stat(
            "ERROR lines",
            "ERROR log lines written in the selected time range.",
            "short",
            in_range(&GLIMPSE_LOG_EVENTS, r#"level="ERROR""#),
        )
        .thresholds(&[(1.0, "red")]),
    );
    l.add(
        stat(
            "WARN lines",
            "WARN log lines written in the selected time range (slow queries, 4xx, failed logins).",
            "short",
            in_range(&GLIMPSE_LOG_EVENTS, r#"level="WARN""#),
        )
        .thresholds(&[(1.0, "yellow")]),
    );
    l.add(
        stat(
            "Dropped log lines",
            "Log lines dropped because stdout could not keep up: those events are in no log store.",
            "short",
            in_range(&GLIMPSE_TELEMETRY_LOG_LINES_DROPPED, ""),
        )
        .thresholds(&[(1.0, "red")]),
    );
    l.add(stat(
        "Cardinality overflows",
        "Metric lookups that landed in an otel_metric_overflow=\"true\" series: a label with unbounded values.",
        "short",
        in_range(&GLIMPSE_TELEMETRY_CARDINALITY_OVERFLOW, ""),
    )
    .thresholds(&[(1.0, "red")]));
    l.add(
        timeseries(
            "Log events per minute by level",
            "Log events written per minute, by level.",
            "short",
            vec![query(
                format!("sum by (level) ({}) * 60", rate(&logs, "")),
                "{{level}}",
            )],
        )
        .stacked(),
    );
    l.add(timeseries(
        "Error frequency",
        "ERROR log lines per minute by service: each is also a GlitchTip event.",
        "short",
        vec![query(
            format!("sum by (job) ({}) * 60", rate(&logs, r#"level="ERROR""#)),
            "{{job}}",
        )],
    ));

    l.row("Telemetry pipeline");
    l.add(
        timeseries(
            "Span export outcomes",
            "Finished spans per second: exported to Jaeger, failed (collector error) or dropped (queue full).",
            "short",
            vec![query(
                format!(
                    "sum by (outcome) ({})",
                    rate(&sample(&GLIMPSE_TELEMETRY_SPANS), "")
                ),
                "{{outcome}}",
            )],
        )
        .w(8),
    );
    l.add(
        timeseries(
            "GlitchTip error events per minute",
            "Error events sent to GlitchTip (captured) or lost because the reporter's queue was full (dropped).",
            "short",
            vec![query(
                per_minute(&GLIMPSE_TELEMETRY_ERROR_EVENTS, "", "outcome"),
                "{{outcome}}",
            )],
        )
        .w(8),
    );
    l.add(
        timeseries(
            "Dropped log lines per minute",
            "Log lines dropped because the output could not keep up.",
            "short",
            vec![query(
                per_minute(&GLIMPSE_TELEMETRY_LOG_LINES_DROPPED, "", "job"),
                "{{job}}",
            )],
        )
        .thresholds(&[(1.0, "red")])
        .w(8),
    );
    l.add(timeseries(
        "Cardinality overflows by metric",
        "Lookups per second that hit a family's series limit, by family: find the label with unbounded values.",
        "short",
        vec![query(
            format!(
                "sum by (metric) ({})",
                rate(&sample(&GLIMPSE_TELEMETRY_CARDINALITY_OVERFLOW), "")
            ),
            "{{metric}}",
        )],
    ));
    l.add(timeseries(
        "Slow responses (p99 by route)",
        "Response time analysis: the routes whose slowest requests to look up in the logs (response_time:>1000) and in Jaeger (exemplars).",
        "s",
        vec![query_with_exemplars(
            http_quantile_expr("0.99", "le, http_route", JOB_FILTER, RATE_WINDOW),
            "{{http_route}}",
        )],
    ));

    l.row("From the logs (Loki)");
    for p in crate::logs::grafana::panels() {
        l.add(timeseries(
            p.title,
            p.description,
            "short",
            vec![query(p.expr, p.legend)],
        ));
        crate::logs::grafana::use_loki(l.panels.last_mut());
    }

    l.row("Searching the logs");
    l.add(text(
        "Log queries",
        crate::logs::grafana::log_queries_markdown(),
    ));

    dashboard(
        "glimpse-logs-analysis",
        "Glimpse / Logs Analysis",
        "Log volume by level, error frequency, and the health of the telemetry pipeline itself (dropped lines, spans, GlitchTip events, cardinality).",
        l,
    )
}
