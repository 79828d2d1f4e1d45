//! Renders deploy/prometheus/alerts.test.yml, the `promtool test rules` file: one test group
//! for each case of each alert.

use crate::GENERATED;
use crate::prometheus::alerts;
use crate::yaml::{self, Y, map, str_map};

pub(crate) fn alerts_test_yml() -> String {
    let mut groups = Vec::new();
    for a in alerts() {
        for case in &a.tests {
            let alert_tests = case
                .checks
                .iter()
                .map(|(at, fired)| {
                    map([
                        ("eval_time", yaml::string(*at)),
                        ("alertname", yaml::string(a.name)),
                        (
                            "exp_alerts",
                            Y::Seq(
                                fired
                                    .iter()
                                    .map(|f| {
                                        let mut labels: Vec<(String, Y)> = f
                                            .labels
                                            .iter()
                                            .map(|(k, v)| {
                                                ((*k).to_owned(), yaml::string(v.as_str()))
                                            })
                                            .collect();
                                        labels.push((
                                            "severity".into(),
                                            yaml::string(a.severity.as_str()),
                                        ));
                                        map([
                                            ("exp_labels", Y::Map(labels)),
                                            (
                                                "exp_annotations",
                                                str_map([
                                                    ("summary", f.summary.clone()),
                                                    ("description", f.description.clone()),
                                                    ("runbook_url", a.runbook_url()),
                                                ]),
                                            ),
                                        ])
                                    })
                                    .collect(),
                            ),
                        ),
                    ])
                })
                .collect();
            let mut group = vec![
                ("interval", yaml::string("1m")),
                (
                    "input_series",
                    Y::Seq(
                        case.series
                            .iter()
                            .map(|(series, values)| {
                                map([
                                    ("series", yaml::string(series.as_str())),
                                    ("values", yaml::string(values.as_str())),
                                ])
                            })
                            .collect(),
                    ),
                ),
                ("alert_rule_test", Y::Seq(alert_tests)),
            ];
            if !case.exprs.is_empty() {
                group.push((
                    "promql_expr_test",
                    Y::Seq(
                        case.exprs
                            .iter()
                            .map(|(expr, at, samples)| {
                                map([
                                    ("expr", yaml::string(expr.as_str())),
                                    ("eval_time", yaml::string(*at)),
                                    (
                                        "exp_samples",
                                        Y::Seq(
                                            samples
                                                .iter()
                                                .map(|(labels, value)| {
                                                    map([
                                                        ("labels", yaml::string(labels.as_str())),
                                                        ("value", Y::Raw(value.clone())),
                                                    ])
                                                })
                                                .collect(),
                                        ),
                                    ),
                                ])
                            })
                            .collect(),
                    ),
                ));
            }
            groups.push(Y::Commented(
                format!("{}: {}", a.name, case.what),
                Box::new(map(group)),
            ));
        }
    }
    let doc = map([
        ("rule_files", Y::Seq(vec![yaml::string("alerts.yml")])),
        ("evaluation_interval", yaml::string("1m")),
        ("tests", Y::Seq(groups)),
    ]);
    yaml::with_comment_header(
        &format!(
            "{GENERATED}\n\nUnit tests of alerts.yml: `promtool test rules deploy/prometheus/alerts.test.yml`.\n\
             Every alert fires just above its threshold (and only after its `for`) and stays\n\
             silent exactly at it."
        ),
        &yaml::render(&doc),
    )
}
