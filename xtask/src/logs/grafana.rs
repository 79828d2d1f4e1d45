//! The Logs Analysis panels that need the log lines themselves (LogQL over the provisioned Loki
//! data source), and the text panel listing the guide's queries.

use serde_json::{Value, json};

use super::GUIDE_QUERIES;
use crate::yaml::{self, Y, map};

/// The uid of the provisioned Loki data source.
pub(crate) const LOKI_UID: &str = "loki";

/// A time series panel over Loki.
pub(crate) struct LokiPanel {
    pub title: &'static str,
    pub description: &'static str,
    pub expr: String,
    pub legend: &'static str,
}

/// "Top error messages" and "Service log distribution" of the monitoring guide.
pub(crate) fn panels() -> Vec<LokiPanel> {
    vec![
        LokiPanel {
            title: "Top error messages",
            description: "The 10 most frequent ERROR messages (from Loki), per interval: the same message from many requests is one bug.",
            expr: r#"topk(10, sum by (message) (count_over_time({service=~".+", level="ERROR"} | json message="message" [$__auto])))"#.to_owned(),
            legend: "{{message}}",
        },
        LokiPanel {
            title: "Service log distribution",
            description: "Log lines per interval by service and level (from Loki, labels service and level).",
            expr: r#"sum by (service, level) (count_over_time({service=~".+"} [$__auto]))"#
                .to_owned(),
            legend: "{{service}} {{level}}",
        },
    ]
}

fn loki() -> Value {
    json!({ "type": "loki", "uid": LOKI_UID })
}

/// Points a generated panel and its queries at Loki (the panel builder targets Prometheus).
pub(crate) fn use_loki(panel: Option<&mut Value>) {
    let Some(panel) = panel else { return };
    panel["datasource"] = loki();
    if let Some(targets) = panel["targets"].as_array_mut() {
        for t in targets {
            if let Some(t) = t.as_object_mut() {
                t.remove("exemplar");
                t.remove("instant");
                t.remove("range");
                t.insert("datasource".into(), loki());
                t.insert("queryType".into(), json!("range"));
            }
        }
    }
}

/// Whether a panel query runs on Loki (LogQL, not PromQL).
pub(crate) fn is_loki(target: &Value) -> bool {
    target["datasource"]["type"] == "loki"
}

/// The provisioned Loki data source.
pub(crate) fn datasource() -> Y {
    map([
        ("name", yaml::string("Loki")),
        ("uid", yaml::string(LOKI_UID)),
        ("type", yaml::string("loki")),
        ("access", yaml::string("proxy")),
        ("url", yaml::string("http://loki:3100")),
        ("editable", Y::Raw("false".into())),
        (
            "jsonData",
            map([(
                "derivedFields",
                Y::Commented(
                    "A log line's traceId opens the trace in Jaeger.".into(),
                    Box::new(Y::Seq(vec![map([
                        ("name", yaml::string("traceId")),
                        (
                            "matcherRegex",
                            yaml::string(r#""traceId":"([0-9a-f]{32})""#),
                        ),
                        (
                            "datasourceUid",
                            yaml::string(crate::grafana::model::JAEGER_UID),
                        ),
                        ("url", yaml::string("$${__value.raw}")),
                    ])])),
                ),
            )]),
        ),
    ])
}

/// The "Log queries" text panel: the guide's Kibana queries and their LogQL twins.
pub(crate) fn log_queries_markdown() -> String {
    let mut md = String::from(
        "Every log line is one JSON object (docs/log-schema.md). The monitoring guide's Kibana \
         queries work as written: `log_level` is an alias of `level`, and database-layer lines \
         are also indexed under `service:database`. In Loki, `service`, `level` and `log_type` \
         are labels; everything else comes from `| json`.\n",
    );
    for q in GUIDE_QUERIES {
        md.push_str(&format!(
            "\n**{}**\n- Kibana: `{}`\n- Loki: `{}`\n",
            q.title, q.kibana, q.logql
        ));
    }
    md.push_str(
        "\n**One request**\n- Kibana: `requestId:\"<id>\"`\n- Loki: `{service=~\".+\"} | json | requestId=\"<id>\"`\n\
         \nThen open the line's `traceId` in Jaeger (Search, Trace ID) and the GlitchTip issue \
         tagged `trace_id:<traceId>`. Runbooks: docs/runbooks.md.\n",
    );
    md
}
