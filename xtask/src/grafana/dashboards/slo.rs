//! The Service Level Objectives dashboard, generated from the declarations in
//! `xtask/src/prometheus/alerts/slo.rs`: per objective, the error budget left, the SLI over 30 days, and the
//! burn rates the page alerts watch.

use serde_json::Value;

use crate::grafana::layout::{Layout, dashboard};
use crate::grafana::model::{JOB_FILTER, Panel, query, stat, timeseries};
use crate::prometheus::alerts::slo::{OBJECTIVES, fmt_f};
use crate::prometheus::recordings::selector;

/// Panel titles are `&'static str`; these are built once per generation from the declarations.
fn title(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

pub(crate) fn slo() -> Value {
    let mut l = Layout::new();
    for o in OBJECTIVES {
        let budget = fmt_f(o.budget());
        l.row(&format!("{}: {}", o.name, o.promise));
        l.add(Panel {
            base: "red",
            thresholds: vec![(0.0, "orange"), (0.25, "green")],
            ..stat(
                title(format!("Error budget left ({})", o.name)),
                &format!(
                    "The share of the 30-day error budget ({budget} of events may be bad) not \
                     spent yet: 1 untouched, 0 spent, below 0 overspent. Lowest of the selected \
                     services."
                ),
                "percentunit",
                format!("min({})", selector(&o.budget_remaining(), &[JOB_FILTER])),
            )
        });
        l.add(stat(
            title(format!("SLI over 30 days ({})", o.name)),
            &format!(
                "The share of good events over the last 30 days; the objective is {}.",
                fmt_f(o.target)
            ),
            "percentunit",
            format!("1 - max({})", selector(&o.ratio("30d"), &[JOB_FILTER])),
        ));
        l.add(
            timeseries(
                title(format!("Error budget left over time ({})", o.name)),
                "The share of the 30-day error budget left, per service.",
                "percentunit",
                vec![query(
                    selector(&o.budget_remaining(), &[JOB_FILTER]),
                    "{{job}}",
                )],
            )
            .w(12),
        );
        let thresholds: Vec<(f64, &'static str)> = o
            .burns()
            .map(|b| (b.factor, if b.factor > 10.0 { "red" } else { "orange" }))
            .collect();
        let pages: Vec<String> = o
            .burns()
            .map(|b| format!("above {}x over {} and {}", fmt_f(b.factor), b.long, b.short))
            .collect();
        l.add(
            timeseries(
                title(format!("Burn rate ({})", o.name)),
                &format!(
                    "How many times faster than allowed the budget burns (1: exactly spent in \
                     30 days). Pages when {}.",
                    pages.join(", or ")
                ),
                "short",
                ["5m", "30m", "1h", "6h"]
                    .iter()
                    .map(|w| {
                        query(
                            format!("{} / {budget}", selector(&o.ratio(w), &[JOB_FILTER])),
                            &format!("{w} {{{{job}}}}"),
                        )
                    })
                    .collect(),
            )
            .thresholds(&thresholds)
            .w(24),
        );
    }
    dashboard(
        "glimpse-slo",
        "Glimpse / Service Level Objectives",
        "Error budgets and burn rates of the objectives declared in xtask/src/prometheus/alerts/slo.rs \
         (availability 99.9 %, 95 % of requests within 500 ms), the multi-window burn-rate \
         alerts' view.",
        l,
    )
}
