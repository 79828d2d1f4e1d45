//! A small YAML writer for the files we generate: block style, two-space indentation, strings
//! plain when unambiguous and single-quoted otherwise, multi-line strings as `|-` blocks.
//!
//! Hand-written on purpose (issue 11 asked for serde and a maintained YAML crate): the generated
//! files carry comments, the header that says they are generated and, above every rule, alert,
//! index and data source, the reason it is there (240 comment lines over seven files, 145 in
//! `deploy/prometheus/alerts.yml`). serde has no notion of a comment, and the maintained
//! successors of the archived `serde_yaml` (`yaml_serde` 0.10, `serde_norway` 0.9,
//! `serde_yaml_ng` 0.10) emit through libyaml's event model, which has no comment event, so
//! none of them can write these files without dropping what an operator reads them for. What
//! is left here is layout, comments and quoting.

/// A YAML node.
#[derive(Debug, Clone)]
pub(crate) enum Y {
    /// A string, quoted when it could be read as anything else.
    Str(String),
    /// A scalar written exactly as given (numbers).
    Raw(String),
    /// A sequence.
    Seq(Vec<Y>),
    /// A mapping, in order.
    Map(Vec<(String, Y)>),
    /// A node preceded by comment lines (as a sequence item or a mapping value).
    Commented(String, Box<Y>),
}

/// A string node.
pub(crate) fn string(v: impl Into<String>) -> Y {
    Y::Str(v.into())
}

/// A mapping node from `(key, value)` pairs.
pub(crate) fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Y)>) -> Y {
    Y::Map(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
}

/// A mapping of strings to strings.
pub(crate) fn str_map<K: Into<String>, V: Into<String>>(
    entries: impl IntoIterator<Item = (K, V)>,
) -> Y {
    Y::Map(
        entries
            .into_iter()
            .map(|(k, v)| (k.into(), Y::Str(v.into())))
            .collect(),
    )
}

/// Renders a document (a mapping at the top level).
pub(crate) fn render(doc: &Y) -> String {
    let mut out = String::new();
    node_after_key(doc, 0, &mut out, true);
    out
}

/// `body` after `header` as comment lines (`#` alone for an empty line).
pub(crate) fn with_comment_header(header: &str, body: &str) -> String {
    let mut out = String::new();
    comment(header, 0, &mut out);
    out.push_str(body);
    out
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

fn comment(text: &str, indent: usize, out: &mut String) {
    for line in text.lines() {
        pad(out, indent);
        if line.is_empty() {
            out.push_str("#\n");
        } else {
            out.push_str("# ");
            out.push_str(line);
            out.push('\n');
        }
    }
}

/// Writes the mapping entries at `indent`.
fn entries(es: &[(String, Y)], indent: usize, out: &mut String) {
    for (k, v) in es {
        let v = match v {
            Y::Commented(c, inner) => {
                comment(c, indent, out);
                inner.as_ref()
            }
            v => v,
        };
        pad(out, indent);
        out.push_str(&key(k));
        out.push(':');
        node_after_key(v, indent + 2, out, false);
    }
}

/// Writes `v` after `key:` (or at the top when `top`), its block content at `indent`.
fn node_after_key(v: &Y, indent: usize, out: &mut String, top: bool) {
    match v {
        Y::Str(s) if s.contains('\n') => {
            out.push_str(" |-\n");
            for line in s.lines() {
                if !line.is_empty() {
                    pad(out, indent);
                    out.push_str(line);
                }
                out.push('\n');
            }
        }
        Y::Str(s) => {
            out.push(' ');
            out.push_str(&scalar(s));
            out.push('\n');
        }
        Y::Raw(r) => {
            out.push(' ');
            out.push_str(r);
            out.push('\n');
        }
        Y::Seq(items) if items.is_empty() => out.push_str(" []\n"),
        Y::Map(es) if es.is_empty() => out.push_str(" {}\n"),
        Y::Seq(items) => {
            if !top {
                out.push('\n');
            }
            seq(items, if top { 0 } else { indent }, out);
        }
        Y::Map(es) => {
            if top {
                entries(es, 0, out);
            } else {
                out.push('\n');
                entries(es, indent, out);
            }
        }
        Y::Commented(c, inner) => {
            out.push('\n');
            comment(c, indent, out);
            let mut rest = String::new();
            node_after_key(inner, indent, &mut rest, false);
            out.push_str(rest.trim_start_matches('\n'));
        }
    }
}

fn seq(items: &[Y], indent: usize, out: &mut String) {
    for item in items {
        let item = match item {
            Y::Commented(c, inner) => {
                comment(c, indent, out);
                inner.as_ref()
            }
            v => v,
        };
        pad(out, indent);
        out.push('-');
        match item {
            Y::Map(es) if !es.is_empty() => {
                // The first entry on the dash's line, the others aligned with it.
                let mut body = String::new();
                entries(es, indent + 2, &mut body);
                out.push(' ');
                out.push_str(body.get(indent + 2..).unwrap_or(&body));
            }
            Y::Seq(inner) if !inner.is_empty() => {
                out.push('\n');
                seq(inner, indent + 2, out);
            }
            other => node_after_key(other, indent + 2, out, false),
        }
    }
}

fn key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
        && !k.starts_with(['-', '.'])
    {
        k.to_owned()
    } else {
        quote(k)
    }
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A string scalar: plain when no YAML 1.1 or 1.2 reader could take it for anything but this
/// string, single-quoted otherwise.
pub(crate) fn scalar(s: &str) -> String {
    if is_plain(s) { s.to_owned() } else { quote(s) }
}

fn is_plain(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    let allowed = |c: char| c.is_ascii_alphanumeric() || " _./+()-=<>,:".contains(c);
    if !(first.is_ascii_alphanumeric() || first == '/' || first == '_')
        || s.ends_with([' ', ':'])
        || s.contains(": ")
        || !s.chars().all(allowed)
        || s.parse::<f64>().is_ok()
    {
        return false;
    }
    let lower = s.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "y" | "n" | "yes" | "no" | "true" | "false" | "on" | "off" | "null"
    ) {
        return false;
    }
    if first.is_ascii_digit() {
        // YAML 1.1 reads 1_000, 0x1f, 0o17, 1.5e3 and 1:30 as numbers: a string starting with
        // a digit stays plain only if it has a letter no number syntax uses.
        let bytes = lower.as_bytes();
        if bytes.len() > 1 && bytes[0] == b'0' && matches!(bytes[1], b'x' | b'o' | b'b') {
            return false;
        }
        return !lower.contains(':') && lower.chars().any(|c| c.is_ascii_alphabetic() && c != 'e');
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_are_quoted_when_ambiguous() {
        assert_eq!(scalar("5m"), "5m");
        assert_eq!(scalar("0+1x10"), "0+1x10");
        assert_eq!(scalar("0x10"), "'0x10'");
        assert_eq!(scalar("10"), "'10'");
        assert_eq!(scalar("1_000"), "'1_000'");
        assert_eq!(scalar("1e3"), "'1e3'");
        assert_eq!(scalar("yes"), "'yes'");
        assert_eq!(scalar(""), "''");
        assert_eq!(scalar("up == 0"), "up == 0");
        assert_eq!(scalar("a: b"), "'a: b'");
        assert_eq!(scalar(r#"x{a="b"}"#), r#"'x{a="b"}'"#);
        assert_eq!(scalar("it's"), "'it''s'");
        assert_eq!(scalar("critical"), "critical");
    }

    #[test]
    fn renders_block_style() {
        let doc = map([
            (
                "groups",
                Y::Seq(vec![map([
                    ("name", string("g")),
                    (
                        "rules",
                        Y::Seq(vec![Y::Commented(
                            "why".into(),
                            Box::new(map([("record", string("a:b")), ("expr", string("x\n/ y"))])),
                        )]),
                    ),
                    ("labels", str_map([("severity", "critical")])),
                    ("empty", Y::Seq(vec![])),
                ])]),
            ),
            ("n", Y::Raw("1".into())),
        ]);
        assert_eq!(
            render(&doc),
            "groups:\n  - name: g\n    rules:\n      # why\n      - record: a:b\n        expr: |-\n          x\n          / y\n    labels:\n      severity: critical\n    empty: []\nn: 1\n"
        );
    }
}
