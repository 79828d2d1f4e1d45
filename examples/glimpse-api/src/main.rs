//! `glimpse-api`: a small Glimpse backend (users, matches, a WebSocket chat, payments) that uses
//! glimpse-telemetry exactly as a service would: one `init!()`, `instrument(app)`, the instrumented
//! pool, the business metrics. Run it with `cargo run -p glimpse-api`; see docs/quickstart.md.

use glimpse_telemetry::tracing;
mod active;
mod auth;
mod cache;
mod config;
mod db;
mod error;
mod routes;
mod state;

use std::sync::Arc;
use std::time::Duration;

use glimpse_telemetry_axum::ops::Ops;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let telemetry = glimpse_telemetry::init!()?;
    let settings = config::Settings::from_env()?;

    let db = db::Db::connect(&settings.database_url).await?;
    let state = state::AppState {
        db: db.clone(),
        chat: tokio::sync::broadcast::channel(256).0,
        active: Arc::new(active::ActiveUsers::new()),
        api_keys: Arc::new(settings.api_keys.clone()),
        users: Arc::new(cache::UserCache::new()),
        ws_ping_interval: settings.ws_ping_interval,
    };
    let active = state.active.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            active.refresh();
        }
    });

    let ops = Ops::new().check("database", move || {
        let db = db.clone();
        async move { db.ping().await }
    });
    let mut app = routes::router(state);
    let _ops_server = match settings.ops_addr {
        Some(addr) => {
            let server = ops.serve(addr).await?;
            tracing::info!(addr = %server.local_addr(), "ops endpoints (/metrics, /healthz, /readyz) listening");
            Some(server)
        }
        None => {
            app = app.merge(ops.router());
            None
        }
    };

    // Last, around the finished app: every request is seen, the 404s of unknown paths too.
    let app = glimpse_telemetry_axum::instrument(app);

    let listener = tokio::net::TcpListener::bind(settings.addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "glimpse-api listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!("glimpse-api stopped");
    // A collector that does not answer in time is not a failed stop: the SDK has logged what it
    // dropped, and the service did stop cleanly.
    let _ = telemetry.shutdown();
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
