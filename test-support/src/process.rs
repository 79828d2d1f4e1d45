//! One process per test, under `cargo test` as under nextest.
//!
//! Telemetry is process-global (`glimpse_telemetry::init` works once per process), so a test
//! that initialises it needs a process of its own. nextest gives every test one; `cargo test`
//! runs all the tests of a binary as threads of one process. [`rerun_in_own_process`] closes the
//! gap: under `cargo test` it runs the calling test again in a child process of the same test
//! binary (`<binary> <test name> --exact`), waits for it, and fails if the child failed, printing
//! its output. Under nextest, or in that child, it does nothing and the test runs as written.

use std::process::Command;

/// Set in the child process; its value is the test's name.
const CHILD_VAR: &str = "GLIMPSE_TEST_OWN_PROCESS";

/// Returns `true` when the calling test was run, and passed, in a child process: the caller then
/// returns at once. Returns `false` when the test should run here (under nextest, which already
/// gives each test its own process, or in the child).
///
/// ```no_run
/// #[test]
/// fn initialises_telemetry() {
///     if glimpse_test_support::rerun_in_own_process() {
///         return;
///     }
///     // ... glimpse_telemetry::builder()...init() ...
/// }
/// ```
///
/// # Panics
///
/// When the child fails (with its output), or when the test's name cannot be known (libtest
/// names each test's thread after the test; a test that calls this from another thread panics).
pub fn rerun_in_own_process() -> bool {
    if std::env::var_os("NEXTEST_RUN_ID").is_some() || std::env::var_os(CHILD_VAR).is_some() {
        return false;
    }
    let thread = std::thread::current();
    let name = match thread.name() {
        Some(n) if n != "main" => n.to_owned(),
        _ => panic!(
            "rerun_in_own_process: call it from the test's own thread (its name is the test's)"
        ),
    };
    let exe = std::env::current_exe().expect("the test binary's path");
    let output = Command::new(exe)
        .args([name.as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_VAR, &name)
        .output()
        .expect("start the test binary again");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{name} failed in its own process ({})\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    // A filter that matched nothing would "pass" without running anything.
    assert!(
        stdout.contains("1 passed"),
        "{name}: the child ran no test\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    // What the test printed (SKIPPED lines, peer logs) stays visible.
    eprint!("{stderr}");
    true
}
