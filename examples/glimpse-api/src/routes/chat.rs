//! The chat: a WebSocket where every text message is stored and sent to everyone connected.

use glimpse_telemetry::tracing;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use glimpse_telemetry::business;
use glimpse_telemetry_axum::ws::{Message, WebSocket, WebSocketUpgrade};

use crate::auth::Caller;
use crate::db::new_id;
use crate::state::AppState;

/// Longest message accepted, in bytes.
const MAX_MESSAGE: usize = 4096;

/// Upgrades to the chat.
pub async fn connect(
    State(state): State<AppState>,
    caller: Caller,
    ws: WebSocketUpgrade,
) -> Response {
    let author = caller.0.unwrap_or_else(|| "anonymous".to_owned());
    ws.ping_interval(state.ws_ping_interval)
        .on_upgrade(move |socket| session(socket, state, author))
}

async fn session(mut socket: WebSocket, state: AppState, author: String) {
    let mut room = state.chat.subscribe();
    tracing::info!("joined the chat");
    loop {
        tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) if text.len() <= MAX_MESSAGE => {
                    if let Err(e) = state.db.insert_message(&new_id("msg"), &author, text.as_str()).await {
                        tracing::warn!(error = %e, "message not stored");
                    }
                    business::message_sent();
                    let _ = state.chat.send(Arc::from(format!("{author}: {}", text.as_str())));
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
            outgoing = room.recv() => match outgoing {
                Ok(line) => {
                    if socket.send(Message::Text(line.as_ref().into())).await.is_err() {
                        break;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => tracing::warn!(skipped = n, "slow chat client"),
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            },
        }
    }
}
