//! The routes one layer has seen, each with its label, options and metric handles: found on
//! every request without a lock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use super::config::Config;
use super::metrics::{RouteMetrics, UNMATCHED_ROUTE};
use super::span_name::Names;

/// At most this many distinct route templates get a cached state per layer; a router has far
/// fewer, so this only bounds memory if something feeds the layer unbounded `MatchedPath`s.
const MAX_CACHED_ROUTES: usize = 4096;

/// The route states of one layer, shared by all the services it makes.
pub(crate) struct RouteTable {
    pub(crate) config: Arc<Config>,
    /// Route states by route template: an open-addressing table of write-once slots, so the
    /// lookup on every request takes no lock (a hash of the template and a string comparison).
    table: Box<[OnceLock<Arc<RouteState>>]>,
    /// Routes that found no free slot within [`PROBES`] (only with hundreds of routes).
    spill: RwLock<HashMap<Box<str>, Arc<RouteState>>>,
    unmatched: Arc<RouteState>,
}

const TABLE_SLOTS: usize = 512;
const PROBES: usize = 8;

/// FxHash-style, over 8-byte words: a route template is a few dozen bytes.
#[inline]
fn hash(s: &str) -> usize {
    let mut h: u64 = s.len() as u64;
    for chunk in s.as_bytes().chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    (h >> 32) as usize
}

impl RouteTable {
    /// An empty table for a layer with these options.
    pub(crate) fn new(config: Config) -> RouteTable {
        let config = Arc::new(config);
        RouteTable {
            unmatched: Arc::new(RouteState::new(&config, UNMATCHED_ROUTE, false)),
            table: (0..TABLE_SLOTS).map(|_| OnceLock::new()).collect(),
            spill: RwLock::new(HashMap::new()),
            config,
        }
    }

    /// The state of the route `matched` (the `MatchedPath`), or of unmatched requests.
    #[inline]
    pub(crate) fn route(&self, matched: Option<&str>) -> Arc<RouteState> {
        let Some(path) = matched else {
            return self.unmatched.clone();
        };
        let start = hash(path);
        for i in 0..PROBES {
            match self.table[(start + i) % TABLE_SLOTS].get() {
                Some(s) if *s.route == *path => return s.clone(),
                Some(_) => {}
                None => break,
            }
        }
        self.insert(path, start)
    }

    #[cold]
    fn insert(&self, path: &str, start: usize) -> Arc<RouteState> {
        if let Some(s) = self
            .spill
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(path)
        {
            return s.clone();
        }
        let state = Arc::new(RouteState::new(&self.config, path, true));
        for i in 0..PROBES {
            let slot = &self.table[(start + i) % TABLE_SLOTS];
            let _ = slot.set(state.clone());
            match slot.get() {
                // Ours, or another thread's for the same route (keep one state per route).
                Some(s) if *s.route == *path => return s.clone(),
                _ => {}
            }
        }
        let mut spill = self.spill.write().unwrap_or_else(|e| e.into_inner());
        if spill.len() < MAX_CACHED_ROUTES {
            return spill.entry(path.into()).or_insert(state).clone();
        }
        state
    }
}

/// One route as this layer sees it: its label, options and metric handles.
pub(crate) struct RouteState {
    pub(crate) config: Arc<Config>,
    /// The `http_route` label (`unmatched` for requests no route matched).
    pub(crate) route: Arc<str>,
    /// Whether a route matched (the span then has `http.route`).
    pub(crate) matched: bool,
    pub(crate) excluded: bool,
    pub(crate) metrics: RouteMetrics,
    /// The server span's names, per method (matched routes only).
    pub(crate) span_names: Names,
    /// Log one successful request in this many (0: none).
    sample_every: u32,
    seen: AtomicU32,
}

impl RouteState {
    fn new(config: &Arc<Config>, route: &str, matched: bool) -> RouteState {
        let ratio = config
            .sampling
            .iter()
            .find(|(r, _)| **r == *route)
            .map_or(1.0, |(_, ratio)| *ratio);
        let sample_every = if ratio.is_nan() || ratio <= 0.0 {
            0
        } else if ratio >= 1.0 {
            1
        } else {
            (1.0 / ratio).round().clamp(1.0, f64::from(u32::MAX)) as u32
        };
        RouteState {
            config: config.clone(),
            route: route.into(),
            matched,
            excluded: matched && config.excluded.iter().any(|r| **r == *route),
            metrics: RouteMetrics::new(route),
            span_names: Names::default(),
            sample_every,
            seen: AtomicU32::new(0),
        }
    }

    /// Whether this successful request's line is written (per-route sampling).
    #[inline]
    pub(crate) fn log_success(&self) -> bool {
        match self.sample_every {
            0 => false,
            1 => true,
            n => self.seen.fetch_add(1, Ordering::Relaxed) % n == 0,
        }
    }
}
