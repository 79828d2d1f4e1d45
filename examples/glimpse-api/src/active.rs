//! Who was active recently: the distinct users seen in a window, reported as a gauge. The auth
//! middleware feeds it; `main` refreshes the gauge.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use glimpse_telemetry::business;

/// Distinct users seen in the last five minutes, reported as `glimpse_active_users`.
pub struct ActiveUsers {
    seen: Mutex<HashMap<String, Instant>>,
}

const WINDOW: Duration = Duration::from_secs(300);
/// Enough for a demo; a real service would use a sketch (HyperLogLog) or its session store.
const MAX_TRACKED: usize = 100_000;

impl ActiveUsers {
    /// An empty tracker.
    pub fn new() -> Self {
        ActiveUsers {
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Notes that `id` made a request now.
    pub fn seen(&self, id: &str) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() < MAX_TRACKED || seen.contains_key(id) {
            seen.insert(id.to_owned(), Instant::now());
        }
    }

    /// Forgets users not seen within the window and updates the gauge.
    pub fn refresh(&self) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.retain(|_, at| at.elapsed() < WINDOW);
        business::set_active_users(seen.len() as i64);
    }
}
