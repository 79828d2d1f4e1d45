//! The dashboards, one file each, and the rows that more than one of them shows (data, product,
//! runtime, user experience, WebSocket).

pub(crate) mod application_overview;
pub(crate) mod business;
pub(crate) mod data;
pub(crate) mod infrastructure;
pub(crate) mod logs_analysis;
pub(crate) mod product;
pub(crate) mod runtime;
pub(crate) mod security;
pub(crate) mod slo;
pub(crate) mod user_experience;
pub(crate) mod ws;
