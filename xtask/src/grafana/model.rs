//! What a Grafana panel is and how it renders to dashboard JSON, the queries it runs (on the
//! `$datasource` variable, filtered by `$job`), and the uids of the provisioned data sources.

use glimpse_telemetry::metrics::catalogue::MetricDef;
use serde_json::{Value, json};

use crate::names::sample;
use crate::prometheus::recordings::selector;

/// The uid of the provisioned Prometheus data source (the dashboards' `$datasource` default).
pub(crate) const PROMETHEUS_UID: &str = "prometheus";
/// The uid of the provisioned Jaeger data source, where exemplar trace ids link to.
pub(crate) const JAEGER_UID: &str = "jaeger";

/// The job filter every Glimpse query carries.
pub(crate) const JOB_FILTER: &str = r#"job=~"$job""#;
/// The window of rate() in panels: Grafana's, at least four scrape intervals.
pub(crate) const RATE_WINDOW: &str = "$__rate_interval";
/// The window of totals in stat panels: the dashboard's time range.
pub(crate) const RANGE: &str = "$__range";

/// The data source of every Prometheus panel and query: the `$datasource` variable.
pub(crate) fn datasource() -> Value {
    json!({ "type": "prometheus", "uid": "${datasource}" })
}

/// A query of a time series panel.
pub(crate) fn query(expr: impl Into<String>, legend: &str) -> Value {
    json!({
        "datasource": datasource(),
        "editorMode": "code",
        "expr": expr.into(),
        "legendFormat": legend,
        "range": true,
        "instant": false,
        "exemplar": false,
    })
}

/// A query whose exemplars (trace ids) are shown.
pub(crate) fn query_with_exemplars(expr: impl Into<String>, legend: &str) -> Value {
    let mut t = query(expr, legend);
    t["exemplar"] = json!(true);
    t
}

/// The selector of `m`'s sample, with the matcher `extra` (or none) and the `$job` filter.
pub(crate) fn job_selector(m: &MetricDef, extra: &str) -> String {
    selector(&sample(m), &[extra, JOB_FILTER])
}

/// `rate()` over Grafana's window of `sample`, with the matcher `extra` and the `$job` filter.
pub(crate) fn rate(sample: &str, extra: &str) -> String {
    format!(
        "rate({}[{RATE_WINDOW}])",
        selector(sample, &[extra, JOB_FILTER])
    )
}

/// The per-minute rate of `m` (with `extra` and the `$job` filter), summed by `by`.
pub(crate) fn per_minute(m: &MetricDef, extra: &str, by: &str) -> String {
    format!("sum by ({by}) ({}) * 60", rate(&sample(m), extra))
}

/// Where a panel goes and what it shows.
pub(crate) struct Panel {
    pub(crate) kind: &'static str,
    pub(crate) title: &'static str,
    pub(crate) description: String,
    pub(crate) unit: &'static str,
    pub(crate) targets: Vec<Value>,
    /// Threshold steps above the green base: `(value, color)`.
    pub(crate) thresholds: Vec<(f64, &'static str)>,
    /// The base color when thresholds go the other way (lower is worse).
    pub(crate) base: &'static str,
    pub(crate) min: Option<f64>,
    pub(crate) max: Option<f64>,
    pub(crate) stack: bool,
    pub(crate) mappings: Option<Value>,
    pub(crate) text: Option<String>,
    pub(crate) w: u32,
    pub(crate) h: u32,
}

pub(crate) fn panel(
    kind: &'static str,
    title: &'static str,
    description: &str,
    unit: &'static str,
) -> Panel {
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

pub(crate) fn timeseries(
    title: &'static str,
    description: &str,
    unit: &'static str,
    targets: Vec<Value>,
) -> Panel {
    Panel {
        targets,
        ..panel("timeseries", title, description, unit)
    }
}

pub(crate) fn stat(
    title: &'static str,
    description: &str,
    unit: &'static str,
    expr: String,
) -> Panel {
    let mut t = query(expr, "");
    t["range"] = json!(false);
    t["instant"] = json!(true);
    Panel {
        targets: vec![t],
        w: 6,
        h: 4,
        ..panel("stat", title, description, unit)
    }
}

pub(crate) fn text(title: &'static str, markdown: String) -> Panel {
    Panel {
        text: Some(markdown),
        w: 24,
        h: 12,
        ..panel("text", title, "", "")
    }
}

impl Panel {
    pub(crate) fn w(mut self, w: u32) -> Self {
        self.w = w;
        self
    }

    pub(crate) fn thresholds(mut self, steps: &[(f64, &'static str)]) -> Self {
        self.thresholds = steps.to_vec();
        self
    }

    /// Lower is worse: red below the first step's value, green above.
    pub(crate) fn floor(mut self, at: f64) -> Self {
        self.base = "red";
        self.thresholds = vec![(at, "green")];
        self
    }

    pub(crate) fn ratio(mut self) -> Self {
        self.min = Some(0.0);
        self.max = Some(1.0);
        self
    }

    pub(crate) fn stacked(mut self) -> Self {
        self.stack = true;
        self
    }

    pub(crate) fn legend_with_targets(mut self, legends: &[&str]) -> Self {
        for (t, l) in self.targets.iter_mut().zip(legends) {
            t["legendFormat"] = json!(l);
        }
        self
    }

    pub(crate) fn json(self, id: u32, x: u32, y: u32) -> Value {
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
            p["datasource"] = datasource();
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
