//! Filebeat (to Elasticsearch) and Promtail (to Loki), and Loki's own configuration with the
//! retention of each stream.

use glimpse_telemetry::logs::audit::LogType;
use glimpse_telemetry::logs::catalogue::{FIELDS, RETENTION_CLASSES, RetentionClass};

use super::GENERATED;
use super::elasticsearch::INDEX_PREFIX;
use crate::GeneratedFile;
use crate::yaml::{self, Y, map};

fn header(what: &str) -> String {
    let mut s = format!("# {GENERATED}\n#\n");
    for line in what.lines() {
        s.push_str(&format!("# {line}\n"));
    }
    s
}

fn raw(v: impl Into<String>) -> Y {
    Y::Raw(v.into())
}

fn class(name: &str) -> &'static RetentionClass {
    RETENTION_CLASSES
        .iter()
        .find(|c| c.name == name)
        .unwrap_or(&RETENTION_CLASSES[0])
}

fn index(class: &str) -> String {
    format!("{INDEX_PREFIX}-${{GLIMPSE_ENV:production}}-{class}-%{{+yyyy.MM.dd}}")
}

fn equals(field: &str, value: &str) -> Y {
    map([("equals", yaml::str_map([(field, value)]))])
}

/// The Loki labels: the catalogue's bounded fields.
pub(crate) fn loki_labels() -> Vec<&'static str> {
    FIELDS
        .iter()
        .filter(|f| f.loki_label)
        .map(|f| f.name)
        .collect()
}

fn filebeat_yml() -> String {
    let mut indices = Vec::new();
    for c in RETENTION_CLASSES.iter().filter(|c| c.name != "system") {
        let when = if c.name == "debug" {
            map([(
                "or",
                Y::Seq(vec![equals("level", "DEBUG"), equals("level", "TRACE")]),
            )])
        } else {
            equals("retention", c.retention.as_str())
        };
        indices.push(Y::Commented(
            format!("{}: {} days.", c.lines, c.days),
            Box::new(map([
                ("index", yaml::string(index(c.name))),
                ("when", when),
            ])),
        ));
    }
    let doc = map([
        (
            "filebeat.inputs",
            Y::Seq(vec![map([
                ("type", yaml::string("filestream")),
                ("id", yaml::string("glimpse-containers")),
                (
                    "paths",
                    Y::Seq(vec![yaml::string("/var/lib/docker/containers/*/*.log")]),
                ),
                (
                    "parsers",
                    Y::Commented(
                        "Docker's json-file wrapper first, then the service's line: one JSON object, \
                         its keys at the root. The line's `timestamp` is left as written \
                         (Elasticsearch maps it as a date); nothing re-parses it."
                            .into(),
                        Box::new(Y::Seq(vec![
                            map([("container", yaml::str_map([("stream", "stdout")]))]),
                            map([(
                                "ndjson",
                                map([
                                    ("target", yaml::string("")),
                                    ("overwrite_keys", raw("true")),
                                    ("expand_keys", raw("false")),
                                    ("add_error_key", raw("true")),
                                ]),
                            )]),
                        ])),
                    ),
                ),
            ])]),
        ),
        (
            "processors",
            Y::Commented(
                "Filebeat's own bookkeeping is not part of the log schema.".into(),
                Box::new(Y::Seq(vec![map([(
                    "drop_fields",
                    map([
                        (
                            "fields",
                            Y::Seq(
                                ["agent", "ecs", "input", "log", "host", "stream"]
                                    .map(yaml::string)
                                    .to_vec(),
                            ),
                        ),
                        ("ignore_missing", raw("true")),
                    ]),
                )])])),
            ),
        ),
        (
            "setup.ilm.enabled",
            Y::Commented(
                "The ILM policies and index templates are installed by deploy/elasticsearch/install.sh."
                    .into(),
                Box::new(raw("false")),
            ),
        ),
        ("setup.template.enabled", raw("false")),
        ("setup.template.name", yaml::string(INDEX_PREFIX)),
        ("setup.template.pattern", yaml::string(format!("{INDEX_PREFIX}-*"))),
        (
            "output.elasticsearch",
            map([
                (
                    "hosts",
                    Y::Seq(vec![yaml::string("${ELASTICSEARCH_HOSTS:http://elasticsearch:9200}")]),
                ),
                (
                    "index",
                    Y::Commented(
                        format!(
                            "{}: {} days. The index (so the ILM policy) is chosen by the line's `retention` and `level`.",
                            class("system").lines,
                            class("system").days
                        ),
                        Box::new(yaml::string(index("system"))),
                    ),
                ),
                ("indices", Y::Seq(indices)),
            ]),
        ),
    ]);
    header(
        "Filebeat: ships the JSON lines of the Glimpse containers to Elasticsearch, one index per\n\
         environment (GLIMPSE_ENV) and retention class. With Logstash in between (the guide's\n\
         Filebeat -> Logstash -> Elasticsearch), keep the inputs and move `indices` to Logstash's\n\
         elasticsearch output.",
    ) + &yaml::render(&doc)
}

fn days(d: u32) -> String {
    format!("{}h", d * 24)
}

fn loki_yml() -> String {
    let audit = LogType::Audit.as_str();
    let security = LogType::Security.as_str();
    let streams = vec![
        Y::Commented(
            format!(
                "Audit lines: the longest audit retention (payments, {} days); labels cannot tell a payment from other audit lines.",
                class("payment").days
            ),
            Box::new(map([
                (
                    "selector",
                    yaml::string(format!("{{log_type=\"{audit}\"}}")),
                ),
                ("priority", raw("3")),
                ("period", yaml::string(days(class("payment").days))),
            ])),
        ),
        Y::Commented(
            format!("Security events: {} days.", class("activity").days),
            Box::new(map([
                (
                    "selector",
                    yaml::string(format!("{{log_type=\"{security}\"}}")),
                ),
                ("priority", raw("2")),
                ("period", yaml::string(days(class("activity").days))),
            ])),
        ),
        Y::Commented(
            format!("Debug logs: {} days.", class("debug").days),
            Box::new(map([
                ("selector", yaml::string("{level=~\"DEBUG|TRACE\"}")),
                ("priority", raw("1")),
                ("period", yaml::string(days(class("debug").days))),
            ])),
        ),
    ];
    let doc = map([
        ("auth_enabled", raw("false")),
        (
            "server",
            map([
                ("http_listen_port", raw("3100")),
                ("grpc_listen_port", raw("9096")),
            ]),
        ),
        (
            "common",
            map([
                ("path_prefix", yaml::string("/loki")),
                ("replication_factor", raw("1")),
                (
                    "ring",
                    map([("kvstore", yaml::str_map([("store", "inmemory")]))]),
                ),
                (
                    "storage",
                    map([(
                        "filesystem",
                        yaml::str_map([
                            ("chunks_directory", "/loki/chunks"),
                            ("rules_directory", "/loki/rules"),
                        ]),
                    )]),
                ),
            ]),
        ),
        (
            "schema_config",
            map([(
                "configs",
                Y::Seq(vec![map([
                    ("from", yaml::string("2024-01-01")),
                    ("store", yaml::string("tsdb")),
                    ("object_store", yaml::string("filesystem")),
                    ("schema", yaml::string("v13")),
                    (
                        "index",
                        yaml::str_map([("prefix", "index_"), ("period", "24h")]),
                    ),
                ])]),
            )]),
        ),
        (
            "compactor",
            map([
                ("working_directory", yaml::string("/loki/compactor")),
                ("retention_enabled", raw("true")),
                ("delete_request_store", yaml::string("filesystem")),
            ]),
        ),
        (
            "limits_config",
            map([
                (
                    "retention_period",
                    Y::Commented(
                        format!("System logs: {} days.", class("system").days),
                        Box::new(yaml::string(days(class("system").days))),
                    ),
                ),
                ("retention_stream", Y::Seq(streams)),
            ]),
        ),
    ]);
    header(
        "Loki (single binary, filesystem storage) with the Glimpse retention policy per stream.\n\
         Streams are labelled only by bounded fields; in development, set retention_period to\n\
         168h and drop retention_stream (every line 7 days).",
    ) + &yaml::render(&doc)
}

fn promtail_yml() -> String {
    let labels = loki_labels();
    let mut expressions: Vec<(&str, &str)> = labels.iter().map(|l| (*l, *l)).collect();
    expressions.push(("timestamp", "timestamp"));
    let doc = map([
        (
            "server",
            map([("http_listen_port", raw("9080")), ("grpc_listen_port", raw("0"))]),
        ),
        ("positions", yaml::str_map([("filename", "/tmp/positions.yaml")])),
        (
            "clients",
            Y::Seq(vec![yaml::str_map([(
                "url",
                "http://loki:3100/loki/api/v1/push",
            )])]),
        ),
        (
            "scrape_configs",
            Y::Seq(vec![map([
                ("job_name", yaml::string("glimpse")),
                (
                    "docker_sd_configs",
                    Y::Seq(vec![yaml::str_map([
                        ("host", "unix:///var/run/docker.sock"),
                        ("refresh_interval", "5s"),
                    ])]),
                ),
                (
                    "relabel_configs",
                    Y::Commented(
                        "Only the services that write Glimpse JSON lines (their compose service is glimpse-*)."
                            .into(),
                        Box::new(Y::Seq(vec![map([
                            (
                                "source_labels",
                                Y::Seq(vec![yaml::string(
                                    "__meta_docker_container_label_com_docker_compose_service",
                                )]),
                            ),
                            ("regex", yaml::string("glimpse-.*")),
                            ("action", yaml::string("keep")),
                        ])])),
                    ),
                ),
                (
                    "pipeline_stages",
                    Y::Seq(vec![
                        map([("json", map([("expressions", yaml::str_map(expressions))]))]),
                        Y::Commented(
                            "Labels: bounded fields only. Everything else stays in the line (`| json` in LogQL)."
                                .into(),
                            Box::new(map([(
                                "labels",
                                yaml::str_map(labels.iter().map(|l| (*l, *l))),
                            )])),
                        ),
                        map([(
                            "timestamp",
                            yaml::str_map([("source", "timestamp"), ("format", "RFC3339Nano")]),
                        )]),
                    ]),
                ),
            ])]),
        ),
    ]);
    header(&format!(
        "Promtail: ships the JSON lines of the Glimpse containers to Loki, labelled by {}.",
        labels.join(", ")
    )) + &yaml::render(&doc)
}

pub(crate) fn files() -> Vec<GeneratedFile> {
    vec![
        GeneratedFile {
            path: "deploy/filebeat/filebeat.yml".into(),
            contents: filebeat_yml(),
        },
        GeneratedFile {
            path: "deploy/loki/loki.yml".into(),
            contents: loki_yml(),
        },
        GeneratedFile {
            path: "deploy/loki/promtail.yml".into(),
            contents: promtail_yml(),
        },
    ]
}
