//! Configuration from the standard environment variables.
//!
//! [`Config::from_env`] reads the OpenTelemetry (`OTEL_*`), Sentry (`SENTRY_*`), `RUST_LOG` and
//! `GLIMPSE_*` variables once, at start-up, and turns every value that cannot be used into an
//! [`Error::InvalidVar`] naming the variable. An empty value counts as unset, as the
//! OpenTelemetry specification asks. `docs/configuration.md` lists every variable.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use crate::Error;
use crate::propagation::Propagator;
use crate::traces::policy::KeepTraces;

/// Where OTLP traces go and how.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protocol {
    /// OTLP over gRPC, port 4317 (the default).
    Grpc,
    /// OTLP over HTTP with protobuf bodies, port 4318.
    HttpProtobuf,
}

/// The format of log lines on stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogFormat {
    /// One JSON object per line, for Loki and Elasticsearch (the default).
    Json,
    /// Coloured, human-readable lines for a developer's terminal.
    Pretty,
}

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

/// Which traces are recorded (`OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Sampler {
    /// Record every trace.
    AlwaysOn,
    /// Record none.
    AlwaysOff,
    /// Record this fraction of traces, chosen by trace id.
    TraceIdRatio(f64),
    /// Follow the caller's sampling decision; for new traces, use the inner sampler
    /// (the default is `ParentBased(AlwaysOn)`).
    ParentBased(Box<Sampler>),
}

impl Sampler {
    /// A ratio sampler, alone or inside `ParentBased`: the one that refuses traces by chance,
    /// so "keep errors and slow" is on by default with it.
    fn is_ratio(&self) -> bool {
        match self {
            Sampler::TraceIdRatio(_) => true,
            Sampler::ParentBased(inner) => inner.is_ratio(),
            Sampler::AlwaysOn | Sampler::AlwaysOff => false,
        }
    }
}

/// The settings of the batch span processor (`OTEL_BSP_*`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchConfig {
    /// Spans held while waiting for export; past this, new spans are dropped and counted.
    pub max_queue_size: usize,
    /// How long the processor waits before exporting a partial batch.
    pub scheduled_delay: Duration,
    /// Spans sent per export request.
    pub max_export_batch_size: usize,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            max_queue_size: 2048,
            scheduled_delay: Duration::from_millis(5000),
            max_export_batch_size: 512,
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
    pub(crate) endpoint: Option<String>,
    pub(crate) endpoint_is_signal_specific: bool,
    pub(crate) protocol: Protocol,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) export_timeout: Duration,
    pub(crate) sampler: Sampler,
    /// What "keep errors and slow" keeps; `keep_traces_set` says whether it was asked for
    /// (otherwise it is on only with a ratio sampler).
    pub(crate) keep_traces: KeepTraces,
    pub(crate) keep_traces_set: bool,
    pub(crate) propagators: Vec<Propagator>,
    pub(crate) batch: BatchConfig,
    pub(crate) log_filter: String,
    pub(crate) log_format: LogFormat,
    pub(crate) redact_keys: Vec<String>,
    pub(crate) debug_sampling: Vec<(String, f64)>,
    pub(crate) sentry_dsn: Option<String>,
    pub(crate) sentry_environment: Option<String>,
    pub(crate) sentry_release: Option<String>,
    pub(crate) sentry_sample_rate: f32,
    pub(crate) environment: Environment,
    pub(crate) metrics_addr: Option<SocketAddr>,
    pub(crate) max_series: usize,
    pub(crate) shutdown_timeout: Duration,
}

impl Default for Config {
    /// The configuration with no environment variable set.
    fn default() -> Self {
        Config {
            service_name: None,
            service_version: None,
            resource_attributes: Vec::new(),
            sdk_disabled: false,
            endpoint: None,
            endpoint_is_signal_specific: false,
            protocol: Protocol::Grpc,
            headers: Vec::new(),
            export_timeout: Duration::from_secs(10),
            sampler: Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
            keep_traces: KeepTraces::default(),
            keep_traces_set: false,
            propagators: Propagator::DEFAULT.to_vec(),
            batch: BatchConfig::default(),
            log_filter: "info".to_owned(),
            log_format: LogFormat::Json,
            redact_keys: Vec::new(),
            debug_sampling: Vec::new(),
            sentry_dsn: None,
            sentry_environment: None,
            sentry_release: None,
            sentry_sample_rate: 1.0,
            environment: Environment::Development,
            metrics_addr: None,
            max_series: crate::metrics::DEFAULT_MAX_SERIES,
            shutdown_timeout: Duration::from_secs(5),
        }
    }
}

impl Config {
    /// Reads and validates the process environment.
    ///
    /// # Errors
    /// [`Error::InvalidVar`] for the first variable whose value cannot be used.
    pub fn from_env() -> Result<Config, Error> {
        Config::from_lookup(&|name: &'static str| match std::env::var(name) {
            Ok(v) => Ok(Some(v)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(v)) => {
                Err(Error::invalid(name, v.to_string_lossy(), "valid UTF-8"))
            }
        })
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

    fn from_lookup(
        get: &dyn Fn(&'static str) -> Result<Option<String>, Error>,
    ) -> Result<Config, Error> {
        let var = |name: &'static str| -> Result<Option<String>, Error> {
            Ok(get(name)?
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty()))
        };
        let mut c = Config::default();

        if let Some(v) = var("OTEL_RESOURCE_ATTRIBUTES")? {
            for (k, val) in parse_key_values("OTEL_RESOURCE_ATTRIBUTES", &v)? {
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
            c.sdk_disabled = parse_bool("OTEL_SDK_DISABLED", &v)?;
        }

        let protocol = match var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")? {
            Some(v) => Some(("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", v)),
            None => var("OTEL_EXPORTER_OTLP_PROTOCOL")?.map(|v| ("OTEL_EXPORTER_OTLP_PROTOCOL", v)),
        };
        if let Some((name, v)) = protocol {
            c.protocol = match v.as_str() {
                "grpc" => Protocol::Grpc,
                "http/protobuf" => Protocol::HttpProtobuf,
                _ => return Err(Error::invalid(name, v, "`grpc` or `http/protobuf`")),
            };
        }
        if let Some(v) = var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")? {
            c.endpoint = Some(parse_endpoint("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &v)?);
            c.endpoint_is_signal_specific = true;
        } else if let Some(v) = var("OTEL_EXPORTER_OTLP_ENDPOINT")? {
            c.endpoint = Some(parse_endpoint("OTEL_EXPORTER_OTLP_ENDPOINT", &v)?);
        }
        for name in [
            "OTEL_EXPORTER_OTLP_HEADERS",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        ] {
            if let Some(v) = var(name)? {
                for (k, val) in parse_key_values(name, &v)? {
                    if http::HeaderName::from_bytes(k.as_bytes()).is_err()
                        || http::HeaderValue::from_str(&val).is_err()
                    {
                        return Err(Error::invalid(
                            name,
                            v,
                            "comma-separated name=value pairs of valid HTTP header names and values",
                        ));
                    }
                    c.headers
                        .retain(|(existing, _)| !existing.eq_ignore_ascii_case(&k));
                    c.headers.push((k, val));
                }
            }
        }
        for name in [
            "OTEL_EXPORTER_OTLP_TIMEOUT",
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
        ] {
            if let Some(v) = var(name)? {
                c.export_timeout = Duration::from_millis(parse_u64(name, &v, "milliseconds")?);
            }
        }

        let sampler_arg = var("OTEL_TRACES_SAMPLER_ARG")?;
        let ratio = || -> Result<f64, Error> {
            match &sampler_arg {
                None => Ok(1.0),
                Some(v) => match v.parse::<f64>() {
                    Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
                    _ => Err(Error::invalid(
                        "OTEL_TRACES_SAMPLER_ARG",
                        v.clone(),
                        "a ratio between 0 and 1, e.g. 0.25",
                    )),
                },
            }
        };
        if let Some(v) = var("OTEL_TRACES_SAMPLER")? {
            c.sampler = match v.as_str() {
                "always_on" => Sampler::AlwaysOn,
                "always_off" => Sampler::AlwaysOff,
                "traceidratio" => Sampler::TraceIdRatio(ratio()?),
                "parentbased_always_on" => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
                "parentbased_always_off" => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
                "parentbased_traceidratio" => {
                    Sampler::ParentBased(Box::new(Sampler::TraceIdRatio(ratio()?)))
                }
                _ => {
                    return Err(Error::invalid(
                        "OTEL_TRACES_SAMPLER",
                        v,
                        "one of always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio",
                    ));
                }
            };
        } else if sampler_arg.is_some() {
            // An argument without a sampler is still checked, so a typo does not pass silently.
            ratio()?;
        }
        if let Some(v) = var("GLIMPSE_TRACES_KEEP")? {
            let mut keep = KeepTraces::off();
            for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                keep = match part {
                    "errors" => keep.errors(true),
                    "slow" => keep.slow_threshold(KeepTraces::default().slow()),
                    "none" => KeepTraces::off(),
                    _ => {
                        return Err(Error::invalid(
                            "GLIMPSE_TRACES_KEEP",
                            v.clone(),
                            "a comma-separated list of errors and slow, or none",
                        ));
                    }
                };
            }
            c.keep_traces = keep;
            c.keep_traces_set = true;
        }
        if let Some(v) = var("GLIMPSE_TRACES_SLOW_THRESHOLD")? {
            let t = parse_duration("GLIMPSE_TRACES_SLOW_THRESHOLD", &v)?;
            if c.keep_traces.slow().is_some() {
                c.keep_traces = c.keep_traces.clone().slow_threshold(Some(t));
            }
        }
        if let Some(v) = var("GLIMPSE_TRACES_KEEP_MAX_SPANS_PER_TRACE")? {
            let n = parse_positive("GLIMPSE_TRACES_KEEP_MAX_SPANS_PER_TRACE", &v)?;
            c.keep_traces = c.keep_traces.clone().max_spans_per_trace(n);
        }
        if let Some(v) = var("GLIMPSE_TRACES_KEEP_MAX_SPANS")? {
            let n = parse_positive("GLIMPSE_TRACES_KEEP_MAX_SPANS", &v)?;
            c.keep_traces = c.keep_traces.clone().max_held_spans(n);
        }
        if let Some(v) = var("OTEL_PROPAGATORS")? {
            let mut list = Vec::new();
            for p in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                match Propagator::from_name(p) {
                    Some(p) => list.push(p),
                    None if p == "none" => list.clear(),
                    None => {
                        return Err(Error::invalid(
                            "OTEL_PROPAGATORS",
                            v.clone(),
                            "a comma-separated list of tracecontext, baggage or none",
                        ));
                    }
                }
            }
            c.propagators = list;
        }
        if let Some(v) = var("OTEL_BSP_MAX_QUEUE_SIZE")? {
            c.batch.max_queue_size = parse_positive("OTEL_BSP_MAX_QUEUE_SIZE", &v)?;
        }
        if let Some(v) = var("OTEL_BSP_MAX_EXPORT_BATCH_SIZE")? {
            c.batch.max_export_batch_size = parse_positive("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", &v)?;
        }
        if c.batch.max_export_batch_size > c.batch.max_queue_size {
            return Err(Error::invalid(
                "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
                c.batch.max_export_batch_size.to_string(),
                format!(
                    "at most OTEL_BSP_MAX_QUEUE_SIZE ({})",
                    c.batch.max_queue_size
                ),
            ));
        }
        if let Some(v) = var("OTEL_BSP_SCHEDULE_DELAY")? {
            c.batch.scheduled_delay =
                Duration::from_millis(parse_u64("OTEL_BSP_SCHEDULE_DELAY", &v, "milliseconds")?);
        }

        if let Some(v) = var("RUST_LOG")? {
            tracing_subscriber::EnvFilter::builder()
                .parse(&v)
                .map_err(|e| {
                    Error::invalid(
                        "RUST_LOG",
                        v.clone(),
                        format!("filter directives such as `info,my_crate=debug` ({e})"),
                    )
                })?;
            c.log_filter = v;
        }
        if let Some(v) = var("GLIMPSE_LOG_FORMAT")? {
            c.log_format = match v.as_str() {
                "json" => LogFormat::Json,
                "pretty" => LogFormat::Pretty,
                _ => {
                    return Err(Error::invalid(
                        "GLIMPSE_LOG_FORMAT",
                        v,
                        "`json` or `pretty`",
                    ));
                }
            };
        }
        if let Some(v) = var("GLIMPSE_LOG_REDACT")? {
            c.redact_keys = v
                .split(',')
                .map(|k| k.trim().to_owned())
                .filter(|k| !k.is_empty())
                .collect();
        }
        if let Some(v) = var("GLIMPSE_LOG_DEBUG_SAMPLING")? {
            c.debug_sampling = parse_sampling(&v)?;
        }
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
        if let Some(v) = var("GLIMPSE_METRICS_ADDR")? {
            c.metrics_addr = Some(v.parse().map_err(|_| {
                Error::invalid(
                    "GLIMPSE_METRICS_ADDR",
                    v.clone(),
                    "a socket address such as 0.0.0.0:9464",
                )
            })?);
        }
        if let Some(v) = var("GLIMPSE_METRICS_MAX_SERIES")? {
            c.max_series = parse_positive("GLIMPSE_METRICS_MAX_SERIES", &v)?;
        }
        if let Some(v) = var("GLIMPSE_SHUTDOWN_TIMEOUT_MS")? {
            c.shutdown_timeout = Duration::from_millis(parse_u64(
                "GLIMPSE_SHUTDOWN_TIMEOUT_MS",
                &v,
                "milliseconds",
            )?);
        }

        if let Some(v) = var("SENTRY_DSN")? {
            check_dsn(&v)?;
            c.sentry_dsn = Some(v);
        }
        c.sentry_environment = var("SENTRY_ENVIRONMENT")?;
        c.sentry_release = var("SENTRY_RELEASE")?;
        if let Some(v) = var("SENTRY_SAMPLE_RATE")? {
            c.sentry_sample_rate = match v.parse::<f32>() {
                Ok(r) if (0.0..=1.0).contains(&r) => r,
                _ => {
                    return Err(Error::invalid(
                        "SENTRY_SAMPLE_RATE",
                        v,
                        "a ratio between 0 and 1",
                    ));
                }
            };
        }
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
        &self.protocol
    }

    /// The trace sampler.
    pub fn sampler(&self) -> &Sampler {
        &self.sampler
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
        let wanted = self.keep_traces_set || self.sampler.is_ratio();
        (wanted && !self.keep_traces.is_off()).then_some(&self.keep_traces)
    }

    /// The log filter (`RUST_LOG`, default `info`).
    pub fn log_filter(&self) -> &str {
        &self.log_filter
    }

    /// The log line format.
    pub fn log_format(&self) -> LogFormat {
        self.log_format
    }

    /// The address where the SDK serves `/metrics` itself, if any.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
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
        match (&self.protocol, &self.endpoint) {
            (_, Some(ep)) if self.endpoint_is_signal_specific => ep.clone(),
            (Protocol::Grpc, Some(ep)) => ep.clone(),
            (Protocol::HttpProtobuf, Some(ep)) => format!("{}/v1/traces", ep.trim_end_matches('/')),
            (Protocol::Grpc, None) => "http://localhost:4317".to_owned(),
            (Protocol::HttpProtobuf, None) => "http://localhost:4318/v1/traces".to_owned(),
        }
    }
}

fn parse_bool(var: &'static str, v: &str) -> Result<bool, Error> {
    if v.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if v.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(Error::invalid(var, v, "`true` or `false`"))
    }
}

fn parse_u64(var: &'static str, v: &str, unit: &str) -> Result<u64, Error> {
    v.parse()
        .map_err(|_| Error::invalid(var, v, format!("a whole number of {unit}")))
}

/// `1500`, `1500ms` or `1.5s`.
fn parse_duration(var: &'static str, v: &str) -> Result<Duration, Error> {
    let bad = || {
        Error::invalid(
            var,
            v,
            "a duration such as 1s, 1.5s or 800ms (a bare number is milliseconds)",
        )
    };
    let (number, scale) = if let Some(ms) = v.strip_suffix("ms") {
        (ms, 0.001)
    } else if let Some(s) = v.strip_suffix('s') {
        (s, 1.0)
    } else {
        (v, 0.001)
    };
    match number.trim().parse::<f64>() {
        Ok(n) if n.is_finite() && n >= 0.0 => {
            Duration::try_from_secs_f64(n * scale).map_err(|_| bad())
        }
        _ => Err(bad()),
    }
}

fn parse_positive(var: &'static str, v: &str) -> Result<usize, Error> {
    match v.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(Error::invalid(var, v, "a whole number greater than 0")),
    }
}

fn parse_endpoint(var: &'static str, v: &str) -> Result<String, Error> {
    let ok = v
        .parse::<http::Uri>()
        .ok()
        .filter(|u| matches!(u.scheme_str(), Some("http" | "https")) && u.authority().is_some());
    match ok {
        Some(_) => Ok(v.to_owned()),
        None => Err(Error::invalid(
            var,
            v,
            "an http:// or https:// URL such as http://jaeger:4317",
        )),
    }
}

/// `key=value,key2=value2` with percent-encoded values (W3C baggage octets), as
/// `OTEL_RESOURCE_ATTRIBUTES` and `OTEL_EXPORTER_OTLP_HEADERS` use.
fn parse_key_values(var: &'static str, v: &str) -> Result<Vec<(String, String)>, Error> {
    let bad = || {
        Error::invalid(
            var,
            v,
            "comma-separated key=value pairs, values percent-encoded",
        )
    };
    let mut out = Vec::new();
    for pair in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, val) = pair.split_once('=').ok_or_else(bad)?;
        let k = k.trim();
        if k.is_empty() {
            return Err(bad());
        }
        out.push((k.to_owned(), percent_decode(val.trim()).ok_or_else(bad)?));
    }
    Ok(out)
}

/// `s` percent-decoded, or `None` when a `%` is not followed by two hex digits or the result is
/// not UTF-8 (the W3C baggage rules the OTLP header variables follow).
fn percent_decode(s: &str) -> Option<String> {
    let well_formed = s
        .split('%')
        .skip(1)
        .all(|rest| rest.len() >= 2 && rest.as_bytes()[..2].iter().all(u8::is_ascii_hexdigit));
    if !well_formed {
        return None;
    }
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

fn parse_sampling(v: &str) -> Result<Vec<(String, f64)>, Error> {
    let bad = || {
        Error::invalid(
            "GLIMPSE_LOG_DEBUG_SAMPLING",
            v,
            "comma-separated target=ratio pairs such as `sqlx=0.01,hyper=0.1`",
        )
    };
    let mut out = Vec::new();
    for pair in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (target, ratio) = pair.split_once('=').ok_or_else(bad)?;
        let ratio: f64 = ratio.trim().parse().map_err(|_| bad())?;
        if !(0.0..=1.0).contains(&ratio) || target.trim().is_empty() {
            return Err(bad());
        }
        out.push((target.trim().to_owned(), ratio));
    }
    Ok(out)
}

fn check_dsn(v: &str) -> Result<(), Error> {
    let expected = "a DSN such as https://<key>@glitchtip.example.com/<project-id>";
    #[cfg(feature = "sentry")]
    {
        v.parse::<sentry::types::Dsn>()
            .map(|_| ())
            .map_err(|e| Error::invalid("SENTRY_DSN", v, format!("{expected} ({e})")))
    }
    #[cfg(not(feature = "sentry"))]
    {
        let _ = expected;
        Err(Error::invalid(
            "SENTRY_DSN",
            v,
            "unset: this build of glimpse-telemetry has no `sentry` feature, so errors cannot be reported",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_without_variables() {
        let c = Config::from_vars(Vec::<(String, String)>::new()).unwrap();
        assert_eq!(c.protocol, Protocol::Grpc);
        assert_eq!(c.sampler, Sampler::ParentBased(Box::new(Sampler::AlwaysOn)));
        assert_eq!(c.log_filter, "info");
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
    fn signal_specific_endpoint_is_used_as_is() {
        let c = Config::from_vars([
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://b:4318/custom"),
        ])
        .unwrap();
        assert_eq!(c.traces_endpoint(), "http://b:4318/custom");
    }

    #[test]
    fn headers_are_percent_decoded_and_signal_specific_wins() {
        let c = Config::from_vars([
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=a%3Db,x-team=core"),
            ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-team=traces"),
        ])
        .unwrap();
        assert_eq!(
            c.headers,
            vec![
                ("x-api-key".to_owned(), "a=b".to_owned()),
                ("x-team".to_owned(), "traces".to_owned())
            ]
        );
    }

    #[test]
    fn samplers() {
        let c = Config::from_vars([
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.1"),
        ])
        .unwrap();
        assert_eq!(c.sampler, Sampler::TraceIdRatio(0.1));
        let c = Config::from_vars([("OTEL_TRACES_SAMPLER", "always_off")]).unwrap();
        assert_eq!(c.sampler, Sampler::AlwaysOff);
    }

    #[test]
    fn empty_values_count_as_unset() {
        let c = Config::from_vars([("OTEL_TRACES_SAMPLER", ""), ("RUST_LOG", "  ")]).unwrap();
        assert_eq!(c.log_filter, "info");
    }
}
