//! The Application Overview dashboard: health, request rate, latency, errors and active users
//! of the services (RED metrics), with the user-experience and WebSocket rows.

use glimpse_telemetry::metrics::catalogue::{
    GLIMPSE_ACTIVE_USERS, HTTP_SERVER_ACTIVE_REQUESTS, HTTP_SERVER_REQUEST_BODY_SIZE,
    HTTP_SERVER_REQUEST_DURATION, HTTP_SERVER_RESPONSE_BODY_SIZE,
    WEBSOCKET_SERVER_ACTIVE_CONNECTIONS, WEBSOCKET_SERVER_CLOSES,
    WEBSOCKET_SERVER_CONNECTION_DURATION, WEBSOCKET_SERVER_MESSAGE_SIZE, WEBSOCKET_SERVER_MESSAGES,
};
use serde_json::{Value, json};

use crate::grafana::dashboards::{product, user_experience, ws};
use crate::grafana::layout::{Layout, dashboard};
use crate::grafana::model::{
    JOB_FILTER, Panel, RATE_WINDOW, job_selector, query, query_with_exemplars, rate, stat,
    timeseries,
};
use crate::names::{bucket, count, sample};
use crate::prometheus::recordings::{
    HTTP_ERROR_RATIO, HTTP_P95, HTTP_REQUESTS_RATE, http_5xx_count, http_error_ratio_expr,
    http_quantile_expr, selector,
};

fn up_mappings() -> Value {
    json!([{
        "type": "value",
        "options": {
            "0": { "text": "DOWN", "color": "red", "index": 0 },
            "1": { "text": "UP", "color": "green", "index": 1 },
        },
    }])
}

pub(crate) fn application_overview() -> Value {
    let req = count(&HTTP_SERVER_REQUEST_DURATION);
    let mut l = Layout::new();
    l.row("Service health");
    l.add(Panel {
        mappings: Some(up_mappings()),
        ..stat(
            "Health",
            "`up` of each instance: DOWN when Prometheus cannot scrape it (ServiceDown fires after 1 minute).",
            "",
            format!("up{{{JOB_FILTER}}}"),
        )
        .floor(1.0)
        .w(4)
    });
    l.add(
        stat(
            "Request rate (5m)",
            "Requests per second, all routes.",
            "reqps",
            format!("sum({})", selector(HTTP_REQUESTS_RATE, &[JOB_FILTER])),
        )
        .w(4),
    );
    l.add(
        stat(
            "Error ratio (5m)",
            "Share of requests answered with a 5xx. Target < 1 %; HighErrorRate fires above 5 % for 5 minutes.",
            "percentunit",
            format!("max({})", selector(HTTP_ERROR_RATIO, &[JOB_FILTER])),
        )
        .thresholds(&[(0.01, "yellow"), (0.05, "red")])
        .w(4),
    );
    l.add(
        stat(
            "p95 latency (5m)",
            "95th percentile of request duration. Target < 500 ms; HighResponseTime fires above 1 s for 5 minutes.",
            "s",
            format!("max({})", selector(HTTP_P95, &[JOB_FILTER])),
        )
        .thresholds(&[(0.5, "yellow"), (1.0, "red")])
        .w(4),
    );
    l.add(
        stat(
            "Active users",
            "Distinct users seen in the last five minutes, as the services count them.",
            "short",
            format!("sum({})", job_selector(&GLIMPSE_ACTIVE_USERS, "")),
        )
        .w(4),
    );
    l.add(
        stat(
            "Firing alerts",
            "Alerts firing for the selected services (see docs/runbooks.md).",
            "short",
            format!("sum(ALERTS{{alertstate=\"firing\", {JOB_FILTER}}}) or vector(0)"),
        )
        .thresholds(&[(1.0, "red")])
        .w(4),
    );

    l.row("HTTP");
    l.add(timeseries(
        "Request rate",
        "Requests per second by service.",
        "reqps",
        vec![query(
            format!("sum by (job) ({})", rate(&req, "")),
            "{{job}}",
        )],
    ));
    l.add(timeseries(
        "Request rate by route",
        "Requests per second by method and route template.",
        "reqps",
        vec![query(
            format!(
                "sum by (http_request_method, http_route) ({})",
                rate(&req, "")
            ),
            "{{http_request_method}} {{http_route}}",
        )],
    ));
    l.add(
        timeseries(
            "Latency p50 / p95 / p99",
            "Request duration percentiles. Targets: p50 < 200 ms, p95 < 500 ms; HighResponseTime fires when p95 > 1 s for 5 minutes. Exemplars (dots) open the trace in Jaeger.",
            "s",
            ["0.5", "0.95", "0.99"]
                .iter()
                .map(|qq| query_with_exemplars(http_quantile_expr(qq, "le", JOB_FILTER, RATE_WINDOW), ""))
                .collect(),
        )
        .legend_with_targets(&["p50", "p95", "p99"])
        .thresholds(&[(0.5, "yellow"), (1.0, "red")]),
    );
    l.add(timeseries(
        "p95 latency by route",
        "95th percentile of request duration per route template. Exemplars open the trace in Jaeger.",
        "s",
        vec![query_with_exemplars(
            http_quantile_expr("0.95", "le, http_route", JOB_FILTER, RATE_WINDOW),
            "{{http_route}}",
        )],
    ));
    l.add(
        timeseries(
            "Error ratio (5xx)",
            "Share of requests answered with a 5xx. Target < 1 %; HighErrorRate fires above 5 % for 5 minutes.",
            "percentunit",
            vec![query(http_error_ratio_expr("job", JOB_FILTER, RATE_WINDOW), "{{job}}")],
        )
        .thresholds(&[(0.01, "yellow"), (0.05, "red")]),
    );
    l.add(
        timeseries(
            "Responses by status code",
            "Responses per second by status code (empty: the client went away first).",
            "reqps",
            vec![query(
                format!("sum by (http_response_status_code) ({})", rate(&req, "")),
                "{{http_response_status_code}}",
            )],
        )
        .stacked(),
    );
    l.add(timeseries(
        "5xx by route",
        "5xx responses per second by route and status.",
        "reqps",
        vec![query(
            format!(
                "sum by (http_route, http_response_status_code) (rate({}[{RATE_WINDOW}]))",
                http_5xx_count(JOB_FILTER)
            ),
            "{{http_route}} {{http_response_status_code}}",
        )],
    ));
    l.add(timeseries(
        "Active requests",
        "HTTP requests in flight.",
        "short",
        vec![query(
            format!(
                "sum by (job) ({})",
                job_selector(&HTTP_SERVER_ACTIVE_REQUESTS, "")
            ),
            "{{job}}",
        )],
    ));
    l.add(product::active_users());
    l.add(timeseries(
        "Body size p95",
        "95th percentile of request and response body sizes.",
        "bytes",
        vec![
            query(
                format!(
                    "histogram_quantile(0.95, sum by (le) ({}))",
                    rate(&bucket(&HTTP_SERVER_REQUEST_BODY_SIZE), "")
                ),
                "request",
            ),
            query(
                format!(
                    "histogram_quantile(0.95, sum by (le) ({}))",
                    rate(&bucket(&HTTP_SERVER_RESPONSE_BODY_SIZE), "")
                ),
                "response",
            ),
        ],
    ));

    l.row("WebSocket");
    l.add(
        timeseries(
            "Open connections",
            "Open WebSocket connections by route.",
            "short",
            vec![query(
                format!(
                    "sum by (http_route) ({})",
                    job_selector(&WEBSOCKET_SERVER_ACTIVE_CONNECTIONS, "")
                ),
                "{{http_route}}",
            )],
        )
        .w(8),
    );
    l.add(
        timeseries(
            "Messages by direction and type",
            "WebSocket messages per second received and sent, by message type.",
            "short",
            vec![query(
                format!(
                    "sum by (direction, message_type) ({})",
                    rate(&sample(&WEBSOCKET_SERVER_MESSAGES), "")
                ),
                "{{direction}} {{message_type}}",
            )],
        )
        .w(8),
    );
    l.add(
        timeseries(
            "Message size p95",
            "95th percentile of WebSocket message payload size, by direction.",
            "bytes",
            vec![query(
                format!(
                    "histogram_quantile(0.95, sum by (le, direction) ({}))",
                    rate(&bucket(&WEBSOCKET_SERVER_MESSAGE_SIZE), "")
                ),
                "{{direction}}",
            )],
        )
        .w(8),
    );
    l.add(timeseries(
        "Connection duration p95",
        "95th percentile of how long WebSocket connections stay open, by route.",
        "s",
        vec![query_with_exemplars(
            format!(
                "histogram_quantile(0.95, sum by (le, http_route) ({}))",
                rate(&bucket(&WEBSOCKET_SERVER_CONNECTION_DURATION), "")
            ),
            "{{http_route}}",
        )],
    ));
    l.add(
        timeseries(
            "Closes by code",
            "Closed WebSocket connections per second by close code (none: dropped without a close frame).",
            "short",
            vec![query(
                format!(
                    "sum by (websocket_close_code) ({})",
                    rate(&sample(&WEBSOCKET_SERVER_CLOSES), "")
                ),
                "{{websocket_close_code}}",
            )],
        )
        .stacked(),
    );

    user_experience::row(&mut l);

    ws::panels(&mut l);
    dashboard(
        "glimpse-app-overview",
        "Glimpse / Application Overview",
        "Request rate, latency, errors, active users and health of Glimpse services (RED metrics from glimpse-telemetry-axum).",
        l,
    )
}
