//! The Business Metrics dashboard: registrations, matches, messages and payments.

use glimpse_telemetry::metrics::catalogue::{
    GLIMPSE_MATCHES_CREATED, GLIMPSE_MESSAGES_SENT, GLIMPSE_PAYMENTS_PROCESSED,
    GLIMPSE_USER_REGISTRATIONS, MetricDef,
};
use serde_json::Value;

use crate::grafana::dashboards::product;
use crate::grafana::layout::{Layout, dashboard};
use crate::grafana::model::{
    JOB_FILTER, Panel, RANGE, RATE_WINDOW, job_selector, per_minute, query, stat, timeseries,
};
use crate::prometheus::recordings::{PAYMENT_FAILURE_RATIO, payment_failure_ratio_expr, selector};

pub(crate) fn business_metrics() -> Value {
    let total = |m: &MetricDef| format!("sum(increase({}[{RANGE}]))", job_selector(m, ""));
    let mut l = Layout::new();
    l.row("Totals over the selected time range");
    l.add(stat(
        "Registrations",
        "Users who completed registration.",
        "short",
        total(&GLIMPSE_USER_REGISTRATIONS),
    ));
    l.add(stat(
        "Matches",
        "Matches created.",
        "short",
        total(&GLIMPSE_MATCHES_CREATED),
    ));
    l.add(stat(
        "Messages",
        "Chat messages sent.",
        "short",
        total(&GLIMPSE_MESSAGES_SENT),
    ));
    l.add(stat(
        "Payments",
        "Payments processed, whatever their outcome.",
        "short",
        total(&GLIMPSE_PAYMENTS_PROCESSED),
    ));

    l.row("User activity");
    l.add(timeseries(
        "Registrations, matches and messages per minute",
        "Business events per minute.",
        "short",
        vec![
            query(
                per_minute(&GLIMPSE_USER_REGISTRATIONS, "", "job"),
                "registrations {{job}}",
            ),
            query(
                per_minute(&GLIMPSE_MATCHES_CREATED, "", "job"),
                "matches {{job}}",
            ),
            query(
                per_minute(&GLIMPSE_MESSAGES_SENT, "", "job"),
                "messages {{job}}",
            ),
        ],
    ));
    l.add(product::active_users());

    l.row("Payments");
    l.add(
        timeseries(
            "Payments per minute by outcome",
            "Payments processed per minute, succeeded and failed.",
            "short",
            vec![query(
                per_minute(&GLIMPSE_PAYMENTS_PROCESSED, "", "outcome"),
                "{{outcome}}",
            )],
        )
        .stacked()
        .w(9),
    );
    l.add(
        timeseries(
            "Payment failure ratio",
            "Share of payments that failed. PaymentFailures fires above 10 % for 5 minutes.",
            "percentunit",
            vec![query(
                payment_failure_ratio_expr("job", JOB_FILTER, RATE_WINDOW),
                "{{job}}",
            )],
        )
        .thresholds(&[(0.1, "red")])
        .w(9),
    );
    l.add(Panel {
        h: 8,
        ..stat(
            "Payment failure ratio (5m)",
            "The ratio PaymentFailures alerts on.",
            "percentunit",
            format!("max({})", selector(PAYMENT_FAILURE_RATIO, &[JOB_FILTER])),
        )
        .thresholds(&[(0.1, "red")])
    });

    product::panels(&mut l);
    dashboard(
        "glimpse-business-metrics",
        "Glimpse / Business Metrics",
        "User activity and payments, from the glimpse_telemetry::business helpers.",
        l,
    )
}
