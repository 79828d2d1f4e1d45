//! The Business Metrics dashboard's rows for revenue, feature usage and conversion (the guide's
//! "Revenue metrics", "Feature usage", "Conversion rates").

use glimpse_telemetry::metrics::catalogue::{
    GLIMPSE_ACTIVE_USERS, GLIMPSE_MATCHES_CREATED, GLIMPSE_PAYMENT_AMOUNT,
    GLIMPSE_PAYMENTS_PROCESSED, GLIMPSE_USER_REGISTRATIONS, HTTP_SERVER_REQUEST_DURATION,
};

use crate::grafana::layout::Layout;
use crate::grafana::model::{Panel, RANGE, job_selector, query, rate, stat, timeseries};
use crate::names::{count, sample};

const SUCCEEDED: &str = r#"outcome="succeeded""#;

/// "Active users" per service, on the Application Overview and the Business Metrics.
pub(super) fn active_users() -> Panel {
    timeseries(
        "Active users",
        "Distinct users seen in the last five minutes.",
        "short",
        vec![query(
            format!("sum by (job) ({})", job_selector(&GLIMPSE_ACTIVE_USERS, "")),
            "{{job}}",
        )],
    )
}

/// Adds the revenue, feature usage and conversion rows.
pub(super) fn panels(l: &mut Layout) {
    let amount = sample(&GLIMPSE_PAYMENT_AMOUNT);
    l.row("Revenue");
    l.add(Panel {
        w: 8,
        h: 8,
        ..stat(
            "Revenue over the selected range, by currency",
            "Sum of succeeded payments, in minor units (cents; yen for JPY), per currency.",
            "short",
            format!(
                "sum by (currency) (increase({}[{RANGE}]))",
                job_selector(&GLIMPSE_PAYMENT_AMOUNT, SUCCEEDED)
            ),
        )
    });
    l.add(
        timeseries(
            "Revenue per hour by currency",
            "Succeeded payment amounts per hour, in minor units, per currency; failed amounts \
             are revenue lost to declines.",
            "short",
            vec![
                query(
                    format!("sum by (currency) ({}) * 3600", rate(&amount, SUCCEEDED)),
                    "{{currency}}",
                ),
                query(
                    format!(
                        "sum by (currency) ({}) * 3600",
                        rate(&amount, r#"outcome="failed""#)
                    ),
                    "declined {{currency}}",
                ),
            ],
        )
        .w(16),
    );

    l.row("Feature usage and conversion");
    l.add(
        timeseries(
            "Feature usage: requests per minute by route",
            "The 15 most used route templates (each a feature of the API); paths no route knows \
             are left out.",
            "short",
            vec![query(
                format!(
                    "topk(15, sum by (http_route) ({}) * 60)",
                    rate(
                        &count(&HTTP_SERVER_REQUEST_DURATION),
                        r#"http_route!="unmatched""#
                    )
                ),
                "{{http_route}}",
            )],
        )
        .w(12),
    );
    l.add(Panel {
        h: 8,
        ..stat(
            "Matches per registration",
            "Matches created per user registered over the selected range (no value without \
             registrations).",
            "short",
            format!(
                "sum(increase({m}[{RANGE}]))\n/\n(sum(increase({r}[{RANGE}])) > 0)",
                m = job_selector(&GLIMPSE_MATCHES_CREATED, ""),
                r = job_selector(&GLIMPSE_USER_REGISTRATIONS, ""),
            ),
        )
    });
    l.add(Panel {
        h: 8,
        ..stat(
            "Payments per active user (5m)",
            "Succeeded payments in the last 5 minutes per user active in the last 5 minutes \
             (the window of glimpse_active_users).",
            "short",
            format!(
                "sum(increase({}[5m]))\n/\n(sum({}) > 0)",
                job_selector(&GLIMPSE_PAYMENTS_PROCESSED, SUCCEEDED),
                job_selector(&GLIMPSE_ACTIVE_USERS, ""),
            ),
        )
    });
}
