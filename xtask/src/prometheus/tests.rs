//! The rules against their promises: every alert has a runbook section and a firing and a
//! silent test, promtool accepts the rules and passes their tests, and an alert on a recording
//! rule sits in its group, after it.

use std::collections::HashSet;
use std::process::Command;

use crate::prometheus::{self, model::GROUPS, model::Severity};
use crate::promql::{self};
use crate::tests::{read, root, run};

/// GitHub's anchor for a Markdown heading.
fn github_anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

#[test]
fn every_alert_has_a_runbook_section() {
    let runbooks = read("docs/runbooks.md");
    let anchors: HashSet<String> = runbooks
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(github_anchor)
        .collect();
    for a in prometheus::alerts() {
        assert!(
            anchors.contains(&a.anchor()),
            "docs/runbooks.md has no `## {}` section for {}",
            a.name,
            a.runbook_url()
        );
        assert!(
            a.runbook_url()
                .ends_with(&format!("docs/runbooks.md#{}", a.anchor())),
            "{}",
            a.runbook_url()
        );
    }
}

#[test]
fn every_alert_is_tested_firing_and_silent() {
    let alerts = prometheus::alerts();
    let names: HashSet<&str> = alerts.iter().map(|a| a.name).collect();
    assert_eq!(names.len(), alerts.len(), "alert names must be unique");
    for a in &alerts {
        let checks = a.tests.iter().flat_map(|c| &c.checks);
        let (firing, silent): (Vec<_>, Vec<_>) = checks.partition(|(_, fired)| !fired.is_empty());
        assert!(!firing.is_empty(), "{} has no test where it fires", a.name);
        assert!(
            !silent.is_empty(),
            "{} has no test where it stays silent",
            a.name
        );
    }
    // The guide's two lists.
    let critical = |n: &str| {
        alerts
            .iter()
            .find(|a| a.name == n)
            .map(|a| a.severity)
            .unwrap()
    };
    for n in [
        "ServiceDown",
        "ServiceProbeFailed",
        "HighErrorRate",
        "DatabaseConnectionsExhausted",
        "DiskSpaceLow",
        "PaymentFailures",
    ] {
        assert_eq!(critical(n), Severity::Critical, "{n}");
    }
    for n in [
        "HighResponseTime",
        "MemoryUsageHigh",
        "SlowQueries",
        "SSLCertificateExpiry",
        "RedisMemoryHigh",
    ] {
        assert_eq!(critical(n), Severity::Warning, "{n}");
    }
}

#[test]
fn promtool_checks_and_tests_the_rules() {
    let Some(promtool) = glimpse_test_support::promtool() else {
        return;
    };
    let dir = root().join("deploy/prometheus");
    let (ok, out) = run(Command::new(&promtool)
        .args(["check", "rules"])
        .arg(dir.join("alerts.yml")));
    assert!(ok, "promtool check rules alerts.yml:\n{out}");
    let (ok, out) = run(Command::new(&promtool)
        .args(["test", "rules"])
        .arg(dir.join("alerts.test.yml")));
    assert!(ok, "promtool test rules alerts.test.yml:\n{out}");
}

#[test]
fn alerts_see_their_recording_rules_fresh() {
    let recordings = prometheus::recordings();
    let order: Vec<(&str, &str)> = GROUPS
        .iter()
        .flat_map(|g| {
            recordings
                .iter()
                .filter(move |r| r.group == *g)
                .map(|r| (r.group, r.record))
        })
        .collect();
    for r in &recordings {
        assert!(
            GROUPS.contains(&r.group),
            "{}: unknown group {}",
            r.record,
            r.group
        );
        // A recording rule used by another one must come first in the same group.
        for s in promql::refs(&r.expr).unwrap().selectors {
            if let Some(dep) = recordings.iter().find(|d| d.record == s.name) {
                assert_eq!(dep.group, r.group, "{} uses {}", r.record, dep.record);
                let pos = |n: &str| order.iter().position(|(_, x)| *x == n);
                assert!(
                    pos(dep.record) < pos(r.record),
                    "{} before {}",
                    dep.record,
                    r.record
                );
            }
        }
    }
    for a in prometheus::alerts() {
        assert!(
            GROUPS.contains(&a.group),
            "{}: unknown group {}",
            a.name,
            a.group
        );
        for s in promql::refs(&a.expr).unwrap().selectors {
            if let Some(r) = recordings.iter().find(|r| r.record == s.name) {
                assert_eq!(
                    r.group, a.group,
                    "{} uses {} from another group: it would see the value of the previous evaluation",
                    a.name, r.record
                );
            }
        }
    }
}
