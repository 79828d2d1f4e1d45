//! The `/metrics` body: OpenMetrics (with exemplars) for scrapers that ask for it, the classic
//! Prometheus text format (0.0.4, no exemplars) for everyone else.
//!
//! prometheus-client only writes OpenMetrics; the classic format is derived from it line by line
//! (counters' family names get their `_total`, `info` becomes a gauge, exemplars, `# UNIT` and
//! `# EOF` go), because older tools such as Debian's promtool 2.42 reject exemplars.

/// An exposition format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// OpenMetrics 1.0 text, with exemplars.
    OpenMetrics,
    /// The classic Prometheus text format 0.0.4, without exemplars.
    Text,
}

impl Format {
    /// Chooses the format from a request's `Accept` header: OpenMetrics only when the scraper
    /// says it accepts it (Prometheus does), the classic text otherwise.
    ///
    /// ```
    /// use glimpse_telemetry::metrics::Format;
    /// let prometheus = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";
    /// assert_eq!(Format::from_accept(Some(prometheus)), Format::OpenMetrics);
    /// assert_eq!(Format::from_accept(Some("*/*")), Format::Text);
    /// assert_eq!(Format::from_accept(None), Format::Text);
    /// ```
    pub fn from_accept(accept: Option<&str>) -> Format {
        match accept {
            Some(a)
                if a.to_ascii_lowercase()
                    .contains("application/openmetrics-text") =>
            {
                Format::OpenMetrics
            }
            _ => Format::Text,
        }
    }

    /// The `Content-Type` of a response in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
        }
    }
}

/// Encodes every metric of the SDK's registry.
///
/// ```
/// use glimpse_telemetry::metrics::{encode, Format};
/// assert!(encode(Format::OpenMetrics).ends_with("# EOF\n"));
/// assert!(encode(Format::Text).contains("# TYPE process_cpu_seconds_total counter"));
/// ```
pub fn encode(format: Format) -> String {
    let mut open_metrics = String::with_capacity(16 * 1024);
    super::with_registry(|registry| {
        // Writing into a String cannot fail; a collector that fails leaves a partial body,
        // which is still better than no metrics at all.
        let _ = prometheus_client::encoding::text::encode(&mut open_metrics, registry);
    });
    match format {
        Format::OpenMetrics => open_metrics,
        Format::Text => to_classic_text(&open_metrics),
    }
}

fn to_classic_text(om: &str) -> String {
    let mut out = String::with_capacity(om.len());
    let mut pending_help: Option<&str> = None;
    for line in om.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            pending_help = Some(rest);
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "unknown"));
            let (name, kind): (std::borrow::Cow<str>, &str) = match kind {
                "counter" => (format!("{name}_total").into(), "counter"),
                "info" => (format!("{name}_info").into(), "gauge"),
                "unknown" => (name.into(), "untyped"),
                other => (name.into(), other),
            };
            if let Some(help) = pending_help.take() {
                let text = help.split_once(' ').map_or("", |(_, h)| h);
                out.push_str("# HELP ");
                out.push_str(&name);
                out.push(' ');
                out.push_str(text);
                out.push('\n');
            }
            out.push_str("# TYPE ");
            out.push_str(&name);
            out.push(' ');
            out.push_str(kind);
            out.push('\n');
        } else if line.starts_with('#') {
            // `# UNIT` and `# EOF` do not exist in the classic format.
        } else if !line.is_empty() {
            out.push_str(strip_exemplar(line));
            out.push('\n');
        }
    }
    out
}

/// `name{labels} value # {exemplar} v ts` → `name{labels} value`, reading quoted label values
/// so a ` # ` inside one is not mistaken for the exemplar.
fn strip_exemplar(line: &str) -> &str {
    let bytes = line.as_bytes();
    let mut i = 0;
    let mut in_quotes = false;
    let mut in_labels = false;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if in_quotes => i += 1,
            b'"' if in_labels => in_quotes = !in_quotes,
            b'{' if !in_quotes => in_labels = true,
            b'}' if !in_quotes => in_labels = false,
            b'#' if !in_quotes && !in_labels => return line[..i].trim_end(),
            _ => {}
        }
        i += 1;
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_text_renames_counters_and_drops_exemplars() {
        let om = "# HELP jobs Jobs run.\n# TYPE jobs counter\njobs_total 3\n\
                  # HELP lat_seconds Latency.\n# TYPE lat_seconds histogram\n# UNIT lat_seconds seconds\n\
                  lat_seconds_bucket{le=\"0.1\",route=\"/a # {b}\"} 1 # {trace_id=\"ab\"} 0.05 1.5\n\
                  # HELP target Target.\n# TYPE target info\ntarget_info{service_name=\"x\"} 1\n# EOF\n";
        let text = to_classic_text(om);
        assert_eq!(
            text,
            "# HELP jobs_total Jobs run.\n# TYPE jobs_total counter\njobs_total 3\n\
             # HELP lat_seconds Latency.\n# TYPE lat_seconds histogram\n\
             lat_seconds_bucket{le=\"0.1\",route=\"/a # {b}\"} 1\n\
             # HELP target_info Target.\n# TYPE target_info gauge\ntarget_info{service_name=\"x\"} 1\n"
        );
    }
}
