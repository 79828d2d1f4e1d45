//! The beacon format and its strict parser.
//!
//! A beacon is one JSON report or an array of 1 to [`MAX_BATCH`] reports. A report is an
//! object with exactly these fields (any other field is an error):
//!
//! | field | type | required | meaning |
//! |---|---|---|---|
//! | `name` | string | yes | `LCP`, `INP`, `CLS`, `FCP`, `TTFB` (web-vitals' names) or `PageLoad` |
//! | `value` | number | yes | web-vitals' `value`: milliseconds, CLS a unitless score |
//! | `delta` | number | no | web-vitals' `delta`; absent means equal to `value` |
//! | `id` | string | yes | web-vitals' `id` (1 to 64 of `A-Z a-z 0-9 . _ -`), one per page view and measure |
//! | `page` | string | yes | `location.pathname` (or a URL, or the route template) of the page, at most 2048 bytes |
//! | `rating` | string | no | web-vitals' `rating` (`good`, `needs-improvement`, `poor`); checked, then recomputed |
//! | `navigationType` | string | no | web-vitals' `navigationType`; checked |
//! | `traceparent` | string | no | the document response's W3C `traceparent` (`00-<trace>-<span>-<flags>`) |
//!
//! Values must be finite and in range: 0 to 10 minutes for the times, 0 to 1 minute for INP,
//! 0 to 100 for CLS. JSON has no `NaN` or `Infinity`, and numbers too large for an `f64` are a
//! syntax error, so those never reach the range check.
//!
//! ```
//! use glimpse_telemetry_axum::rum::beacon::{parse, Measure};
//!
//! let reports = parse(br#"[{"name":"LCP","value":1830.5,"delta":1830.5,"id":"v5-1-2","page":"/users/42"},
//!                         {"name":"CLS","value":0.02,"id":"v5-1-3","page":"/users/42","rating":"good"}]"#)?;
//! assert_eq!(reports.len(), 2);
//! assert_eq!(reports[0].measure, Measure::Lcp);
//! assert_eq!(reports[0].observed_value(), 1.8305); // LCP in seconds
//!
//! let err = parse(br#"{"name":"FID","value":3,"id":"a","page":"/"}"#).unwrap_err();
//! assert!(err.reason().contains("unknown metric name"));
//! # Ok::<(), glimpse_telemetry_axum::rum::beacon::BeaconError>(())
//! ```

use std::fmt;

use serde_json::{Map, Value};

/// The most reports one beacon may carry.
pub const MAX_BATCH: usize = 20;
/// The longest `page` accepted, in bytes.
pub const MAX_PAGE_LEN: usize = 2048;
/// The longest `id` accepted, in bytes.
pub const MAX_ID_LEN: usize = 64;

/// What a report measures.
///
/// ```
/// use glimpse_telemetry_axum::rum::beacon::Measure;
/// assert_eq!(Measure::from_name("INP"), Some(Measure::Inp));
/// assert_eq!(Measure::Inp.label(), "inp");
/// assert_eq!(Measure::from_name("FID"), None); // retired by web-vitals
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Measure {
    /// Largest Contentful Paint (ms).
    Lcp,
    /// Interaction to Next Paint (ms).
    Inp,
    /// Cumulative Layout Shift (unitless).
    Cls,
    /// First Contentful Paint (ms).
    Fcp,
    /// Time to First Byte (ms).
    Ttfb,
    /// Page-load time, Navigation Timing's `loadEventEnd` (ms).
    PageLoad,
}

impl Measure {
    /// Every measure, in the order of the docs.
    pub const ALL: [Measure; 6] = [
        Measure::Lcp,
        Measure::Inp,
        Measure::Cls,
        Measure::Fcp,
        Measure::Ttfb,
        Measure::PageLoad,
    ];

    /// The measure of a beacon's `name`.
    pub fn from_name(name: &str) -> Option<Measure> {
        Measure::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The name in beacons (`LCP`, ..., `PageLoad`).
    pub fn name(self) -> &'static str {
        match self {
            Measure::Lcp => "LCP",
            Measure::Inp => "INP",
            Measure::Cls => "CLS",
            Measure::Fcp => "FCP",
            Measure::Ttfb => "TTFB",
            Measure::PageLoad => "PageLoad",
        }
    }

    /// The `web_vital` label value (`lcp`, ..., `page_load`).
    pub fn label(self) -> &'static str {
        match self {
            Measure::Lcp => "lcp",
            Measure::Inp => "inp",
            Measure::Cls => "cls",
            Measure::Fcp => "fcp",
            Measure::Ttfb => "ttfb",
            Measure::PageLoad => "page_load",
        }
    }

    /// web-vitals' "good" and "poor" thresholds, in the beacon's unit (ms, CLS unitless);
    /// `None` for page load, which has no rating.
    pub fn thresholds(self) -> Option<(f64, f64)> {
        match self {
            Measure::Lcp => Some((2500.0, 4000.0)),
            Measure::Inp => Some((200.0, 500.0)),
            Measure::Cls => Some((0.1, 0.25)),
            Measure::Fcp => Some((1800.0, 3000.0)),
            Measure::Ttfb => Some((800.0, 1800.0)),
            Measure::PageLoad => None,
        }
    }

    /// The largest value accepted, in the beacon's unit.
    pub fn max_value(self) -> f64 {
        match self {
            Measure::Cls => 100.0,
            Measure::Inp => 60_000.0,
            _ => 600_000.0,
        }
    }

    /// Whether the beacon's value is in milliseconds (all but CLS).
    pub fn is_milliseconds(self) -> bool {
        self != Measure::Cls
    }
}

/// web-vitals' rating of a value.
///
/// ```
/// use glimpse_telemetry_axum::rum::beacon::{Measure, Rating};
/// assert_eq!(Rating::of(Measure::Lcp, 2500.0), Some(Rating::Good));
/// assert_eq!(Rating::of(Measure::Lcp, 2500.1), Some(Rating::NeedsImprovement));
/// assert_eq!(Rating::of(Measure::Cls, 0.3), Some(Rating::Poor));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rating {
    /// At most the "good" threshold.
    Good,
    /// Between the thresholds.
    NeedsImprovement,
    /// Above the "poor" threshold.
    Poor,
}

impl Rating {
    /// The rating of `value` (in the beacon's unit), as web-vitals computes it.
    pub fn of(measure: Measure, value: f64) -> Option<Rating> {
        let (good, poor) = measure.thresholds()?;
        Some(if value <= good {
            Rating::Good
        } else if value <= poor {
            Rating::NeedsImprovement
        } else {
            Rating::Poor
        })
    }

    /// `good`, `needs-improvement` or `poor` (web-vitals' strings, the `rating` label).
    pub fn as_str(self) -> &'static str {
        match self {
            Rating::Good => "good",
            Rating::NeedsImprovement => "needs-improvement",
            Rating::Poor => "poor",
        }
    }

    fn parse(s: &str) -> Option<Rating> {
        [Rating::Good, Rating::NeedsImprovement, Rating::Poor]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// The document request a page view belongs to: the ids of its `traceparent`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DocumentTrace {
    /// The trace id (32 lowercase hex digits, not all zero).
    pub trace_id: u128,
    /// The span id of the document request's server span (16 hex digits, not all zero).
    pub span_id: u64,
    /// The sampled flag: only a sampled trace is in Jaeger, so only it becomes an exemplar.
    pub sampled: bool,
}

impl DocumentTrace {
    /// Parses a W3C `traceparent` of version `00`, exactly (`00-<32 hex>-<16 hex>-<2 hex>`).
    ///
    /// ```
    /// use glimpse_telemetry_axum::rum::beacon::DocumentTrace;
    /// let t = DocumentTrace::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
    /// assert!(t.sampled);
    /// assert!(DocumentTrace::parse("00-00000000000000000000000000000000-00f067aa0ba902b7-01").is_none());
    /// ```
    pub fn parse(s: &str) -> Option<DocumentTrace> {
        let b = s.as_bytes();
        if b.len() != 55 || &b[..3] != b"00-" || b[35] != b'-' || b[52] != b'-' {
            return None;
        }
        let lower_hex = |part: &[u8]| {
            part.iter()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
        };
        let (trace, span, flags) = (&s[3..35], &s[36..52], &s[53..55]);
        if !lower_hex(trace.as_bytes())
            || !lower_hex(span.as_bytes())
            || !lower_hex(flags.as_bytes())
        {
            return None;
        }
        let trace_id = u128::from_str_radix(trace, 16).ok()?;
        let span_id = u64::from_str_radix(span, 16).ok()?;
        let flags = u8::from_str_radix(flags, 16).ok()?;
        (trace_id != 0 && span_id != 0).then_some(DocumentTrace {
            trace_id,
            span_id,
            sampled: flags & 1 == 1,
        })
    }
}

/// One valid report.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Report {
    /// What it measures.
    pub measure: Measure,
    /// web-vitals' `value`, in the beacon's unit (ms; CLS unitless).
    pub value: f64,
    /// web-vitals' `delta` (equal to `value` when absent).
    pub delta: f64,
    /// web-vitals' `id`.
    pub id: String,
    /// The page, as sent (mapped to a route template before it becomes a label).
    pub page: String,
    /// The document request's trace, when the page sent it.
    pub trace: Option<DocumentTrace>,
}

impl Report {
    /// The value as recorded: seconds for times, the score for CLS.
    pub fn observed_value(&self) -> f64 {
        if self.measure.is_milliseconds() {
            self.value / 1000.0
        } else {
            self.value
        }
    }

    /// Whether this is the first report of its page view: web-vitals' first report of an `id`
    /// has `delta == value`; later ones (CLS and INP after the page was shown again) carry the
    /// change since the previous report.
    pub fn is_first(&self) -> bool {
        (self.delta - self.value).abs() <= 1e-9 * self.value.abs().max(1.0)
    }

    /// web-vitals' rating of the value (`None` for page load).
    pub fn rating(&self) -> Option<Rating> {
        Rating::of(self.measure, self.value)
    }
}

/// Why a beacon was refused (the text of the 400 answer).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BeaconError {
    reason: String,
}

impl BeaconError {
    fn new(reason: impl Into<String>) -> Self {
        BeaconError {
            reason: reason.into(),
        }
    }

    fn at(index: Option<usize>, reason: impl fmt::Display) -> Self {
        match index {
            Some(i) => BeaconError::new(format!("report {i}: {reason}")),
            None => BeaconError::new(reason.to_string()),
        }
    }

    /// What was wrong, for the client.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for BeaconError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for BeaconError {}

const FIELDS: [&str; 8] = [
    "name",
    "value",
    "delta",
    "id",
    "page",
    "rating",
    "navigationType",
    "traceparent",
];
const NAVIGATION_TYPES: [&str; 7] = [
    "navigate",
    "reload",
    "back-forward",
    "back-forward-cache",
    "prerender",
    "restore",
    "soft-navigation",
];

/// Parses a beacon body: one report or an array of 1 to [`MAX_BATCH`] reports, all valid (one
/// invalid report refuses the whole beacon, so nothing of it is recorded).
///
/// # Errors
/// A [`BeaconError`] saying what is wrong: not UTF-8 JSON, not an object or array, too many
/// reports, an unknown or missing field, an unknown metric name, a value out of range...
pub fn parse(body: &[u8]) -> Result<Vec<Report>, BeaconError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| BeaconError::new(format!("malformed JSON: {e}")))?;
    match value {
        Value::Object(obj) => Ok(vec![report(&obj, None)?]),
        Value::Array(items) => {
            if items.is_empty() {
                return Err(BeaconError::new("empty batch"));
            }
            if items.len() > MAX_BATCH {
                return Err(BeaconError::new(format!(
                    "{} reports in one beacon (at most {MAX_BATCH})",
                    items.len()
                )));
            }
            items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::Object(obj) => report(obj, Some(i)),
                    _ => Err(BeaconError::at(Some(i), "not a JSON object")),
                })
                .collect()
        }
        _ => Err(BeaconError::new(
            "a beacon is a JSON object or an array of objects",
        )),
    }
}

fn report(obj: &Map<String, Value>, at: Option<usize>) -> Result<Report, BeaconError> {
    let err = |reason: String| BeaconError::at(at, reason);
    if let Some(k) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(err(format!("unknown field {:?}", truncated(k))));
    }
    let string = |key: &str, required: bool| -> Result<Option<&str>, BeaconError> {
        match obj.get(key) {
            None if required => Err(err(format!("missing field {key:?}"))),
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(err(format!("field {key:?} must be a string"))),
        }
    };
    let name = string("name", true)?.unwrap_or_default();
    let measure = Measure::from_name(name).ok_or_else(|| {
        err(format!(
            "unknown metric name {:?} (expected LCP, INP, CLS, FCP, TTFB or PageLoad)",
            truncated(name)
        ))
    })?;
    let number = |key: &str| -> Result<Option<f64>, BeaconError> {
        match obj.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => match n.as_f64() {
                Some(v) if v.is_finite() => Ok(Some(v)),
                _ => Err(err(format!("field {key:?} is not a finite number"))),
            },
            Some(_) => Err(err(format!("field {key:?} must be a number"))),
        }
    };
    let max = measure.max_value();
    let value = number("value")?.ok_or_else(|| err("missing field \"value\"".to_owned()))?;
    if !(0.0..=max).contains(&value) {
        return Err(err(format!(
            "{name} value {value} out of range (0 to {max})"
        )));
    }
    let delta = number("delta")?.unwrap_or(value);
    if !(-max..=max).contains(&delta) {
        return Err(err(format!(
            "{name} delta {delta} out of range (-{max} to {max})"
        )));
    }
    let id = string("id", true)?.unwrap_or_default();
    if id.is_empty()
        || id.len() > MAX_ID_LEN
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(err(format!(
            "id must be 1 to {MAX_ID_LEN} of A-Z a-z 0-9 . _ -"
        )));
    }
    let page = string("page", true)?.unwrap_or_default();
    if page.is_empty() || page.len() > MAX_PAGE_LEN {
        return Err(err(format!("page must be 1 to {MAX_PAGE_LEN} bytes")));
    }
    if let Some(r) = string("rating", false)? {
        if Rating::parse(r).is_none() {
            return Err(err(format!(
                "rating {:?} is not good, needs-improvement or poor",
                truncated(r)
            )));
        }
    }
    if let Some(n) = string("navigationType", false)? {
        if !NAVIGATION_TYPES.contains(&n) {
            return Err(err(format!("unknown navigationType {:?}", truncated(n))));
        }
    }
    let trace = match string("traceparent", false)? {
        None => None,
        Some(tp) => Some(DocumentTrace::parse(tp).ok_or_else(|| {
            err("traceparent is not a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>)".to_owned())
        })?),
    };
    Ok(Report {
        measure,
        value,
        delta,
        id: id.to_owned(),
        page: page.to_owned(),
        trace,
    })
}

/// At most 40 characters of client input in an error message.
fn truncated(s: &str) -> String {
    match s.char_indices().nth(40) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(json: &str) -> Result<Report, BeaconError> {
        parse(json.as_bytes()).map(|mut v| v.remove(0))
    }

    #[test]
    fn a_web_vitals_report_parses() {
        let r = one(r#"{"name":"INP","value":232,"delta":32,"id":"v5-1700000000000-42","page":"/a?x=1","rating":"needs-improvement","navigationType":"navigate","traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}"#).unwrap();
        assert_eq!(r.measure, Measure::Inp);
        assert!(!r.is_first());
        assert_eq!(r.rating(), Some(Rating::NeedsImprovement));
        assert_eq!(r.observed_value(), 0.232);
        let t = r.trace.unwrap();
        assert_eq!(t.trace_id, 0x4bf92f3577b34da6a3ce929d0e0e4736);
        assert!(t.sampled);
    }

    #[test]
    fn hostile_reports_are_refused_with_a_reason() {
        for (json, reason) in [
            ("", "malformed JSON"),
            ("NaN", "malformed JSON"),
            (
                r#"{"name":"LCP","value":NaN,"id":"a","page":"/"}"#,
                "malformed JSON",
            ),
            (
                r#"{"name":"LCP","value":1e400,"id":"a","page":"/"}"#,
                "malformed JSON",
            ),
            ("[]", "empty batch"),
            ("42", "JSON object or an array"),
            ("[1]", "report 0: not a JSON object"),
            (
                r#"{"name":"FID","value":1,"id":"a","page":"/"}"#,
                "unknown metric name \"FID\"",
            ),
            (
                r#"{"name":"LCP","value":-1,"id":"a","page":"/"}"#,
                "out of range",
            ),
            (
                r#"{"name":"CLS","value":101,"id":"a","page":"/"}"#,
                "out of range",
            ),
            (
                r#"{"name":"LCP","value":"1","id":"a","page":"/"}"#,
                "must be a number",
            ),
            (
                r#"{"name":"LCP","id":"a","page":"/"}"#,
                "missing field \"value\"",
            ),
            (
                r#"{"name":"LCP","value":1,"page":"/"}"#,
                "missing field \"id\"",
            ),
            (
                r#"{"name":"LCP","value":1,"id":"a b","page":"/"}"#,
                "id must be",
            ),
            (
                r#"{"name":"LCP","value":1,"id":"a","page":""}"#,
                "page must be",
            ),
            (
                r#"{"name":"LCP","value":1,"id":"a","page":"/","entries":[]}"#,
                "unknown field \"entries\"",
            ),
            (
                r#"{"name":"LCP","value":1,"id":"a","page":"/","rating":"ok"}"#,
                "rating",
            ),
            (
                r#"{"name":"LCP","value":1,"id":"a","page":"/","navigationType":"x"}"#,
                "navigationType",
            ),
            (
                r#"{"name":"LCP","value":1,"id":"a","page":"/","traceparent":"00-abc"}"#,
                "traceparent",
            ),
        ] {
            let e = parse(json.as_bytes()).unwrap_err();
            assert!(e.reason().contains(reason), "{json}: {e}");
        }
        let many = format!(
            "[{}]",
            vec![r#"{"name":"LCP","value":1,"id":"a","page":"/"}"#; MAX_BATCH + 1].join(",")
        );
        assert!(
            parse(many.as_bytes())
                .unwrap_err()
                .reason()
                .contains("at most 20")
        );
    }

    #[test]
    fn error_messages_quote_at_most_40_characters() {
        let long = "x".repeat(10_000);
        let e = one(&format!(
            r#"{{"name":"{long}","value":1,"id":"a","page":"/"}}"#
        ))
        .unwrap_err();
        assert!(e.reason().len() < 200, "{e}");
    }

    #[test]
    fn traceparent_must_be_exact() {
        for bad in [
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
            "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert!(DocumentTrace::parse(bad).is_none(), "{bad}");
        }
        let t = DocumentTrace::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
            .unwrap();
        assert!(!t.sampled);
    }
}
