//! The Application Overview's WebSocket latency panel (the KPI "WebSocket latency < 100 ms").

use crate::grafana::layout::Layout;
use crate::grafana::model::{JOB_FILTER, RATE_WINDOW, query, timeseries};
use crate::prometheus::alerts::ws::ws_ping_quantile_expr;

/// Adds the "WebSocket latency" row.
pub(super) fn panels(l: &mut Layout) {
    l.row("WebSocket latency");
    l.add(
        timeseries(
            "WebSocket ping round trip p50 / p95",
            "From the server's ping to the client's pong, per route. KPI: under 100 ms; \
             WebSocketLatencyHigh fires when the p95 stays above it for 10 minutes.",
            "s",
            vec![
                query(
                    ws_ping_quantile_expr("0.5", "http_route, le", JOB_FILTER, RATE_WINDOW),
                    "p50 {{http_route}}",
                ),
                query(
                    ws_ping_quantile_expr("0.95", "http_route, le", JOB_FILTER, RATE_WINDOW),
                    "p95 {{http_route}}",
                ),
            ],
        )
        .thresholds(&[(0.1, "red")])
        .w(24),
    );
}
