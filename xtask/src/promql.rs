//! Just enough PromQL reading to find the metric names (and the label names used with them)
//! that a rule or panel expression queries. Not a parser: `promtool check rules` does the
//! syntax; this only has to tell a metric name from a function, a keyword, a label, a string,
//! a duration or a Grafana variable.

/// One vector selector: `name{label="v", ...}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Selector {
    /// The metric name (from `name{...}` or `{__name__="name"}`).
    pub name: String,
    /// The label names its matchers use.
    pub labels: Vec<String>,
}

/// What an expression references.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Refs {
    /// Every vector selector, in order.
    pub selectors: Vec<Selector>,
    /// The label names of `by`, `without`, `on`, `ignoring`, `group_left` and `group_right`.
    pub grouping: Vec<String>,
}

const AGGREGATIONS: &[&str] = &[
    "sum",
    "avg",
    "min",
    "max",
    "count",
    "group",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
    "limitk",
    "limit_ratio",
];
const GROUPING: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];
const KEYWORDS: &[&str] = &[
    "and", "or", "unless", "bool", "offset", "atan2", "inf", "nan",
];

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':'
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b':'
}

struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn ident(&mut self) -> String {
        let start = self.i;
        while self.peek().is_some_and(is_ident) {
            self.i += 1;
        }
        String::from_utf8_lossy(&self.b[start..self.i]).into_owned()
    }

    /// Skips a string literal starting at the current quote; returns its content.
    fn string(&mut self) -> Result<String, String> {
        let quote = self.b[self.i];
        self.i += 1;
        let mut out = Vec::new();
        while let Some(c) = self.peek() {
            self.i += 1;
            if c == b'\\' && quote != b'`' {
                if let Some(n) = self.peek() {
                    out.push(n);
                    self.i += 1;
                }
            } else if c == quote {
                return Ok(String::from_utf8_lossy(&out).into_owned());
            } else {
                out.push(c);
            }
        }
        Err("unterminated string".to_owned())
    }

    /// Skips from an opening bracket to its closing one, strings included.
    fn skip_group(&mut self, open: u8, close: u8) -> Result<(), String> {
        let mut depth = 0usize;
        while let Some(c) = self.peek() {
            match c {
                b'"' | b'\'' | b'`' => {
                    self.string()?;
                    continue;
                }
                c if c == open => depth += 1,
                c if c == close => {
                    depth -= 1;
                    if depth == 0 {
                        self.i += 1;
                        return Ok(());
                    }
                }
                _ => {}
            }
            self.i += 1;
        }
        Err(format!("unbalanced {}", open as char))
    }

    /// Reads `( a, b )` and returns the names.
    fn label_list(&mut self) -> Result<Vec<String>, String> {
        let start = self.i;
        self.skip_group(b'(', b')')?;
        let inner = &self.b[start + 1..self.i - 1];
        Ok(String::from_utf8_lossy(inner)
            .split(',')
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
            .collect())
    }

    /// Reads the matchers `{a="x", b=~"y"}` and returns `(label, value)` pairs.
    fn matchers(&mut self) -> Result<Vec<(String, String)>, String> {
        self.i += 1; // {
        let mut out = Vec::new();
        loop {
            self.skip_ws();
            match self.peek() {
                Some(b'}') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b',') => self.i += 1,
                Some(c) if is_ident_start(c) => {
                    let label = self.ident();
                    self.skip_ws();
                    while self.peek().is_some_and(|c| b"=!~".contains(&c)) {
                        self.i += 1;
                    }
                    self.skip_ws();
                    let value = match self.peek() {
                        Some(b'"' | b'\'' | b'`') => self.string()?,
                        _ => return Err(format!("matcher {label} without a string value")),
                    };
                    out.push((label, value));
                }
                Some(c) => return Err(format!("unexpected {:?} in matchers", c as char)),
                None => return Err("unbalanced {".to_owned()),
            }
        }
    }
}

/// The metric names and label names `expr` references.
pub(crate) fn refs(expr: &str) -> Result<Refs, String> {
    let mut r = Reader {
        b: expr.as_bytes(),
        i: 0,
    };
    let mut out = Refs::default();
    while let Some(c) = r.peek() {
        match c {
            b'"' | b'\'' | b'`' => {
                r.string()?;
            }
            b'#' => {
                while r.peek().is_some_and(|c| c != b'\n') {
                    r.i += 1;
                }
            }
            b'[' => r.skip_group(b'[', b']')?,
            b'{' => {
                // A selector without a name: `{__name__="x", ...}`.
                let matchers = r.matchers()?;
                if let Some((_, name)) = matchers.iter().find(|(l, _)| l == "__name__") {
                    out.selectors.push(Selector {
                        name: name.clone(),
                        labels: matchers
                            .iter()
                            .map(|(l, _)| l.clone())
                            .filter(|l| l != "__name__")
                            .collect(),
                    });
                }
            }
            b'$' => {
                // A Grafana variable: $name, ${name}, ${name:format}.
                r.i += 1;
                if r.peek() == Some(b'{') {
                    r.skip_group(b'{', b'}')?;
                } else {
                    r.ident();
                }
            }
            c if c.is_ascii_digit()
                || (c == b'.' && r.b.get(r.i + 1).is_some_and(u8::is_ascii_digit)) =>
            {
                // A number or a duration (5m, 1h30m, 1e-3, 0x1f).
                let start = r.i;
                loop {
                    match r.peek() {
                        Some(c) if c.is_ascii_alphanumeric() || c == b'.' || c == b'_' => r.i += 1,
                        Some(b'+' | b'-')
                            if matches!(r.b[r.i - 1], b'e' | b'E')
                                && r.b[start..r.i - 1]
                                    .iter()
                                    .all(|c| c.is_ascii_digit() || *c == b'.') =>
                        {
                            r.i += 1
                        }
                        _ => break,
                    }
                }
            }
            c if is_ident_start(c) => {
                let word = r.ident();
                let lower = word.to_ascii_lowercase();
                r.skip_ws();
                if GROUPING.contains(&lower.as_str()) {
                    if r.peek() == Some(b'(') {
                        out.grouping.extend(r.label_list()?);
                    }
                } else if AGGREGATIONS.contains(&lower.as_str())
                    || KEYWORDS.contains(&lower.as_str())
                    || r.peek() == Some(b'(')
                {
                    // An aggregation, a keyword or a function call.
                } else {
                    let labels = if r.peek() == Some(b'{') {
                        r.matchers()?.into_iter().map(|(l, _)| l).collect()
                    } else {
                        Vec::new()
                    };
                    out.selectors.push(Selector { name: word, labels });
                }
            }
            _ => r.i += 1,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(expr: &str) -> Vec<String> {
        refs(expr)
            .unwrap()
            .selectors
            .into_iter()
            .map(|s| s.name)
            .collect()
    }

    #[test]
    fn finds_metric_names_only() {
        let expr = r#"histogram_quantile(0.95, sum by (job, le) (rate(http_server_request_duration_seconds_bucket{job=~"$job", http_route!="/health"}[$__rate_interval])))"#;
        let r = refs(expr).unwrap();
        assert_eq!(
            r.selectors,
            vec![Selector {
                name: "http_server_request_duration_seconds_bucket".into(),
                labels: vec!["job".into(), "http_route".into()],
            }]
        );
        assert_eq!(r.grouping, vec!["job", "le"]);
    }

    #[test]
    fn skips_keywords_strings_durations_and_variables() {
        assert_eq!(
            names(
                r#"sum without (instance) (a_total offset 5m) / ignoring (x) group_left (y) b
                   and on (job) c > bool 1e-3 unless d{l="e f g"} or SUM BY (z) (e[1h:5m]) * ${x:raw} + $__range"#
            ),
            vec!["a_total", "b", "c", "d", "e"]
        );
        assert_eq!(names("up == 0"), vec!["up"]);
        assert_eq!(names(r#"{__name__="x_total", job="j"}"#), vec!["x_total"]);
        assert_eq!(
            names("glimpse:http_requests:rate5m > 0.05"),
            vec!["glimpse:http_requests:rate5m"]
        );
        assert_eq!(
            names("label_replace(time() - p, \"a\", \"$1\", \"b\", \"(.*)\")"),
            vec!["p"]
        );
        assert_eq!(
            names("# comment with name\nvector(1)"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn rejects_unbalanced_input() {
        assert!(refs("sum(rate(x{a=\"b\"[5m]))").is_err());
        assert!(refs("x{a=\"b").is_err());
    }
}
