//! The WebSocket latency rule: the KPI "WebSocket latency < 100 ms", from the round trip of the
//! pings the instrumented WebSocket sends.

use glimpse_telemetry::metrics::catalogue::WEBSOCKET_SERVER_PING_DURATION;

use crate::names::bucket;
use crate::prometheus::model::{
    Alert, Case, Fired, HTTP, JOB, Recording, Severity, job_label, series,
};
use crate::prometheus::recordings::selector;

pub(crate) const WS_PING_P95: &str = "glimpse:websocket_ping_duration_seconds:p95_5m";

/// The `q` quantile of the ping round trip over `window`, by `by` (which must include `le`).
pub(crate) fn ws_ping_quantile_expr(q: &str, by: &str, m: &str, window: &str) -> String {
    format!(
        "histogram_quantile({q}, sum by ({by}) (rate({}[{window}])))",
        selector(&bucket(&WEBSOCKET_SERVER_PING_DURATION), &[m])
    )
}

pub(crate) fn recordings() -> Vec<Recording> {
    vec![Recording {
        group: HTTP,
        record: WS_PING_P95,
        expr: ws_ping_quantile_expr("0.95", "job, le", "", "5m"),
        why: "95th percentile of the WebSocket ping round trip (KPI: WebSocket latency < 100 ms).",
    }]
}

/// Ping round trips per minute at or under each bound: `(le, per minute)`.
fn pings(per_le: &[(&'static str, u64)]) -> Vec<(String, String)> {
    per_le
        .iter()
        .map(|(le, n)| {
            series(
                &bucket(&WEBSOCKET_SERVER_PING_DURATION),
                &[
                    ("job", JOB),
                    ("instance", "glimpse-api:8080"),
                    ("http_route", "/chat"),
                    ("le", le),
                ],
                &format!("0+{n}x20"),
            )
        })
        .collect()
}

pub(crate) fn alerts() -> Vec<Alert> {
    vec![Alert {
        group: HTTP,
        name: "WebSocketLatencyHigh",
        severity: Severity::Warning,
        guide: "Key Performance Indicators: WebSocket latency < 100 ms",
        expr: format!("{WS_PING_P95} > 0.1"),
        for_: "10m",
        summary: "WebSocket round trip slow on {{ $labels.job }}",
        description: "The 95th percentile of the WebSocket ping round trip of {{ $labels.job }} \
            has been above 100 ms for 10 minutes: chat messages arrive late. Slow clients' \
            networks, or a server too busy to answer (runtime saturation, a blocked worker).",
        why: "From the pings the instrumented WebSocket sends (every 20 s by default) and the\n\
              pongs that answer them. `for: 10m`: one slow mobile network does not page.",
        tests: vec![
            Case {
                what: "Every round trip between 50 and 100 ms: the p95 stays under 100 ms.".into(),
                series: pings(&[("0.05", 0), ("0.1", 60), ("0.25", 60), ("+Inf", 60)]),
                checks: vec![("15m", vec![])],
                exprs: vec![],
            },
            Case {
                what: "59 of 60 round trips over 100 ms: pending at 1m, firing at 11m.".into(),
                series: pings(&[("0.05", 0), ("0.1", 1), ("0.25", 60), ("+Inf", 60)]),
                checks: vec![
                    ("10m", vec![]),
                    (
                        "11m",
                        vec![Fired {
                            labels: vec![job_label()],
                            summary: format!("WebSocket round trip slow on {JOB}"),
                            description: format!(
                                "The 95th percentile of the WebSocket ping round trip of {JOB} \
                                 has been above 100 ms for 10 minutes: chat messages arrive \
                                 late. Slow clients' networks, or a server too busy to answer \
                                 (runtime saturation, a blocked worker)."
                            ),
                        }],
                    ),
                ],
                exprs: vec![],
            },
        ],
    }]
}
