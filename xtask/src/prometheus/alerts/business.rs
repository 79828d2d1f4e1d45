//! The guide's business alert: PaymentFailures.

use crate::names::sample;
use crate::prometheus::model::{
    Alert, BUSINESS, Case, Fired, JOB, Severity, job_label, series, series_selector,
};
use crate::prometheus::recordings::PAYMENT_FAILURE_RATIO;
use glimpse_telemetry::metrics::catalogue::GLIMPSE_PAYMENTS_PROCESSED;

fn payments(outcome: &str, values: &str) -> (String, String) {
    series(
        &sample(&GLIMPSE_PAYMENTS_PROCESSED),
        &[
            ("job", JOB),
            ("instance", "glimpse-api:8080"),
            ("outcome", outcome),
        ],
        values,
    )
}

pub(crate) fn payment_failures() -> Alert {
    Alert {
        group: BUSINESS,
        name: "PaymentFailures",
        severity: Severity::Critical,
        guide: "Payment Failures: >10% failure rate",
        expr: format!("{PAYMENT_FAILURE_RATIO} > 0.1"),
        for_: "5m",
        summary: "Payments are failing on {{ $labels.job }}",
        description: "{{ $value | humanizePercentage }} of the payments processed by \
            {{ $labels.job }} failed over the last 5 minutes (threshold 10%).",
        why: "`for: 5m` (the guide gives no duration), as for HighErrorRate: one declined card\n\
              among few payments is not an incident, a provider outage is.",
        tests: vec![
            Case {
                what: "Exactly 10% of payments fail: not above the threshold.".into(),
                series: vec![
                    payments("succeeded", "0+270x20"),
                    payments("failed", "0+30x20"),
                ],
                checks: vec![("10m", vec![]), ("20m", vec![])],
                exprs: vec![(
                    PAYMENT_FAILURE_RATIO.to_owned(),
                    "10m",
                    vec![(
                        series_selector(PAYMENT_FAILURE_RATIO, &[("job", JOB)]),
                        "0.1".into(),
                    )],
                )],
            },
            Case {
                what: "11% fail: pending at 5m, firing at 6m.".into(),
                series: vec![
                    payments("succeeded", "0+267x20"),
                    payments("failed", "0+33x20"),
                ],
                checks: vec![
                    ("5m", vec![]),
                    (
                        "6m",
                        vec![Fired {
                            labels: vec![job_label()],
                            summary: format!("Payments are failing on {JOB}"),
                            description: format!(
                                "11% of the payments processed by {JOB} failed over the last \
                                 5 minutes (threshold 10%)."
                            ),
                        }],
                    ),
                ],
                exprs: vec![],
            },
            Case {
                what: "No payments at all: the ratio is NaN and does not fire.".into(),
                series: vec![payments("succeeded", "0x20"), payments("failed", "0x20")],
                checks: vec![("10m", vec![])],
                exprs: vec![],
            },
        ],
    }
}
