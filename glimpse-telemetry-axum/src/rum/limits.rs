//! What keeps a hostile or buggy page from costing the service: a token bucket over all beacons,
//! and a bounded memory of recent report ids so a page resending a report counts it once.

use std::collections::HashSet;
use std::time::Instant;

use super::beacon::Measure;

/// A token bucket: `burst` tokens, refilled at `per_second`.
#[derive(Debug)]
pub(super) struct TokenBucket {
    tokens: f64,
    burst: f64,
    per_second: f64,
    last: Instant,
}

impl TokenBucket {
    pub(super) fn new(per_second: u32, burst: u32) -> Self {
        TokenBucket {
            tokens: f64::from(burst),
            burst: f64::from(burst),
            per_second: f64::from(per_second),
            last: Instant::now(),
        }
    }

    pub(super) fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last);
        self.last = now;
        self.tokens = (self.tokens + elapsed.as_secs_f64() * self.per_second).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The recently seen `(measure, id)`s, in two generations: when the current one is full, it
/// becomes the old one and the oldest is forgotten. At most `2 * capacity` ids.
#[derive(Debug)]
pub(super) struct Seen {
    current: HashSet<(Measure, Box<str>)>,
    old: HashSet<(Measure, Box<str>)>,
    capacity: usize,
}

impl Seen {
    pub(super) fn new(capacity: usize) -> Self {
        Seen {
            current: HashSet::new(),
            old: HashSet::new(),
            capacity,
        }
    }

    /// True when the id was not seen (and remembers it).
    pub(super) fn insert(&mut self, measure: Measure, id: &str) -> bool {
        let key = (measure, Box::<str>::from(id));
        if self.old.contains(&key) || self.current.contains(&key) {
            return false;
        }
        if self.current.len() >= self.capacity {
            self.old = std::mem::take(&mut self.current);
        }
        self.current.insert(key);
        true
    }
}
