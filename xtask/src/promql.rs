//! The metric names (and the label names used with them) that a rule or panel expression
//! queries, read from the syntax tree of the `promql-parser` crate (a port of Prometheus's own
//! grammar), so an expression it cannot parse is reported as such.
//!
//! Panel expressions hold Grafana's variables (`$job`, `$__rate_interval`, `${x:raw}`), which
//! are not PromQL: [`without_grafana_variables`] puts a duration or a number in their place
//! before parsing (those inside strings, as in `job=~"$job"`, are valid PromQL and stay).

use promql_parser::label::Matchers;
use promql_parser::parser::{self, Expr, LabelModifier, VectorSelector};

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

/// The metric names and label names `expr` references.
pub(crate) fn refs(expr: &str) -> Result<Refs, String> {
    let tree = parser::parse(&without_grafana_variables(expr)?)?;
    let mut out = Refs::default();
    collect(&tree, &mut out);
    Ok(out)
}

fn collect(e: &Expr, out: &mut Refs) {
    match e {
        Expr::Aggregate(a) => {
            if let Some(m) = &a.modifier {
                out.grouping.extend(label_names(m));
            }
            if let Some(p) = &a.param {
                collect(p, out);
            }
            collect(&a.expr, out);
        }
        Expr::Binary(b) => {
            collect(&b.lhs, out);
            if let Some(m) = &b.modifier {
                out.grouping.extend(m.matching.iter().flat_map(label_names));
                if let Some(extra) = m.card.labels() {
                    out.grouping.extend(extra.labels.iter().cloned());
                }
            }
            collect(&b.rhs, out);
        }
        Expr::Unary(u) => collect(&u.expr, out),
        Expr::Paren(p) => collect(&p.expr, out),
        Expr::Subquery(s) => collect(&s.expr, out),
        Expr::VectorSelector(vs) => selector(vs, out),
        Expr::MatrixSelector(ms) => selector(&ms.vs, out),
        Expr::Call(c) => c.args.args.iter().for_each(|a| collect(a, out)),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

fn label_names(m: &LabelModifier) -> Vec<String> {
    m.labels().labels.clone()
}

fn selector(vs: &VectorSelector, out: &mut Refs) {
    let matchers = all_matchers(&vs.matchers);
    let name = vs.name.clone().or_else(|| {
        matchers
            .iter()
            .find(|(l, _)| l == "__name__")
            .map(|(_, v)| v.clone())
    });
    if let Some(name) = name {
        out.selectors.push(Selector {
            name,
            labels: matchers
                .into_iter()
                .map(|(l, _)| l)
                .filter(|l| l != "__name__")
                .collect(),
        });
    }
}

/// `(label, value)` of every matcher, the `or` alternatives included, in order.
fn all_matchers(m: &Matchers) -> Vec<(String, String)> {
    m.matchers
        .iter()
        .chain(m.or_matchers.iter().flatten())
        .map(|m| (m.name.clone(), m.value.clone()))
        .collect()
}

/// `expr` with each Grafana variable outside a string replaced by `5m` inside a range or
/// subquery's brackets and by `1` elsewhere: what Grafana puts there is a duration or a number.
fn without_grafana_variables(expr: &str) -> Result<String, String> {
    replace_grafana_variables(expr, false, |_, in_brackets| {
        Ok(if in_brackets { "5m" } else { "1" }.to_owned())
    })
}

/// `expr` with each Grafana variable (`$name`, `${name}`, `${name:format}`) replaced by
/// `value(name, in_brackets)`, where `name` is what follows `$` or stands between the braces and
/// `in_brackets` tells a range or subquery's `[...]`. Variables in strings and comments are
/// replaced too when `in_strings`, and left as written otherwise.
pub(crate) fn replace_grafana_variables(
    expr: &str,
    in_strings: bool,
    value: impl Fn(&str, bool) -> Result<String, String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(expr.len());
    let mut rest = expr;
    let mut in_brackets = false;
    while let Some(c) = rest.chars().next() {
        let here = rest;
        rest = &rest[c.len_utf8()..];
        match c {
            '"' | '\'' | '`' if !in_strings => {
                let len = literal_len(here)?;
                out.push_str(&here[..len]);
                rest = &here[len..];
            }
            '#' if !in_strings => {
                // A comment runs to the end of the line.
                let len = here.find('\n').unwrap_or(here.len());
                out.push_str(&here[..len]);
                rest = &here[len..];
            }
            '$' => {
                let (name, len) = match rest.strip_prefix('{') {
                    Some(braced) => {
                        let end = braced.find('}').ok_or("unclosed ${")?;
                        (&braced[..end], end + 2)
                    }
                    None => {
                        let end = rest
                            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                            .unwrap_or(rest.len());
                        (&rest[..end], end)
                    }
                };
                out.push_str(&value(name, in_brackets)?);
                rest = &rest[len..];
            }
            c => {
                match c {
                    '[' => in_brackets = true,
                    ']' => in_brackets = false,
                    _ => {}
                }
                out.push(c);
            }
        }
    }
    Ok(out)
}

/// The length of the string literal `s` starts with, its quotes included.
fn literal_len(s: &str) -> Result<usize, String> {
    let quote = s.chars().next().unwrap_or('"');
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        if escaped {
            escaped = false;
        } else if c == '\\' && quote != '`' {
            escaped = true;
        } else if c == quote {
            return Ok(i + 1);
        }
    }
    Err("unterminated string".to_owned())
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
                   and on (job) c > bool 1e-3 unless d{l="e f g"} or SUM BY (z) (rate(e[1h:5m])) * ${x:raw} + $__range"#
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
