//! Lays panels out on Grafana's 24-column grid, and wraps them in a dashboard with the
//! `$datasource` and `$job` variables and the links between the Glimpse dashboards.

use glimpse_telemetry::metrics::catalogue::TARGET_INFO;
use serde_json::{Value, json};

use crate::grafana::model::{PROMETHEUS_UID, Panel, datasource};
use crate::names::sample;

/// Lays panels out left to right, wrapping at 24 columns, rows on their own line.
pub(crate) struct Layout {
    pub(crate) panels: Vec<Value>,
    pub(crate) id: u32,
    pub(crate) x: u32,
    pub(crate) y: u32,
    pub(crate) line_h: u32,
}

impl Layout {
    pub(crate) fn new() -> Self {
        Layout {
            panels: Vec::new(),
            id: 0,
            x: 0,
            y: 0,
            line_h: 0,
        }
    }

    pub(crate) fn newline(&mut self) {
        if self.x > 0 {
            self.y += self.line_h;
            self.x = 0;
            self.line_h = 0;
        }
    }

    pub(crate) fn row(&mut self, title: &str) -> &mut Self {
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

    pub(crate) fn add(&mut self, p: Panel) -> &mut Self {
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

pub(crate) fn dashboard(uid: &str, title: &str, description: &str, layout: Layout) -> Value {
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
                "datasource": datasource(),
                "query": format!("label_values({}, job)", sample(&TARGET_INFO)),
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
