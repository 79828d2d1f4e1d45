//! The logs section: the filter (`RUST_LOG`), the line format, the redacted keys and the
//! sampling of debug lines per target (`GLIMPSE_LOG_*`).

use super::env::Lookup;
use crate::Error;

/// The format of log lines on stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogFormat {
    /// One JSON object per line, for Loki and Elasticsearch (the default).
    Json,
    /// Coloured, human-readable lines for a developer's terminal.
    Pretty,
}

/// What the log layers and [`crate::logs::writer::start`] are built from.
#[derive(Clone, Debug)]
pub(crate) struct LogsConfig {
    pub(crate) log_filter: String,
    pub(crate) log_format: LogFormat,
    pub(crate) redact_keys: Vec<String>,
    pub(crate) debug_sampling: Vec<(String, f64)>,
}

impl Default for LogsConfig {
    fn default() -> Self {
        LogsConfig {
            log_filter: "info".to_owned(),
            log_format: LogFormat::Json,
            redact_keys: Vec::new(),
            debug_sampling: Vec::new(),
        }
    }
}

/// Reads the logs section's variables, in the order their errors are reported.
pub(super) fn from_env(var: &Lookup<'_>) -> Result<LogsConfig, Error> {
    let mut c = LogsConfig::default();
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
    Ok(c)
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
