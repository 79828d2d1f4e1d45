//! Writing JSON values by hand: string escaping that keeps every line one valid JSON object
//! whatever a field holds (quotes, newlines, control characters), values capped in length, and
//! an RFC 3339 UTC timestamp with milliseconds.
//!
//! Hand-written because it is the per-event hot path: no intermediate `serde_json::Value`, no
//! allocation beyond the reused line buffer.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// Longest string value written, in bytes; the rest is replaced by `…[truncated]`, so one
/// enormous field cannot make an enormous line.
pub(crate) const MAX_VALUE_LEN: usize = 8 * 1024;

const TRUNCATED: &str = "…[truncated]";

/// Bytes that cannot appear raw inside a JSON string (control characters, quote, backslash, DEL).
static NEEDS_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t[0x7f] = true;
    t
};

/// Appends `s` as a JSON string (with quotes), escaped and capped at [`MAX_VALUE_LEN`].
pub(crate) fn write_str(out: &mut String, s: &str) {
    out.push('"');
    write_escaped(out, s, MAX_VALUE_LEN);
    out.push('"');
}

/// Appends the escaped contents of `s` (no quotes); returns whether it was cut short.
pub(crate) fn write_escaped(out: &mut String, s: &str, budget: usize) -> bool {
    let (s, cut) = if s.len() > budget {
        let mut end = budget;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        (&s[..end], true)
    } else {
        (s, false)
    };
    let bytes = s.as_bytes();
    let mut start = 0;
    // Most values need no escaping: find the next byte that does, and copy the runs in between
    // whole.
    while let Some(i) = next_escape(bytes, start) {
        out.push_str(&s[start..i]);
        match bytes[i] {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b => {
                let _ = write!(out, "\\u{:04x}", b);
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    if cut {
        out.push_str(TRUNCATED);
    }
    cut
}

/// The index of the first byte at or after `from` that must be escaped. Eight bytes at a time
/// (the word tricks of "Bit Twiddling Hacks": a byte below 0x20, or equal to `"`, `\` or DEL,
/// sets its high bit), then the table on the word that has one: a third of the instructions of
/// a table lookup per byte, on the few dozen bytes of each of a line's strings.
fn next_escape(bytes: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let mut i = from;
    while let Some(word) = bytes
        .get(i..i + 8)
        .and_then(|w| <[u8; 8]>::try_from(w).ok())
    {
        let x = u64::from_le_bytes(word);
        let flagged = (x.wrapping_sub(ONES * 0x20) & !x & HIGH)
            | zero_byte(x ^ (ONES * u64::from(b'"')))
            | zero_byte(x ^ (ONES * u64::from(b'\\')))
            | zero_byte(x ^ (ONES * 0x7f));
        if flagged != 0 {
            break;
        }
        i += 8;
    }
    bytes
        .get(i..)?
        .iter()
        .position(|&b| NEEDS_ESCAPE[usize::from(b)])
        .map(|p| i + p)
}

/// Appends a finite float as a JSON number; NaN and infinities (not JSON) as strings.
///
/// Written as `Display` writes it (`3`, `0.0000001`, never `3.0` or `1e-7`), but formatted by
/// `zmij`: `std::fmt` cost about 630 instructions for each access line's `response_time`. Both
/// print the shortest digits that read back as the same float; only `zmij`'s exponent form
/// (very large or very small values) falls back to `Display`.
pub(crate) fn write_f64(out: &mut String, v: f64) {
    if !v.is_finite() {
        write_str(out, &v.to_string());
        return;
    }
    let mut buf = zmij::Buffer::new();
    let text = buf.format_finite(v);
    if text.contains('e') {
        let _ = write!(out, "{v}");
    } else {
        out.push_str(text.strip_suffix(".0").unwrap_or(text));
    }
}

/// Appends an integer.
pub(crate) fn write_i64(out: &mut String, v: i64) {
    out.push_str(itoa::Buffer::new().format(v));
}

/// Appends an unsigned integer.
pub(crate) fn write_u64(out: &mut String, v: u64) {
    out.push_str(itoa::Buffer::new().format(v));
}

/// Appends `"key":`, with dots in the key written as underscores so that Elasticsearch does not
/// expand `error.type` into an object that clashes with an `error` string elsewhere.
pub(crate) fn write_key(out: &mut String, key: &str) {
    out.push('"');
    if key
        .bytes()
        .any(|b| b == b'.' || b == b'"' || b == b'\\' || b < 0x20)
    {
        for c in key.chars() {
            match c {
                '.' => out.push('_'),
                '"' | '\\' => {}
                c if (c as u32) < 0x20 => {}
                c => out.push(c),
            }
        }
    } else {
        out.push_str(key);
    }
    out.push_str("\":");
}

/// The hash of the key of a `"key":value` fragment (FNV-1a of its bytes up to the first `":`),
/// by which a line writes each key once. The field cache keeps it with the rendered key, so a
/// line's fragments are not scanned and hashed again for every line.
pub(crate) fn key_hash(fragment: &str) -> u64 {
    let bytes = fragment.as_bytes();
    let key = key_end(bytes).map_or(bytes, |end| &bytes[..end]);
    // A line has a few dozen keys at most; a 64-bit collision is not a practical concern.
    key.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Where the key of a `"key":value` fragment ends: the first `":` after the opening quote.
/// Keys are written without quotes inside them, so that is the key's end. Found byte by byte:
/// `str::find` builds a two-way searcher for each call.
pub(crate) fn key_end(bytes: &[u8]) -> Option<usize> {
    let mut from = 1;
    while let Some(i) = bytes.get(from..)?.iter().position(|&b| b == b'"') {
        let quote = from + i;
        if bytes.get(quote + 1) == Some(&b':') {
            return Some(quote);
        }
        from = quote + 1;
    }
    None
}

/// Appends the current time as `"2026-11-23T01:02:03.456Z"` (with quotes).
pub(crate) fn write_timestamp(out: &mut String, now: SystemTime) {
    let d = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let millis = d.subsec_millis();
    // The date part changes once a second: cache it per thread.
    thread_local! {
        static CACHE: std::cell::Cell<(u64, [u8; 19])> = const { std::cell::Cell::new((u64::MAX, [0; 19])) };
    }
    let prefix = CACHE.with(|c| {
        let (cached_secs, text) = c.get();
        if cached_secs == secs {
            text
        } else {
            let text = format_seconds(secs);
            c.set((secs, text));
            text
        }
    });
    out.push('"');
    // The prefix is ASCII digits and separators written by `format_seconds`.
    out.push_str(std::str::from_utf8(&prefix).unwrap_or("1970-01-01T00:00:00"));
    out.push('.');
    for digit in [millis / 100, (millis / 10) % 10, millis % 10] {
        out.push(char::from(b'0' + digit as u8));
    }
    out.push_str("Z\"");
}

/// `YYYY-MM-DDTHH:MM:SS` for a Unix time, by the days-to-civil algorithm (Howard Hinnant).
fn format_seconds(secs: u64) -> [u8; 19] {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (h, mi, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let mut b = *b"0000-00-00T00:00:00";
    let put = |b: &mut [u8; 19], at: usize, v: u64, width: usize| {
        let mut v = v;
        for k in (0..width).rev() {
            b[at + k] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(&mut b, 0, y.clamp(0, 9999) as u64, 4);
    put(&mut b, 5, m as u64, 2);
    put(&mut b, 8, d as u64, 2);
    put(&mut b, 11, h, 2);
    put(&mut b, 14, mi, 2);
    put(&mut b, 17, s, 2);
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn floats_are_written_as_display_writes_them() {
        let mut values = vec![
            0.0,
            -0.0,
            1.0,
            12.0,
            3.127,
            0.1 + 0.2,
            1000.5,
            1e-5,
            1e-7,
            5e-324,
            1e15,
            1e16,
            1e21,
            f64::MAX,
            f64::MIN_POSITIVE,
            -123456.789,
        ];
        // Access lines' `response_time`: microseconds over 1000, over a wide range.
        values.extend((0..20_000u64).map(|us| us as f64 / 1000.0));
        values.extend((0..64).map(|e| 1.7f64.powi(e) / 3.0));
        for v in values {
            let mut out = String::new();
            write_f64(&mut out, v);
            assert_eq!(out, v.to_string(), "{v:e}");
        }
        let mut out = String::new();
        write_f64(&mut out, f64::NAN);
        assert_eq!(out, "\"NaN\"");
    }

    #[test]
    fn timestamps_match_known_dates() {
        for (secs, ms, want) in [
            (0u64, 0u32, "\"1970-01-01T00:00:00.000Z\""),
            (951_782_400, 7, "\"2000-02-29T00:00:00.007Z\""),
            (1_795_392_123, 456, "\"2026-11-23T00:02:03.456Z\""),
            (4_102_444_799, 999, "\"2099-12-31T23:59:59.999Z\""),
        ] {
            let mut out = String::new();
            write_timestamp(
                &mut out,
                UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(ms.into()),
            );
            assert_eq!(out, want);
        }
    }

    #[test]
    fn the_word_scan_finds_what_the_table_finds() {
        // Every byte value at every position of a 19-byte string (two words and a tail), among
        // plain, space and non-ASCII bytes (borrows between bytes are where word tricks fail).
        for (b, background) in (0..=255u8).flat_map(|b| [(b, b'a'), (b, b' '), (b, 0xe9)]) {
            for at in 0..19 {
                let mut bytes = vec![background; 19];
                bytes[at] = b;
                let want = (0..19).find(|&i| NEEDS_ESCAPE[usize::from(bytes[i])]);
                assert_eq!(next_escape(&bytes, 0), want, "byte {b:#x} at {at}");
                assert_eq!(
                    next_escape(&bytes, 3),
                    want.filter(|&i| i >= 3),
                    "byte {b:#x} at {at}, from 3"
                );
            }
        }
    }

    #[test]
    fn hostile_strings_stay_one_json_string() {
        let nasty = "a\"b\\c\nd\re\tf\u{0}g\u{1b}h\u{7f}i\u{2028}j";
        let mut out = String::new();
        write_str(&mut out, nasty);
        let back: String = serde_json::from_str(&out).unwrap();
        assert_eq!(back, nasty);
        assert!(!out.contains('\n'));
    }

    #[test]
    fn long_values_are_cut_on_a_char_boundary() {
        let long = "é".repeat(MAX_VALUE_LEN);
        let mut out = String::new();
        write_str(&mut out, &long);
        let back: String = serde_json::from_str(&out).unwrap();
        assert!(back.ends_with(TRUNCATED) && back.len() <= MAX_VALUE_LEN + TRUNCATED.len());
    }

    #[test]
    fn keys_lose_their_dots() {
        let mut out = String::new();
        write_key(&mut out, "http.request.method");
        assert_eq!(out, "\"http_request_method\":");
    }
}
