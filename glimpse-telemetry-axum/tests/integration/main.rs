//! Integration tests: a real server on an ephemeral loopback port, real clients, the real peers
//! (OTLP receiver, Sentry envelope receiver, promtool) of `glimpse-test-support`.
//!
//! Run with nextest (`cargo nextest run -p glimpse-telemetry-axum`): each test is its own process,
//! so each initialises telemetry once.

mod capture;
mod common;
mod compose;
mod errors;
mod http;
mod ops;
mod propagate;
#[cfg(feature = "ws")]
mod ws;
