//! The Security dashboard: the guide's "Security Events: Failed Logins, Permission Changes, Data
//! Access, System Changes", API key usage, and the baselines of the security alerts.

use glimpse_telemetry::metrics::catalogue::{
    GLIMPSE_API_KEY_REQUESTS, GLIMPSE_AUDIT_EVENTS, HTTP_SERVER_REQUEST_DURATION,
};
use serde_json::Value;

use crate::grafana::layout::{Layout, dashboard};
use crate::grafana::model::{JOB_FILTER, RANGE, job_selector, query, rate, stat, timeseries};
use crate::names::{count, sample};
use crate::prometheus::alerts::security::{DATA_ACCESS, DENIED, DENIED_STATUSES, TRAFFIC};
use crate::prometheus::recordings::selector;

fn event(event_type: &str) -> String {
    format!(r#"event_type="{event_type}""#)
}

fn total(extra: &str) -> String {
    format!(
        "sum(increase({}[{RANGE}]))",
        job_selector(&GLIMPSE_AUDIT_EVENTS, extra)
    )
}

fn per_minute_by_outcome(event_type: &str) -> String {
    format!(
        "sum by (outcome) ({}) * 60",
        rate(&sample(&GLIMPSE_AUDIT_EVENTS), &event(event_type))
    )
}

pub(crate) fn security() -> Value {
    let keys = sample(&GLIMPSE_API_KEY_REQUESTS);
    let mut l = Layout::new();
    l.row("Security events over the selected time range");
    l.add(
        stat(
            "Failed logins",
            "Logins that failed (audit::failed_login), any reason.",
            "short",
            total(&event("failed_login")),
        )
        .thresholds(&[(10.0, "orange")]),
    );
    l.add(stat(
        "Permission changes",
        "Permissions granted or revoked (audit::permission_change).",
        "short",
        total(&event("permission_change")),
    ));
    l.add(stat(
        "Admin actions",
        "Actions of administrators (audit::admin_action).",
        "short",
        total(&event("admin_action")),
    ));
    l.add(
        stat(
            "Rejected API keys",
            "Requests whose API key was refused.",
            "short",
            format!(
                "sum(increase({}[{RANGE}]))",
                selector(&keys, &[r#"outcome="rejected""#, JOB_FILTER])
            ),
        )
        .thresholds(&[(1.0, "orange")]),
    );

    l.row("Authentication and API keys");
    l.add(
        timeseries(
            "Failed logins per minute by reason",
            "MultipleFailedLogins fires above 10 in 5 minutes. The security lines \
             (event_type failed_login) name the accounts.",
            "short",
            vec![query(per_minute_by_outcome("failed_login"), "{{outcome}}")],
        )
        .stacked(),
    );
    l.add(timeseries(
        "API key requests per minute, top 10 keys",
        "Requests that presented an API key, by key id (never the key) and outcome.",
        "short",
        vec![query(
            format!(
                "topk(10, sum by (api_key_id, outcome) ({}) * 60)",
                rate(&keys, "")
            ),
            "{{api_key_id}} {{outcome}}",
        )],
    ));

    l.row("Data access and changes");
    l.add(
        timeseries(
            "Access to user data per minute by action",
            "audit::user_data_access calls (someone read or changed another user's data). \
             DataAccessAnomaly fires far above the day's baseline.",
            "short",
            vec![query(
                per_minute_by_outcome("user_data_access"),
                "{{outcome}}",
            )],
        )
        .stacked(),
    );
    l.add(
        timeseries(
            "Permission, admin and configuration changes per minute",
            "The guide's \"Permission Changes\" and \"System Changes\": audit::permission_change, \
             audit::admin_action and audit::config_change.",
            "short",
            vec![query(
                format!(
                    "sum by (event_type, outcome) ({}) * 60",
                    rate(
                        &sample(&GLIMPSE_AUDIT_EVENTS),
                        r#"event_type=~"permission_change|admin_action|config_change""#
                    )
                ),
                "{{event_type}} {{outcome}}",
            )],
        )
        .stacked(),
    );

    l.row("Traffic against its baseline");
    let band = |b: &crate::prometheus::alerts::security::Baseline| {
        vec![
            query(selector(b.rate, &[JOB_FILTER]), "now {{job}}"),
            query(selector(b.avg, &[JOB_FILTER]), "mean of the day {{job}}"),
            query(
                format!(
                    "{} + 3 * {}",
                    selector(b.avg, &[JOB_FILTER]),
                    selector(b.stddev, &[JOB_FILTER])
                ),
                "mean + 3σ {{job}}",
            ),
        ]
    };
    l.add(timeseries(
        "Request rate and its baseline",
        "Requests per second, the mean of the last day and mean + 3 standard deviations. \
         UnusualTraffic fires when the rate is more than 3 deviations away for 10 minutes.",
        "reqps",
        band(&TRAFFIC),
    ));
    l.add(timeseries(
        "Denied responses (401, 403, 404) and their baseline",
        "SuspiciousApiUsage fires above mean + 3 deviations for 5 minutes.",
        "reqps",
        band(&DENIED),
    ));
    l.add(timeseries(
        "Denied responses by route and status",
        "Which routes answer 401, 403 and 404; `unmatched` is paths no route knows (scanners).",
        "reqps",
        vec![query(
            format!(
                "sum by (http_route, http_response_status_code) ({})",
                rate(&count(&HTTP_SERVER_REQUEST_DURATION), DENIED_STATUSES)
            ),
            "{{http_response_status_code}} {{http_route}}",
        )],
    ));
    l.add(
        timeseries(
            "Distance from the baseline (z-score)",
            "Standard deviations between each rate and its mean of the last day; the security \
             alerts fire above 3.",
            "short",
            vec![
                query(selector(TRAFFIC.zscore, &[JOB_FILTER]), "requests {{job}}"),
                query(selector(DENIED.zscore, &[JOB_FILTER]), "denied {{job}}"),
                query(
                    selector(DATA_ACCESS.zscore, &[JOB_FILTER]),
                    "user data access {{job}}",
                ),
            ],
        )
        .thresholds(&[(3.0, "red")]),
    );

    dashboard(
        "glimpse-security",
        "Glimpse / Security",
        "Failed logins, API key usage, access to user data, permission and system changes \
         (counted by the glimpse_telemetry::logs::audit helpers), and the baselines of the \
         security alerts.",
        l,
    )
}
