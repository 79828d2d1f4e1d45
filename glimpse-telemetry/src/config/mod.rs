//! Configuration from the standard environment variables.
//!
//! [`Config::from_env`] reads the OpenTelemetry (`OTEL_*`), Sentry (`SENTRY_*`), `RUST_LOG` and
//! `GLIMPSE_*` variables once, at start-up, and turns every value that cannot be used into an
//! [`Error::InvalidVar`] naming the variable. An empty value counts as unset, as the
//! OpenTelemetry specification asks. `docs/configuration.md` lists every variable.
//!
//! [`Config`] holds the service's identity and the settings every part shares; each signal's
//! settings are a section of it, read from that signal's variables in a file of its own
//! (`traces.rs`, `logs.rs`, `reporting.rs`, `metrics.rs`; `env.rs` reads and parses values).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use crate::Error;
use crate::traces::policy::KeepTraces;

mod env;
mod logs;
mod metrics;
mod reporting;
mod traces;

pub use logs::LogFormat;
pub(crate) use logs::LogsConfig;
pub(crate) use metrics::MetricsConfig;
pub(crate) use reporting::ReportingConfig;
pub(crate) use traces::TracesConfig;
pub use traces::{BatchConfig, Protocol, Sampler};

/// The deployment environment (`GLIMPSE_ENV`), reported as `deployment.environment.name`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Environment {
    /// `production`
    Production,
    /// `staging`
    Staging,
    /// `development` (the default)
    Development,
}

impl Environment {
    /// The name as it appears in telemetry.
    ///
    /// ```
    /// assert_eq!(glimpse_telemetry::Environment::Staging.as_str(), "staging");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Production => "production",
            Environment::Staging => "staging",
            Environment::Development => "development",
        }
    }
}

/// Everything the SDK reads from the environment, validated.
///
/// Build it with [`Config::from_env`] (what [`init`](fn@crate::init) does) or, in tests,
/// [`Config::from_vars`]; hand it to [`Builder::config`](crate::Builder::config) to start from it.
///
/// ```
/// use glimpse_telemetry::Config;
///
/// let config = Config::from_vars([
///     ("OTEL_SERVICE_NAME", "checkout"),
///     ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
///     ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
/// ])?;
/// assert_eq!(config.service_name(), Some("checkout"));
/// # Ok::<(), glimpse_telemetry::Error>(())
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    pub(crate) service_name: Option<String>,
    pub(crate) service_version: Option<String>,
    pub(crate) resource_attributes: Vec<(String, String)>,
    pub(crate) sdk_disabled: bool,
    pub(crate) environment: Environment,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) traces: TracesConfig,
    pub(crate) logs: LogsConfig,
    pub(crate) reporting: ReportingConfig,
    pub(crate) metrics: MetricsConfig,
}

impl Default for Config {
    /// The configuration with no environment variable set.
    fn default() -> Self {
        Config {
            service_name: None,
            service_version: None,
            resource_attributes: Vec::new(),
            sdk_disabled: false,
            environment: Environment::Development,
            shutdown_timeout: Duration::from_secs(5),
            traces: TracesConfig::default(),
            logs: LogsConfig::default(),
            reporting: ReportingConfig::default(),
            metrics: MetricsConfig::default(),
        }
    }
}

impl Config {
    /// Reads and validates the process environment.
    ///
    /// # Errors
    /// [`Error::InvalidVar`] for the first variable whose value cannot be used.
    pub fn from_env() -> Result<Config, Error> {
        Config::from_lookup(&env::process)
    }

    /// Builds the configuration as if `vars` were the whole environment (for tests and examples).
    ///
    /// # Errors
    /// As [`Config::from_env`].
    pub fn from_vars<K, V>(vars: impl IntoIterator<Item = (K, V)>) -> Result<Config, Error>
    where
        K: Into<String>,
        V: Into<String>,
    {
        let map: HashMap<String, String> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Config::from_lookup(&|name: &'static str| Ok(map.get(name).cloned()))
    }

    /// Reads every variable through `get`. The order of the reads is the order in which bad
    /// values are reported: the identity, then traces, logs, `GLIMPSE_ENV`, metrics, the shutdown
    /// timeout, error reporting.
    fn from_lookup(get: &env::Lookup<'_>) -> Result<Config, Error> {
        let var = env::trimmed(get);
        let var: &env::Lookup<'_> = &var;
        let mut c = Config::default();

        if let Some(v) = var("OTEL_RESOURCE_ATTRIBUTES")? {
            for (k, val) in env::parse_key_values("OTEL_RESOURCE_ATTRIBUTES", &v)? {
                match k.as_str() {
                    "service.name" => c.service_name = Some(val),
                    "service.version" => c.service_version = Some(val),
                    _ => c.resource_attributes.push((k, val)),
                }
            }
        }
        if let Some(v) = var("OTEL_SERVICE_NAME")? {
            c.service_name = Some(v);
        }
        if let Some(v) = var("OTEL_SDK_DISABLED")? {
            c.sdk_disabled = env::parse_bool("OTEL_SDK_DISABLED", &v)?;
        }
        c.traces = traces::from_env(var)?;
        c.logs = logs::from_env(var)?;
        if let Some(v) = var("GLIMPSE_ENV")? {
            c.environment = match v.as_str() {
                "production" => Environment::Production,
                "staging" => Environment::Staging,
                "development" => Environment::Development,
                _ => {
                    return Err(Error::invalid(
                        "GLIMPSE_ENV",
                        v,
                        "`production`, `staging` or `development`",
                    ));
                }
            };
        }
        c.metrics = metrics::from_env(var)?;
        if let Some(v) = var("GLIMPSE_SHUTDOWN_TIMEOUT_MS")? {
            c.shutdown_timeout = Duration::from_millis(env::parse_u64(
                "GLIMPSE_SHUTDOWN_TIMEOUT_MS",
                &v,
                "milliseconds",
            )?);
        }
        c.reporting = reporting::from_env(var)?;
        Ok(c)
    }

    /// The service name from `OTEL_SERVICE_NAME` or `service.name` in `OTEL_RESOURCE_ATTRIBUTES`.
    pub fn service_name(&self) -> Option<&str> {
        self.service_name.as_deref()
    }

    /// The service version from `service.version` in `OTEL_RESOURCE_ATTRIBUTES`.
    pub fn service_version(&self) -> Option<&str> {
        self.service_version.as_deref()
    }

    /// The deployment environment (`GLIMPSE_ENV`).
    pub fn environment(&self) -> Environment {
        self.environment
    }

    /// True when `OTEL_SDK_DISABLED=true`: no spans are recorded or exported.
    pub fn sdk_disabled(&self) -> bool {
        self.sdk_disabled
    }

    /// The OTLP protocol for traces.
    pub fn protocol(&self) -> &Protocol {
        &self.traces.protocol
    }

    /// The trace sampler.
    pub fn sampler(&self) -> &Sampler {
        &self.traces.sampler
    }

    /// What "keep errors and slow" keeps of the traces head sampling refuses; `None` when it
    /// is off: `GLIMPSE_TRACES_KEEP=none`, or unset with a sampler that is not a ratio one.
    ///
    /// ```
    /// use glimpse_telemetry::Config;
    ///
    /// let ratio = Config::from_vars([("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")])?;
    /// assert!(ratio.keep_traces().is_some_and(|k| k.keeps_errors()));
    /// assert!(Config::from_vars([("OTEL_TRACES_SAMPLER", "always_on")])?.keep_traces().is_none());
    /// # Ok::<(), glimpse_telemetry::Error>(())
    /// ```
    pub fn keep_traces(&self) -> Option<&KeepTraces> {
        self.traces.keep_traces()
    }

    /// The log filter (`RUST_LOG`, default `info`).
    pub fn log_filter(&self) -> &str {
        &self.logs.log_filter
    }

    /// The log line format.
    pub fn log_format(&self) -> LogFormat {
        self.logs.log_format
    }

    /// The address where the SDK serves `/metrics` itself, if any.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.metrics_addr
    }

    /// How long the guard waits for everything to flush on shutdown.
    pub fn shutdown_timeout(&self) -> Duration {
        self.shutdown_timeout
    }

    /// The OTLP endpoint for traces, with the signal path (`/v1/traces`) added for HTTP when the
    /// generic `OTEL_EXPORTER_OTLP_ENDPOINT` was given, as the specification asks.
    ///
    /// ```
    /// let c = glimpse_telemetry::Config::from_vars([
    ///     ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
    ///     ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
    /// ])?;
    /// assert_eq!(c.traces_endpoint(), "http://collector:4318/v1/traces");
    /// # Ok::<(), glimpse_telemetry::Error>(())
    /// ```
    pub fn traces_endpoint(&self) -> String {
        self.traces.traces_endpoint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_without_variables() {
        let c = Config::from_vars(Vec::<(String, String)>::new()).unwrap();
        assert_eq!(c.traces.protocol, Protocol::Grpc);
        assert_eq!(
            c.traces.sampler,
            Sampler::ParentBased(Box::new(Sampler::AlwaysOn))
        );
        assert_eq!(c.logs.log_filter, "info");
        assert_eq!(c.traces_endpoint(), "http://localhost:4317");
        assert_eq!(c.shutdown_timeout, Duration::from_secs(5));
        assert!(!c.sdk_disabled);
    }

    #[test]
    fn every_bad_value_names_its_variable() {
        let cases = [
            ("OTEL_SDK_DISABLED", "yes"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4317"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://x"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "novalue"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "10s"),
            ("OTEL_TRACES_SAMPLER", "sometimes"),
            ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
            ("OTEL_RESOURCE_ATTRIBUTES", "team=%zz"),
            ("OTEL_PROPAGATORS", "b3"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "0"),
            ("RUST_LOG", "info,[{"),
            ("GLIMPSE_LOG_FORMAT", "xml"),
            ("GLIMPSE_ENV", "prod"),
            ("GLIMPSE_METRICS_ADDR", "9464"),
            ("GLIMPSE_METRICS_MAX_SERIES", "-1"),
            ("GLIMPSE_SHUTDOWN_TIMEOUT_MS", "soon"),
            ("GLIMPSE_LOG_DEBUG_SAMPLING", "sqlx=2"),
            ("SENTRY_DSN", "not a dsn"),
            ("SENTRY_SAMPLE_RATE", "all"),
        ];
        for (var, value) in cases {
            let err = Config::from_vars([(var, value)]).expect_err(var);
            let msg = err.to_string();
            assert!(msg.contains(var), "{var}: {msg}");
            assert!(msg.contains(value), "{var}: {msg}");
            assert!(
                matches!(err, Error::InvalidVar { var: v, .. } if v == var),
                "{var}: {err:?}"
            );
        }
    }

    #[test]
    fn resource_attributes_and_service_name() {
        let c = Config::from_vars([
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "service.name=from-attrs,service.version=1.2.3,team=core%20api",
            ),
            ("OTEL_SERVICE_NAME", "from-var"),
        ])
        .unwrap();
        assert_eq!(c.service_name(), Some("from-var"));
        assert_eq!(c.service_version(), Some("1.2.3"));
        assert_eq!(
            c.resource_attributes,
            vec![("team".to_owned(), "core api".to_owned())]
        );
    }

    #[test]
    fn empty_values_count_as_unset() {
        let c = Config::from_vars([("OTEL_TRACES_SAMPLER", ""), ("RUST_LOG", "  ")]).unwrap();
        assert_eq!(c.logs.log_filter, "info");
    }
}
