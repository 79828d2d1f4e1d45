//! The user-experience alert: Core Web Vitals from real browsers (glimpse-telemetry-axum's RUM
//! endpoint), judged at p75 as web-vitals and CrUX judge them.

use glimpse_telemetry::metrics::catalogue::{
    BROWSER_WEB_VITAL_INP, BROWSER_WEB_VITAL_LCP, MetricDef,
};

use crate::names::bucket;
use crate::prometheus::model::{Alert, BROWSER, Case, Fired, JOB, Severity, series};
use crate::prometheus::recordings::selector;

/// The thresholds above which a p75 is "poor" (web-vitals'), both bucket bounds of their
/// histograms, so the comparison is exact.
pub(crate) const POOR_LCP_SECONDS: f64 = 4.0;
pub(crate) const POOR_INP_SECONDS: f64 = 0.5;

/// The p75 of `m` per service and page over `window`, labelled `web_vital="<label>"`.
pub(crate) fn p75_expr(
    m: &MetricDef,
    label: &str,
    by: &str,
    matchers: &str,
    window: &str,
) -> String {
    format!(
        "label_replace(histogram_quantile(0.75, sum by ({by}) (rate({}[{window}]))), \"web_vital\", \"{label}\", \"\", \"\")",
        selector(&bucket(m), &[matchers])
    )
}

pub(crate) fn poor_web_vitals() -> Alert {
    let by = "job, page_route, le";
    let lcp = p75_expr(&BROWSER_WEB_VITAL_LCP, "lcp", by, "", "5m");
    let inp = p75_expr(&BROWSER_WEB_VITAL_INP, "inp", by, "", "5m");
    let fired = |vital: &str, value: &str| Fired {
        labels: vec![
            ("job", JOB.to_owned()),
            ("page_route", "/users/{id}".to_owned()),
            ("web_vital", vital.to_owned()),
        ],
        summary: format!("Poor {vital} on /users/{{id}} of {JOB}"),
        description: format!(
            "The 75th percentile of {vital} measured by browsers on /users/{{id}} ({JOB}) has \
             been poor for 15 minutes: {value} (poor above 4s for LCP, 500ms for INP)."
        ),
    };
    let buckets = |m: &MetricDef, les: &[(&str, &str)]| -> Vec<(String, String)> {
        les.iter()
            .map(|(le, values)| {
                series(
                    &bucket(m),
                    &[
                        ("job", JOB),
                        ("instance", "glimpse-api:8080"),
                        ("page_route", "/users/{id}"),
                        ("le", le),
                    ],
                    values,
                )
            })
            .collect()
    };
    Alert {
        group: BROWSER,
        name: "PoorWebVitals",
        severity: Severity::Warning,
        guide: "Performance Monitoring, Frontend: Core Web Vitals (poor LCP or INP at p75 for 15 minutes)",
        expr: format!("{lcp} > {POOR_LCP_SECONDS}\nor\n{inp} > {POOR_INP_SECONDS}"),
        for_: "15m",
        summary: "Poor {{ $labels.web_vital }} on {{ $labels.page_route }} of {{ $labels.job }}",
        description: "The 75th percentile of {{ $labels.web_vital }} measured by browsers on \
            {{ $labels.page_route }} ({{ $labels.job }}) has been poor for 15 minutes: \
            {{ $value | humanizeDuration }} (poor above 4s for LCP, 500ms for INP).",
        why: "Core Web Vitals are judged at the 75th percentile of page views; \"poor\" is\n\
              web-vitals' threshold (LCP 4 s, INP 500 ms, both bucket bounds, so exact).\n\
              Per page route template: one slow page is not hidden by fast ones.",
        tests: vec![
            Case {
                what: "p75 LCP exactly 4 s and p75 INP 0.2 s: not poor, never fires.".into(),
                series: [
                    buckets(
                        &BROWSER_WEB_VITAL_LCP,
                        &[("2.5", "0x30"), ("4.0", "0+75x30"), ("+Inf", "0+100x30")],
                    ),
                    buckets(
                        &BROWSER_WEB_VITAL_INP,
                        &[
                            ("0.2", "0+100x30"),
                            ("0.5", "0+100x30"),
                            ("+Inf", "0+100x30"),
                        ],
                    ),
                ]
                .concat(),
                checks: vec![("10m", vec![]), ("30m", vec![])],
                exprs: vec![],
            },
            Case {
                what: "Half the page views have an LCP between 4 and 5 s: p75 is 4.5 s, pending\n\
                       from 1m, firing after 15 minutes (16m), not before."
                    .into(),
                series: buckets(
                    &BROWSER_WEB_VITAL_LCP,
                    &[
                        ("2.5", "0+50x30"),
                        ("4.0", "0+50x30"),
                        ("5.0", "0+100x30"),
                        ("+Inf", "0+100x30"),
                    ],
                ),
                checks: vec![("15m", vec![]), ("16m", vec![fired("lcp", "4.5s")])],
                exprs: vec![],
            },
            Case {
                what: "INP poor (p75 0.625 s) while LCP is good: fires for inp only.".into(),
                series: [
                    buckets(
                        &BROWSER_WEB_VITAL_LCP,
                        &[("2.5", "0+100x30"), ("+Inf", "0+100x30")],
                    ),
                    buckets(
                        &BROWSER_WEB_VITAL_INP,
                        &[
                            ("0.5", "0+50x30"),
                            ("0.75", "0+100x30"),
                            ("+Inf", "0+100x30"),
                        ],
                    ),
                ]
                .concat(),
                checks: vec![("10m", vec![]), ("20m", vec![fired("inp", "625ms")])],
                exprs: vec![],
            },
        ],
    }
}
