//! Service level objectives: one declaration per objective ([`OBJECTIVES`]), from which the
//! recording rules, the multi-window multi-burn-rate alerts, their promtool tests and the SLO
//! dashboard are generated, the way sloth and pyrra do it, but with the catalogue's names.
//!
//! An objective is an SLI (the share of bad events among all events, from one catalogue
//! metric) and a target. For each objective:
//!
//! - `glimpse:slo_<name>:error_ratio_rate<w>`: the bad share over 5m, 30m, 1h and 6h;
//! - `glimpse:slo_<name>:error_ratio_rate30d`: its 30-day average (from the 5-minute ratio, like
//!   sloth, so no rule reads 30 days of raw samples), and
//!   `glimpse:slo_<name>:error_budget_remaining:ratio30d`: the share of the 30-day error budget
//!   left (1: untouched, 0: spent, negative: overspent);
//! - the SRE workbook's two page conditions (chapter 5, "Alerting on SLOs", table 5-8): burn
//!   rate above 14.4 over 1h and 5m (2 % of the 30-day budget in an hour), and above 6 over 6h
//!   and 30m (5 % in six hours). Both windows must burn, so an alert starts fast and stops
//!   within minutes of the problem's end. A pair whose threshold would need more than 100 %
//!   bad events (a loose target: burn rate × budget > 1) is left out.
//!
//! The guide's KPIs: availability 99.9 % and p95 < 500 ms are objectives here. The error rate
//! < 1 % is looser than availability 99.9 % (the same SLI) and needs no rules of its own. The
//! p50 < 200 ms is not an objective: 50 % of requests under 200 ms leaves a budget of 50 %,
//! which no page condition can burn at 6× or 14.4×, and 200 ms is not a bucket bound of the
//! request histogram (OpenTelemetry's advice: …, 0.1, 0.25, 0.5, …), so the share could only
//! be interpolated; it stays a KPI (`glimpse:http_request_duration_seconds:p50_5m`).

use glimpse_telemetry::metrics::catalogue::{HTTP_SERVER_REQUEST_DURATION, MetricDef};

use crate::names::{bucket, count};
use crate::prometheus::model::{
    Alert, Case, Fired, JOB, Recording, SLO, Severity, job_label, series, series_selector,
};
use crate::prometheus::recordings::selector;

/// What counts as a bad event.
pub(crate) enum Sli {
    /// Requests whose samples match `bad` (e.g. 5xx), among all, from a histogram's `_count`.
    Errors {
        metric: &'static MetricDef,
        bad: &'static str,
    },
    /// Requests slower than the bucket bound `le` (seconds), among all, from a histogram.
    Latency {
        metric: &'static MetricDef,
        le: &'static str,
    },
}

/// One service level objective.
pub(crate) struct Objective {
    /// In rule names: `glimpse:slo_<name>:...`.
    pub name: &'static str,
    /// The alert names start with it: `<Alert>BudgetBurn` and `<Alert>BudgetBurnSlow`.
    pub alert: &'static str,
    /// The monitoring guide's line.
    pub guide: &'static str,
    /// What the objective promises, for annotations and panels.
    pub promise: &'static str,
    /// The share of good events promised, e.g. 0.999.
    pub target: f64,
    pub sli: Sli,
}

/// The objectives.
pub(crate) const OBJECTIVES: &[Objective] = &[
    Objective {
        name: "availability",
        alert: "Availability",
        guide: "Key Performance Indicators: Availability 99.9 %",
        promise: "99.9% of requests answered without a 5xx",
        target: 0.999,
        sli: Sli::Errors {
            metric: &HTTP_SERVER_REQUEST_DURATION,
            bad: r#"http_response_status_code=~"5..""#,
        },
    },
    Objective {
        name: "latency",
        alert: "Latency",
        guide: "Key Performance Indicators: p95 response time < 500 ms",
        promise: "95% of requests answered within 500 ms",
        target: 0.95,
        sli: Sli::Latency {
            metric: &HTTP_SERVER_REQUEST_DURATION,
            le: "0.5",
        },
    },
];

/// One page condition of the SRE workbook: both windows burn faster than `factor`.
pub(crate) struct Burn {
    pub factor: f64,
    pub long: &'static str,
    pub short: &'static str,
    pub for_: &'static str,
    /// Appended to the alert's name.
    pub suffix: &'static str,
    /// The share of the 30-day budget spent when it fires, for the description.
    pub spent: &'static str,
}

pub(crate) const BURNS: [Burn; 2] = [
    Burn {
        factor: 14.4,
        long: "1h",
        short: "5m",
        for_: "2m",
        suffix: "",
        spent: "2% of the 30-day error budget in 1 hour",
    },
    Burn {
        factor: 6.0,
        long: "6h",
        short: "30m",
        for_: "15m",
        suffix: "Slow",
        spent: "5% of the 30-day error budget in 6 hours",
    },
];

/// The windows of the recorded ratios.
const WINDOWS: [&str; 4] = ["5m", "30m", "1h", "6h"];

impl Objective {
    /// The error budget: the share of events allowed to be bad.
    pub(crate) fn budget(&self) -> f64 {
        1.0 - self.target
    }

    pub(crate) fn ratio(&self, window: &str) -> String {
        format!("glimpse:slo_{}:error_ratio_rate{window}", self.name)
    }

    pub(crate) fn budget_remaining(&self) -> String {
        format!("glimpse:slo_{}:error_budget_remaining:ratio30d", self.name)
    }

    /// The page conditions this objective can meet.
    pub(crate) fn burns(&self) -> impl Iterator<Item = &'static Burn> + '_ {
        BURNS.iter().filter(|b| b.factor * self.budget() <= 1.0)
    }

    /// The bad share over `window`, by `by`, for the matchers `m`.
    pub(crate) fn ratio_expr(&self, by: &str, m: &str, window: &str) -> String {
        match self.sli {
            Sli::Errors { metric, bad } => {
                let all = format!(
                    "sum by ({by}) (rate({}[{window}]))",
                    selector(&count(metric), &[m])
                );
                format!(
                    "(\n  sum by ({by}) (rate({}[{window}]))\n  or\n  {all} * 0\n)\n/\n{all}",
                    selector(&count(metric), &[bad, m])
                )
            }
            Sli::Latency { metric, le } => format!(
                "1 - (\n  sum by ({by}) (rate({}[{window}]))\n  /\n  sum by ({by}) (rate({}[{window}]))\n)",
                selector(&bucket(metric), &[&format!(r#"le="{le}""#), m]),
                selector(&count(metric), &[m]),
            ),
        }
    }

    fn recordings(&'static self) -> Vec<Recording> {
        let mut out: Vec<Recording> = WINDOWS
            .iter()
            .map(|w| Recording {
                group: SLO,
                record: leak(self.ratio(w)),
                expr: self.ratio_expr("job", "", w),
                why: "SLI: the share of bad events over the window (0, not absent, while there is\n\
                      traffic but nothing bad).",
            })
            .collect();
        out.push(Recording {
            group: SLO,
            record: leak(self.ratio("30d")),
            expr: format!("avg_over_time({}[30d])", self.ratio("5m")),
            why: "SLI over the SLO period (30 days), from the 5-minute ratio.",
        });
        out.push(Recording {
            group: SLO,
            record: leak(self.budget_remaining()),
            expr: format!("1 - {} / {}", self.ratio("30d"), fmt_f(self.budget())),
            why: "The share of the 30-day error budget left: 1 untouched, 0 spent, below 0\n\
                  overspent.",
        });
        out
    }

    /// `min(long, short) > factor × budget`: both windows burn (the element-wise minimum of two
    /// vectors with the same labels: `a < b or b`).
    fn alert_expr(&self, b: &Burn) -> String {
        let (long, short) = (self.ratio(b.long), self.ratio(b.short));
        format!(
            "({long} < {short} or {short}) > {} * {}",
            fmt_f(b.factor),
            fmt_f(self.budget())
        )
    }
}

/// Rule names are `&'static str` everywhere else (written as constants); these are built from
/// the declarations once per generation, a few dozen bytes each.
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// `0.001`, `14.4`, `6`: the shortest form that reads back as the same number.
pub(crate) fn fmt_f(v: f64) -> String {
    let mut s = format!("{:.6}", v);
    while s.ends_with('0') {
        s.pop();
    }
    if s.ends_with('.') {
        s.pop();
    }
    s
}

pub(crate) fn recordings() -> Vec<Recording> {
    OBJECTIVES.iter().flat_map(Objective::recordings).collect()
}

pub(crate) fn alerts() -> Vec<Alert> {
    OBJECTIVES
        .iter()
        .flat_map(|o| o.burns().map(move |b| burn_alert(o, b)))
        .collect()
}

/// A counter's values growing by `inc` a minute for `minutes`, phase after phase.
fn phases(incs: &[(u64, u32)]) -> String {
    let mut out = Vec::new();
    let mut at = 0;
    for (i, (inc, minutes)) in incs.iter().enumerate() {
        if i == 0 {
            out.push(format!("0+{inc}x{minutes}"));
            at = inc * u64::from(*minutes);
        } else {
            out.push(format!("{}+{inc}x{}", at + inc, minutes - 1));
            at += inc * u64::from(*minutes);
        }
    }
    out.join(" ")
}

/// Input series for one test: phases of `(good, bad, minutes)` events (requests) per minute.
fn traffic(o: &Objective, phase: &[(u64, u64, u32)]) -> Vec<(String, String)> {
    let labels = |status: &'static str| {
        vec![
            ("job", JOB),
            ("instance", "glimpse-api:8080"),
            ("http_request_method", "GET"),
            ("http_route", "/users/{id}"),
            ("http_response_status_code", status),
        ]
    };
    let good: Vec<(u64, u32)> = phase.iter().map(|(g, _, m)| (*g, *m)).collect();
    let bad: Vec<(u64, u32)> = phase.iter().map(|(_, b, m)| (*b, *m)).collect();
    let all: Vec<(u64, u32)> = phase.iter().map(|(g, b, m)| (g + b, *m)).collect();
    match o.sli {
        Sli::Errors { metric, .. } => vec![
            series(&count(metric), &labels("200"), &phases(&good)),
            series(&count(metric), &labels("500"), &phases(&bad)),
        ],
        Sli::Latency { metric, le } => {
            let mut fast = labels("200");
            fast.push(("le", le));
            vec![
                series(&bucket(metric), &fast, &phases(&good)),
                series(&count(metric), &labels("200"), &phases(&all)),
            ]
        }
    }
}

/// Bad events per 1,000 that burn the budget `times` times as fast as allowed.
fn per_mille(o: &Objective, times: f64) -> u64 {
    (times * o.budget() * 1000.0).round() as u64
}

fn minutes(d: &str) -> u32 {
    d.trim_end_matches('m').parse().unwrap_or(0)
}

fn at(m: u32) -> &'static str {
    leak(format!("{m}m"))
}

fn burn_alert(o: &'static Objective, b: &'static Burn) -> Alert {
    let name = leak(format!("{}BudgetBurn{}", o.alert, b.suffix));
    let summary = format!(
        "{{{{ $labels.job }}}} is burning its {} error budget {}x too fast",
        o.name,
        fmt_f(b.factor)
    );
    let description_for = |job: &str| {
        format!(
            "Over the last {} and the last {}, {job} had more than {} times the bad events \
             its objective allows ({}): {}. At this rate the whole budget is gone in {} days.",
            b.long,
            b.short,
            fmt_f(b.factor),
            o.promise,
            b.spent,
            fmt_f((30.0 / b.factor * 10.0).round() / 10.0)
        )
    };
    let fired = || {
        vec![Fired {
            labels: vec![job_label()],
            summary: summary.replace("{{ $labels.job }}", JOB),
            description: description_for(JOB),
        }]
    };
    // The ratios of a steady mix are the same in every window from the second sample on, so
    // an hour shows the behaviour of the 6-hour pair too (and keeps promtool quick).
    let total = 70;
    // Both ratios exist from the second sample (1m): pending then, firing `for` later.
    let fires_at = 1 + minutes(b.for_);
    let over = per_mille(o, b.factor) + 1;
    let under = per_mille(o, b.factor) - 1;
    let recovered = 30 + minutes(b.short) + 2;
    Alert {
        group: SLO,
        name,
        severity: Severity::Critical,
        guide: o.guide,
        expr: o.alert_expr(b),
        for_: b.for_,
        summary: leak(summary.clone()),
        description: leak(description_for("{{ $labels.job }}")),
        why: "Multi-window, multi-burn-rate (SRE workbook): both the long and the short window\n\
              burn faster than the factor. Generated from the objective's declaration\n\
              (xtask/src/prometheus/alerts/slo.rs).",
        tests: vec![
            Case {
                what: format!(
                    "{under} bad events in 1000: just under {}x the budget, never fires.",
                    fmt_f(b.factor)
                ),
                series: traffic(o, &[(1000 - under, under, total)]),
                checks: vec![(at(fires_at), vec![]), (at(total), vec![])],
                exprs: vec![],
            },
            Case {
                what: format!(
                    "{over} bad events in 1000 from the start: pending at 1m, firing {} later.",
                    b.for_
                ),
                series: traffic(o, &[(1000 - over, over, total)]),
                checks: vec![
                    (at(fires_at - 1), vec![]),
                    (at(fires_at), fired()),
                    (at(total), fired()),
                ],
                // In millionths, rounded: the ratio's last bits depend on rate()'s arithmetic.
                exprs: vec![(
                    format!("round({} * 1000000)", o.ratio("1h")),
                    at(total),
                    vec![(
                        series_selector("", &[("job", JOB)]),
                        (over * 1000).to_string(),
                    )],
                )],
            },
            Case {
                what: format!(
                    "{over} in 1000 for 30 minutes, then none: the short window ({}) ends the \
                     alert minutes later, while the long one ({}) still burns.",
                    b.short, b.long
                ),
                series: traffic(o, &[(1000 - over, over, 30), (1000, 0, recovered - 29)]),
                checks: vec![(at(fires_at), fired()), (at(recovered), vec![])],
                exprs: vec![],
            },
        ],
    }
}
