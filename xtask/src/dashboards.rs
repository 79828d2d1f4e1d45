//! The monitoring guide's four Grafana dashboards, with the catalogue's names.
//!
//! Every query is filtered by the `$job` variable (the services that expose `target_info`) and
//! runs on the `$datasource` variable; latency panels show exemplars, which the provisioned
//! Prometheus data source links to the trace in Jaeger.

use glimpse_telemetry::metrics::catalogue::{
    DB_CLIENT_CONNECTION_COUNT, DB_CLIENT_CONNECTION_MAX, DB_CLIENT_CONNECTION_PENDING_REQUESTS,
    DB_CLIENT_CONNECTION_TIMEOUTS, DB_CLIENT_CONNECTION_WAIT_TIME, DB_CLIENT_OPERATION_DURATION,
    DB_CLIENT_SLOW_QUERIES, GLIMPSE_ACTIVE_USERS, GLIMPSE_LOG_EVENTS, GLIMPSE_MATCHES_CREATED,
    GLIMPSE_MESSAGES_SENT, GLIMPSE_PAYMENTS_PROCESSED, GLIMPSE_TELEMETRY_CARDINALITY_OVERFLOW,
    GLIMPSE_TELEMETRY_ERROR_EVENTS, GLIMPSE_TELEMETRY_LOG_LINES_DROPPED, GLIMPSE_TELEMETRY_SPANS,
    GLIMPSE_USER_REGISTRATIONS, HTTP_SERVER_ACTIVE_REQUESTS, HTTP_SERVER_REQUEST_BODY_SIZE,
    HTTP_SERVER_REQUEST_DURATION, HTTP_SERVER_RESPONSE_BODY_SIZE, MetricDef, PROCESS_CPU,
    PROCESS_MAX_FDS, PROCESS_OPEN_FDS, PROCESS_RESIDENT_MEMORY, PROCESS_START_TIME,
    PROCESS_THREADS, PROCESS_VIRTUAL_MEMORY, TARGET_INFO, WEBSOCKET_SERVER_ACTIVE_CONNECTIONS,
    WEBSOCKET_SERVER_CLOSES, WEBSOCKET_SERVER_CONNECTION_DURATION, WEBSOCKET_SERVER_MESSAGE_SIZE,
    WEBSOCKET_SERVER_MESSAGES,
};
use serde_json::{Value, json};

mod data;
mod product;
mod runtime;
mod security;
mod slo;
mod user_experience;
mod ws;

use crate::names::{bucket, count, s};
use crate::provisioning::PROMETHEUS_UID;
use crate::rules::{
    DB_UTILIZATION, HTTP_ERROR_RATIO, HTTP_P95, HTTP_REQUESTS_RATE, PAYMENT_FAILURE_RATIO,
    http_5xx_count, http_error_ratio_expr, http_quantile_expr, payment_failure_ratio_expr,
    selector,
};

/// A generated dashboard.
pub(crate) struct Dashboard {
    /// File name under `deploy/grafana/dashboards/`.
    pub file: &'static str,
    pub json: Value,
}

/// The job filter every Glimpse query carries.
const M: &str = r#"job=~"$job""#;
/// The window of rate() in panels: Grafana's, at least four scrape intervals.
const W: &str = "$__rate_interval";
/// The window of totals in stat panels: the dashboard's time range.
const RANGE: &str = "$__range";
const NODE_FS: &str = r#"fstype!~"tmpfs|ramfs|devtmpfs|overlay|squashfs|nsfs|fuse.*""#;

fn ds() -> Value {
    json!({ "type": "prometheus", "uid": "${datasource}" })
}

/// A query of a time series panel.
fn q(expr: impl Into<String>, legend: &str) -> Value {
    json!({
        "datasource": ds(),
        "editorMode": "code",
        "expr": expr.into(),
        "legendFormat": legend,
        "range": true,
        "instant": false,
        "exemplar": false,
    })
}

/// A query whose exemplars (trace ids) are shown.
fn qx(expr: impl Into<String>, legend: &str) -> Value {
    let mut t = q(expr, legend);
    t["exemplar"] = json!(true);
    t
}

fn sel(m: &MetricDef, extra: &str) -> String {
    selector(&s(m), &[extra, M])
}

fn rate(sample: &str, extra: &str) -> String {
    format!("rate({}[{W}])", selector(sample, &[extra, M]))
}

/// Where a panel goes and what it shows.
struct Panel {
    kind: &'static str,
    title: &'static str,
    description: String,
    unit: &'static str,
    targets: Vec<Value>,
    /// Threshold steps above the green base: `(value, color)`.
    thresholds: Vec<(f64, &'static str)>,
    /// The base color when thresholds go the other way (lower is worse).
    base: &'static str,
    min: Option<f64>,
    max: Option<f64>,
    stack: bool,
    mappings: Option<Value>,
    text: Option<String>,
    w: u32,
    h: u32,
}

fn panel(kind: &'static str, title: &'static str, description: &str, unit: &'static str) -> Panel {
    Panel {
        kind,
        title,
        description: description.to_owned(),
        unit,
        targets: Vec::new(),
        thresholds: Vec::new(),
        base: "green",
        min: None,
        max: None,
        stack: false,
        mappings: None,
        text: None,
        w: 12,
        h: 8,
    }
}

fn ts(title: &'static str, description: &str, unit: &'static str, targets: Vec<Value>) -> Panel {
    Panel {
        targets,
        ..panel("timeseries", title, description, unit)
    }
}

fn stat(title: &'static str, description: &str, unit: &'static str, expr: String) -> Panel {
    let mut t = q(expr, "");
    t["range"] = json!(false);
    t["instant"] = json!(true);
    Panel {
        targets: vec![t],
        w: 6,
        h: 4,
        ..panel("stat", title, description, unit)
    }
}

fn text(title: &'static str, markdown: String) -> Panel {
    Panel {
        text: Some(markdown),
        w: 24,
        h: 12,
        ..panel("text", title, "", "")
    }
}

impl Panel {
    fn w(mut self, w: u32) -> Self {
        self.w = w;
        self
    }

    fn thresholds(mut self, steps: &[(f64, &'static str)]) -> Self {
        self.thresholds = steps.to_vec();
        self
    }

    /// Lower is worse: red below the first step's value, green above.
    fn floor(mut self, at: f64) -> Self {
        self.base = "red";
        self.thresholds = vec![(at, "green")];
        self
    }

    fn ratio(mut self) -> Self {
        self.min = Some(0.0);
        self.max = Some(1.0);
        self
    }

    fn stacked(mut self) -> Self {
        self.stack = true;
        self
    }

    fn legend_with_targets(mut self, legends: &[&str]) -> Self {
        for (t, l) in self.targets.iter_mut().zip(legends) {
            t["legendFormat"] = json!(l);
        }
        self
    }

    fn json(self, id: u32, x: u32, y: u32) -> Value {
        let mut steps = vec![json!({ "color": self.base, "value": null })];
        steps.extend(
            self.thresholds
                .iter()
                .map(|(v, c)| json!({ "color": c, "value": v })),
        );
        let mut defaults = json!({
            "unit": if self.unit.is_empty() { "short" } else { self.unit },
            "thresholds": { "mode": "absolute", "steps": steps },
        });
        if let Some(min) = self.min {
            defaults["min"] = json!(min);
        }
        if let Some(max) = self.max {
            defaults["max"] = json!(max);
        }
        if let Some(m) = &self.mappings {
            defaults["mappings"] = m.clone();
        }
        let options = match self.kind {
            "timeseries" => {
                let mut custom = json!({
                    "drawStyle": "line",
                    "lineWidth": 1,
                    "fillOpacity": if self.stack { 30 } else { 10 },
                    "showPoints": "never",
                    "spanNulls": false,
                    "thresholdsStyle": {
                        "mode": if self.thresholds.is_empty() { "off" } else { "dashed" }
                    },
                });
                if self.stack {
                    custom["stacking"] = json!({ "mode": "normal", "group": "A" });
                }
                defaults["custom"] = custom;
                defaults["color"] = json!({ "mode": "palette-classic" });
                json!({
                    "legend": {
                        "calcs": ["mean", "max", "lastNotNull"],
                        "displayMode": "table",
                        "placement": "bottom",
                        "showLegend": true,
                    },
                    "tooltip": { "mode": "multi", "sort": "desc" },
                })
            }
            "stat" => {
                defaults["color"] = json!({ "mode": "thresholds" });
                json!({
                    "reduceOptions": { "calcs": ["lastNotNull"], "fields": "", "values": false },
                    "orientation": "auto",
                    "colorMode": "value",
                    "graphMode": "none",
                    "justifyMode": "auto",
                    "textMode": "auto",
                    "wideLayout": true,
                    "showPercentChange": false,
                    "percentChangeColorMode": "standard",
                })
            }
            _ => json!({ "mode": "markdown", "content": self.text.unwrap_or_default() }),
        };
        let mut p = json!({
            "id": id,
            "type": self.kind,
            "title": self.title,
            "gridPos": { "h": self.h, "w": self.w, "x": x, "y": y },
            "options": options,
        });
        if self.kind != "text" {
            p["description"] = json!(self.description);
            p["datasource"] = ds();
            p["fieldConfig"] = json!({ "defaults": defaults, "overrides": [] });
            let targets: Vec<Value> = self
                .targets
                .into_iter()
                .zip('A'..='Z')
                .map(|(mut t, r)| {
                    t["refId"] = json!(r.to_string());
                    t
                })
                .collect();
            p["targets"] = json!(targets);
        }
        p
    }
}

/// Lays panels out left to right, wrapping at 24 columns, rows on their own line.
struct Layout {
    panels: Vec<Value>,
    id: u32,
    x: u32,
    y: u32,
    line_h: u32,
}

impl Layout {
    fn new() -> Self {
        Layout {
            panels: Vec::new(),
            id: 0,
            x: 0,
            y: 0,
            line_h: 0,
        }
    }

    fn newline(&mut self) {
        if self.x > 0 {
            self.y += self.line_h;
            self.x = 0;
            self.line_h = 0;
        }
    }

    fn row(&mut self, title: &str) -> &mut Self {
        self.newline();
        self.id += 1;
        self.panels.push(json!({
            "id": self.id,
            "type": "row",
            "title": title,
            "collapsed": false,
            "gridPos": { "h": 1, "w": 24, "x": 0, "y": self.y },
            "panels": [],
        }));
        self.y += 1;
        self
    }

    fn add(&mut self, p: Panel) -> &mut Self {
        if self.x + p.w > 24 {
            self.newline();
        }
        self.id += 1;
        let (w, h) = (p.w, p.h);
        self.panels.push(p.json(self.id, self.x, self.y));
        self.x += w;
        self.line_h = self.line_h.max(h);
        self
    }
}

fn dashboard(uid: &str, title: &str, description: &str, layout: Layout) -> Value {
    json!({
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["glimpse"],
        "editable": true,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "timezone": "browser",
        "time": { "from": "now-6h", "to": "now" },
        "refresh": "30s",
        "links": [{
            "title": "Glimpse dashboards",
            "type": "dashboards",
            "tags": ["glimpse"],
            "asDropdown": true,
            "includeVars": true,
            "keepTime": true,
            "targetBlank": false,
            "icon": "external link",
            "tooltip": "",
        }],
        "templating": { "list": [
            {
                "name": "datasource",
                "label": "Data source",
                "type": "datasource",
                "query": "prometheus",
                "current": { "text": "Prometheus", "value": PROMETHEUS_UID },
                "hide": 0,
                "refresh": 1,
            },
            {
                "name": "job",
                "label": "Service",
                "description": "Services that expose target_info, i.e. that use glimpse-telemetry.",
                "type": "query",
                "datasource": ds(),
                "query": format!("label_values({}, job)", s(&TARGET_INFO)),
                "refresh": 2,
                "sort": 1,
                "multi": true,
                "includeAll": true,
                "hide": 0,
            },
        ]},
        "panels": layout.panels,
    })
}

/// The dashboards.
pub(crate) fn all() -> Vec<Dashboard> {
    vec![
        Dashboard {
            file: "glimpse-application-overview.json",
            json: application_overview(),
        },
        Dashboard {
            file: "glimpse-business-metrics.json",
            json: business_metrics(),
        },
        Dashboard {
            file: "glimpse-infrastructure.json",
            json: infrastructure(),
        },
        Dashboard {
            file: "glimpse-logs-analysis.json",
            json: logs_analysis(),
        },
        Dashboard {
            file: "glimpse-security.json",
            json: security::security(),
        },
        Dashboard {
            file: "glimpse-slo.json",
            json: slo::slo(),
        },
    ]
}

fn up_mappings() -> Value {
    json!([{
        "type": "value",
        "options": {
            "0": { "text": "DOWN", "color": "red", "index": 0 },
            "1": { "text": "UP", "color": "green", "index": 1 },
        },
    }])
}

fn application_overview() -> Value {
    let req = count(&HTTP_SERVER_REQUEST_DURATION);
    let mut l = Layout::new();
    l.row("Service health");
    l.add(Panel {
        mappings: Some(up_mappings()),
        ..stat(
            "Health",
            "`up` of each instance: DOWN when Prometheus cannot scrape it (ServiceDown fires after 1 minute).",
            "",
            format!("up{{{M}}}"),
        )
        .floor(1.0)
        .w(4)
    });
    l.add(
        stat(
            "Request rate (5m)",
            "Requests per second, all routes.",
            "reqps",
            format!("sum({})", selector(HTTP_REQUESTS_RATE, &[M])),
        )
        .w(4),
    );
    l.add(
        stat(
            "Error ratio (5m)",
            "Share of requests answered with a 5xx. Target < 1 %; HighErrorRate fires above 5 % for 5 minutes.",
            "percentunit",
            format!("max({})", selector(HTTP_ERROR_RATIO, &[M])),
        )
        .thresholds(&[(0.01, "yellow"), (0.05, "red")])
        .w(4),
    );
    l.add(
        stat(
            "p95 latency (5m)",
            "95th percentile of request duration. Target < 500 ms; HighResponseTime fires above 1 s for 5 minutes.",
            "s",
            format!("max({})", selector(HTTP_P95, &[M])),
        )
        .thresholds(&[(0.5, "yellow"), (1.0, "red")])
        .w(4),
    );
    l.add(
        stat(
            "Active users",
            "Distinct users seen in the last five minutes, as the services count them.",
            "short",
            format!("sum({})", sel(&GLIMPSE_ACTIVE_USERS, "")),
        )
        .w(4),
    );
    l.add(
        stat(
            "Firing alerts",
            "Alerts firing for the selected services (see docs/runbooks.md).",
            "short",
            format!("sum(ALERTS{{alertstate=\"firing\", {M}}}) or vector(0)"),
        )
        .thresholds(&[(1.0, "red")])
        .w(4),
    );

    l.row("HTTP");
    l.add(ts(
        "Request rate",
        "Requests per second by service.",
        "reqps",
        vec![q(format!("sum by (job) ({})", rate(&req, "")), "{{job}}")],
    ));
    l.add(ts(
        "Request rate by route",
        "Requests per second by method and route template.",
        "reqps",
        vec![q(
            format!(
                "sum by (http_request_method, http_route) ({})",
                rate(&req, "")
            ),
            "{{http_request_method}} {{http_route}}",
        )],
    ));
    l.add(
        ts(
            "Latency p50 / p95 / p99",
            "Request duration percentiles. Targets: p50 < 200 ms, p95 < 500 ms; HighResponseTime fires when p95 > 1 s for 5 minutes. Exemplars (dots) open the trace in Jaeger.",
            "s",
            ["0.5", "0.95", "0.99"]
                .iter()
                .map(|qq| qx(http_quantile_expr(qq, "le", M, W), ""))
                .collect(),
        )
        .legend_with_targets(&["p50", "p95", "p99"])
        .thresholds(&[(0.5, "yellow"), (1.0, "red")]),
    );
    l.add(ts(
        "p95 latency by route",
        "95th percentile of request duration per route template. Exemplars open the trace in Jaeger.",
        "s",
        vec![qx(
            http_quantile_expr("0.95", "le, http_route", M, W),
            "{{http_route}}",
        )],
    ));
    l.add(
        ts(
            "Error ratio (5xx)",
            "Share of requests answered with a 5xx. Target < 1 %; HighErrorRate fires above 5 % for 5 minutes.",
            "percentunit",
            vec![q(http_error_ratio_expr("job", M, W), "{{job}}")],
        )
        .thresholds(&[(0.01, "yellow"), (0.05, "red")]),
    );
    l.add(
        ts(
            "Responses by status code",
            "Responses per second by status code (empty: the client went away first).",
            "reqps",
            vec![q(
                format!("sum by (http_response_status_code) ({})", rate(&req, "")),
                "{{http_response_status_code}}",
            )],
        )
        .stacked(),
    );
    l.add(ts(
        "5xx by route",
        "5xx responses per second by route and status.",
        "reqps",
        vec![q(
            format!(
                "sum by (http_route, http_response_status_code) (rate({}[{W}]))",
                http_5xx_count(M)
            ),
            "{{http_route}} {{http_response_status_code}}",
        )],
    ));
    l.add(ts(
        "Active requests",
        "HTTP requests in flight.",
        "short",
        vec![q(
            format!("sum by (job) ({})", sel(&HTTP_SERVER_ACTIVE_REQUESTS, "")),
            "{{job}}",
        )],
    ));
    l.add(ts(
        "Active users",
        "Distinct users seen in the last five minutes.",
        "short",
        vec![q(
            format!("sum by (job) ({})", sel(&GLIMPSE_ACTIVE_USERS, "")),
            "{{job}}",
        )],
    ));
    l.add(ts(
        "Body size p95",
        "95th percentile of request and response body sizes.",
        "bytes",
        vec![
            q(
                format!(
                    "histogram_quantile(0.95, sum by (le) ({}))",
                    rate(&bucket(&HTTP_SERVER_REQUEST_BODY_SIZE), "")
                ),
                "request",
            ),
            q(
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
        ts(
            "Open connections",
            "Open WebSocket connections by route.",
            "short",
            vec![q(
                format!(
                    "sum by (http_route) ({})",
                    sel(&WEBSOCKET_SERVER_ACTIVE_CONNECTIONS, "")
                ),
                "{{http_route}}",
            )],
        )
        .w(8),
    );
    l.add(
        ts(
            "Messages by direction and type",
            "WebSocket messages per second received and sent, by message type.",
            "short",
            vec![q(
                format!(
                    "sum by (direction, message_type) ({})",
                    rate(&s(&WEBSOCKET_SERVER_MESSAGES), "")
                ),
                "{{direction}} {{message_type}}",
            )],
        )
        .w(8),
    );
    l.add(
        ts(
            "Message size p95",
            "95th percentile of WebSocket message payload size, by direction.",
            "bytes",
            vec![q(
                format!(
                    "histogram_quantile(0.95, sum by (le, direction) ({}))",
                    rate(&bucket(&WEBSOCKET_SERVER_MESSAGE_SIZE), "")
                ),
                "{{direction}}",
            )],
        )
        .w(8),
    );
    l.add(ts(
        "Connection duration p95",
        "95th percentile of how long WebSocket connections stay open, by route.",
        "s",
        vec![qx(
            format!(
                "histogram_quantile(0.95, sum by (le, http_route) ({}))",
                rate(&bucket(&WEBSOCKET_SERVER_CONNECTION_DURATION), "")
            ),
            "{{http_route}}",
        )],
    ));
    l.add(
        ts(
            "Closes by code",
            "Closed WebSocket connections per second by close code (none: dropped without a close frame).",
            "short",
            vec![q(
                format!(
                    "sum by (websocket_close_code) ({})",
                    rate(&s(&WEBSOCKET_SERVER_CLOSES), "")
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

fn per_minute(m: &MetricDef, extra: &str, by: &str) -> String {
    format!("sum by ({by}) ({}) * 60", rate(&s(m), extra))
}

fn business_metrics() -> Value {
    let total = |m: &MetricDef| format!("sum(increase({}[{RANGE}]))", sel(m, ""));
    let mut l = Layout::new();
    l.row("Totals over the selected time range");
    l.add(stat(
        "Registrations",
        "Users who completed registration.",
        "short",
        total(&GLIMPSE_USER_REGISTRATIONS),
    ));
    l.add(stat(
        "Matches",
        "Matches created.",
        "short",
        total(&GLIMPSE_MATCHES_CREATED),
    ));
    l.add(stat(
        "Messages",
        "Chat messages sent.",
        "short",
        total(&GLIMPSE_MESSAGES_SENT),
    ));
    l.add(stat(
        "Payments",
        "Payments processed, whatever their outcome.",
        "short",
        total(&GLIMPSE_PAYMENTS_PROCESSED),
    ));

    l.row("User activity");
    l.add(ts(
        "Registrations, matches and messages per minute",
        "Business events per minute.",
        "short",
        vec![
            q(
                per_minute(&GLIMPSE_USER_REGISTRATIONS, "", "job"),
                "registrations {{job}}",
            ),
            q(
                per_minute(&GLIMPSE_MATCHES_CREATED, "", "job"),
                "matches {{job}}",
            ),
            q(
                per_minute(&GLIMPSE_MESSAGES_SENT, "", "job"),
                "messages {{job}}",
            ),
        ],
    ));
    l.add(ts(
        "Active users",
        "Distinct users seen in the last five minutes.",
        "short",
        vec![q(
            format!("sum by (job) ({})", sel(&GLIMPSE_ACTIVE_USERS, "")),
            "{{job}}",
        )],
    ));

    l.row("Payments");
    l.add(
        ts(
            "Payments per minute by outcome",
            "Payments processed per minute, succeeded and failed.",
            "short",
            vec![q(
                per_minute(&GLIMPSE_PAYMENTS_PROCESSED, "", "outcome"),
                "{{outcome}}",
            )],
        )
        .stacked()
        .w(9),
    );
    l.add(
        ts(
            "Payment failure ratio",
            "Share of payments that failed. PaymentFailures fires above 10 % for 5 minutes.",
            "percentunit",
            vec![q(payment_failure_ratio_expr("job", M, W), "{{job}}")],
        )
        .thresholds(&[(0.1, "red")])
        .w(9),
    );
    l.add(Panel {
        h: 8,
        ..stat(
            "Payment failure ratio (5m)",
            "The ratio PaymentFailures alerts on.",
            "percentunit",
            format!("max({})", selector(PAYMENT_FAILURE_RATIO, &[M])),
        )
        .thresholds(&[(0.1, "red")])
    });

    product::panels(&mut l);
    dashboard(
        "glimpse-business-metrics",
        "Glimpse / Business Metrics",
        "User activity and payments, from the glimpse_telemetry::metrics::business helpers.",
        l,
    )
}

fn infrastructure() -> Value {
    let pool = "db_client_connection_pool_name";
    let mut l = Layout::new();
    l.row("Connection pools");
    l.add(ts(
        "Connections: used, idle, max",
        "Connections of each pool by state, and the pool's maximum.",
        "short",
        vec![
            q(
                format!(
                    "sum by ({pool}, db_client_connection_state) ({})",
                    selector(DB_CLIENT_CONNECTION_COUNT.name, &[M])
                ),
                "{{db_client_connection_pool_name}} {{db_client_connection_state}}",
            ),
            q(
                format!(
                    "sum by ({pool}) ({})",
                    selector(DB_CLIENT_CONNECTION_MAX.name, &[M])
                ),
                "{{db_client_connection_pool_name}} max",
            ),
        ],
    ));
    l.add(
        ts(
            "Pool utilization",
            "Share of each pool's connections in use. DatabaseConnectionsExhausted fires above 80 % for 1 minute.",
            "percentunit",
            vec![q(
                selector(DB_UTILIZATION, &[M]),
                "{{job}} {{db_client_connection_pool_name}}",
            )],
        )
        .thresholds(&[(0.8, "red")])
        .ratio(),
    );
    l.add(
        ts(
            "Callers waiting for a connection",
            "Callers waiting for a connection from the pool right now.",
            "short",
            vec![q(
                format!(
                    "sum by ({pool}) ({})",
                    selector(DB_CLIENT_CONNECTION_PENDING_REQUESTS.name, &[M])
                ),
                "{{db_client_connection_pool_name}}",
            )],
        )
        .w(8),
    );
    l.add(
        ts(
            "Connection wait time p95",
            "95th percentile of the time spent waiting for a connection. Exemplars open the trace in Jaeger.",
            "s",
            vec![qx(
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
        ts(
            "Connection timeouts per minute",
            "Attempts to get a connection that gave up.",
            "short",
            vec![q(
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
        ts(
            "Query latency p95 by operation",
            "95th percentile of query duration by operation. Queries at or above 500 ms count as slow. Exemplars open the trace in Jaeger.",
            "s",
            vec![qx(
                format!(
                    "histogram_quantile(0.95, sum by (le, db_operation_name) ({}))",
                    rate(&op, "")
                ),
                "{{db_operation_name}}",
            )],
        )
        .thresholds(&[(0.5, "red")]),
    );
    l.add(ts(
        "Queries per second by operation",
        "Queries per second by operation and table.",
        "short",
        vec![q(
            format!(
                "sum by (db_operation_name, db_collection_name) ({})",
                rate(&count(&DB_CLIENT_OPERATION_DURATION), "")
            ),
            "{{db_operation_name}} {{db_collection_name}}",
        )],
    ));
    l.add(
        ts(
            "Slow queries per minute (≥ 500 ms)",
            "Queries at or above the slow-query threshold, by operation and table. SlowQueries fires when they keep coming for 5 minutes; the WARN log lines \"slow query\" show the statements.",
            "short",
            vec![q(
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
    l.add(ts(
        "Query errors per second by type",
        "Failed queries by error type (SQLSTATE or client-side kind).",
        "short",
        vec![q(
            format!(
                "sum by (error_type) ({})",
                rate(&count(&DB_CLIENT_OPERATION_DURATION), r#"error_type!="""#)
            ),
            "{{error_type}}",
        )],
    ));

    l.row("Process");
    l.add(
        ts(
            "CPU",
            "CPU time used per second (1 = one core busy).",
            "short",
            vec![q(
                format!("sum by (job, instance) ({})", rate(&s(&PROCESS_CPU), "")),
                "{{instance}}",
            )],
        )
        .w(6),
    );
    l.add(
        ts(
            "Memory",
            "Resident and virtual memory of each process.",
            "bytes",
            vec![
                q(sel(&PROCESS_RESIDENT_MEMORY, ""), "resident {{instance}}"),
                q(sel(&PROCESS_VIRTUAL_MEMORY, ""), "virtual {{instance}}"),
            ],
        )
        .w(6),
    );
    l.add(
        ts(
            "Open file descriptors",
            "Open file descriptors against the process limit.",
            "short",
            vec![
                q(sel(&PROCESS_OPEN_FDS, ""), "open {{instance}}"),
                q(sel(&PROCESS_MAX_FDS, ""), "max {{instance}}"),
            ],
        )
        .w(5),
    );
    l.add(
        ts(
            "Threads",
            "OS threads of each process.",
            "short",
            vec![q(sel(&PROCESS_THREADS, ""), "{{instance}}")],
        )
        .w(4),
    );
    l.add(Panel {
        h: 8,
        ..stat(
            "Uptime",
            "Time since the process started (the youngest instance).",
            "s",
            format!("min(time() - {})", sel(&PROCESS_START_TIME, "")),
        )
        .w(3)
    });

    data::panels(&mut l);
    runtime::panels(&mut l);
    l.row("Hosts and Redis (node_exporter, redis_exporter)");
    l.add(
        ts(
            "Host memory used",
            "Share of host memory not available. MemoryUsageHigh fires above 85 % for 5 minutes.",
            "percentunit",
            vec![q(
                "1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes",
                "{{instance}}",
            )],
        )
        .thresholds(&[(0.85, "red")])
        .ratio()
        .w(6),
    );
    l.add(
        ts(
            "Disk free",
            "Free share of each disk-backed file system. DiskSpaceLow fires below 15 % for 5 minutes.",
            "percentunit",
            vec![q(
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
        ts(
            "Host CPU busy",
            "Share of CPU time not idle, per host.",
            "percentunit",
            vec![q(
                format!(
                    "1 - avg by (instance) (rate(node_cpu_seconds_total{{mode=\"idle\"}}[{W}]))"
                ),
                "{{instance}}",
            )],
        )
        .ratio()
        .w(6),
    );
    l.add(
        ts(
            "Redis memory used",
            "Redis memory against maxmemory. RedisMemoryHigh fires above 80 % for 5 minutes.",
            "percentunit",
            vec![q(
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

fn logs_analysis() -> Value {
    let logs = s(&GLIMPSE_LOG_EVENTS);
    let in_range =
        |m: &MetricDef, extra: &str| format!("sum(increase({}[{RANGE}]))", sel(m, extra));
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
        ts(
            "Log events per minute by level",
            "Log events written per minute, by level.",
            "short",
            vec![q(
                format!("sum by (level) ({}) * 60", rate(&logs, "")),
                "{{level}}",
            )],
        )
        .stacked(),
    );
    l.add(ts(
        "Error frequency",
        "ERROR log lines per minute by service: each is also a GlitchTip event.",
        "short",
        vec![q(
            format!("sum by (job) ({}) * 60", rate(&logs, r#"level="ERROR""#)),
            "{{job}}",
        )],
    ));

    l.row("Telemetry pipeline");
    l.add(
        ts(
            "Span export outcomes",
            "Finished spans per second: exported to Jaeger, failed (collector error) or dropped (queue full).",
            "short",
            vec![q(
                format!(
                    "sum by (outcome) ({})",
                    rate(&s(&GLIMPSE_TELEMETRY_SPANS), "")
                ),
                "{{outcome}}",
            )],
        )
        .w(8),
    );
    l.add(
        ts(
            "GlitchTip error events per minute",
            "Error events sent to GlitchTip (captured) or lost because the reporter's queue was full (dropped).",
            "short",
            vec![q(
                per_minute(&GLIMPSE_TELEMETRY_ERROR_EVENTS, "", "outcome"),
                "{{outcome}}",
            )],
        )
        .w(8),
    );
    l.add(
        ts(
            "Dropped log lines per minute",
            "Log lines dropped because the output could not keep up.",
            "short",
            vec![q(
                per_minute(&GLIMPSE_TELEMETRY_LOG_LINES_DROPPED, "", "job"),
                "{{job}}",
            )],
        )
        .thresholds(&[(1.0, "red")])
        .w(8),
    );
    l.add(ts(
        "Cardinality overflows by metric",
        "Lookups per second that hit a family's series limit, by family: find the label with unbounded values.",
        "short",
        vec![q(
            format!(
                "sum by (metric) ({})",
                rate(&s(&GLIMPSE_TELEMETRY_CARDINALITY_OVERFLOW), "")
            ),
            "{{metric}}",
        )],
    ));
    l.add(ts(
        "Slow responses (p99 by route)",
        "Response time analysis: the routes whose slowest requests to look up in the logs (response_time:>1000) and in Jaeger (exemplars).",
        "s",
        vec![qx(
            http_quantile_expr("0.99", "le, http_route", M, W),
            "{{http_route}}",
        )],
    ));

    l.row("From the logs (Loki)");
    for p in crate::logs::grafana::panels() {
        l.add(ts(
            p.title,
            p.description,
            "short",
            vec![q(p.expr, p.legend)],
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
