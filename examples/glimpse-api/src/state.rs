//! What handlers and middleware share: the state every request sees. Its own module so the
//! routes and the auth middleware both use it without importing each other.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::broadcast;

use crate::active::ActiveUsers;
use crate::cache::UserCache;
use crate::db::Db;

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// The chat room: every message sent, to every connected client.
    pub chat: broadcast::Sender<Arc<str>>,
    /// Who was active recently.
    pub active: Arc<ActiveUsers>,
    /// The API keys: id → secret.
    pub api_keys: Arc<HashMap<String, String>>,
    /// User lookups, cached.
    pub users: Arc<UserCache>,
    /// How often the chat pings its clients (`None`: never).
    pub ws_ping_interval: Option<std::time::Duration>,
}
