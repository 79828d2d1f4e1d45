//! The alerts (and the recording rules only they use), one file a concern: the guide's
//! availability, HTTP, database, business and infrastructure alerts, and the data, security,
//! SLO, user-experience and WebSocket rules.

pub(crate) mod availability;
pub(crate) mod business;
pub(crate) mod data;
pub(crate) mod database;
pub(crate) mod http;
pub(crate) mod infrastructure;
pub(crate) mod security;
pub(crate) mod slo;
pub(crate) mod user_experience;
pub(crate) mod ws;
