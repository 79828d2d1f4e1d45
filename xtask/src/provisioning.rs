//! Grafana provisioning: the Prometheus data source (with exemplars linked to Jaeger), the
//! Jaeger data source, the Loki data source (log panels), and the provider that loads the
//! generated dashboards.

use crate::GeneratedFile;
use crate::rules::GENERATED;
use crate::yaml::{self, Y, map};

/// The uid of the provisioned Prometheus data source (the dashboards' `$datasource` default).
pub(crate) const PROMETHEUS_UID: &str = "prometheus";
/// The uid of the provisioned Jaeger data source, where exemplar trace ids link to.
pub(crate) const JAEGER_UID: &str = "jaeger";
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
                    ("name", yaml::s("Prometheus")),
                    ("uid", yaml::s(PROMETHEUS_UID)),
                    ("type", yaml::s("prometheus")),
                    ("access", yaml::s("proxy")),
                    ("url", yaml::s("http://prometheus:9090")),
                    ("isDefault", Y::Raw("true".into())),
                    ("editable", Y::Raw("false".into())),
                    (
                        "jsonData",
                        map([
                            ("httpMethod", yaml::s("POST")),
                            ("timeInterval", yaml::s("15s")),
                            (
                                "exemplarTraceIdDestinations",
                                Y::Commented(
                                    "Exemplars carry the trace id of a slow request: a click opens \
                                     the trace in Jaeger."
                                        .into(),
                                    Box::new(Y::Seq(vec![map([
                                        ("name", yaml::s(TRACE_ID_LABEL)),
                                        ("datasourceUid", yaml::s(JAEGER_UID)),
                                    ])])),
                                ),
                            ),
                        ]),
                    ),
                ]),
                map([
                    ("name", yaml::s("Jaeger")),
                    ("uid", yaml::s(JAEGER_UID)),
                    ("type", yaml::s("jaeger")),
                    ("access", yaml::s("proxy")),
                    ("url", yaml::s("http://jaeger:16686")),
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
                ("name", yaml::s("glimpse")),
                ("folder", yaml::s("Glimpse")),
                ("type", yaml::s("file")),
                ("disableDeletion", Y::Raw("true".into())),
                ("allowUiUpdates", Y::Raw("false".into())),
                ("updateIntervalSeconds", Y::Raw("30".into())),
                ("options", map([("path", yaml::s(DASHBOARDS_PATH))])),
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
