//! The service's own settings, from the environment; telemetry reads its own variables.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

/// Where the service listens and what it talks to.
pub struct Settings {
    /// `GLIMPSE_API_ADDR`, default `127.0.0.1:8080`.
    pub addr: SocketAddr,
    /// `GLIMPSE_OPS_ADDR`: serve `/metrics` and the health checks there instead of on `addr`.
    pub ops_addr: Option<SocketAddr>,
    /// `DATABASE_URL`, default an embedded SQLite file `glimpse-api.db`.
    pub database_url: String,
    /// `GLIMPSE_API_KEYS`: `id:secret` pairs separated by commas; a client sends
    /// `x-api-key: <id>.<secret>`. Default none.
    pub api_keys: HashMap<String, String>,
    /// `GLIMPSE_WS_PING_INTERVAL_MS`: how often the chat pings its clients to measure the
    /// round trip; `0` turns pings off. Default the SDK's (20 s).
    pub ws_ping_interval: Option<Duration>,
}

impl Settings {
    /// Reads the variables; a bad value is an error naming it.
    pub fn from_env() -> Result<Settings, String> {
        let addr = parse_addr("GLIMPSE_API_ADDR")?
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
        let ops_addr = parse_addr("GLIMPSE_OPS_ADDR")?;
        let database_url = std::env::var("DATABASE_URL")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| "sqlite://glimpse-api.db?mode=rwc".to_owned());
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres:")
            || database_url.starts_with("postgresql:"))
        {
            return Err(format!(
                "invalid value {database_url:?} for DATABASE_URL: expected a sqlite: or postgres:// URL"
            ));
        }
        let mut api_keys = HashMap::new();
        for pair in std::env::var("GLIMPSE_API_KEYS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            match pair.split_once(':') {
                Some((id, secret)) if !id.is_empty() && !secret.is_empty() => {
                    api_keys.insert(id.to_owned(), secret.to_owned());
                }
                _ => {
                    return Err(
                        "invalid value for GLIMPSE_API_KEYS: expected id:secret pairs separated by commas"
                            .to_owned(),
                    );
                }
            }
        }
        let ws_ping_interval = match std::env::var("GLIMPSE_WS_PING_INTERVAL_MS") {
            Ok(v) if !v.trim().is_empty() => {
                let ms: u64 = v.trim().parse().map_err(|_| {
                    format!(
                        "invalid value {v:?} for GLIMPSE_WS_PING_INTERVAL_MS: expected milliseconds"
                    )
                })?;
                (ms > 0).then(|| Duration::from_millis(ms))
            }
            _ => Some(glimpse_telemetry_axum::ws::DEFAULT_PING_INTERVAL),
        };
        Ok(Settings {
            addr,
            ops_addr,
            database_url,
            api_keys,
            ws_ping_interval,
        })
    }
}

fn parse_addr(var: &str) -> Result<Option<SocketAddr>, String> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => v.trim().parse().map(Some).map_err(|_| {
            format!("invalid value {v:?} for {var}: expected an address such as 127.0.0.1:8080")
        }),
        _ => Ok(None),
    }
}
