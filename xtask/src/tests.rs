//! The catalogue, the rules, the dashboards, the docs and the hand-written deployment files
//! agree, and the tools that will load them accept them.

use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;
use std::process::Command;

use glimpse_telemetry::metrics::catalogue::{
    ALL, GLIMPSE_MESSAGES_SENT, HTTP_SERVER_REQUEST_DURATION, Kind, MetricDef,
    WEBSOCKET_SERVER_CLOSES,
};
use glimpse_telemetry::metrics::{Counter, Format, Histogram, encode};
use serde_json::Value;

use crate::names::{def_of_sample, sample_names};
use crate::promql::{self, Refs};
use crate::rules::{self, Severity};
use crate::yaml::{self, Y, map};
use crate::{dashboards, generate, labels, missing_from_exposition, stale, workspace_root};

fn root() -> PathBuf {
    workspace_root()
}

fn read(rel: &str) -> String {
    let path = root().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The executable `name` on PATH.
fn which(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Runs a command; `(success, stdout + stderr)`.
fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("could not run {cmd:?}: {e}"));
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// A scratch directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "xtask-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---- what the rules and panels query ----

/// An expression and where it comes from.
struct Expr {
    origin: String,
    expr: String,
}

fn rule_exprs() -> Vec<Expr> {
    let mut out: Vec<Expr> = rules::recordings()
        .into_iter()
        .map(|r| Expr {
            origin: format!("recording rule {}", r.record),
            expr: r.expr,
        })
        .collect();
    out.extend(rules::alerts().into_iter().map(|a| Expr {
        origin: format!("alert {}", a.name),
        expr: a.expr,
    }));
    out
}

fn dashboard_files() -> Vec<(String, Value)> {
    dashboards::all()
        .iter()
        .map(|d| {
            let rel = format!("deploy/grafana/dashboards/{}", d.file);
            let json = serde_json::from_str(&read(&rel))
                .unwrap_or_else(|e| panic!("{rel} is not JSON: {e}"));
            (rel, json)
        })
        .collect()
}

fn all_panels(panels: &Value, out: &mut Vec<Value>) {
    for p in panels.as_array().into_iter().flatten() {
        out.push(p.clone());
        all_panels(&p["panels"], out);
    }
}

/// Every panel query of the committed dashboards.
fn panel_exprs() -> Vec<Expr> {
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

fn recording_names() -> HashSet<&'static str> {
    rules::recordings().iter().map(|r| r.record).collect()
}

/// The names the standard exporters' metrics start with (see the header of alerts.yml).
const EXPORTER_PREFIXES: &[&str] = &["node_", "probe_", "redis_"];
const PROMETHEUS_OWN: &[&str] = &["up", "ALERTS"];

/// Whether `name` may be queried, and if not, why.
fn check_name(name: &str) -> Result<(), String> {
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
fn labels_of(name: &str) -> Option<BTreeSet<String>> {
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
    if let Some(r) = rules::recordings().into_iter().find(|r| r.record == name) {
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

fn check_expr(e: &Expr) -> Vec<String> {
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
fn generated_files_are_up_to_date() {
    let stale = stale(&root()).unwrap();
    assert!(
        stale.is_empty(),
        "these generated files differ from the catalogue: {stale:?}; run `cargo run -p xtask -- gen`"
    );
}

#[test]
fn generation_is_deterministic() {
    assert_eq!(generate().unwrap(), generate().unwrap());
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

#[test]
fn every_catalogue_metric_is_in_the_docs() {
    let md = read("docs/metrics.md");
    for m in ALL {
        for n in sample_names(m) {
            assert!(md.contains(&format!("`{n}`")), "docs/metrics.md lacks {n}");
        }
        assert!(
            md.contains(m.help),
            "docs/metrics.md lacks the meaning of {}",
            m.name
        );
    }
}

#[test]
fn every_label_is_documented() {
    for m in ALL.iter().filter(|m| m.kind != Kind::Info) {
        for l in m.labels {
            assert!(
                labels::values(m.name, l).is_some(),
                "describe the values of {}{{{l}}} in xtask/src/labels.rs",
                m.name
            );
        }
    }
}

/// GitHub's anchor for a Markdown heading.
fn github_anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

#[test]
fn every_alert_has_a_runbook_section() {
    let runbooks = read("docs/runbooks.md");
    let anchors: HashSet<String> = runbooks
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(github_anchor)
        .collect();
    for a in rules::alerts() {
        assert!(
            anchors.contains(&a.anchor()),
            "docs/runbooks.md has no `## {}` section for {}",
            a.name,
            a.runbook_url()
        );
        assert!(
            a.runbook_url()
                .ends_with(&format!("docs/runbooks.md#{}", a.anchor())),
            "{}",
            a.runbook_url()
        );
    }
}

#[test]
fn every_alert_is_tested_firing_and_silent() {
    let alerts = rules::alerts();
    let names: HashSet<&str> = alerts.iter().map(|a| a.name).collect();
    assert_eq!(names.len(), alerts.len(), "alert names must be unique");
    for a in &alerts {
        let checks = a.tests.iter().flat_map(|c| &c.checks);
        let (firing, silent): (Vec<_>, Vec<_>) = checks.partition(|(_, fired)| !fired.is_empty());
        assert!(!firing.is_empty(), "{} has no test where it fires", a.name);
        assert!(
            !silent.is_empty(),
            "{} has no test where it stays silent",
            a.name
        );
    }
    // The guide's two lists.
    let critical = |n: &str| {
        alerts
            .iter()
            .find(|a| a.name == n)
            .map(|a| a.severity)
            .unwrap()
    };
    for n in [
        "ServiceDown",
        "ServiceProbeFailed",
        "HighErrorRate",
        "DatabaseConnectionsExhausted",
        "DiskSpaceLow",
        "PaymentFailures",
    ] {
        assert_eq!(critical(n), Severity::Critical, "{n}");
    }
    for n in [
        "HighResponseTime",
        "MemoryUsageHigh",
        "SlowQueries",
        "SSLCertificateExpiry",
        "RedisMemoryHigh",
    ] {
        assert_eq!(critical(n), Severity::Warning, "{n}");
    }
}

#[test]
fn promtool_checks_and_tests_the_rules() {
    let Some(promtool) = glimpse_tests::promtool() else {
        return;
    };
    let dir = root().join("deploy/prometheus");
    let (ok, out) = run(Command::new(&promtool)
        .args(["check", "rules"])
        .arg(dir.join("alerts.yml")));
    assert!(ok, "promtool check rules alerts.yml:\n{out}");
    let (ok, out) = run(Command::new(&promtool)
        .args(["test", "rules"])
        .arg(dir.join("alerts.test.yml")));
    assert!(ok, "promtool test rules alerts.test.yml:\n{out}");
}

/// Grafana's variables, replaced by values a plain Prometheus accepts.
fn substitute_grafana_variables(expr: &str) -> String {
    let known = [
        ("__rate_interval", "1m"),
        ("__interval", "30s"),
        ("__range", "6h"),
        ("job", "glimpse-api"),
    ];
    let mut out = String::new();
    let mut rest = expr;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, len) = match after.strip_prefix('{') {
            Some(b) => {
                let end = b
                    .find('}')
                    .unwrap_or_else(|| panic!("unclosed ${{ in {expr}"));
                (&b[..end], end + 2)
            }
            None => {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..end], end)
            }
        };
        let value = known
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("unknown Grafana variable ${name} in {expr}"));
        out.push_str(value);
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

#[test]
fn dashboard_expressions_parse() {
    let Some(promtool) = glimpse_tests::promtool() else {
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
                    ("record", yaml::s(format!("dashboard_check_{i}"))),
                    ("expr", yaml::s(substitute_grafana_variables(&e.expr))),
                ])),
            )
        })
        .collect();
    let doc = map([(
        "groups",
        Y::Seq(vec![map([
            ("name", yaml::s("dashboards")),
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
    assert_eq!(uids.len(), dashboards::all().len());
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
        glimpse_tests::peer_missing(
            "@grafana/schema",
            "run `npm ci` in deploy/grafana to type-check the dashboards",
        );
        return;
    }
    let Some(node) = which("node") else {
        glimpse_tests::peer_missing("node", "Node.js is not on PATH");
        return;
    };
    let (ok, out) = run(Command::new(node).arg("check.mjs").current_dir(&dir));
    assert!(ok, "deploy/grafana/check.mjs:\n{out}");
}

// ---- hand-written deployment files ----

#[test]
fn prometheus_config_is_valid() {
    let Some(promtool) = glimpse_tests::promtool() else {
        return;
    };
    let file = root().join("deploy/prometheus/prometheus.yml");
    let (ok, out) = run(Command::new(&promtool).args(["check", "config"]).arg(&file));
    assert!(ok, "promtool check config:\n{out}");
    assert!(
        out.contains("SUCCESS: 20 rules found") || out.contains("rules found"),
        "{out}"
    );
    let text = read("deploy/prometheus/prometheus.yml");
    for needle in [
        "scrape_interval: 15s",
        "alerts.yml",
        "alertmanager:9093",
        "glimpse-api:8080",
    ] {
        assert!(text.contains(needle), "prometheus.yml lacks {needle}");
    }
}

#[test]
fn alertmanager_config_is_valid_and_routes_by_severity() {
    let Some(amtool) = which("amtool") else {
        glimpse_tests::peer_missing(
            "amtool",
            "install Debian's `prometheus-alertmanager` package",
        );
        return;
    };
    let file = root().join("deploy/alertmanager/alertmanager.yml");
    let (ok, out) = run(Command::new(&amtool).arg("check-config").arg(&file));
    assert!(ok, "amtool check-config:\n{out}");
    let text = read("deploy/alertmanager/alertmanager.yml");
    for secret in ["api_url:", "routing_key:", "service_key:"] {
        assert!(
            !text.contains(secret),
            "alertmanager.yml must read secrets from files, found {secret}"
        );
    }
    // The receivers an alert with these labels goes to (amtool prints them on stdout, and a
    // warning about --alertmanager.url on stderr).
    let route = |labels: &[&str]| {
        let out = Command::new(&amtool)
            .args(["config", "routes", "test", "--config.file"])
            .arg(&file)
            .args(labels)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "amtool config routes test {labels:?}: {out:?}"
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(
        route(&[
            "alertname=HighErrorRate",
            "severity=critical",
            "job=glimpse-api"
        ]),
        "pagerduty,slack-critical"
    );
    assert_eq!(
        route(&[
            "alertname=SlowQueries",
            "severity=warning",
            "job=glimpse-api"
        ]),
        "slack-warnings"
    );
    assert_eq!(route(&["alertname=Other"]), "slack-warnings");
}

#[test]
fn deploy_yaml_parses_and_compose_has_the_stack() {
    let text = read("deploy/docker-compose.yml");
    for needle in [
        "9090:9090",
        "3030:3000",
        "16686:16686",
        "4317:4317",
        "4318:4318",
        "9093:9093",
        "8080:8080",
        "--enable-feature=exemplar-storage",
        "--storage.tsdb.retention.time=15d",
        "GLIMPSE_API_ADDR",
        "http://jaeger:4317",
        "./grafana/provisioning:/etc/grafana/provisioning",
        "./grafana/dashboards:/var/lib/grafana/dashboards",
    ] {
        assert!(text.contains(needle), "docker-compose.yml lacks {needle}");
    }
    let Some(python) = which("python3") else {
        eprintln!("SKIPPED: python3 not available to parse docker-compose.yml");
        return;
    };
    let (ok, out) = run(Command::new(&python).args(["-c", "import yaml"]));
    if !ok {
        eprintln!("SKIPPED: PyYAML not available to parse docker-compose.yml: {out}");
        return;
    }
    // The compose file has the services, and every YAML file under deploy/ (the provisioning
    // files are read by no tool here) parses.
    let script = "import sys, yaml\n\
                  d = yaml.safe_load(open(sys.argv[1]))\n\
                  need = {'prometheus', 'grafana', 'jaeger', 'alertmanager', 'glimpse-api'}\n\
                  missing = need - set(d['services'])\n\
                  assert not missing, missing\n\
                  for f in sys.argv[2:]:\n    yaml.safe_load(open(f))\n\
                  ds = yaml.safe_load(open(sys.argv[2]))['datasources']\n\
                  uids = {d['uid'] for d in ds}\n\
                  for d in ds:\n\
                  \x20   for e in d.get('jsonData', {}).get('exemplarTraceIdDestinations', []):\n\
                  \x20       assert e['datasourceUid'] in uids, e\n";
    let deploy = root().join("deploy");
    let yaml_files = [
        "grafana/provisioning/datasources/datasources.yml",
        "grafana/provisioning/dashboards/dashboards.yml",
        "prometheus/prometheus.yml",
        "prometheus/alerts.yml",
        "prometheus/alerts.test.yml",
        "alertmanager/alertmanager.yml",
    ];
    let (ok, out) = run(Command::new(&python)
        .args(["-c", script])
        .arg(deploy.join("docker-compose.yml"))
        .args(yaml_files.iter().map(|f| deploy.join(f))));
    assert!(ok, "docker-compose.yml:\n{out}");
}

// ---- the exposition check ----

#[test]
fn exposition_check_reads_both_formats() {
    let om =
        "# HELP websocket_server_closes Closes.\n# TYPE websocket_server_closes counter\n# EOF\n";
    assert!(!missing_from_exposition(om).contains(&WEBSOCKET_SERVER_CLOSES.name));
    let text = "websocket_server_closes_total{http_route=\"/ws\",websocket_close_code=\"1000\"} 1\n\
                http_server_request_duration_seconds_bucket{le=\"+Inf\"} 3\ntarget_info{service_name=\"x\"} 1\n";
    let missing = missing_from_exposition(text);
    assert!(!missing.contains(&WEBSOCKET_SERVER_CLOSES.name));
    assert!(!missing.contains(&HTTP_SERVER_REQUEST_DURATION.name));
    assert!(!missing.contains(&"target"));
    assert_eq!(missing.len(), ALL.len() - 3);
    assert_eq!(missing_from_exposition("").len(), ALL.len());
}

#[test]
fn exposition_check_on_the_sdk_exposition() {
    let duration = HTTP_SERVER_REQUEST_DURATION
        .register::<Histogram>()
        .unwrap();
    duration
        .get_or_create(&["GET", "/users/{id}", "200", ""])
        .observe(0.01);
    let sent = GLIMPSE_MESSAGES_SENT.register::<Counter>().unwrap();
    sent.get_or_create(&[]).inc();
    for format in [Format::Text, Format::OpenMetrics] {
        let missing = missing_from_exposition(&encode(format));
        let present = |m: &MetricDef| !missing.contains(&m.name);
        assert!(
            present(&HTTP_SERVER_REQUEST_DURATION),
            "{format:?}: {missing:?}"
        );
        assert!(present(&GLIMPSE_MESSAGES_SENT), "{format:?}: {missing:?}");
        // The process collector is always registered (Linux).
        assert!(
            present(&glimpse_telemetry::metrics::catalogue::PROCESS_CPU),
            "{format:?}: {missing:?}"
        );
        // Never registered in this process, and init() (which adds target_info) never ran.
        assert!(!present(&WEBSOCKET_SERVER_CLOSES), "{format:?}");
        assert!(missing.contains(&"target"), "{format:?}");
    }
}

#[test]
fn all_catalogue_names_are_unique_samples() {
    let mut seen = HashSet::new();
    for m in ALL {
        for n in sample_names(m) {
            assert!(
                seen.insert(n.clone()),
                "{n} is emitted by two catalogue entries"
            );
            assert_eq!(def_of_sample(&n).map(|d| d.name), Some(m.name));
        }
    }
}

#[test]
fn alerts_see_their_recording_rules_fresh() {
    let recordings = rules::recordings();
    let order: Vec<(&str, &str)> = rules::GROUPS
        .iter()
        .flat_map(|g| {
            recordings
                .iter()
                .filter(move |r| r.group == *g)
                .map(|r| (r.group, r.record))
        })
        .collect();
    for r in &recordings {
        assert!(
            rules::GROUPS.contains(&r.group),
            "{}: unknown group {}",
            r.record,
            r.group
        );
        // A recording rule used by another one must come first in the same group.
        for s in promql::refs(&r.expr).unwrap().selectors {
            if let Some(dep) = recordings.iter().find(|d| d.record == s.name) {
                assert_eq!(dep.group, r.group, "{} uses {}", r.record, dep.record);
                let pos = |n: &str| order.iter().position(|(_, x)| *x == n);
                assert!(
                    pos(dep.record) < pos(r.record),
                    "{} before {}",
                    dep.record,
                    r.record
                );
            }
        }
    }
    for a in rules::alerts() {
        assert!(
            rules::GROUPS.contains(&a.group),
            "{}: unknown group {}",
            a.name,
            a.group
        );
        for s in promql::refs(&a.expr).unwrap().selectors {
            if let Some(r) = recordings.iter().find(|r| r.record == s.name) {
                assert_eq!(
                    r.group, a.group,
                    "{} uses {} from another group: it would see the value of the previous evaluation",
                    a.name, r.record
                );
            }
        }
    }
}
