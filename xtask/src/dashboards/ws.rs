//! The Application Overview's WebSocket latency panel (the KPI "WebSocket latency < 100 ms").

use super::{Layout, M, W, q, ts};
use crate::rules::ws::ws_ping_quantile_expr;

/// Adds the "WebSocket latency" row.
pub(super) fn panels(l: &mut Layout) {
    l.row("WebSocket latency");
    l.add(
        ts(
            "WebSocket ping round trip p50 / p95",
            "From the server's ping to the client's pong, per route. KPI: under 100 ms; \
             WebSocketLatencyHigh fires when the p95 stays above it for 10 minutes.",
            "s",
            vec![
                q(
                    ws_ping_quantile_expr("0.5", "http_route, le", M, W),
                    "p50 {{http_route}}",
                ),
                q(
                    ws_ping_quantile_expr("0.95", "http_route, le", M, W),
                    "p95 {{http_route}}",
                ),
            ],
        )
        .thresholds(&[(0.1, "red")])
        .w(24),
    );
}
