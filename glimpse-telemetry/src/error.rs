//! The crate's one error type.
//!
//! Every message says what to change: a bad environment variable names the variable, the value
//! and what it accepts.

use std::fmt;

/// What can go wrong while setting telemetry up or shutting it down.
///
/// Telemetry never fails a request: once [`init`](fn@crate::init) has returned `Ok`, nothing on the
/// request path returns this type.
///
/// ```
/// let err = glimpse_telemetry::Config::from_vars([("OTEL_TRACES_SAMPLER_ARG", "lots")]).unwrap_err();
/// assert!(err.to_string().contains("OTEL_TRACES_SAMPLER_ARG"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// An environment variable (or the builder value standing for it) could not be used.
    InvalidVar {
        /// The variable, e.g. `OTEL_TRACES_SAMPLER_ARG`.
        var: &'static str,
        /// The value that was given.
        value: String,
        /// What the variable accepts.
        expected: String,
    },
    /// [`init`](fn@crate::init) was called a second time in this process.
    AlreadyInitialized,
    /// The global `tracing` subscriber was already set by someone else.
    SubscriberAlreadySet,
    /// A metric could not be registered (bad name, or the same name with other labels or type).
    Metric(String),
    /// A part of the pipeline could not be built (exporter, runtime, listener).
    Setup {
        /// Which part, e.g. `"OTLP gRPC exporter"`.
        part: &'static str,
        /// The underlying cause.
        cause: String,
    },
    /// Shutdown did not finish within its timeout; whatever was not flushed by then is dropped.
    ShutdownTimeout(std::time::Duration),
}

impl Error {
    pub(crate) fn invalid(
        var: &'static str,
        value: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        Error::InvalidVar {
            var,
            value: value.into(),
            expected: expected.into(),
        }
    }

    pub(crate) fn setup(part: &'static str, cause: impl fmt::Display) -> Self {
        Error::Setup {
            part,
            cause: cause.to_string(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidVar { var, value, expected } => {
                write!(f, "invalid value {value:?} for {var}: expected {expected}")
            }
            Error::AlreadyInitialized => f.write_str(
                "glimpse_telemetry::init was already called in this process; call it once, in main, and keep the guard",
            ),
            Error::SubscriberAlreadySet => f.write_str(
                "a global tracing subscriber is already set; remove the other subscriber's init (glimpse_telemetry installs its own)",
            ),
            Error::Metric(msg) => write!(f, "metric registration failed: {msg}"),
            Error::Setup { part, cause } => write!(f, "could not set up the {part}: {cause}"),
            Error::ShutdownTimeout(t) => write!(
                f,
                "telemetry shutdown did not finish within {} ms; unflushed data was dropped (raise GLIMPSE_SHUTDOWN_TIMEOUT_MS if the collector is slow)",
                t.as_millis()
            ),
        }
    }
}

impl std::error::Error for Error {}
