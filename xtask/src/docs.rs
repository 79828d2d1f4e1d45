//! `docs/metrics.md`.

use std::fmt::Write;

use glimpse_telemetry::metrics::catalogue::{
    ALL, DB_CLIENT_SLOW_QUERIES, GLIMPSE_TELEMETRY_CARDINALITY_OVERFLOW, Group, Kind, MetricDef,
    TARGET_INFO,
};
use glimpse_telemetry::metrics::{DEFAULT_MAX_SERIES, Unit};

use crate::GENERATED;
use crate::names::{kind_name, sample, sample_names};
use crate::prometheus::{self, recordings};

fn group_title(g: Group) -> &'static str {
    match g {
        Group::Http => "HTTP",
        Group::WebSocket => "WebSocket",
        Group::Database => "Database",
        Group::Business => "Business",
        Group::Security => "Security",
        Group::Core => "Core and process",
        Group::Browser => "Browser",
        Group::Runtime => "Tokio runtime",
        _ => "Other",
    }
}

fn group_intro(g: Group) -> &'static str {
    match g {
        Group::Http => {
            "Emitted by `glimpse-telemetry-axum`'s layer for every request (RED metrics). \
             Routes are templates (`/users/{id}`), never raw paths."
        }
        Group::WebSocket => {
            "Emitted by `glimpse-telemetry-axum`'s instrumented WebSocket upgrades."
        }
        Group::Database => {
            "Emitted by `glimpse-telemetry-sqlx` for every query and transaction and, read at \
             scrape time, for every connection pool; and, for any cache, by \
             `glimpse_telemetry::metrics::cache::CacheMetrics`."
        }
        Group::Business => {
            "Emitted by the helpers in `glimpse_telemetry::business` \
             (`user_registered()`, `match_created()`, `message_sent()`, `payment_processed()`, \
             `payment_amount()`, `set_active_users()`). Registered by `init`, so they read 0 before the first event."
        }
        Group::Security => {
            "Emitted by the audit helpers in `glimpse_telemetry::logs::audit` (each counts the \
             line it writes) and by `glimpse_telemetry::metrics::security::api_key_used()`. \
             Registered by `init`, with a zero series for every bounded event."
        }
        Group::Runtime => {
            "Read at scrape time from tokio's stable `RuntimeMetrics` API (no `tokio_unstable`) \
             for the runtime `init` runs in (or the one given to \
             `glimpse_telemetry::metrics::runtime::register`). Saturation: busy seconds per \
             second per worker near 1 and a global queue that does not drain."
        }
        Group::Core => {
            "Emitted by the core: logs, the SDK's own health, the resource (`target_info`) and \
             the process (Linux, read at scrape time)."
        }
        Group::Browser => {
            "Emitted by `glimpse-telemetry-axum`'s RUM endpoint (feature `rum`) from the beacons \
             pages send with `web-vitals`: one observation per page view and measure, labelled \
             with the page's route template (`other` for pages the service did not declare)."
        }
        _ => "",
    }
}

const GROUPS: [Group; 8] = [
    Group::Http,
    Group::WebSocket,
    Group::Database,
    Group::Business,
    Group::Security,
    Group::Runtime,
    Group::Core,
    Group::Browser,
];

fn unit_name(m: &MetricDef) -> &'static str {
    match m.unit {
        None => "none",
        Some(Unit::Seconds) => "seconds",
        Some(Unit::Bytes) => "bytes",
        Some(Unit::Ratio) => "ratio (0 to 1)",
        Some(_) => "see the name's suffix",
    }
}

fn anchor(name: &str) -> String {
    name.to_ascii_lowercase()
}

fn labels_cell(m: &MetricDef) -> String {
    if m.kind == Kind::Info {
        return "the resource attributes, dots as underscores: `service_name`, `service_version`, \
                `deployment_environment_name`, `host_name`, `telemetry_sdk_*`, \
                `telemetry_distro_*` and anything in `OTEL_RESOURCE_ATTRIBUTES`"
            .to_owned();
    }
    if m.labels.is_empty() {
        return "none".to_owned();
    }
    m.labels
        .iter()
        .map(
            |l| match glimpse_telemetry::metrics::catalogue::label_values(m.name, l) {
                Some(v) => format!("`{l}`: {v}"),
                None => format!("`{l}`"),
            },
        )
        .collect::<Vec<_>>()
        .join("<br>")
}

fn metric_section(out: &mut String, m: &MetricDef) {
    let samples = sample_names(m)
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let _ = writeln!(out, "### {}\n", sample(m));
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| Query as | {samples} |");
    let _ = writeln!(out, "| Type | {} |", kind_name(m.kind));
    let _ = writeln!(out, "| Unit | {} |", unit_name(m));
    let _ = writeln!(out, "| Labels | {} |", labels_cell(m));
    if let Some(b) = m.buckets {
        let bounds = b
            .iter()
            .map(|v| format!("{v}"))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(out, "| Buckets | {bounds}, +Inf |");
    }
    if m.kind == Kind::Histogram && m.group == Group::Browser {
        let _ = writeln!(
            out,
            "| Exemplars | `trace_id`, `span_id` of the page's document request, when the beacon \
             brought its sampled `traceparent` back (OpenMetrics only) |"
        );
    } else if m.kind == Kind::Histogram {
        let _ = writeln!(
            out,
            "| Exemplars | `trace_id`, `span_id` of the observation's span (OpenMetrics only) |"
        );
    }
    let _ = writeln!(out, "| Meaning | {} |\n", m.help);
}

pub(crate) fn metrics_md() -> String {
    let mut out = String::new();
    let _ = writeln!(out, "<!-- {GENERATED} -->\n");
    out.push_str(
        "# Metrics\n\n\
         Every metric the SDK and its adapters emit, from the catalogue in \
         `glimpse-telemetry/src/metrics/catalogue.rs`. The alert rules \
         (`deploy/prometheus/alerts.yml`) and the Grafana dashboards \
         (`deploy/grafana/dashboards/`) are generated from the same catalogue, and the `xtask` \
         tests prove that they query no other name. Names follow the OpenTelemetry semantic \
         conventions translated to Prometheus (`http.server.request.duration` → \
         `http_server_request_duration_seconds`).\n\n\
         `/metrics` answers OpenMetrics 1.0 (with exemplars) to scrapers that accept it, as \
         Prometheus does, and the classic text format 0.0.4 otherwise. Counters are queried \
         with `_total`; histograms as `_bucket`, `_sum` and `_count`. Scraping adds `job` and \
         `instance` to every series.\n\n",
    );
    out.push_str("## Contents\n\n");
    for g in GROUPS {
        let _ = writeln!(
            out,
            "- [{}](#{})",
            group_title(g),
            anchor(&group_title(g).replace(' ', "-"))
        );
        for m in ALL.iter().filter(|m| m.group == g) {
            let _ = writeln!(out, "  - [`{}`](#{})", sample(m), anchor(&sample(m)));
        }
    }
    out.push_str(
        "- [Exemplars](#exemplars)\n- [Series limit and overflow](#series-limit-and-overflow)\n\
         - [Resource attributes: target_info](#resource-attributes-target_info)\n- [KPIs in PromQL](#kpis-in-promql)\n\
         - [Recording rules and alerts](#recording-rules-and-alerts)\n\n",
    );
    for g in GROUPS {
        let _ = writeln!(out, "## {}\n\n{}\n", group_title(g), group_intro(g));
        for m in ALL.iter().filter(|m| m.group == g) {
            metric_section(&mut out, m);
        }
    }
    notes(&mut out);
    out
}

fn notes(out: &mut String) {
    let _ = write!(
        out,
        "## Exemplars\n\n\
         Every histogram observation made inside a sampled span carries that span's `trace_id` \
         and `span_id` as an exemplar, exposed in the OpenMetrics format only. With \
         `--enable-feature=exemplar-storage` Prometheus keeps them, and the latency panels of \
         the dashboards show them as dots that open the trace in Jaeger (the Prometheus data \
         source maps the exemplar label `trace_id` to the Jaeger data source).\n\n\
         ## Series limit and overflow\n\n\
         Each family holds at most {DEFAULT_MAX_SERIES} series (label sets) by default \
         (`GLIMPSE_METRICS_MAX_SERIES`). Past the limit, observations go to one series labelled \
         `otel_metric_overflow=\"true\"` (the OpenTelemetry convention) instead of creating new \
         ones, and `{overflow}{{metric=\"<family>\"}}` counts each such lookup. A non-zero \
         overflow means a label with unbounded values (an id, a raw path): fix the label, do not \
         raise the limit. Queries that sum over a family still count the overflowed \
         observations.\n\n\
         ## Resource attributes: target_info\n\n\
         `{target_info}` has the value 1 and the service's resource attributes as labels. Join \
         it to add them to any series, e.g. the version:\n\n\
         ```promql\n\
         sum by (job, service_version) (\n  rate(http_server_request_duration_seconds_count[5m])\n  \
         * on (job, instance) group_left (service_version) target_info\n)\n\
         ```\n\n\
         The dashboards' `$job` variable lists the jobs that expose `target_info`, i.e. the \
         services that use glimpse-telemetry.\n\n",
        overflow = sample(&GLIMPSE_TELEMETRY_CARDINALITY_OVERFLOW),
        target_info = sample(&TARGET_INFO),
    );
    out.push_str(
        "## KPIs in PromQL\n\n\
         The monitoring guide's key indicators, per service (`job`), over 5 minutes:\n\n\
         | KPI | Target | PromQL |\n|---|---|---|\n",
    );
    let kpis = [
        (
            "Request rate",
            "",
            format!(
                "sum by (job) (rate({}[5m]))",
                crate::names::count(
                    &glimpse_telemetry::metrics::catalogue::HTTP_SERVER_REQUEST_DURATION
                )
            ),
        ),
        (
            "API response time p50",
            "< 200 ms",
            recordings::http_quantile_expr("0.5", "job, le", "", "5m"),
        ),
        (
            "API response time p95",
            "< 500 ms",
            recordings::http_quantile_expr("0.95", "job, le", "", "5m"),
        ),
        (
            "API response time p99",
            "",
            recordings::http_quantile_expr("0.99", "job, le", "", "5m"),
        ),
        (
            "Error rate (5xx share)",
            "< 1 %",
            recordings::http_error_ratio_expr("job", "", "5m"),
        ),
        (
            "Availability",
            "99.9 %",
            format!(
                "1 - ({})",
                recordings::http_error_ratio_expr("job", "", "30d")
            ),
        ),
        (
            "Connection pool utilization",
            "< 80 %",
            recordings::db_utilization_expr("job, db_client_connection_pool_name", ""),
        ),
        (
            "Payment failure rate",
            "< 10 %",
            recordings::payment_failure_ratio_expr("job", "", "5m"),
        ),
        (
            "Slow queries per minute",
            "0",
            format!(
                "sum by (job) (rate({}[5m])) * 60",
                sample(&DB_CLIENT_SLOW_QUERIES)
            ),
        ),
    ];
    for (kpi, target, expr) in kpis {
        let one_line = expr.split_whitespace().collect::<Vec<_>>().join(" ");
        let one_line = one_line.replace("( ", "(").replace(" )", ")");
        let _ = writeln!(
            out,
            "| {kpi} | {target} | `{}` |",
            one_line.replace('|', "\\|")
        );
    }
    out.push_str(
        "\nThe WebSocket latency target (< 100 ms) is measured by the client; the server's \
         histograms cover message sizes and connection durations.\n\n",
    );

    out.push_str(
        "## Recording rules and alerts\n\n\
         `deploy/prometheus/alerts.yml` precomputes the expensive expressions, per `job` (and \
         pool):\n\n| Recording rule | Meaning |\n|---|---|\n",
    );
    for r in prometheus::recordings() {
        let _ = writeln!(out, "| `{}` | {} |", r.record, r.why.replace('\n', " "));
    }
    out.push_str(
        "\nAlerts (tested by `promtool test rules deploy/prometheus/alerts.test.yml`; what to \
         do: [runbooks.md](runbooks.md)):\n\n| Alert | Severity | Fires when | For |\n|---|---|---|---|\n",
    );
    for a in prometheus::alerts() {
        let expr = a.expr.split_whitespace().collect::<Vec<_>>().join(" ");
        let _ = writeln!(
            out,
            "| [{}](runbooks.md#{}) | {} | `{}` | {} |",
            a.name,
            a.anchor(),
            a.severity.as_str(),
            expr.replace('|', "\\|"),
            a.for_
        );
    }
}
