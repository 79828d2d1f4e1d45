//! The Elasticsearch side: one component template with the mappings (every catalogue field
//! explicit, dynamic templates for context fields, the `log_level` alias, `component` copied
//! into `service`), one ILM policy and one index template per retention class, and the
//! development policy.

use glimpse_telemetry::logs::catalogue::{
    ALIASES, DEVELOPMENT_DAYS, EsType, FIELDS, PRODUCTION_HOT_DAYS, RETENTION_CLASSES,
};
use serde_json::{Map, Value, json};

use super::GENERATED;
use crate::GeneratedFile;

/// The component template every log index template is composed of.
pub(crate) const MAPPINGS_TEMPLATE: &str = "glimpse-logs-mappings";
/// Index names start with this, then the environment and the retention class.
pub(crate) const INDEX_PREFIX: &str = "glimpse-logs";
/// The environments (`GLIMPSE_ENV`) whose lines are kept by retention class.
pub(crate) const KEPT_ENVIRONMENTS: &[&str] = &["production", "staging"];
/// The environment whose lines are all kept [`DEVELOPMENT_DAYS`].
pub(crate) const DEVELOPMENT: &str = "development";
/// Longest value a `keyword` field indexes (longer ones stay in `_source`).
const IGNORE_ABOVE: u32 = 1024;

fn es_mapping(t: EsType) -> Value {
    match t {
        EsType::Date => json!({ "type": "date", "format": "strict_date_optional_time" }),
        EsType::Keyword => json!({ "type": "keyword", "ignore_above": IGNORE_ABOVE }),
        EsType::Text => json!({
            "type": "match_only_text",
            "fields": { "keyword": { "type": "keyword", "ignore_above": IGNORE_ABOVE } },
        }),
        EsType::Boolean => json!({ "type": "boolean" }),
        // A context field of the same name with another type never rejects the line.
        numeric => json!({ "type": numeric.as_str(), "ignore_malformed": true }),
    }
}

/// The `mappings` of the log indices: every catalogue field with its type, the aliases, and
/// dynamic templates for context fields (strings and booleans as `keyword`, numbers as `double`
/// that ignores a later string), so no line is ever rejected for a type clash.
///
/// ```
/// let m = xtask::logs::index_mappings();
/// assert_eq!(m["properties"]["http_status"]["type"], "integer");
/// assert_eq!(m["properties"]["log_level"], serde_json::json!({"type": "alias", "path": "level"}));
/// ```
pub fn index_mappings() -> Value {
    let mut properties = Map::new();
    // When Filebeat read the line; the line's own time is `timestamp`.
    properties.insert("@timestamp".into(), json!({ "type": "date" }));
    for f in FIELDS {
        let mut m = es_mapping(f.es_type);
        if !f.also_indexed_as.is_empty() {
            m["copy_to"] = json!(f.also_indexed_as);
        }
        properties.insert(f.name.into(), m);
    }
    for a in ALIASES {
        properties.insert(a.name.into(), json!({ "type": "alias", "path": a.path }));
    }
    json!({
        "dynamic": true,
        "date_detection": false,
        "numeric_detection": false,
        "dynamic_templates": [
            { "context_strings": {
                "match_mapping_type": "string",
                "mapping": { "type": "keyword", "ignore_above": IGNORE_ABOVE },
            } },
            { "context_integers": {
                "match_mapping_type": "long",
                "mapping": { "type": "double", "ignore_malformed": true },
            } },
            { "context_numbers": {
                "match_mapping_type": "double",
                "mapping": { "type": "double", "ignore_malformed": true },
            } },
            { "context_booleans": {
                "match_mapping_type": "boolean",
                "mapping": { "type": "keyword" },
            } },
        ],
        "properties": properties,
    })
}

/// `(policy name, days kept)` of every ILM policy.
pub(crate) fn policies() -> Vec<(String, u32)> {
    let mut out: Vec<(String, u32)> = RETENTION_CLASSES
        .iter()
        .map(|c| (format!("{INDEX_PREFIX}-{}", c.name), c.days))
        .collect();
    out.push((format!("{INDEX_PREFIX}-{DEVELOPMENT}"), DEVELOPMENT_DAYS));
    out
}

fn ilm_policy(days: u32, what: &str) -> Value {
    let mut phases = Map::new();
    phases.insert(
        "hot".into(),
        json!({ "min_age": "0ms", "actions": { "set_priority": { "priority": 100 } } }),
    );
    if days > PRODUCTION_HOT_DAYS {
        phases.insert(
            "warm".into(),
            json!({
                "min_age": format!("{PRODUCTION_HOT_DAYS}d"),
                "actions": {
                    "readonly": {},
                    "forcemerge": { "max_num_segments": 1 },
                    "set_priority": { "priority": 50 },
                },
            }),
        );
    }
    phases.insert(
        "delete".into(),
        json!({ "min_age": format!("{days}d"), "actions": { "delete": {} } }),
    );
    json!({ "policy": { "_meta": { "description": what, "generated": GENERATED }, "phases": phases } })
}

fn index_template(patterns: Vec<String>, policy: &str, priority: u32, what: &str) -> Value {
    json!({
        "index_patterns": patterns,
        "composed_of": [MAPPINGS_TEMPLATE],
        "priority": priority,
        "template": { "settings": { "index.lifecycle.name": policy } },
        "_meta": { "description": what, "generated": GENERATED },
    })
}

fn pretty(v: &Value) -> String {
    // Serializing a `Value` cannot fail.
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

pub(crate) fn files() -> Vec<GeneratedFile> {
    let mut out = vec![GeneratedFile {
        path: format!("deploy/elasticsearch/component_templates/{MAPPINGS_TEMPLATE}.json"),
        contents: pretty(&json!({
            "template": {
                "settings": {
                    "index.query.default_field": ["message"],
                    "index.mapping.total_fields.limit": 2000,
                },
                "mappings": index_mappings(),
            },
            "_meta": { "description": "Mappings of Glimpse JSON log lines (docs/log-schema.md).", "generated": GENERATED },
        })),
    }];
    for c in RETENTION_CLASSES {
        let name = format!("{INDEX_PREFIX}-{}", c.name);
        let what = format!(
            "{} days: {}. In the hot tier {PRODUCTION_HOT_DAYS} days.",
            c.days, c.lines
        );
        out.push(GeneratedFile {
            path: format!("deploy/elasticsearch/ilm/{name}.json"),
            contents: pretty(&ilm_policy(c.days, &what)),
        });
        let patterns = KEPT_ENVIRONMENTS
            .iter()
            .map(|env| format!("{INDEX_PREFIX}-{env}-{}-*", c.name))
            .collect();
        out.push(GeneratedFile {
            path: format!("deploy/elasticsearch/index_templates/{name}.json"),
            contents: pretty(&index_template(patterns, &name, 200, &what)),
        });
    }
    let dev = format!("{INDEX_PREFIX}-{DEVELOPMENT}");
    let what = format!("Every line of a development service, {DEVELOPMENT_DAYS} days.");
    out.push(GeneratedFile {
        path: format!("deploy/elasticsearch/ilm/{dev}.json"),
        contents: pretty(&ilm_policy(DEVELOPMENT_DAYS, &what)),
    });
    out.push(GeneratedFile {
        path: format!("deploy/elasticsearch/index_templates/{dev}.json"),
        contents: pretty(&index_template(vec![format!("{dev}-*")], &dev, 300, &what)),
    });
    out.push(GeneratedFile {
        path: "deploy/elasticsearch/install.sh".into(),
        contents: install_sh(),
    });
    out
}

fn install_sh() -> String {
    let mut s = format!(
        "#!/bin/sh\n# {GENERATED}\n#\n# Installs the ILM policies, the component template and the index templates of the Glimpse\n\
         # log indices. Run it once per cluster, before Filebeat ships the first line:\n#\n\
         #   ELASTICSEARCH_URL=http://localhost:9200 deploy/elasticsearch/install.sh\nset -eu\n\
         cd \"$(dirname \"$0\")\"\nES=\"${{ELASTICSEARCH_URL:-http://localhost:9200}}\"\n\
         put() {{ curl -fsS -X PUT \"$ES/$1\" -H 'Content-Type: application/json' --data-binary \"@$2\"; echo; }}\n"
    );
    for (name, _) in policies() {
        s.push_str(&format!("put _ilm/policy/{name} ilm/{name}.json\n"));
    }
    s.push_str(&format!(
        "put _component_template/{MAPPINGS_TEMPLATE} component_templates/{MAPPINGS_TEMPLATE}.json\n"
    ));
    for (name, _) in policies() {
        s.push_str(&format!(
            "put _index_template/{name} index_templates/{name}.json\n"
        ));
    }
    s
}
