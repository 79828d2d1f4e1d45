//! The guide's HTTP alerts: HighErrorRate (5xx share) and HighResponseTime (p95).

use crate::names::{bucket, count};
use crate::prometheus::model::{
    Alert, Case, Fired, HTTP, JOB, Severity, job_label, series, series_selector,
};
use crate::prometheus::recordings::{HTTP_ERROR_RATIO, HTTP_P50, HTTP_P95, HTTP_REQUESTS_RATE};
use glimpse_telemetry::metrics::catalogue::HTTP_SERVER_REQUEST_DURATION;

fn http_series(status: &str, error_type: &str, values: &str) -> (String, String) {
    let mut labels = vec![
        ("job", JOB),
        ("instance", "glimpse-api:8080"),
        ("http_request_method", "GET"),
        ("http_route", "/users/{id}"),
        ("http_response_status_code", status),
    ];
    if !error_type.is_empty() {
        labels.push(("error_type", error_type));
    }
    series(&count(&HTTP_SERVER_REQUEST_DURATION), &labels, values)
}

pub(crate) fn high_error_rate() -> Alert {
    let fired = |pct: &str| Fired {
        labels: vec![job_label()],
        summary: format!("High 5xx error rate on {JOB}"),
        description: format!(
            "{pct} of the requests to {JOB} were answered with a 5xx status over the last 5 \
             minutes (threshold 5%)."
        ),
    };
    Alert {
        group: HTTP,
        name: "HighErrorRate",
        severity: Severity::Critical,
        guide: "High Error Rate: >5% errors for 5 minutes",
        expr: format!("{HTTP_ERROR_RATIO} > 0.05"),
        for_: "5m",
        summary: "High 5xx error rate on {{ $labels.job }}",
        description: "{{ $value | humanizePercentage }} of the requests to {{ $labels.job }} \
            were answered with a 5xx status over the last 5 minutes (threshold 5%).",
        why: "Errors are 5xx responses (a 4xx is the client's mistake); cancelled requests have\n\
              no status and do not count.",
        tests: vec![
            Case {
                what: "Exactly 5% of requests fail: not above the threshold, never fires.".into(),
                series: vec![
                    http_series("200", "", "0+285x20"),
                    http_series("500", "500", "0+15x20"),
                ],
                checks: vec![("10m", vec![]), ("20m", vec![])],
                exprs: vec![
                    (
                        HTTP_REQUESTS_RATE.to_owned(),
                        "10m",
                        vec![(
                            series_selector(HTTP_REQUESTS_RATE, &[("job", JOB)]),
                            "5".into(),
                        )],
                    ),
                    (
                        HTTP_ERROR_RATIO.to_owned(),
                        "10m",
                        vec![(
                            series_selector(HTTP_ERROR_RATIO, &[("job", JOB)]),
                            "0.05".into(),
                        )],
                    ),
                ],
            },
            Case {
                what:
                    "6% of requests fail from the start: the ratio exists from 1m (two samples),\n\
                       so it is pending at 5m (4 minutes) and fires at 6m (5 minutes)."
                        .into(),
                series: vec![
                    http_series("200", "", "0+282x20"),
                    http_series("503", "503", "0+18x20"),
                ],
                checks: vec![
                    ("4m", vec![]),
                    ("5m", vec![]),
                    ("6m", vec![fired("6%")]),
                    ("15m", vec![fired("6%")]),
                ],
                exprs: vec![],
            },
            Case {
                what: "Traffic without any 5xx series: the ratio is 0, not absent.".into(),
                series: vec![http_series("200", "", "0+60x10")],
                checks: vec![("10m", vec![])],
                exprs: vec![(
                    HTTP_ERROR_RATIO.to_owned(),
                    "10m",
                    vec![(
                        series_selector(HTTP_ERROR_RATIO, &[("job", JOB)]),
                        "0".into(),
                    )],
                )],
            },
        ],
    }
}

fn latency_series(le: &str, values: &str) -> (String, String) {
    series(
        &bucket(&HTTP_SERVER_REQUEST_DURATION),
        &[
            ("job", JOB),
            ("instance", "glimpse-api:8080"),
            ("http_request_method", "GET"),
            ("http_route", "/users/{id}"),
            ("http_response_status_code", "200"),
            ("le", le),
        ],
        values,
    )
}

pub(crate) fn high_response_time() -> Alert {
    Alert {
        group: HTTP,
        name: "HighResponseTime",
        severity: Severity::Warning,
        guide: "High Response Time: p95 >1s for 5 minutes",
        expr: format!("{HTTP_P95} > 1"),
        for_: "5m",
        summary: "Slow responses from {{ $labels.job }}",
        description: "The 95th percentile of request duration of {{ $labels.job }} is \
            {{ $value | humanizeDuration }} over the last 5 minutes (threshold 1s).",
        why: "p95 over all routes of a service, from the histogram's buckets (1 s is a bucket\n\
              bound, so the threshold is exact).",
        tests: vec![
            Case {
                what: "95% of requests take at most 1 s: p95 is exactly 1 s, not above.".into(),
                series: vec![
                    latency_series("0.5", "0+600x20"),
                    latency_series("1.0", "0+1140x20"),
                    latency_series("2.5", "0+1200x20"),
                    latency_series("+Inf", "0+1200x20"),
                ],
                checks: vec![("10m", vec![]), ("20m", vec![])],
                exprs: vec![
                    (
                        HTTP_P95.to_owned(),
                        "10m",
                        vec![(series_selector(HTTP_P95, &[("job", JOB)]), "1".into())],
                    ),
                    (
                        HTTP_P50.to_owned(),
                        "10m",
                        vec![(series_selector(HTTP_P50, &[("job", JOB)]), "0.5".into())],
                    ),
                ],
            },
            Case {
                what: "Only 90% within 1 s: p95 is 1.75 s; pending at 5m, firing at 6m.".into(),
                series: vec![
                    latency_series("0.5", "0+600x20"),
                    latency_series("1.0", "0+1080x20"),
                    latency_series("2.5", "0+1200x20"),
                    latency_series("+Inf", "0+1200x20"),
                ],
                checks: vec![
                    ("5m", vec![]),
                    (
                        "6m",
                        vec![Fired {
                            labels: vec![job_label()],
                            summary: format!("Slow responses from {JOB}"),
                            description: format!(
                                "The 95th percentile of request duration of {JOB} is 1.75s \
                                 over the last 5 minutes (threshold 1s)."
                            ),
                        }],
                    ),
                ],
                exprs: vec![],
            },
        ],
    }
}
