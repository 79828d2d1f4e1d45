//! The guide's availability alerts: ServiceDown (scrapes fail) and ServiceProbeFailed
//! (the public endpoint does not answer the blackbox probe).

use crate::prometheus::model::{
    Alert, Case, Fired, INFRASTRUCTURE, JOB, Severity, job_label, series,
};

pub(crate) fn service_down() -> Alert {
    let target = [("job", JOB), ("instance", "glimpse-api:8080")];
    let fired = Fired {
        labels: vec![job_label(), ("instance", "glimpse-api:8080".into())],
        summary: format!("{JOB} is down"),
        description: format!(
            "Prometheus has not been able to scrape glimpse-api:8080 (job {JOB}) for 1 minute: \
             the process is not running, not reachable, or not answering /metrics."
        ),
    };
    Alert {
        group: INFRASTRUCTURE,
        name: "ServiceDown",
        severity: Severity::Critical,
        guide: "Service Down: Any service unreachable",
        expr: "up == 0".to_owned(),
        for_: "1m",
        summary: "{{ $labels.job }} is down",
        description: "Prometheus has not been able to scrape {{ $labels.instance }} (job \
            {{ $labels.job }}) for 1 minute: the process is not running, not reachable, or not \
            answering /metrics.",
        why: "Every scraped target: the services and the exporters. `for: 1m` (the guide gives\n\
              no duration) ignores a single failed scrape.",
        tests: vec![
            Case {
                what: "A target that stops answering fires after 1 minute, not before.".into(),
                series: vec![
                    series("up", &target, "1 1 0 0 0 0"),
                    series(
                        "up",
                        &[("job", "node"), ("instance", "node-exporter:9100")],
                        "1x5",
                    ),
                ],
                checks: vec![("1m", vec![]), ("2m", vec![]), ("3m", vec![fired])],
                exprs: vec![],
            },
            Case {
                what: "A target that misses one scrape does not fire.".into(),
                series: vec![series("up", &target, "1 0 1 1 1")],
                checks: vec![("1m", vec![]), ("2m", vec![]), ("4m", vec![])],
                exprs: vec![],
            },
        ],
    }
}

pub(crate) fn service_probe_failed() -> Alert {
    let probe = [
        ("job", "blackbox"),
        ("instance", "https://glimpse.app/health"),
    ];
    Alert {
        group: INFRASTRUCTURE,
        name: "ServiceProbeFailed",
        severity: Severity::Critical,
        guide: "Service Down: Any service unreachable",
        expr: "probe_success == 0".to_owned(),
        for_: "1m",
        summary: "{{ $labels.instance }} is unreachable",
        description: "The blackbox_exporter probe of {{ $labels.instance }} has failed for 1 \
            minute: users cannot reach it either.",
        why: "Reachability from outside, as users see it (blackbox_exporter's HTTP probes).",
        tests: vec![Case {
            what: "A failing probe fires after 1 minute; a succeeding one never.".into(),
            series: vec![
                series("probe_success", &probe, "1 0 0 0"),
                series(
                    "probe_success",
                    &[("job", "blackbox"), ("instance", "https://glimpse.app/")],
                    "1x3",
                ),
            ],
            checks: vec![
                ("1m", vec![]),
                (
                    "2m",
                    vec![Fired {
                        labels: vec![
                            ("job", "blackbox".into()),
                            ("instance", "https://glimpse.app/health".into()),
                        ],
                        summary: "https://glimpse.app/health is unreachable".into(),
                        description: "The blackbox_exporter probe of https://glimpse.app/health \
                            has failed for 1 minute: users cannot reach it either."
                            .into(),
                    }],
                ),
            ],
            exprs: vec![],
        }],
    }
}
