//! Renders deploy/prometheus/alerts.yml: every rule group, each recording rule and alert with
//! the comment that says why it is written so.

use crate::GENERATED;
use crate::prometheus::model::{Alert, GROUPS, Recording};
use crate::prometheus::{alerts, recordings};
use crate::yaml::{self, Y, map, str_map};

const HEADER_RULES: &str = "Prometheus recording and alerting rules for Glimpse services.

The alerts are the monitoring guide's (critical: immediate action, paged; warning:
investigation required, Slack only), each linked to its section of docs/runbooks.md.
Metric sources:
  - the glimpse-telemetry SDK: every name is in its catalogue (docs/metrics.md);
  - Prometheus itself: `up`;
  - the standard exporters, scraped by the same Prometheus:
      node_exporter (node_*): disk space and memory of the hosts,
      blackbox_exporter (probe_*): reachability and TLS certificates of the public endpoints,
      redis_exporter (redis_*): Redis memory.
Alerts on a recording rule sit in the rule's group, after it, so they see its fresh value.
Tests: deploy/prometheus/alerts.test.yml (`promtool test rules`).";

fn recording_yaml(r: Recording) -> Y {
    Y::Commented(
        r.why.to_owned(),
        Box::new(map([
            ("record", yaml::string(r.record)),
            ("expr", yaml::string(r.expr)),
        ])),
    )
}

fn alert_yaml(a: Alert) -> Y {
    let runbook_url = a.runbook_url();
    Y::Commented(
        format!("{}: \"{}\".\n{}", a.name, a.guide, a.why),
        Box::new(map([
            ("alert", yaml::string(a.name)),
            ("expr", yaml::string(a.expr)),
            ("for", yaml::string(a.for_)),
            ("labels", str_map([("severity", a.severity.as_str())])),
            (
                "annotations",
                str_map([
                    ("summary", a.summary.to_owned()),
                    ("description", a.description.to_owned()),
                    ("runbook_url", runbook_url),
                ]),
            ),
        ])),
    )
}

pub(crate) fn alerts_yml() -> String {
    let groups = GROUPS
        .iter()
        .map(|g| {
            let rules: Vec<Y> = recordings()
                .into_iter()
                .filter(|r| r.group == *g)
                .map(recording_yaml)
                .chain(
                    alerts()
                        .into_iter()
                        .filter(|a| a.group == *g)
                        .map(alert_yaml),
                )
                .collect();
            map([("name", yaml::string(*g)), ("rules", Y::Seq(rules))])
        })
        .collect();
    let doc = map([("groups", Y::Seq(groups))]);
    yaml::with_comment_header(
        &format!("{GENERATED}\n\n{HEADER_RULES}"),
        &yaml::render(&doc),
    )
}
