//! The security rules of the monitoring guide ("Security Alerts: Multiple failed login
//! attempts, Unusual traffic patterns, Suspicious API usage, Data access anomalies"), from
//! `glimpse_audit_events_total` (counted by the `logs::audit` helpers) and the HTTP request
//! counter.
//!
//! Three of the four compare a rate with its own baseline. The method, the same for all three:
//! the 5-minute rate is recorded, then its mean and standard deviation over the last day
//! (`avg_over_time` / `stddev_over_time` of the recorded series), and the alert fires when the
//! rate is more than 3 standard deviations away (a z-score). The deviation has a floor
//! (10 % of the mean plus a constant per signal), so a perfectly flat baseline does not turn a
//! tiny change into an infinite z-score and a quiet service does not alert on a handful of
//! requests. Why not "the same hour a week ago" (`offset 1w`): it needs a week of history before
//! it works (new services, new environments, the tests), it makes last week's incident this
//! week's normal, and one comparison point has no notion of how noisy the signal is. The day's
//! deviation does; its cost is that a service with a strong daily cycle gets a wide baseline
//! (less sensitive at the peak), which suits alerts meant for sudden surges. A sustained new
//! level stops being unusual after about two hours, as it becomes part of the baseline.

use glimpse_telemetry::metrics::catalogue::{GLIMPSE_AUDIT_EVENTS, HTTP_SERVER_REQUEST_DURATION};

use crate::names::{count, sample};
use crate::prometheus::model::{
    Alert, Case, Fired, HTTP, JOB, Recording, SECURITY, Severity, job_label, series,
    series_selector,
};
use crate::prometheus::recordings::{HTTP_REQUESTS_RATE, selector};

/// The window of the baselines.
const BASELINE: &str = "1d";

/// Recording rules of one baselined rate.
pub(crate) struct Baseline {
    pub group: &'static str,
    /// The recorded 5-minute rate the baseline is of.
    pub rate: &'static str,
    pub avg: &'static str,
    pub stddev: &'static str,
    pub zscore: &'static str,
    /// The constant part of the deviation's floor, in the rate's unit (per second).
    pub floor: f64,
}

pub(crate) const TRAFFIC: Baseline = Baseline {
    group: HTTP,
    rate: HTTP_REQUESTS_RATE,
    avg: "glimpse:http_requests:rate5m:avg_over_time_1d",
    stddev: "glimpse:http_requests:rate5m:stddev_over_time_1d",
    zscore: "glimpse:http_requests:rate5m:zscore_1d",
    floor: 1.0,
};

pub(crate) const DENIED_RATE: &str = "glimpse:http_denied_requests:rate5m";
pub(crate) const DENIED: Baseline = Baseline {
    group: SECURITY,
    rate: DENIED_RATE,
    avg: "glimpse:http_denied_requests:rate5m:avg_over_time_1d",
    stddev: "glimpse:http_denied_requests:rate5m:stddev_over_time_1d",
    zscore: "glimpse:http_denied_requests:rate5m:zscore_1d",
    floor: 0.2,
};

pub(crate) const DATA_ACCESS_RATE: &str = "glimpse:user_data_access:rate5m";
pub(crate) const DATA_ACCESS: Baseline = Baseline {
    group: SECURITY,
    rate: DATA_ACCESS_RATE,
    avg: "glimpse:user_data_access:rate5m:avg_over_time_1d",
    stddev: "glimpse:user_data_access:rate5m:stddev_over_time_1d",
    zscore: "glimpse:user_data_access:rate5m:zscore_1d",
    floor: 0.1,
};

pub(crate) const FAILED_LOGINS_RATE: &str = "glimpse:failed_logins:rate5m";

/// The statuses of a probing client: not authenticated, not allowed, no such thing (which
/// includes every request to a path no route matches, `http_route="unmatched"`).
pub(crate) const DENIED_STATUSES: &str = r#"http_response_status_code=~"401|403|404""#;

impl Baseline {
    /// The floor of the deviation: 10 % of the mean plus the constant.
    fn floor_expr(&self) -> String {
        format!("(0.1 * {} + {})", self.avg, self.floor)
    }

    fn recordings(&self) -> Vec<Recording> {
        let floor = self.floor_expr();
        vec![
            Recording {
                group: self.group,
                record: self.avg,
                expr: format!("avg_over_time({}[{BASELINE}])", self.rate),
                why: "Baseline: the mean of the 5-minute rate over the last day.",
            },
            Recording {
                group: self.group,
                record: self.stddev,
                expr: format!("stddev_over_time({}[{BASELINE}])", self.rate),
                why: "Baseline: how much the 5-minute rate varied over the last day.",
            },
            Recording {
                group: self.group,
                record: self.zscore,
                expr: format!(
                    "({} - {})\n/\n({} > {floor} or {floor})",
                    self.rate, self.avg, self.stddev
                ),
                why: "How many standard deviations the rate is from its baseline. The deviation\n\
                      has a floor (10 % of the mean plus a constant), so a flat baseline or a\n\
                      quiet service does not make a small change look huge.",
            },
        ]
    }
}

/// The denied-request rate: 0, not absent, while there is traffic but none was denied.
fn denied_rate_expr() -> String {
    let requests = count(&HTTP_SERVER_REQUEST_DURATION);
    format!(
        "sum by (job) (rate({}[5m]))\nor\nsum by (job) (rate({requests}[5m])) * 0",
        selector(&requests, &[DENIED_STATUSES])
    )
}

fn audit_rate_expr(event_type: &str) -> String {
    format!(
        "sum by (job) (rate({}[5m]))",
        selector(
            &sample(&GLIMPSE_AUDIT_EVENTS),
            &[&format!(r#"event_type="{event_type}""#)]
        )
    )
}

/// The recording rules, in evaluation order.
pub(crate) fn recordings() -> Vec<Recording> {
    let mut out = TRAFFIC.recordings();
    out.push(Recording {
        group: SECURITY,
        record: FAILED_LOGINS_RATE,
        expr: audit_rate_expr("failed_login"),
        why: "Failed logins per second per service (counted by audit::failed_login).",
    });
    out.push(Recording {
        group: SECURITY,
        record: DENIED_RATE,
        expr: denied_rate_expr(),
        why: "401, 403 and 404 responses per second, unmatched paths included (probing and\n\
              credential guessing). 0, not absent, while nothing is denied.",
    });
    out.extend(DENIED.recordings());
    out.push(Recording {
        group: SECURITY,
        record: DATA_ACCESS_RATE,
        expr: audit_rate_expr("user_data_access"),
        why: "Accesses to other users' data per second (counted by audit::user_data_access).",
    });
    out.extend(DATA_ACCESS.recordings());
    out
}

/// The four security alerts.
pub(crate) fn alerts() -> Vec<Alert> {
    vec![
        multiple_failed_logins(),
        unusual_traffic(),
        suspicious_api_usage(),
        data_access_anomaly(),
    ]
}

/// The minutes of steady history before a change in the tests: a day, plus the 5 minutes at
/// the start whose rate covers less than a full window (so the baseline at the change is exact).
const DAY: u32 = 1445;

fn http(status: &str, values: String) -> (String, String) {
    series(
        &count(&HTTP_SERVER_REQUEST_DURATION),
        &[
            ("job", JOB),
            ("instance", "glimpse-api:8080"),
            ("http_request_method", "GET"),
            (
                "http_route",
                if status == "404" {
                    "unmatched"
                } else {
                    "/users/{id}"
                },
            ),
            ("http_response_status_code", status),
        ],
        &values,
    )
}

fn audit(event_type: &str, outcome: &str, values: String) -> (String, String) {
    let log_type = if event_type == "failed_login" {
        "security"
    } else {
        "audit"
    };
    series(
        &sample(&GLIMPSE_AUDIT_EVENTS),
        &[
            ("job", JOB),
            ("instance", "glimpse-api:8080"),
            ("log_type", log_type),
            ("event_type", event_type),
            ("outcome", outcome),
        ],
        &values,
    )
}

/// A counter growing by `per_min` every minute for [`DAY`] minutes, then by `then_per_min`
/// for `minutes` more.
fn day_then(per_min: u64, then_per_min: u64, minutes: u32) -> String {
    let at_day = per_min * u64::from(DAY);
    format!(
        "0+{per_min}x{DAY} {}+{then_per_min}x{}",
        at_day + then_per_min,
        minutes - 1
    )
}

fn multiple_failed_logins() -> Alert {
    Alert {
        group: SECURITY,
        name: "MultipleFailedLogins",
        severity: Severity::Warning,
        guide: "Security Alerts: Multiple failed login attempts",
        expr: format!("{FAILED_LOGINS_RATE} * 300 > 10"),
        for_: "1m",
        summary: "Many failed logins on {{ $labels.job }}",
        description: "{{ $value | humanize }} logins failed on {{ $labels.job }} in the last 5 \
            minutes (threshold 10): password guessing or credential stuffing, or a broken login \
            path. The security log lines (event_type failed_login) name the accounts.",
        why: "A fixed threshold, not a baseline: failed logins are rare, and a slow guessing\n\
              attack must not become the normal. Per service: the account is in the log line,\n\
              never in a label (unbounded). `for: 1m` ignores one burst of typos.",
        tests: vec![
            Case {
                what: "2 failed logins a minute, 10 in 5 minutes: not above the threshold.".into(),
                series: vec![audit("failed_login", "bad_password", "0+2x20".into())],
                checks: vec![("5m", vec![]), ("20m", vec![])],
                exprs: vec![],
            },
            Case {
                what: "3 a minute, 15 in 5 minutes: 12 counted at 4m (the window still reaches \
                       before the first sample), pending then, firing at 5m."
                    .into(),
                series: vec![
                    audit("failed_login", "bad_password", "0+2x20".into()),
                    audit("failed_login", "unknown_user", "0+1x20".into()),
                ],
                checks: vec![
                    ("3m", vec![]),
                    ("4m", vec![]),
                    (
                        "5m",
                        vec![Fired {
                            labels: vec![job_label()],
                            summary: format!("Many failed logins on {JOB}"),
                            description: format!(
                                "15 logins failed on {JOB} in the last 5 minutes (threshold \
                                 10): password guessing or credential stuffing, or a broken \
                                 login path. The security log lines (event_type failed_login) \
                                 name the accounts."
                            ),
                        }],
                    ),
                ],
                exprs: vec![(
                    FAILED_LOGINS_RATE.to_owned(),
                    "10m",
                    vec![(
                        series_selector(FAILED_LOGINS_RATE, &[("job", JOB)]),
                        "0.05".into(),
                    )],
                )],
            },
        ],
    }
}

fn baseline_fired(summary: String, description: String) -> Vec<Fired> {
    vec![Fired {
        labels: vec![job_label()],
        summary,
        description,
    }]
}

fn unusual_traffic() -> Alert {
    let description = |job: &str| {
        format!(
            "The request rate of {job} is more than 3 standard deviations from its mean of the \
             last day, for 10 minutes: a traffic surge (a bot, a scraper, a retry storm, an \
             attack) or a sudden drop (clients cut off upstream)."
        )
    };
    let z = TRAFFIC.zscore;
    Alert {
        group: HTTP,
        name: "UnusualTraffic",
        severity: Severity::Warning,
        guide: "Security Alerts: Unusual traffic patterns",
        expr: format!("abs({z}) > 3"),
        for_: "10m",
        summary: "Unusual request rate on {{ $labels.job }}",
        description: "The request rate of {{ $labels.job }} is more than 3 standard deviations \
            from its mean of the last day, for 10 minutes: a traffic surge (a bot, a scraper, \
            a retry storm, an attack) or a sudden drop (clients cut off upstream).",
        why: "Baseline: mean and standard deviation of the 5-minute rate over the last day\n\
              (see the recording rules); both directions. The deviation's floor of 1 req/s plus\n\
              10 % keeps quiet services and flat baselines from alerting on noise.",
        tests: vec![
            Case {
                what: "A day at 5 req/s, then 6 req/s: within the baseline, never fires; the \
                       baseline of a flat day is its mean, with no deviation."
                    .into(),
                series: vec![http("200", day_then(300, 360, 30))],
                checks: vec![("1450m", vec![]), ("1474m", vec![])],
                exprs: vec![
                    (
                        TRAFFIC.avg.to_owned(),
                        "1445m",
                        vec![(series_selector(TRAFFIC.avg, &[("job", JOB)]), "5".into())],
                    ),
                    (
                        TRAFFIC.stddev.to_owned(),
                        "1445m",
                        vec![(series_selector(TRAFFIC.stddev, &[("job", JOB)]), "0".into())],
                    ),
                    (
                        z.to_owned(),
                        "1445m",
                        vec![(series_selector(z, &[("job", JOB)]), "0".into())],
                    ),
                ],
            },
            Case {
                what: "A quiet service going from 0.2 to 2 req/s: ten times, but under the \
                       deviation's floor of 1 req/s; never fires."
                    .into(),
                series: vec![http("200", day_then(12, 120, 30))],
                checks: vec![("1474m", vec![])],
                exprs: vec![],
            },
            Case {
                what: "A day at 5 req/s, then 50 req/s: pending within 2 minutes, firing 10 \
                       minutes later, not before."
                    .into(),
                series: vec![http("200", day_then(300, 3000, 30))],
                checks: vec![
                    ("1445m", vec![]),
                    ("1451m", vec![]),
                    (
                        "1461m",
                        baseline_fired(format!("Unusual request rate on {JOB}"), description(JOB)),
                    ),
                ],
                exprs: vec![],
            },
            Case {
                what: "A day at 50 req/s, then 2 req/s: a drop fires too.".into(),
                series: vec![http("200", day_then(3000, 120, 30))],
                checks: vec![
                    ("1451m", vec![]),
                    (
                        "1463m",
                        baseline_fired(format!("Unusual request rate on {JOB}"), description(JOB)),
                    ),
                ],
                exprs: vec![],
            },
        ],
    }
}

fn suspicious_api_usage() -> Alert {
    let description = |job: &str| {
        format!(
            "{job} answers far more 401, 403 and 404 responses than over the last day (more \
             than 3 standard deviations above the mean, for 5 minutes): someone is probing \
             paths, guessing credentials or replaying revoked API keys."
        )
    };
    let z = DENIED.zscore;
    Alert {
        group: SECURITY,
        name: "SuspiciousApiUsage",
        severity: Severity::Warning,
        guide: "Security Alerts: Suspicious API usage",
        expr: format!("{z} > 3"),
        for_: "5m",
        summary: "Surge of denied requests on {{ $labels.job }}",
        description: "{{ $labels.job }} answers far more 401, 403 and 404 responses than over \
            the last day (more than 3 standard deviations above the mean, for 5 minutes): \
            someone is probing paths, guessing credentials or replaying revoked API keys.",
        why: "401/403/404 by any route, `unmatched` (paths no route knows, a scanner's\n\
              signature) included, against their own baseline of the last day: clients that\n\
              always get some 404s do not alert, a surge does. Upwards only.",
        tests: vec![
            Case {
                what: "A day of 5 req/s with 0.1 denied, then 0.2 denied: never fires.".into(),
                series: vec![
                    http("200", day_then(294, 288, 30)),
                    http("404", day_then(6, 12, 30)),
                ],
                checks: vec![("1451m", vec![]), ("1474m", vec![])],
                exprs: vec![(
                    DENIED.avg.to_owned(),
                    "1445m",
                    vec![(series_selector(DENIED.avg, &[("job", JOB)]), "0.1".into())],
                )],
            },
            Case {
                what: "Traffic without any denied series: the rate is 0, not absent.".into(),
                series: vec![http("200", "0+60x10".into())],
                checks: vec![("10m", vec![])],
                exprs: vec![(
                    DENIED_RATE.to_owned(),
                    "10m",
                    vec![(series_selector(DENIED_RATE, &[("job", JOB)]), "0".into())],
                )],
            },
            Case {
                what: "Then a scanner: 2 unmatched paths a second. Pending within 2 minutes, \
                       firing 5 minutes later."
                    .into(),
                series: vec![
                    http("200", day_then(294, 294, 30)),
                    http("404", day_then(6, 126, 30)),
                ],
                checks: vec![
                    ("1445m", vec![]),
                    ("1450m", vec![]),
                    (
                        "1455m",
                        baseline_fired(
                            format!("Surge of denied requests on {JOB}"),
                            description(JOB),
                        ),
                    ),
                ],
                exprs: vec![],
            },
        ],
    }
}

fn data_access_anomaly() -> Alert {
    let description = |job: &str| {
        format!(
            "Users' data is being accessed on {job} far more often than over the last day (more \
             than 3 standard deviations above the mean, for 10 minutes): a scraper, a leaked \
             admin account or a runaway export. The audit lines (event_type user_data_access) \
             name the actors."
        )
    };
    let z = DATA_ACCESS.zscore;
    Alert {
        group: SECURITY,
        name: "DataAccessAnomaly",
        severity: Severity::Warning,
        guide: "Security Alerts: Data access anomalies",
        expr: format!("{z} > 3"),
        for_: "10m",
        summary: "Unusual access to user data on {{ $labels.job }}",
        description: "Users' data is being accessed on {{ $labels.job }} far more often than \
            over the last day (more than 3 standard deviations above the mean, for 10 \
            minutes): a scraper, a leaked admin account or a runaway export. The audit lines \
            (event_type user_data_access) name the actors.",
        why: "Every audit::user_data_access call, any action, against its baseline of the last\n\
              day. Upwards only; the actor is in the line, never in a label.",
        tests: vec![
            Case {
                what: "A day of 3 accesses a minute, then 6: never fires.".into(),
                series: vec![audit("user_data_access", "read", day_then(3, 6, 30))],
                checks: vec![("1474m", vec![])],
                exprs: vec![(
                    DATA_ACCESS.avg.to_owned(),
                    "1445m",
                    vec![(
                        series_selector(DATA_ACCESS.avg, &[("job", JOB)]),
                        "0.05".into(),
                    )],
                )],
            },
            Case {
                what: "Then 60 exports a minute: pending within 2 minutes, firing 10 minutes \
                       later, not before."
                    .into(),
                series: vec![
                    audit("user_data_access", "read", day_then(3, 3, 30)),
                    audit("user_data_access", "export", day_then(0, 60, 30)),
                ],
                checks: vec![
                    ("1451m", vec![]),
                    (
                        "1461m",
                        baseline_fired(
                            format!("Unusual access to user data on {JOB}"),
                            description(JOB),
                        ),
                    ),
                ],
                exprs: vec![],
            },
        ],
    }
}
