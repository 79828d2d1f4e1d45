//! Request ids: one per request, taken from the caller's `x-request-id` when it is usable,
//! otherwise generated, and carried everywhere the request goes (the response header, the
//! request span's `request_id` field and so every log line's `requestId`, GlitchTip events, and
//! outgoing calls through [`client`](crate::client)).
//!
//! An incoming id is kept when it is 1 to [`MAX_REQUEST_ID_LEN`] bytes of visible ASCII
//! (`!` to `~`), so a caller can neither inject log syntax nor grow log lines without bound; any
//! other value is replaced.
//!
//! Generated ids are UUID version 7 (RFC 9562): a millisecond timestamp, so ids sort by time in
//! Kibana, and 74 random bits from a per-thread generator seeded once per thread. Generating one
//! costs no system call (tower-http's UUID v4 reads the OS generator on every request).
//!
//! The hex table below (also used for the response's `traceparent`) is hand-written for a
//! measured reason (callgrind, the layer's quick bench, 2026-12-02, median of 3-4 runs):
//! formatting the id with the uuid crate cost about +100 instructions per request, and the
//! `traceparent` digits with the hex crate about +100 more per sampled request.
//!
//! ```
//! use glimpse_telemetry_axum::RequestId;
//!
//! let id = RequestId::generate();
//! assert_eq!(id.as_str().len(), 36);
//! assert_eq!(&id.as_str()[14..15], "7"); // version 7
//! ```

use std::cell::Cell;
use std::convert::Infallible;
use std::hash::{BuildHasher as _, Hasher as _};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::FromRequestParts;
use http::HeaderValue;
use http::header::HeaderName;
use http::request::Parts;

/// The default request id header, `x-request-id`.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The longest incoming request id that is kept, in bytes.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// A request's id.
///
/// As an axum extractor it gives the id of the request being served, as the layer settled on it
/// (the request span's `request_id`); without the layer, the caller's valid `x-request-id` or a
/// fresh id. The layer does not rewrite the request's `x-request-id` header.
///
/// ```no_run
/// use glimpse_telemetry_axum::RequestId;
///
/// async fn handler(id: RequestId) -> String {
///     format!("your request is {id}")
/// }
/// # let _ = axum::Router::<()>::new().route("/", axum::routing::get(handler));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// A new UUID v7, without a system call.
    pub fn generate() -> RequestId {
        RequestId(generate())
    }

    /// The id, if `value` is acceptable as an incoming id (see the [module docs](self)).
    ///
    /// ```
    /// use glimpse_telemetry_axum::RequestId;
    /// use http::HeaderValue;
    ///
    /// assert!(RequestId::from_header(&HeaderValue::from_static("req-42")).is_some());
    /// assert!(RequestId::from_header(&HeaderValue::from_static("two words")).is_none());
    /// ```
    pub fn from_header(value: &HeaderValue) -> Option<RequestId> {
        is_valid(value.as_bytes()).then(|| RequestId(value.clone()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only visible ASCII gets in (checked, or generated as hex).
        self.0.to_str().unwrap_or_default()
    }

    /// The id as a header value.
    pub fn header_value(&self) -> &HeaderValue {
        &self.0
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        // The request span has the id the layer settled on; without the layer, a valid incoming
        // header, or a new id.
        if let Some(id) = glimpse_telemetry::context::current()
            .request_id
            .and_then(|s| HeaderValue::from_str(&s).ok())
        {
            return Ok(RequestId(id));
        }
        if let Some(id) = parts
            .headers
            .get(REQUEST_ID_HEADER)
            .and_then(RequestId::from_header)
        {
            return Ok(id);
        }
        Ok(RequestId::generate())
    }
}

/// Whether `v` is acceptable as an incoming request id.
#[inline]
pub(crate) fn is_valid(v: &[u8]) -> bool {
    !v.is_empty() && v.len() <= MAX_REQUEST_ID_LEN && v.iter().all(|b| (0x21..=0x7e).contains(b))
}

thread_local! {
    static RNG: Cell<u64> = Cell::new(seed());
}

/// A per-thread seed: `RandomState` keys come from the OS once per thread (std caches them), so
/// seeding costs at most one system call per thread, never one per request.
fn seed() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    h.finish()
}

/// wyrand: a fast, statistically good generator (not for secrets; request ids are not secrets).
#[inline]
fn next_u64() -> u64 {
    RNG.with(|s| {
        let x = s.get().wrapping_add(0xa076_1d64_78bd_642f);
        s.set(x);
        let t = u128::from(x).wrapping_mul(u128::from(x ^ 0xe703_7ed1_a0b4_28db));
        ((t >> 64) as u64) ^ (t as u64)
    })
}

/// The 16 bytes of a UUID v7 for `unix_ms` and 128 random bits (74 of them used).
#[inline]
fn uuid_v7(unix_ms: u64, r1: u64, r2: u64) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..6].copy_from_slice(&unix_ms.to_be_bytes()[2..]);
    b[6..8].copy_from_slice(&r1.to_be_bytes()[..2]);
    b[8..].copy_from_slice(&r2.to_be_bytes());
    b[6] = 0x70 | (b[6] & 0x0f); // version 7
    b[8] = 0x80 | (b[8] & 0x3f); // RFC 9562 variant
    b
}

/// Lowercase hex digit pairs of every byte, so encoding is one table load per byte.
const HEX_PAIRS: [[u8; 2]; 256] = {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut t = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [HEX[i >> 4], HEX[i & 0xf]];
        i += 1;
    }
    t
};

/// Writes `src` as lowercase hex into `dst` (twice as long).
#[inline]
pub(crate) fn hex_into(dst: &mut [u8], src: &[u8]) {
    for (pair, byte) in dst.chunks_exact_mut(2).zip(src) {
        pair.copy_from_slice(&HEX_PAIRS[usize::from(*byte)]);
    }
}

/// `xxxxxxxx-xxxx-7xxx-yxxx-xxxxxxxxxxxx`, lowercase.
#[inline]
fn format_uuid(b: &[u8; 16]) -> [u8; 36] {
    let mut out = [b'-'; 36];
    hex_into(&mut out[0..8], &b[0..4]);
    hex_into(&mut out[9..13], &b[4..6]);
    hex_into(&mut out[14..18], &b[6..8]);
    hex_into(&mut out[19..23], &b[8..10]);
    hex_into(&mut out[24..36], &b[10..16]);
    out
}

fn unix_ms_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

thread_local! {
    /// A wall-clock reading and the monotonic instant it was taken at, so the millisecond
    /// timestamp of an id comes from the `Instant` the layer already read (re-read every second).
    static CLOCK: Cell<Option<(Instant, u64)>> = const { Cell::new(None) };
}

/// The Unix time in milliseconds at `now`.
#[inline]
fn unix_ms_at(now: Instant) -> u64 {
    CLOCK.with(|c| {
        match c
            .get()
            .and_then(|(base, ms)| Some((now.checked_duration_since(base)?, ms)))
        {
            // One subtraction of the two instants, not three.
            Some((since, base_ms)) if since < Duration::from_secs(1) => {
                base_ms + since.as_millis() as u64
            }
            _ => {
                let ms = unix_ms_now();
                c.set(Some((now, ms)));
                ms
            }
        }
    })
}

/// A new request id as a header value.
pub(crate) fn generate() -> HeaderValue {
    generate_at(Instant::now())
}

/// A new request id for a request that started at `now`.
#[inline]
pub(crate) fn generate_at(now: Instant) -> HeaderValue {
    hex_header_value(format_uuid(&uuid_v7(
        unix_ms_at(now),
        next_u64(),
        next_u64(),
    )))
}

/// A header value of text this crate wrote itself, of hex digits and dashes only (a
/// request id, a `traceparent`), taken without `HeaderValue::from_bytes`'s byte-by-byte check:
/// about 100 instructions for a request id, 150 for a `traceparent`, on every request.
#[inline]
pub(crate) fn hex_header_value<const N: usize>(text: [u8; N]) -> HeaderValue {
    debug_assert!(text.iter().all(|b| b.is_ascii_hexdigit() || *b == b'-'));
    // SAFETY: every caller passes hex digits and dashes (see above), all visible ASCII, which
    // is what a header value may hold; debug builds check it again inside.
    unsafe { HeaderValue::from_maybe_shared_unchecked(text) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_uuid_v7_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let id = RequestId::generate();
            let s = id.as_str().to_owned();
            assert_eq!(s.len(), 36);
            let parts: Vec<_> = s.split('-').map(str::len).collect();
            assert_eq!(parts, [8, 4, 4, 4, 12], "{s}");
            assert_eq!(&s[14..15], "7");
            assert!(matches!(&s[19..20], "8" | "9" | "a" | "b"), "{s}");
            assert!(s.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit()));
            assert!(is_valid(s.as_bytes()));
            assert!(seen.insert(s));
        }
    }

    #[test]
    fn the_timestamp_leads_so_ids_sort_by_time() {
        let a = format_uuid(&uuid_v7(1_700_000_000_000, 0, 0));
        let b = format_uuid(&uuid_v7(1_700_000_000_001, u64::MAX, u64::MAX));
        assert!(a < b);
        assert_eq!(&a[..13], b"018bcfe5-6800");
    }

    #[test]
    fn incoming_ids_are_checked() {
        assert!(is_valid(b"abc-123_XYZ.~\"{}"));
        assert!(is_valid(&[b'a'; MAX_REQUEST_ID_LEN]));
        for bad in [
            &b""[..],
            b"has space",
            b"tab\there",
            b"\xffbinary",
            b"line\nbreak",
            &[b'a'; MAX_REQUEST_ID_LEN + 1],
        ] {
            assert!(!is_valid(bad), "{bad:?}");
        }
    }
}
