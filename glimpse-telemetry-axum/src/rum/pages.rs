//! Pages to route templates: the bounded `page_route` label.

/// The label of every page that matches no declared template.
///
/// ```
/// use glimpse_telemetry_axum::rum::{OTHER, RumEndpoint};
/// assert_eq!(RumEndpoint::builder().build().page_route("/anything"), OTHER);
/// ```
pub const OTHER: &str = "other";

#[derive(Clone, Debug)]
enum Segment {
    Literal(Box<str>),
    /// `{name}`: any one non-empty segment.
    Param,
    /// `{*name}`: the rest of the path (one segment or more).
    Rest,
}

/// The route templates a service declared, in axum's syntax (`/users/{id}`, `/files/{*path}`).
#[derive(Clone, Debug, Default)]
pub(crate) struct PageRoutes {
    routes: Vec<(Box<str>, Vec<Segment>)>,
}

impl PageRoutes {
    pub(crate) fn add(&mut self, template: &str) {
        if self.routes.iter().any(|(t, _)| &**t == template) {
            return;
        }
        let segments = split(template)
            .map(|s| {
                if s.starts_with("{*") && s.ends_with('}') {
                    Segment::Rest
                } else if s.starts_with('{') && s.ends_with('}') && s.len() > 2 {
                    Segment::Param
                } else {
                    Segment::Literal(s.into())
                }
            })
            .collect();
        self.routes.push((template.into(), segments));
    }

    pub(crate) fn templates(&self) -> impl Iterator<Item = &str> {
        self.routes.iter().map(|(t, _)| &**t)
    }

    /// The template of `page` (a path, a URL, or a declared template itself), else [`OTHER`].
    /// Literal templates win over ones with parameters, then the first declared.
    pub(crate) fn template_of(&self, page: &str) -> &str {
        if let Some((t, _)) = self.routes.iter().find(|(t, _)| &**t == page) {
            return t;
        }
        let path = path_of(page);
        let mut best: Option<(&str, usize)> = None;
        for (t, segments) in &self.routes {
            if let Some(literals) = matches(segments, path) {
                if best.is_none_or(|(_, l)| literals > l) {
                    best = Some((t, literals));
                }
            }
        }
        best.map_or(OTHER, |(t, _)| t)
    }
}

/// The path of a page: without scheme and authority, query and fragment.
fn path_of(page: &str) -> &str {
    let page = page.split(['?', '#']).next().unwrap_or_default();
    for scheme in ["https://", "http://"] {
        if let Some(rest) = page.strip_prefix(scheme) {
            return rest.find('/').map_or("/", |i| &rest[i..]);
        }
    }
    page
}

fn split(path: &str) -> impl Iterator<Item = &str> {
    path.strip_prefix('/').unwrap_or(path).split('/')
}

/// The number of literal segments when `path` matches.
fn matches(segments: &[Segment], path: &str) -> Option<usize> {
    if !path.starts_with('/') {
        return None;
    }
    let mut parts = split(path);
    let mut literals = 0;
    for seg in segments {
        match seg {
            Segment::Rest => {
                return parts.next().filter(|p| !p.is_empty()).map(|_| literals);
            }
            Segment::Param => {
                parts.next().filter(|p| !p.is_empty())?;
            }
            Segment::Literal(l) => {
                if parts.next()? != &**l {
                    return None;
                }
                literals += 1;
            }
        }
    }
    parts.next().is_none().then_some(literals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_templates_or_other() {
        let mut p = PageRoutes::default();
        for t in ["/", "/users/{id}", "/users/me", "/files/{*path}"] {
            p.add(t);
        }
        for (page, want) in [
            ("/", "/"),
            ("/users/42", "/users/{id}"),
            ("/users/me", "/users/me"),
            ("/users/{id}", "/users/{id}"),
            ("/users/42?tab=1#x", "/users/{id}"),
            ("https://glimpse.app/users/42", "/users/{id}"),
            ("https://glimpse.app", "/"),
            ("/users/", OTHER),
            ("/users/42/", OTHER),
            ("/users", OTHER),
            ("/files/a/b/c", "/files/{*path}"),
            ("/files/", OTHER),
            ("users/42", OTHER),
            ("/nope", OTHER),
            ("", OTHER),
        ] {
            assert_eq!(p.template_of(page), want, "{page}");
        }
    }
}
