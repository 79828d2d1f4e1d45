//! The checks that span the whole crate: the generated files are up to date and
//! deterministic, the docs cover the catalogue, the hand-written deployment files are valid,
//! and the exposition check reads what the SDK writes; and the helpers the other test modules
//! share (paths, running a tool, a scratch directory).

pub(crate) mod queries;

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::Command;

use glimpse_telemetry::metrics::catalogue::{
    ALL, GLIMPSE_MESSAGES_SENT, HTTP_SERVER_REQUEST_DURATION, Kind, MetricDef,
    WEBSOCKET_SERVER_CLOSES,
};
use glimpse_telemetry::metrics::{Counter, Format, Histogram, encode};

use crate::names::{def_of_sample, sample_names};
use crate::{generate, missing_from_exposition, stale, workspace_root};

pub(crate) fn root() -> PathBuf {
    workspace_root()
}

pub(crate) fn read(rel: &str) -> String {
    let path = root().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The executable `name` on PATH.
pub(crate) fn which(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Runs a command; `(success, stdout + stderr)`.
pub(crate) fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("could not run {cmd:?}: {e}"));
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// A scratch directory, removed on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> Self {
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
                glimpse_telemetry::metrics::catalogue::label_values(m.name, l).is_some(),
                "describe the values of {}{{{l}}} in glimpse-telemetry/src/metrics/label_values.rs",
                m.name
            );
        }
    }
}

// ---- hand-written deployment files ----

#[test]
fn prometheus_config_is_valid() {
    let Some(promtool) = glimpse_test_support::promtool() else {
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
        glimpse_test_support::peer_missing(
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
