//! Keeps secrets out of telemetry: values of keys that look secret become `"[REDACTED]"`, and
//! anything that looks like a payment card number (13–19 digits passing the Luhn check) is
//! masked wherever it appears in a string (a value that is exactly a UUID is left alone: it is a
//! request id). Applied to log lines, exported span attributes and GlitchTip events alike.
//!
//! ```
//! use glimpse_telemetry::redact::Redactor;
//!
//! let r = Redactor::default();
//! assert!(r.is_secret_key("user_password"));
//! assert!(r.is_secret_key("X-Api-Key"));
//! assert!(!r.is_secret_key("user_id"));
//! assert_eq!(r.mask("paid with 4111 1111 1111 1111 today"), "paid with [REDACTED] today");
//! ```

use std::borrow::Cow;

/// The text that replaces a secret.
pub const REDACTED: &str = "[REDACTED]";

/// Key fragments that mark a value as secret (matched case-insensitively, anywhere in the key,
/// with `-` and `.` read as `_`).
pub const DEFAULT_SECRET_KEYS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "cookie",
    "api_key",
    "apikey",
    "access_key",
    "private_key",
    "credential",
    "card_number",
    "cardnumber",
    "credit_card",
    "creditcard",
    "cvv",
    "cvc",
    "iban",
    "ssn",
];

/// Decides what is secret. Cheap to clone and to share.
#[derive(Clone, Debug)]
pub struct Redactor {
    keys: Vec<String>,
    /// Tells apart redactors with different key lists in per-thread caches.
    id: u64,
}

impl Default for Redactor {
    fn default() -> Self {
        Redactor::new(std::iter::empty::<&str>())
    }
}

impl Redactor {
    /// The default key list plus `extra` fragments (from `GLIMPSE_LOG_REDACT`).
    pub fn new<S: AsRef<str>>(extra: impl IntoIterator<Item = S>) -> Self {
        let mut keys: Vec<String> = DEFAULT_SECRET_KEYS
            .iter()
            .map(|k| (*k).to_owned())
            .collect();
        keys.extend(
            extra
                .into_iter()
                .map(|k| normalize(k.as_ref()).into_owned())
                .filter(|k| !k.is_empty()),
        );
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        Redactor {
            keys,
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// An identity for caches: redactors built separately may have different key lists.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Whether values under this key must not be written.
    ///
    /// Answers are remembered per thread in a small cache that cannot grow (512 keys, two ways
    /// per set: `two_way`), compared by the key's text: the same few keys come back on every
    /// span and log line, and the export thread asks for every attribute of every span.
    pub fn is_secret_key(&self, key: &str) -> bool {
        thread_local! {
            static SEEN: std::cell::RefCell<Vec<Option<SeenKey>>> =
                std::cell::RefCell::new((0..SEEN_SLOTS).map(|_| None).collect());
        }
        let set = crate::two_way::set_of(key_hash(key), SEEN_SLOTS);
        let known = SEEN.try_with(|s| {
            let s = s.try_borrow().ok()?;
            crate::two_way::find(&s[..], set, |e| e.redactor == self.id && *e.key == *key)
                .map(|e| e.secret)
        });
        if let Ok(Some(known)) = known {
            return known;
        }
        let secret = self.is_secret_key_uncached(key);
        if key.len() > MAX_SEEN_KEY_LEN {
            return secret; // not kept: the cache's memory stays bounded whatever the keys
        }
        let _ = SEEN.try_with(|s| {
            if let Ok(mut s) = s.try_borrow_mut() {
                let entry = SeenKey {
                    redactor: self.id,
                    key: key.into(),
                    secret,
                };
                crate::two_way::insert(&mut s[..], set, entry);
            }
        });
        secret
    }

    fn is_secret_key_uncached(&self, key: &str) -> bool {
        let key = normalize(key);
        self.keys.iter().any(|k| key.contains(k.as_str()))
    }

    /// `value` with every card-number-like digit run replaced by [`REDACTED`]; borrowed when
    /// there is nothing to mask, which is the common case and costs one pass over the bytes.
    pub fn mask<'a>(&self, value: &'a str) -> Cow<'a, str> {
        mask_card_numbers(value)
    }
}

/// Slots of the per-thread cache of [`Redactor::is_secret_key`].
const SEEN_SLOTS: usize = 512;

/// The longest key that cache keeps (keys are names, far shorter).
const MAX_SEEN_KEY_LEN: usize = 128;

/// A remembered answer of [`Redactor::is_secret_key`].
struct SeenKey {
    redactor: u64,
    key: Box<str>,
    secret: bool,
}

/// A cheap hash of a key for the cache: its length and its first and last eight bytes, which
/// tell the usual keys apart (`http.request.method`, `http.route`, `url.path`). Hashing the
/// whole text, as the map this replaced did, cost about 150 instructions a key, ten keys a span.
fn key_hash(key: &str) -> usize {
    let b = key.as_bytes();
    let n = b.len();
    // Two fixed-size loads (a copy of a variable length would call `memcpy`).
    let (head, tail) = match (b.first_chunk::<8>(), b.last_chunk::<8>()) {
        (Some(head), Some(tail)) => (u64::from_le_bytes(*head), u64::from_le_bytes(*tail)),
        _ => (b.iter().fold(0, |h, &c| h << 8 | u64::from(c)), 0),
    };
    let h = (head ^ tail.rotate_left(29) ^ n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (h >> 32) as usize
}

fn normalize(key: &str) -> Cow<'_, str> {
    if key
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        Cow::Borrowed(key)
    } else {
        Cow::Owned(
            key.chars()
                .map(|c| match c {
                    '-' | '.' | ' ' => '_',
                    c => c.to_ascii_lowercase(),
                })
                .collect(),
        )
    }
}

/// Masks runs of 13–19 digits (single spaces or dashes allowed between them) that pass the
/// Luhn check.
pub(crate) fn mask_card_numbers(s: &str) -> Cow<'_, str> {
    let bytes = s.as_bytes();
    // The UUID check first: it is the common case (every request id), and cheaper than the
    // digit-run scan, which must read the whole id to find nothing.
    if bytes.len() < 13 || is_uuid(bytes) || !has_long_digit_run(bytes) {
        return Cow::Borrowed(s);
    }
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() || (i > 0 && bytes[i - 1].is_ascii_alphanumeric()) {
            i += 1;
            continue;
        }
        // Collect a run of digits with optional single separators.
        let start = i;
        let mut end = i;
        // On the stack: this runs for every string field of every request span (a request id
        // has a dozen short digit runs), so a heap buffer per run was most of its cost.
        let mut digits = [0u8; 20];
        let mut n = 0;
        let mut j = i;
        while j < bytes.len() {
            let b = bytes[j];
            if b.is_ascii_digit() {
                digits[n] = b - b'0';
                n += 1;
                end = j + 1;
                j += 1;
            } else if (b == b' ' || b == b'-')
                && j + 1 < bytes.len()
                && bytes[j + 1].is_ascii_digit()
                && n > 0
            {
                j += 1;
            } else {
                break;
            }
            if n > 19 {
                break;
            }
        }
        let digits = &digits[..n];
        let followed_by_alnum = end < bytes.len() && bytes[end].is_ascii_alphanumeric();
        if (13..=19).contains(&digits.len()) && !followed_by_alnum && luhn(digits) {
            let o = out.get_or_insert_with(|| String::with_capacity(s.len()));
            o.push_str(&s[copied..start]);
            o.push_str(REDACTED);
            copied = end;
        }
        i = end.max(i + 1);
    }
    match out {
        Some(mut o) => {
            o.push_str(&s[copied..]);
            Cow::Owned(o)
        }
        None => Cow::Borrowed(s),
    }
}

/// Whether some stretch of digits, single spaces and dashes holds 13 digits or more: the
/// cheap test that lets almost every value (a request id has more than 13 digits, but in short
/// runs) skip the masking pass. It accepts every run that pass could mask, and more.
fn has_long_digit_run(bytes: &[u8]) -> bool {
    let mut digits = 0;
    let mut after_digit = false;
    for &b in bytes {
        if b.is_ascii_digit() {
            digits += 1;
            if digits >= 13 {
                return true;
            }
            after_digit = true;
        } else if (b == b' ' || b == b'-') && after_digit {
            after_digit = false;
        } else {
            digits = 0;
            after_digit = false;
        }
    }
    false
}

/// `8-4-4-4-12` hex digits: a request id, never a card number, although about one generated id
/// in 40,000 has a Luhn-valid run of 13 digits across its dashes (`01936500-7515-7080-a94b-...`).
/// Masking it would break the link between the log line, the span and the response header.
fn is_uuid(bytes: &[u8]) -> bool {
    let Ok(b) = <&[u8; 36]>::try_from(bytes) else {
        return false;
    };
    if b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
        return false;
    }
    // A table lookup per byte, without early exit: about a third of the instructions of
    // `is_ascii_hexdigit`'s two range checks, and this runs for every request's id.
    let hex = |part: &[u8]| {
        part.iter()
            .fold(1u8, |ok, &c| ok & HEX_DIGIT[usize::from(c)])
    };
    hex(&b[..8]) & hex(&b[9..13]) & hex(&b[14..18]) & hex(&b[19..23]) & hex(&b[24..]) == 1
}

/// 1 for the ASCII hex digits, 0 for every other byte.
const HEX_DIGIT: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = (i as u8).is_ascii_hexdigit() as u8;
        i += 1;
    }
    t
};

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_numbers_are_masked_in_any_spelling() {
        for card in [
            "4111111111111111",
            "4111-1111-1111-1111",
            "5500 0000 0000 0004",
            "378282246310005",
        ] {
            let s = format!("card {card} declined");
            assert_eq!(mask_card_numbers(&s), "card [REDACTED] declined", "{card}");
        }
    }

    #[test]
    fn only_the_uuid_shape_is_exempt() {
        assert!(is_uuid(b"01936500-7515-7080-a94b-72a03a38986c"));
        assert!(is_uuid(b"01936500-7515-7080-A94B-72A03A38986C"));
        for not in [
            &b"01936500-7515-7080-a94b-72a03a38986"[..], // 35 bytes
            b"01936500-7515-7080-a94b-72a03a38986c0",
            b"019365007-515-7080-a94b-72a03a38986c", // a dash moved
            b"01936500-7515-7080-a94b-72a03a3898-c", // a fifth dash
            b"01936500-7515-7080-a94g-72a03a38986c", // not hex
            b"4111 1111 1111 1111 4111 1111 1111 11", // a card number, 36 bytes
        ] {
            assert!(!is_uuid(not), "{}", String::from_utf8_lossy(not));
        }
    }

    #[test]
    fn other_numbers_are_left_alone() {
        for s in [
            "order 1234567890123 shipped", // 13 digits, fails Luhn
            "trace 4bf92f3577b34da6a3ce929d0e0e4736",
            "ts 1700000000000",
            "id abc4111111111111111",
            "short 4111",
            // A request id whose digits across the dashes pass for a card number.
            "01936500-7515-7080-a94b-72a03a38986c",
        ] {
            assert_eq!(mask_card_numbers(s), s);
        }
    }

    #[test]
    fn keys() {
        let r = Redactor::new(["Session-Id"]);
        for k in [
            "password",
            "db.password",
            "Authorization",
            "set-cookie",
            "refresh_token",
            "API_KEY",
            "session_id",
        ] {
            assert!(r.is_secret_key(k), "{k}");
        }
        for k in ["user_id", "route", "http.route", "request_id"] {
            assert!(!r.is_secret_key(k), "{k}");
        }
    }

    /// The per-thread cache answers as the rule does, whatever is evicted, for each redactor
    /// apart, and for keys that share their first and last bytes.
    #[test]
    fn remembered_answers_are_the_rule_s_answers() {
        let plain = Redactor::default();
        let strict = Redactor::new(["route"]);
        // Many more keys than slots, asked twice each, mixing secret and plain ones that share
        // their ends (`a.password.z` / `a.passport.z`): every answer must be the uncached one.
        let keys: Vec<String> = (0..3 * SEEN_SLOTS)
            .flat_map(|i| {
                [
                    format!("k{i}.password.z"),
                    format!("k{i}.passport.z"),
                    format!("http.{i}.route"),
                ]
            })
            .collect();
        for round in 0..2 {
            for k in &keys {
                for r in [&plain, &strict] {
                    assert_eq!(
                        r.is_secret_key(k),
                        r.is_secret_key_uncached(k),
                        "{k}, round {round}"
                    );
                }
            }
        }
        // A key too long to keep is still answered.
        let long = format!("{}password", "x".repeat(MAX_SEEN_KEY_LEN));
        assert!(plain.is_secret_key(&long) && plain.is_secret_key(&long));
        // The same key, two redactors, two answers, both remembered.
        for _ in 0..3 {
            assert!(!plain.is_secret_key("http.route"));
            assert!(strict.is_secret_key("http.route"));
        }
    }
}
