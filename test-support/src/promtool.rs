//! Prometheus' `promtool`, to lint the exposition format.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread;

use crate::peer_missing;
use crate::peers::find_on_path;

/// Path of `promtool` (Debian's `prometheus` package installs
/// `/usr/bin/promtool`) if it is on `PATH`; `None` after
/// [`peer_missing`] otherwise.
pub fn promtool() -> Option<PathBuf> {
    let found = find_on_path("promtool");
    if found.is_none() {
        peer_missing(
            "promtool",
            "`promtool` was not found on PATH: install Debian's `prometheus` package \
             (apt-get install prometheus), e.g. with ./scripts/test",
        );
    }
    found
}

/// Runs `promtool check metrics` on the given exposition text (Prometheus text
/// format; an OpenMetrics `# EOF` line is accepted). Returns `Ok(())` when
/// promtool exits successfully and prints no findings, `Err(output)` (exit
/// status plus everything it printed) otherwise.
///
/// # Panics
///
/// When promtool is not installed: call [`promtool()`] first and skip the
/// test when it returns `None`:
///
/// ```no_run
/// if glimpse_test_support::promtool().is_none() {
///     return;
/// }
/// glimpse_test_support::promtool_check_metrics("# TYPE up gauge\nup 1\n").unwrap();
/// ```
pub fn promtool_check_metrics(text: &str) -> Result<(), String> {
    let promtool = find_on_path("promtool").expect(
        "promtool is not installed: call glimpse_test_support::promtool() first and skip the test \
         when it returns None",
    );
    let mut child = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("could not run {}: {e}", promtool.display()));
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = text.to_owned();
    // Write from another thread: promtool may print before it has read all.
    let writer = thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let output = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("could not wait for {}: {e}", promtool.display()));
    let _ = writer.join();
    let mut printed = String::from_utf8_lossy(&output.stdout).into_owned();
    printed.push_str(&String::from_utf8_lossy(&output.stderr));
    if output.status.success() && printed.trim().is_empty() {
        Ok(())
    } else {
        Err(format!(
            "promtool check metrics: {}\n{}",
            output.status,
            printed.trim_end()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_clean_exposition() {
        if promtool().is_none() {
            return;
        }
        let text = "# HELP http_requests_total Requests served.\n\
                    # TYPE http_requests_total counter\n\
                    http_requests_total{method=\"GET\"} 3\n\
                    # EOF\n";
        promtool_check_metrics(text).unwrap();
    }

    #[test]
    fn reports_lint_findings_and_parse_errors() {
        if promtool().is_none() {
            return;
        }
        let err = promtool_check_metrics("# TYPE requests counter\nrequests 1\n").unwrap_err();
        assert!(err.contains("\"_total\" suffix"), "{err}");
        assert!(err.contains("no help text"), "{err}");
        let err = promtool_check_metrics("not{{valid\n").unwrap_err();
        assert!(err.contains("parsing error"), "{err}");
    }
}
