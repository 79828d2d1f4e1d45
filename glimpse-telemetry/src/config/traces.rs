//! The traces section: where spans go (`OTEL_EXPORTER_OTLP_*`, the `TRACES` variants winning),
//! which are recorded (`OTEL_TRACES_SAMPLER*`), which refused ones are kept anyway
//! (`GLIMPSE_TRACES_*`), the propagators (`OTEL_PROPAGATORS`) and the batch span processor
//! (`OTEL_BSP_*`).

use std::time::Duration;

use super::env::{Lookup, parse_duration, parse_key_values, parse_positive, parse_u64};
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

/// What [`crate::traces::start`] builds the tracer provider and its exporter from.
#[derive(Clone, Debug)]
pub(crate) struct TracesConfig {
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
}

impl Default for TracesConfig {
    fn default() -> Self {
        TracesConfig {
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
        }
    }
}

impl TracesConfig {
    /// What "keep errors and slow" keeps, or `None` when it is off (see
    /// [`Config::keep_traces`](super::Config::keep_traces)).
    pub(crate) fn keep_traces(&self) -> Option<&KeepTraces> {
        let wanted = self.keep_traces_set || self.sampler.is_ratio();
        (wanted && !self.keep_traces.is_off()).then_some(&self.keep_traces)
    }

    /// The export headers as the transports send them (their names and values were checked
    /// when the configuration was read).
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    pub(crate) fn header_map(&self) -> http::HeaderMap {
        let mut map = http::HeaderMap::with_capacity(self.headers.len());
        for (k, v) in &self.headers {
            if let (Ok(k), Ok(v)) = (
                http::HeaderName::from_bytes(k.as_bytes()),
                http::HeaderValue::from_str(v),
            ) {
                map.insert(k, v);
            }
        }
        map
    }

    /// The OTLP endpoint for traces (see
    /// [`Config::traces_endpoint`](super::Config::traces_endpoint)).
    pub(crate) fn traces_endpoint(&self) -> String {
        match (&self.protocol, &self.endpoint) {
            (_, Some(ep)) if self.endpoint_is_signal_specific => ep.clone(),
            (Protocol::Grpc, Some(ep)) => ep.clone(),
            (Protocol::HttpProtobuf, Some(ep)) => format!("{}/v1/traces", ep.trim_end_matches('/')),
            (Protocol::Grpc, None) => "http://localhost:4317".to_owned(),
            (Protocol::HttpProtobuf, None) => "http://localhost:4318/v1/traces".to_owned(),
        }
    }
}

/// Reads the traces section's variables, in the order their errors are reported.
pub(super) fn from_env(var: &Lookup<'_>) -> Result<TracesConfig, Error> {
    let mut c = TracesConfig::default();
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
    Ok(c)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

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
            c.traces.headers,
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
        assert_eq!(c.traces.sampler, Sampler::TraceIdRatio(0.1));
        let c = Config::from_vars([("OTEL_TRACES_SAMPLER", "always_off")]).unwrap();
        assert_eq!(c.traces.sampler, Sampler::AlwaysOff);
    }
}
