//! Cache hits and misses, `glimpse_cache_lookups_total{cache_name, result}`, for any cache a
//! service keeps (in memory, Redis, an HTTP cache): the Infrastructure dashboard's cache hit
//! ratio and the `glimpse:cache_hit_ratio:rate5m` recording rule read it.
//!
//! Name caches with a fixed word per cache (`users`, `sessions`), never with a key: the family
//! keeps at most [`CACHE_MAX_SERIES`](super::catalogue::CACHE_MAX_SERIES) series.
//!
//! ```
//! use glimpse_telemetry::metrics::cache::CacheMetrics;
//! use glimpse_telemetry::metrics::{self, Format};
//!
//! let users = CacheMetrics::new("doc_users");
//! users.miss();
//! users.hit();
//! users.record(true);
//! let text = metrics::encode(Format::Text);
//! assert!(text.contains(r#"glimpse_cache_lookups_total{cache_name="doc_users",result="hit"} 2"#));
//! assert!(text.contains(r#"glimpse_cache_lookups_total{cache_name="doc_users",result="miss"} 1"#));
//! ```

use super::Counter;
use super::catalogue::GLIMPSE_CACHE_LOOKUPS;

/// The hit and miss counters of one cache. Create it once per cache and keep it: recording is
/// one atomic add, no lookup.
#[derive(Clone, Debug)]
pub struct CacheMetrics {
    hit: Counter,
    miss: Counter,
}

impl CacheMetrics {
    /// The counters of the cache `name`, both at 0 from now on (so the hit ratio is defined
    /// from the first lookup).
    ///
    /// ```
    /// let sessions = glimpse_telemetry::metrics::cache::CacheMetrics::new("doc_sessions");
    /// sessions.hit();
    /// ```
    pub fn new(name: &str) -> CacheMetrics {
        CacheMetrics {
            hit: GLIMPSE_CACHE_LOOKUPS.series(&[name, "hit"]),
            miss: GLIMPSE_CACHE_LOOKUPS.series(&[name, "miss"]),
        }
    }

    /// A lookup found its value.
    ///
    /// ```
    /// glimpse_telemetry::metrics::cache::CacheMetrics::new("doc_hit").hit();
    /// ```
    pub fn hit(&self) {
        self.hit.inc();
    }

    /// A lookup did not find its value (the caller goes to the source).
    ///
    /// ```
    /// glimpse_telemetry::metrics::cache::CacheMetrics::new("doc_miss").miss();
    /// ```
    pub fn miss(&self) {
        self.miss.inc();
    }

    /// A lookup: a hit when `hit`, else a miss.
    ///
    /// ```
    /// let cache = glimpse_telemetry::metrics::cache::CacheMetrics::new("doc_record");
    /// let found: Option<&str> = None;
    /// cache.record(found.is_some());
    /// ```
    pub fn record(&self, hit: bool) {
        if hit { self.hit() } else { self.miss() }
    }
}
