//! Reading the variables: the lookups behind [`Config::from_env`](super::Config::from_env) and
//! [`Config::from_vars`](super::Config::from_vars), trimming with an empty value counted as unset,
//! and the parsers of the kinds of value several sections read. Every value that cannot be used
//! becomes an [`Error::InvalidVar`] naming its variable.

use std::time::Duration;

use crate::Error;

/// Looks one variable up: `Ok(None)` when it is unset, an error when it cannot be read.
pub(super) type Lookup<'a> = dyn Fn(&'static str) -> Result<Option<String>, Error> + 'a;

/// The process environment: a value that is not UTF-8 is an error naming its variable.
pub(super) fn process(name: &'static str) -> Result<Option<String>, Error> {
    match std::env::var(name) {
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(v)) => {
            Err(Error::invalid(name, v.to_string_lossy(), "valid UTF-8"))
        }
    }
}

/// `get` with every value trimmed and an empty one counted as unset, as the OpenTelemetry
/// specification asks: the lookup each section reads its variables with.
pub(super) fn trimmed<'a>(
    get: &'a Lookup<'_>,
) -> impl Fn(&'static str) -> Result<Option<String>, Error> + 'a {
    move |name: &'static str| -> Result<Option<String>, Error> {
        Ok(get(name)?
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty()))
    }
}

pub(super) fn parse_bool(var: &'static str, v: &str) -> Result<bool, Error> {
    if v.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if v.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(Error::invalid(var, v, "`true` or `false`"))
    }
}

pub(super) fn parse_u64(var: &'static str, v: &str, unit: &str) -> Result<u64, Error> {
    v.parse()
        .map_err(|_| Error::invalid(var, v, format!("a whole number of {unit}")))
}

/// `1500`, `1500ms` or `1.5s`.
pub(super) fn parse_duration(var: &'static str, v: &str) -> Result<Duration, Error> {
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

pub(super) fn parse_positive(var: &'static str, v: &str) -> Result<usize, Error> {
    match v.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(Error::invalid(var, v, "a whole number greater than 0")),
    }
}

/// `key=value,key2=value2` with percent-encoded values (W3C baggage octets), as
/// `OTEL_RESOURCE_ATTRIBUTES` and `OTEL_EXPORTER_OTLP_HEADERS` use.
pub(super) fn parse_key_values(var: &'static str, v: &str) -> Result<Vec<(String, String)>, Error> {
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
