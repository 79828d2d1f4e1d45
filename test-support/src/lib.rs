//! Test harness for glimpse-telemetry: starts the **real** peers the
//! workspace's integration tests talk to.
//!
//! * [`OtlpReceiver`]: an OTLP/HTTP (protobuf + JSON) and OTLP/gRPC trace
//!   receiver (`@elastic/mockotlpserver`, run by `test-support/peers/otlp-receiver.js`).
//! * [`SentryReceiver`]: a Sentry envelope receiver (Sentry's Spotlight
//!   sidecar, run by `test-support/peers/sentry-receiver.mjs`).
//! * [`Blackhole`], [`refused_url`], [`StatusServer`]: a hung collector, a
//!   port where nothing listens, and a collector/GlitchTip that answers every
//!   request with a fixed status.
//! * [`promtool`] / [`promtool_check_metrics`]: Prometheus' own linter for the
//!   exposition format; [`Prometheus`]: a real server scraping test targets.
//! * [`LogCapture`]: a log writer that keeps the lines for assertions.
//! * [`rerun_in_own_process`]: one process per test under `cargo test`, as nextest gives, for
//!   tests that initialise the process-global telemetry.
//!
//! Everything is synchronous (std threads and `std::process`), so both sync
//! and async tests can use it. Every listener is bound to `127.0.0.1` on a
//! free port, so test processes can run in parallel.
//!
//! # Missing peers
//!
//! The Node.js peers need `node` on `PATH` and the npm packages installed in
//! `test-support/peers/node_modules`; `promtool` comes from Debian's `prometheus`
//! package. `./scripts/test` installs everything. When a peer is missing, the
//! constructor returns `None` after calling [`peer_missing`], which prints
//! `SKIPPED: ...` — or panics when `GLIMPSE_REQUIRE_PEERS=1` (CI), so that a
//! missing peer can never silently turn a test suite green:
//!
//! ```no_run
//! use std::time::Duration;
//!
//! let Some(otlp) = glimpse_test_support::OtlpReceiver::start() else { return };
//! // ... point an exporter at otlp.http_endpoint() / otlp.grpc_endpoint() ...
//! let spans = otlp.wait_for_spans(Duration::from_secs(10), |s| s.name == "GET /users");
//! assert_eq!(spans.len(), 1);
//! ```
//!
//! Set `GLIMPSE_PEER_LOG=1` to echo the peers' stderr to the test's stderr.

#![warn(missing_docs)]

mod blackhole;
mod chunked;
mod logs;
mod otlp;
mod peers;
mod process;
mod prometheus;
mod promtool;
mod sentry;
mod status;

#[cfg(test)]
mod test_http;

pub use blackhole::{Blackhole, refused_url};
pub use chunked::{dechunk, dechunk_str};
pub use logs::LogCapture;
pub use otlp::{OtlpReceiver, ReceivedSpan, spans_from_export_request};
pub use peers::peers_dir;
pub use process::rerun_in_own_process;
pub use prometheus::{Prometheus, prometheus_binary};
pub use promtool::{promtool, promtool_check_metrics};
pub use sentry::SentryReceiver;
pub use status::{RecordedRequest, StatusServer};

/// Environment variable that turns a missing peer into a test failure.
pub const REQUIRE_PEERS_ENV: &str = "GLIMPSE_REQUIRE_PEERS";

/// True when `GLIMPSE_REQUIRE_PEERS=1` (or `true`): a missing peer is a test
/// failure, not a skip.
pub fn require_peers() -> bool {
    matches!(
        std::env::var(REQUIRE_PEERS_ENV).as_deref().map(str::trim),
        Ok("1") | Ok("true") | Ok("TRUE") | Ok("yes")
    )
}

/// Called by a test (or a peer constructor) when a peer is unavailable.
///
/// If [`require_peers`] is true this panics with a message naming the peer and
/// how to install it (`./scripts/test` installs everything); otherwise it
/// prints `SKIPPED: <peer> not available: <why>` to stderr and returns, and
/// the caller is expected to return early from the test.
#[track_caller]
pub fn peer_missing(peer: &str, why: &str) {
    peer_missing_with(require_peers(), peer, why);
}

#[track_caller]
fn peer_missing_with(required: bool, peer: &str, why: &str) {
    if required {
        panic!(
            "{peer} is required ({REQUIRE_PEERS_ENV}=1) but not available: {why}\n\
             Install the test peers with ./scripts/test (it installs everything: Node.js \
             packages via `npm ci --prefix test-support/peers`, promtool via Debian's `prometheus` \
             package), or unset {REQUIRE_PEERS_ENV} to skip tests that need {peer}."
        );
    }
    eprintln!("SKIPPED: {peer} not available: {why}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_missing_skips_when_not_required() {
        peer_missing_with(false, "some-peer", "not installed");
    }

    #[test]
    #[should_panic(
        expected = "some-peer is required (GLIMPSE_REQUIRE_PEERS=1) but not available: \
                               not installed"
    )]
    fn peer_missing_panics_when_required() {
        peer_missing_with(true, "some-peer", "not installed");
    }

    #[test]
    fn peers_dir_is_inside_this_crate() {
        let dir = peers_dir();
        assert!(dir.ends_with("test-support/peers"), "{}", dir.display());
        assert!(dir.join("package.json").is_file());
        assert!(dir.join("otlp-receiver.js").is_file());
        assert!(dir.join("sentry-receiver.mjs").is_file());
    }
}
