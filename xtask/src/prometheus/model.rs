//! The shape of the Prometheus rules: recording rules, alerts and their promtool test cases,
//! the rule groups they belong to, and the helpers that spell test series.

/// Where the runbooks live; each alert links to `#<its name in lower case>`.
pub(crate) const RUNBOOK_BASE: &str =
    "https://github.com/glimpse/glimpse-telemetry/blob/main/docs/runbooks.md";

/// The job of the example service in tests and in the local stack.
pub(crate) const JOB: &str = "glimpse-api";

/// A recording rule.
pub(crate) struct Recording {
    /// The rule group (see [`GROUPS`]).
    pub group: &'static str,
    pub record: &'static str,
    pub expr: String,
    pub why: &'static str,
}

/// How urgent an alert is (the guide's two lists).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Severity {
    /// "Critical Alerts (Immediate Action)": PagerDuty and Slack.
    Critical,
    /// "Warning Alerts (Investigation Required)": Slack.
    Warning,
}

impl Severity {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
        }
    }
}

/// An alerting rule and the promtool tests that pin its behaviour.
pub(crate) struct Alert {
    /// The rule group (see [`GROUPS`]).
    pub group: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    /// The monitoring guide's line for this alert.
    pub guide: &'static str,
    pub expr: String,
    pub for_: &'static str,
    pub summary: &'static str,
    pub description: &'static str,
    /// Why the expression is written this way (a comment in alerts.yml).
    pub why: &'static str,
    pub tests: Vec<Case>,
}

impl Alert {
    /// The runbook section's anchor (GitHub's slug of the `## <name>` heading).
    pub(crate) fn anchor(&self) -> String {
        self.name.to_ascii_lowercase()
    }

    pub(crate) fn runbook_url(&self) -> String {
        format!("{RUNBOOK_BASE}#{}", self.anchor())
    }
}

/// One promtool test group: input series, then what is firing at given times.
pub(crate) struct Case {
    /// What the case shows (a comment in the test file).
    pub what: String,
    pub series: Vec<(String, String)>,
    /// `(eval_time, alerts firing then)`.
    pub checks: Vec<(&'static str, Vec<Fired>)>,
    /// Values of recording rules.
    pub exprs: Vec<ExprCheck>,
}

/// `(expr, eval_time, [(series, value)])`: a `promql_expr_test`.
pub(crate) type ExprCheck = (String, &'static str, Vec<(String, String)>);

/// A firing alert as promtool must see it: its labels (without `alertname` and `severity`,
/// which are added) and its rendered summary and description.
pub(crate) struct Fired {
    pub labels: Vec<(&'static str, String)>,
    pub summary: String,
    pub description: String,
}

/// `name{k="v",...}`.
pub(crate) fn series_selector(name: &str, labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        return name.to_owned();
    }
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{name}{{{}}}", inner.join(","))
}

/// The `job` label of the example service's test series.
pub(crate) fn job_label() -> (&'static str, String) {
    ("job", JOB.to_owned())
}

/// A test series: its selector and its values.
pub(crate) fn series(name: &str, labels: &[(&str, &str)], values: &str) -> (String, String) {
    (series_selector(name, labels), values.to_owned())
}

/// Rule groups. An alert on a recording rule is in the rule's group, after it: rules of one
/// group are evaluated in order, so the alert sees the value recorded at the same evaluation
/// (across groups it would see the previous one, or none yet).
pub(crate) const HTTP: &str = "glimpse-http";
pub(crate) const DATABASE: &str = "glimpse-database";
pub(crate) const BUSINESS: &str = "glimpse-business";
pub(crate) const INFRASTRUCTURE: &str = "glimpse-infrastructure";
/// The rule group of the browser's metrics.
pub(crate) const BROWSER: &str = "glimpse-browser";
/// The rule group of the security rules that do not build on the HTTP group's recordings.
pub(crate) const SECURITY: &str = "glimpse-security";
/// The rule group of the SLO rules.
pub(crate) const SLO: &str = "glimpse-slo";
/// Every group, in the order of alerts.yml.
pub(crate) const GROUPS: [&str; 7] = [
    HTTP,
    DATABASE,
    BUSINESS,
    INFRASTRUCTURE,
    BROWSER,
    SECURITY,
    SLO,
];
