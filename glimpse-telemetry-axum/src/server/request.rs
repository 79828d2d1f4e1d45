//! What the layer keeps of the request line once the request has moved on: the path (inline for
//! most), and the announced body size.

use http::HeaderMap;

/// The request's path, copied so the request can move on: inline up to 62 bytes (most paths),
/// without an allocation or a shared-buffer reference count.
pub(crate) enum PathText {
    Inline { len: u8, buf: [u8; 62] },
    Heap(Box<str>),
}

impl PathText {
    #[inline]
    pub(crate) fn new(path: &str) -> PathText {
        let bytes = path.as_bytes();
        if bytes.len() <= 62 {
            let mut buf = [0u8; 62];
            buf[..bytes.len()].copy_from_slice(bytes);
            PathText::Inline {
                len: bytes.len() as u8,
                buf,
            }
        } else {
            PathText::Heap(bounded(path, 8192).into())
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            // Copied whole from a `&str`: valid UTF-8.
            PathText::Inline { len, buf } => {
                std::str::from_utf8(&buf[..usize::from(*len)]).unwrap_or("/")
            }
            PathText::Heap(s) => s,
        }
    }
}

/// `s` cut to at most `max` bytes on a character boundary.
pub(crate) fn bounded(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The `content-length` the request announced.
pub(crate) fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_kept_whole_and_bounded_on_a_character() {
        assert_eq!(bounded("héllo", 2), "h");
        assert_eq!(PathText::new("/users/42").as_str(), "/users/42");
        let long = format!("/{}", "é".repeat(100));
        assert_eq!(PathText::new(&long).as_str(), long);
    }
}
