//! What the rules and panels query: every expression is read with [`crate::promql`] and each
//! metric name and label it uses must be one the SDK emits (or a recording rule's, or a standard
//! exporter's).

use std::collections::{BTreeSet, HashSet};

use glimpse_telemetry::metrics::catalogue::Kind;
use serde_json::Value;

use crate::grafana;
use crate::names::def_of_sample;
use crate::prometheus::{self};
use crate::promql::{self, Refs};
use crate::tests::read;

// ---- what the rules and panels query ----

/// An expression and where it comes from.
pub(crate) struct Expr {
    pub(crate) origin: String,
    pub(crate) expr: String,
}

pub(crate) fn rule_exprs() -> Vec<Expr> {
    let mut out: Vec<Expr> = prometheus::recordings()
        .into_iter()
        .map(|r| Expr {
            origin: format!("recording rule {}", r.record),
            expr: r.expr,
        })
        .collect();
    out.extend(prometheus::alerts().into_iter().map(|a| Expr {
        origin: format!("alert {}", a.name),
        expr: a.expr,
    }));
    out
}

pub(crate) fn dashboard_files() -> Vec<(String, Value)> {
    grafana::all()
        .iter()
        .map(|d| {
            let rel = format!("deploy/grafana/dashboards/{}", d.file);
            let json = serde_json::from_str(&read(&rel))
                .unwrap_or_else(|e| panic!("{rel} is not JSON: {e}"));
            (rel, json)
        })
        .collect()
}

pub(crate) fn all_panels(panels: &Value, out: &mut Vec<Value>) {
    for p in panels.as_array().into_iter().flatten() {
        out.push(p.clone());
        all_panels(&p["panels"], out);
    }
}

/// Every panel query of the committed dashboards.
pub(crate) fn panel_exprs() -> Vec<Expr> {
    let mut out = Vec::new();
    for (file, d) in dashboard_files() {
        let mut panels = Vec::new();
        all_panels(&d["panels"], &mut panels);
        for p in panels {
            for t in p["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|t| !crate::logs::grafana::is_loki(t))
            {
                let expr = t["expr"].as_str().unwrap_or_else(|| {
                    panic!("{file}: panel {} has a query without expr", p["title"])
                });
                out.push(Expr {
                    origin: format!("{file}: panel {} {}", p["title"], t["refId"]),
                    expr: expr.to_owned(),
                });
            }
        }
    }
    out
}

pub(crate) fn recording_names() -> HashSet<&'static str> {
    prometheus::recordings().iter().map(|r| r.record).collect()
}

/// The names the standard exporters' metrics start with (see the header of alerts.yml).
pub(crate) const EXPORTER_PREFIXES: &[&str] = &["node_", "probe_", "redis_"];
pub(crate) const PROMETHEUS_OWN: &[&str] = &["up", "ALERTS"];

/// Whether `name` may be queried, and if not, why.
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    if def_of_sample(name).is_some()
        || recording_names().contains(name)
        || PROMETHEUS_OWN.contains(&name)
        || EXPORTER_PREFIXES.iter().any(|p| name.starts_with(p))
    {
        Ok(())
    } else {
        Err(format!(
            "{name} is neither a catalogue sample, a recording rule, `up`/`ALERTS`, nor from \
             node_exporter/blackbox_exporter/redis_exporter"
        ))
    }
}

/// The labels a selector of `name` may use, or `None` when any is fine (exporters, ALERTS,
/// target_info's resource attributes).
pub(crate) fn labels_of(name: &str) -> Option<BTreeSet<String>> {
    let mut allowed: BTreeSet<String> = ["job", "instance"].map(String::from).into();
    if let Some(def) = def_of_sample(name) {
        if def.kind == Kind::Info {
            return None;
        }
        allowed.extend(def.labels.iter().map(|l| (*l).to_owned()));
        allowed.insert("otel_metric_overflow".into());
        if name.ends_with("_bucket") {
            allowed.insert("le".into());
        }
        return Some(allowed);
    }
    if let Some(r) = prometheus::recordings()
        .into_iter()
        .find(|r| r.record == name)
    {
        let refs = promql::refs(&r.expr).unwrap_or_default();
        if refs.grouping.is_empty() {
            // No aggregation (`avg_over_time(rule[1d])`, `a - b`): the labels of the recording
            // rules it is computed from.
            let inherited: BTreeSet<String> = refs
                .selectors
                .iter()
                .filter(|s| recording_names().contains(s.name.as_str()))
                .filter_map(|s| labels_of(&s.name))
                .flatten()
                .collect();
            return Some(inherited);
        }
        return Some(refs.grouping.into_iter().filter(|l| l != "le").collect());
    }
    None
}

pub(crate) fn check_expr(e: &Expr) -> Vec<String> {
    let refs: Refs = match promql::refs(&e.expr) {
        Ok(r) => r,
        Err(err) => return vec![format!("{}: cannot read `{}`: {err}", e.origin, e.expr)],
    };
    let mut problems = Vec::new();
    if refs.selectors.is_empty() {
        problems.push(format!("{}: queries no metric: `{}`", e.origin, e.expr));
    }
    let mut grouping_allowed: Option<BTreeSet<String>> = Some(["le".to_owned()].into());
    for s in &refs.selectors {
        if let Err(why) = check_name(&s.name) {
            problems.push(format!("{}: {why}", e.origin));
            continue;
        }
        match labels_of(&s.name) {
            Some(allowed) => {
                for l in &s.labels {
                    if !allowed.contains(l) {
                        problems.push(format!(
                            "{}: {} has no label {l} (it has {allowed:?})",
                            e.origin, s.name
                        ));
                    }
                }
                if let Some(g) = grouping_allowed.as_mut() {
                    g.extend(allowed);
                }
            }
            None => grouping_allowed = None,
        }
    }
    if let Some(g) = grouping_allowed {
        for l in &refs.grouping {
            if !g.contains(l) {
                problems.push(format!(
                    "{}: groups by {l}, which none of its metrics has",
                    e.origin
                ));
            }
        }
    }
    problems
}

#[test]
fn rules_and_panels_query_only_emitted_metrics() {
    let exprs: Vec<Expr> = rule_exprs().into_iter().chain(panel_exprs()).collect();
    assert!(exprs.len() > 60, "only {} expressions found", exprs.len());
    let problems: Vec<String> = exprs.iter().flat_map(check_expr).collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_check_catches_unknown_names_and_labels() {
    let bad = |expr: &str| {
        check_expr(&Expr {
            origin: "test".into(),
            expr: expr.into(),
        })
    };
    assert!(bad("sum(rate(http_server_request_duration_seconds_count[5m]))").is_empty());
    // A counter without _total, a typo, a label of another metric, a grouping nobody has.
    assert_eq!(bad("rate(glimpse_messages_sent[5m])").len(), 1);
    assert_eq!(bad("http_server_request_duration_second_count").len(), 1);
    assert_eq!(
        bad(r#"db_client_connection_max{db_client_connection_state="used"}"#).len(),
        1
    );
    assert_eq!(bad("sum by (outcome) (db_client_connection_max)").len(), 1);
    assert_eq!(
        bad("sum by (le) (http_server_request_duration_seconds_sum)").len(),
        0
    );
    assert_eq!(
        bad(r#"glimpse:http_error_ratio:rate5m{outcome="x"}"#).len(),
        1
    );
    assert!(bad(r#"node_filesystem_avail_bytes{mountpoint="/"}"#).is_empty());
}
