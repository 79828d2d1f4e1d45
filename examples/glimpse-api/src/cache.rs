//! An in-memory cache of user lookups, reported as `glimpse_cache_lookups_total{cache_name="users"}`.
//! Users never change after registration here, so entries never go stale; the cache starts
//! over when full.

use std::collections::HashMap;
use std::sync::Mutex;

use glimpse_telemetry::metrics::cache::CacheMetrics;

use crate::db::{Db, User};

/// The most users kept.
const MAX_ENTRIES: usize = 10_000;

/// Users by id, in front of the database.
pub struct UserCache {
    entries: Mutex<HashMap<String, User>>,
    metrics: CacheMetrics,
}

impl UserCache {
    /// An empty cache.
    pub fn new() -> Self {
        UserCache {
            entries: Mutex::new(HashMap::new()),
            metrics: CacheMetrics::new("users"),
        }
    }

    /// The user `id`: from the cache (a hit), or from the database (a miss; found users are
    /// kept, unknown ids are not, so a typo cannot fill the cache).
    pub async fn get(&self, db: &Db, id: &str) -> Result<Option<User>, sqlx::Error> {
        let cached = self.lock().get(id).cloned();
        self.metrics.record(cached.is_some());
        if cached.is_some() {
            return Ok(cached);
        }
        let user = db.get_user(id).await?;
        if let Some(u) = &user {
            let mut entries = self.lock();
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(id.to_owned(), u.clone());
        }
        Ok(user)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, User>> {
        // Every update is one insert or clear: a poisoned map is still consistent.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}
