//! The dashboards against their promises: every query parses in promtool, uids, variables and
//! the grid are sane, latency panels show exemplars, and the JSON matches Grafana's schema.

use std::collections::HashSet;
use std::process::Command;

use glimpse_telemetry::metrics::catalogue::HTTP_SERVER_REQUEST_DURATION;

use crate::grafana;
use crate::names::def_of_sample;
use crate::promql::{self};
use crate::tests::queries::{
    all_panels, check_name, dashboard_files, panel_exprs, recording_names,
};
use crate::tests::{TempDir, read, root, run, which};
use crate::yaml::{self, Y, map};

/// Grafana's variables, replaced by values a plain Prometheus accepts.
fn substitute_grafana_variables(expr: &str) -> String {
    let known = [
        ("__rate_interval", "1m"),
        ("__interval", "30s"),
        ("__range", "6h"),
        ("job", "glimpse-api"),
    ];
    promql::replace_grafana_variables(expr, true, |name, _| {
        known
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
            .ok_or_else(|| format!("unknown Grafana variable ${name}"))
    })
    .unwrap_or_else(|e| panic!("{e} in {expr}"))
}

#[test]
fn dashboard_expressions_parse() {
    let Some(promtool) = glimpse_test_support::promtool() else {
        return;
    };
    let exprs = panel_exprs();
    let rules: Vec<Y> = exprs
        .iter()
        .enumerate()
        .map(|(i, e)| {
            Y::Commented(
                e.origin.clone(),
                Box::new(map([
                    ("record", yaml::string(format!("dashboard_check_{i}"))),
                    ("expr", yaml::string(substitute_grafana_variables(&e.expr))),
                ])),
            )
        })
        .collect();
    let doc = map([(
        "groups",
        Y::Seq(vec![map([
            ("name", yaml::string("dashboards")),
            ("rules", Y::Seq(rules)),
        ])]),
    )]);
    let dir = TempDir::new("panels");
    let file = dir.0.join("panels.rules.yml");
    std::fs::write(&file, yaml::render(&doc)).unwrap();
    let (ok, out) = run(Command::new(&promtool).args(["check", "rules"]).arg(&file));
    assert!(
        ok,
        "a dashboard query does not parse:\n{out}\n{}",
        std::fs::read_to_string(&file).unwrap_or_default()
    );
    assert!(
        out.contains(&format!("{} rules found", exprs.len())),
        "{out}"
    );
}

#[test]
fn grafana_variables_are_substituted() {
    assert_eq!(
        substitute_grafana_variables(r#"rate(x{job=~"$job"}[$__rate_interval]) + ${__range}"#),
        r#"rate(x{job=~"glimpse-api"}[1m]) + 6h"#
    );
}

#[test]
fn dashboards_have_stable_uids_variables_and_a_sane_layout() {
    let mut uids = HashSet::new();
    for (file, d) in dashboard_files() {
        let uid = d["uid"].as_str().unwrap_or_default();
        assert!(uid.starts_with("glimpse-"), "{file}: uid {uid}");
        assert!(uids.insert(uid.to_owned()), "{file}: duplicate uid {uid}");
        let vars: Vec<&str> = d["templating"]["list"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v["name"].as_str())
            .collect();
        assert_eq!(vars, ["datasource", "job"], "{file}");
        let job_query = d["templating"]["list"][1]["query"].as_str().unwrap();
        let metric = job_query
            .strip_prefix("label_values(")
            .and_then(|q| q.strip_suffix(", job)"))
            .unwrap_or_else(|| panic!("{file}: $job query {job_query}"));
        check_name(metric).unwrap();

        let mut panels = Vec::new();
        all_panels(&d["panels"], &mut panels);
        let mut ids = HashSet::new();
        let mut cells = HashSet::new();
        for p in &panels {
            assert!(
                ids.insert(p["id"].as_u64().unwrap()),
                "{file}: duplicate panel id"
            );
            let g = &p["gridPos"];
            let (x, y, w, h) = (
                g["x"].as_u64().unwrap(),
                g["y"].as_u64().unwrap(),
                g["w"].as_u64().unwrap(),
                g["h"].as_u64().unwrap(),
            );
            assert!(x + w <= 24, "{file}: {} is wider than the grid", p["title"]);
            for cx in x..x + w {
                for cy in y..y + h {
                    assert!(cells.insert((cx, cy)), "{file}: {} overlaps", p["title"]);
                }
            }
            let loki = p["datasource"]["uid"] == crate::logs::grafana::LOKI_UID;
            if p["type"] != "row" && p["type"] != "text" && !loki {
                assert_eq!(
                    p["datasource"]["uid"], "${datasource}",
                    "{file}: {}",
                    p["title"]
                );
                for t in p["targets"].as_array().unwrap() {
                    assert_eq!(t["datasource"]["uid"], "${datasource}");
                    let expr = t["expr"].as_str().unwrap();
                    let uses_catalogue = promql::refs(expr).unwrap().selectors.iter().any(|s| {
                        def_of_sample(&s.name).is_some()
                            || recording_names().contains(s.name.as_str())
                    });
                    if uses_catalogue {
                        assert!(
                            expr.contains(r#"job=~"$job""#),
                            "{file}: {} is not filtered by $job: {expr}",
                            p["title"]
                        );
                    }
                }
            }
        }
    }
    assert_eq!(uids.len(), grafana::all().len());
}

#[test]
fn latency_panels_show_exemplars() {
    for (file, d) in dashboard_files() {
        let mut panels = Vec::new();
        all_panels(&d["panels"], &mut panels);
        for p in panels {
            for t in p["targets"].as_array().into_iter().flatten() {
                let expr = t["expr"].as_str().unwrap_or_default();
                let latency = expr.contains("histogram_quantile")
                    && (expr.contains(HTTP_SERVER_REQUEST_DURATION.name)
                        || expr.contains("db_client_operation_duration_seconds"));
                if latency && t["range"] == true {
                    assert_eq!(
                        t["exemplar"], true,
                        "{file}: {} hides exemplars",
                        p["title"]
                    );
                }
            }
        }
    }
    let ds = read("deploy/grafana/provisioning/datasources/datasources.yml");
    assert!(ds.contains("exemplarTraceIdDestinations") && ds.contains("datasourceUid: jaeger"));
}

#[test]
fn grafana_dashboards_match_the_published_schema() {
    let dir = root().join("deploy/grafana");
    if !dir.join("node_modules/@grafana/schema").is_dir()
        || !dir.join("node_modules/typescript").is_dir()
    {
        glimpse_test_support::peer_missing(
            "@grafana/schema",
            "run `npm ci` in deploy/grafana to type-check the dashboards",
        );
        return;
    }
    let Some(node) = which("node") else {
        glimpse_test_support::peer_missing("node", "Node.js is not on PATH");
        return;
    };
    let (ok, out) = run(Command::new(node).arg("check.mjs").current_dir(&dir));
    assert!(ok, "deploy/grafana/check.mjs:\n{out}");
}
