//! Decoding an HTTP/1.1 `Transfer-Encoding: chunked` body, for the tests' minimal clients.

/// The payload of a chunked body: the chunks' data concatenated, up to the last chunk (`0`).
/// Stops at the first malformed size line or truncated chunk instead of failing, so a test
/// asserts on what arrived.
///
/// ```
/// assert_eq!(glimpse_test_support::dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), b"abcde");
/// ```
pub fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(i) = body.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&body[..i])
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok());
        let rest = &body[i + 2..];
        let Some(n) = size.filter(|&n| n > 0 && n <= rest.len()) else {
            break;
        };
        out.extend_from_slice(&rest[..n]);
        body = rest[n..].strip_prefix(b"\r\n").unwrap_or(&rest[n..]);
    }
    out
}

/// [`dechunk`] for a body read as text.
pub fn dechunk_str(body: &str) -> String {
    String::from_utf8_lossy(&dechunk(body.as_bytes())).into_owned()
}
