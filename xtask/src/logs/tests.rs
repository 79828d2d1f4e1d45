//! The generated log artefacts parse, agree with the catalogue, and route every retention
//! class to the ILM policy that keeps it as long as the policy says.

use std::path::Path;
use std::process::Command;

use glimpse_telemetry::logs::catalogue::{
    self, ALIASES, DEVELOPMENT_DAYS, EsType, FIELDS, RETENTION_CLASSES,
};
use serde_json::{Value, json};

use super::elasticsearch::{DEVELOPMENT, KEPT_ENVIRONMENTS, MAPPINGS_TEMPLATE, index_mappings};
use super::shippers::loki_labels;
use crate::{generate, workspace_root};

fn generated(path: &str) -> String {
    generate()
        .unwrap()
        .into_iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("{path} is not generated"))
        .contents
}

fn json_file(path: &str) -> Value {
    serde_json::from_str(&generated(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A generated YAML file read by a real YAML parser (PyYAML), as JSON; `None` (test skipped,
/// or failed under `GLIMPSE_REQUIRE_PEERS=1`) without python3 and PyYAML.
fn yaml_file(path: &str) -> Option<Value> {
    let script = "import sys, json, yaml\nprint(json.dumps(yaml.safe_load(sys.stdin.read())))";
    let child = Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        glimpse_test_support::peer_missing("python3", "needed to parse the generated YAML");
        return None;
    };
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(generated(path).as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        if err.contains("No module named 'yaml'") {
            glimpse_test_support::peer_missing("PyYAML", &err);
            return None;
        }
        panic!("{path} does not parse as YAML: {err}");
    }
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

#[test]
fn every_catalogue_field_has_its_explicit_mapping() {
    let m = index_mappings();
    let props = m["properties"].as_object().unwrap();
    for f in FIELDS {
        let p = &props[f.name];
        assert_eq!(p["type"], f.es_type.as_str(), "{}", f.name);
        if f.es_type == EsType::Text {
            assert_eq!(p["fields"]["keyword"]["type"], "keyword", "{}", f.name);
        }
        for target in f.also_indexed_as {
            assert_eq!(p["copy_to"], json!([target]));
            assert_eq!(props[*target]["type"], "keyword", "copy_to target {target}");
        }
    }
    for a in ALIASES {
        assert_eq!(props[a.name], json!({ "type": "alias", "path": a.path }));
        assert!(props[a.path]["type"].is_string());
    }
    // Nothing is mapped that the catalogue does not know (but Filebeat's @timestamp).
    for key in props.keys() {
        assert!(
            key == "@timestamp"
                || catalogue::field(key).is_some()
                || catalogue::alias_target(key).is_some(),
            "{key} is mapped but not catalogued"
        );
    }
    // Context fields: dynamic templates for every JSON type the writer produces, none of
    // which can reject a later value of another type.
    let templates: Vec<&Value> = m["dynamic_templates"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t.as_object().unwrap().values())
        .collect();
    for json_type in ["string", "long", "double", "boolean"] {
        let t = templates
            .iter()
            .find(|t| t["match_mapping_type"] == json_type)
            .unwrap_or_else(|| panic!("no dynamic template for {json_type}"));
        let mapping = &t["mapping"];
        assert!(
            mapping["type"] == "keyword" || mapping["ignore_malformed"] == true,
            "{json_type}: {mapping}"
        );
    }
    assert_eq!(m["date_detection"], false);
}

/// Elasticsearch's index pattern matching: `*` matches any run of characters.
fn glob(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, tail)) => {
            name.starts_with(head)
                && (0..=name.len() - head.len()).any(|i| glob(tail, &name[head.len() + i..]))
        }
    }
}

fn condition_holds(cond: &Value, line: &Value) -> bool {
    if let Some(eq) = cond.get("equals").and_then(Value::as_object) {
        return eq.iter().all(|(k, v)| &line[k] == v);
    }
    if let Some(any) = cond.get("or").and_then(Value::as_array) {
        return any.iter().any(|c| condition_holds(c, line));
    }
    panic!("condition not understood: {cond}");
}

/// The index Filebeat's output writes a line to (first matching `indices` entry, else `index`).
fn filebeat_index(filebeat: &Value, line: &Value, env: &str) -> String {
    let out = &filebeat["output.elasticsearch"];
    let chosen = out["indices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| condition_holds(&i["when"], line))
        .map_or(&out["index"], |i| &i["index"]);
    chosen
        .as_str()
        .unwrap()
        .replace("${GLIMPSE_ENV:production}", env)
        .replace("%{+yyyy.MM.dd}", "2026.12.01")
}

/// Days the ILM policy of the highest-priority index template matching `index` keeps it.
fn days_kept(index: &str) -> u64 {
    let templates: Vec<Value> = generate()
        .unwrap()
        .into_iter()
        .filter(|f| f.path.starts_with("deploy/elasticsearch/index_templates/"))
        .map(|f| serde_json::from_str(&f.contents).unwrap())
        .collect();
    let best = templates
        .iter()
        .filter(|t| {
            t["index_patterns"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| glob(p.as_str().unwrap(), index))
        })
        .max_by_key(|t| t["priority"].as_u64().unwrap())
        .unwrap_or_else(|| panic!("no index template matches {index}"));
    assert_eq!(best["composed_of"], json!([MAPPINGS_TEMPLATE]));
    let policy = best["template"]["settings"]["index.lifecycle.name"]
        .as_str()
        .unwrap();
    let ilm = json_file(&format!("deploy/elasticsearch/ilm/{policy}.json"));
    let delete = ilm["policy"]["phases"]["delete"]["min_age"]
        .as_str()
        .unwrap();
    delete.strip_suffix('d').unwrap().parse().unwrap()
}

#[test]
fn filebeat_routes_each_retention_class_to_its_ilm_policy() {
    let Some(filebeat) = yaml_file("deploy/filebeat/filebeat.yml") else {
        return;
    };
    let input = &filebeat["filebeat.inputs"][0];
    let ndjson = input["parsers"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|p| p.get("ndjson"))
        .expect("an ndjson parser");
    assert_eq!(ndjson["target"], "", "keys at the root");
    let text = generated("deploy/filebeat/filebeat.yml");
    assert!(
        !text.contains("timestamp:") && !text.contains("- timestamp"),
        "nothing re-parses the line's timestamp"
    );
    // Lines as the audit helpers and the writer produce them.
    let lines = [
        json!({ "level": "WARN", "log_type": "audit", "retention": "7y", "status": "failed" }),
        json!({ "level": "INFO", "log_type": "audit", "retention": "1y" }),
        json!({ "level": "WARN", "log_type": "security", "retention": "1y" }),
        json!({ "level": "ERROR" }),
        json!({ "level": "INFO" }),
        json!({ "level": "DEBUG" }),
        json!({ "level": "TRACE" }),
    ];
    for line in &lines {
        let class =
            catalogue::retention_class(line["retention"].as_str(), line["level"].as_str().unwrap());
        for env in KEPT_ENVIRONMENTS {
            let index = filebeat_index(&filebeat, line, env);
            assert!(index.contains(class.name), "{line} -> {index}");
            assert_eq!(
                days_kept(&index),
                u64::from(class.days),
                "{line} in {env}: {index}"
            );
        }
        let index = filebeat_index(&filebeat, line, DEVELOPMENT);
        assert_eq!(
            days_kept(&index),
            u64::from(DEVELOPMENT_DAYS),
            "{line} in development"
        );
    }
    // The guide's policy: payment 7 years, user activity 1 year, system 90 days, debug 7 days.
    let days: Vec<u32> = RETENTION_CLASSES.iter().map(|c| c.days).collect();
    assert_eq!(days, [2557, 365, 90, 7]);
}

#[test]
fn loki_labels_only_bounded_fields_and_keeps_streams_by_class() {
    let Some(promtail) = yaml_file("deploy/loki/promtail.yml") else {
        return;
    };
    let stages = promtail["scrape_configs"][0]["pipeline_stages"]
        .as_array()
        .unwrap();
    let labels: Vec<&str> = stages
        .iter()
        .find_map(|s| s.get("labels"))
        .unwrap()
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut want = loki_labels();
    want.sort_unstable();
    let mut got = labels.clone();
    got.sort_unstable();
    assert_eq!(got, want);
    assert_eq!(want, ["level", "log_type", "service"]);
    let ts = stages.iter().find_map(|s| s.get("timestamp")).unwrap();
    assert_eq!(ts["source"], "timestamp");

    let loki = yaml_file("deploy/loki/loki.yml").unwrap();
    assert_eq!(loki["compactor"]["retention_enabled"], true);
    let limits = &loki["limits_config"];
    let hours = |d: u32| format!("{}h", d * 24);
    assert_eq!(limits["retention_period"], hours(90));
    let streams = limits["retention_stream"].as_array().unwrap();
    for s in streams {
        let selector = s["selector"].as_str().unwrap();
        let label = selector
            .trim_start_matches('{')
            .split(['=', '!'])
            .next()
            .unwrap();
        assert!(want.contains(&label), "{selector} selects on a non-label");
    }
    let period = |sel: &str| {
        streams
            .iter()
            .find(|s| s["selector"] == sel)
            .unwrap_or_else(|| panic!("{sel}"))["period"]
            .clone()
    };
    assert_eq!(period(r#"{log_type="audit"}"#), hours(2557));
    assert_eq!(period(r#"{log_type="security"}"#), hours(365));
    assert_eq!(period(r#"{level=~"DEBUG|TRACE"}"#), hours(7));
}

#[test]
fn logs_analysis_has_the_loki_panels_on_a_provisioned_loki() {
    let d: Value = serde_json::from_str(&generated(
        "deploy/grafana/dashboards/glimpse-logs-analysis.json",
    ))
    .unwrap();
    let loki: Vec<&Value> = d["panels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["datasource"]["type"] == "loki")
        .collect();
    let titles: Vec<&str> = loki.iter().map(|p| p["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Top error messages", "Service log distribution"]);
    for p in loki {
        for t in p["targets"].as_array().unwrap() {
            assert_eq!(t["datasource"]["uid"], super::grafana::LOKI_UID);
            let expr = t["expr"].as_str().unwrap();
            // Every stream selector names only Loki labels.
            for sel in expr.split('{').skip(1).filter_map(|s| s.split_once('}')) {
                for matcher in sel.0.split(',') {
                    let label = matcher.trim().split(['=', '!']).next().unwrap();
                    assert!(loki_labels().contains(&label), "{expr}: {label}");
                }
            }
        }
    }
    let ds = generated("deploy/grafana/provisioning/datasources/datasources.yml");
    assert!(ds.contains("type: loki") && ds.contains("uid: loki"));
}

#[test]
fn committed_log_artefacts_are_these() {
    // The stale check covers them; this names the log ones so a missing hook-in shows here.
    let root = workspace_root();
    for f in generate().unwrap() {
        if f.path.starts_with("deploy/elasticsearch/")
            || f.path.starts_with("deploy/filebeat/")
            || f.path.starts_with("deploy/loki/")
            || f.path == "docs/log-schema.md"
        {
            let committed =
                std::fs::read_to_string(Path::new(&root).join(&f.path)).unwrap_or_default();
            assert!(
                committed == f.contents,
                "{} is stale: run cargo run -p xtask -- gen",
                f.path
            );
        }
    }
}

#[test]
fn the_docs_quote_the_guide_queries_verbatim() {
    let md = generated("docs/log-schema.md");
    for q in super::GUIDE_QUERIES {
        assert!(
            md.contains(&format!("```text\n{}\n```", q.kibana)),
            "{}",
            q.kibana
        );
    }
    for f in FIELDS {
        assert!(md.contains(&format!("| `{}` |", f.name)), "{}", f.name);
    }
}
