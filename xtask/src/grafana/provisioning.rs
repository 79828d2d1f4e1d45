//! Grafana provisioning: the Prometheus data source (with exemplars linked to Jaeger), the
//! Jaeger data source, the Loki data source (log panels), and the provider that loads the
//! generated dashboards.

use crate::GENERATED;
use crate::GeneratedFile;
use crate::grafana::model::{JAEGER_UID, PROMETHEUS_UID};
use crate::yaml::{self, Y, map};

/// The exemplar label that holds the trace id (`TraceExemplar` in the SDK).
pub(crate) const TRACE_ID_LABEL: &str = "trace_id";
/// Where the dashboards are mounted in the Grafana container.
pub(crate) const DASHBOARDS_PATH: &str = "/var/lib/grafana/dashboards";

fn header(what: &str) -> String {
    format!("# {GENERATED}\n#\n# {what}\n")
}

pub(crate) fn files() -> Vec<GeneratedFile> {
    let datasources = map([
        ("apiVersion", Y::Raw("1".into())),
        (
            "datasources",
            Y::Seq(vec![
                map([
                    ("name", yaml::string("Prometheus")),
                    ("uid", yaml::string(PROMETHEUS_UID)),
                    ("type", yaml::string("prometheus")),
                    ("access", yaml::string("proxy")),
                    ("url", yaml::string("http://prometheus:9090")),
                    ("isDefault", Y::Raw("true".into())),
                    ("editable", Y::Raw("false".into())),
                    (
                        "jsonData",
                        map([
                            ("httpMethod", yaml::string("POST")),
                            ("timeInterval", yaml::string("15s")),
                            (
                                "exemplarTraceIdDestinations",
                                Y::Commented(
                                    "Exemplars carry the trace id of a slow request: a click opens \
                                     the trace in Jaeger."
                                        .into(),
                                    Box::new(Y::Seq(vec![map([
                                        ("name", yaml::string(TRACE_ID_LABEL)),
                                        ("datasourceUid", yaml::string(JAEGER_UID)),
                                    ])])),
                                ),
                            ),
                        ]),
                    ),
                ]),
                map([
                    ("name", yaml::string("Jaeger")),
                    ("uid", yaml::string(JAEGER_UID)),
                    ("type", yaml::string("jaeger")),
                    ("access", yaml::string("proxy")),
                    ("url", yaml::string("http://jaeger:16686")),
                    ("editable", Y::Raw("false".into())),
                ]),
                crate::logs::grafana::datasource(),
            ]),
        ),
    ]);
    let providers = map([
        ("apiVersion", Y::Raw("1".into())),
        (
            "providers",
            Y::Seq(vec![map([
                ("name", yaml::string("glimpse")),
                ("folder", yaml::string("Glimpse")),
                ("type", yaml::string("file")),
                ("disableDeletion", Y::Raw("true".into())),
                ("allowUiUpdates", Y::Raw("false".into())),
                ("updateIntervalSeconds", Y::Raw("30".into())),
                ("options", map([("path", yaml::string(DASHBOARDS_PATH))])),
            ])]),
        ),
    ]);
    vec![
        GeneratedFile {
            path: "deploy/grafana/provisioning/datasources/datasources.yml".into(),
            contents: header(
                "Grafana data sources of the local stack (deploy/docker-compose.yml).",
            ) + &yaml::render(&datasources),
        },
        GeneratedFile {
            path: "deploy/grafana/provisioning/dashboards/dashboards.yml".into(),
            contents: header(&format!(
                "Loads deploy/grafana/dashboards/*.json, mounted at {DASHBOARDS_PATH}."
            )) + &yaml::render(&providers),
        },
    ]
}
