//! WebSocket connections through a real client (tokio-tungstenite) over loopback.

use std::time::Duration;

use axum::Router;
use axum::response::Response;
use axum::routing::get;
use futures_util::{SinkExt as _, StreamExt as _};
use glimpse_telemetry::otel::Key;
use glimpse_telemetry_axum::ws::{Message, WebSocket, WebSocketUpgrade};
use tokio_tungstenite::tungstenite::Message as ClientMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::common::*;

async fn echo(mut socket: WebSocket) {
    while let Some(Ok(msg)) = socket.recv().await {
        match msg {
            Message::Text(t) => {
                tracing::info!(len = t.len(), "ws text");
                if socket.send(Message::Text(t)).await.is_err() {
                    break;
                }
            }
            Message::Binary(b) => {
                if socket.send(Message::Binary(b)).await.is_err() {
                    break;
                }
            }
            Message::Ping(_) | Message::Pong(_) | Message::Close(_) => {}
        }
    }
}

fn app() -> Router {
    Router::new()
        .route(
            "/ws",
            get(|ws: WebSocketUpgrade| async move {
                glimpse_telemetry_axum::set_user_id("ws-user");
                ws.on_upgrade(echo)
            }),
        )
        .route(
            "/ws-panic",
            get(|ws: WebSocketUpgrade| async move {
                ws.on_upgrade(|mut socket: WebSocket| async move {
                    let _ = socket.recv().await;
                    panic!("ws handler panicked");
                })
            }),
        )
        .route(
            "/ws-ping",
            get(|ws: WebSocketUpgrade| async move {
                ws.ping_interval(Some(Duration::from_millis(50)))
                    .on_upgrade(echo)
            }),
        )
        .route(
            "/ws-quiet",
            get(|ws: WebSocketUpgrade| async move { ws.ping_interval(None).on_upgrade(echo) }),
        )
        .route(
            "/ws-fails",
            get(|ws: WebSocketUpgrade| async move {
                ws.on_upgrade(|mut socket: WebSocket| async move {
                    let _ = socket.recv().await;
                    tracing::error!("the connection could not go on");
                })
            }),
        )
        .route(
            "/ws-hangup",
            get(|ws: WebSocketUpgrade| async move { ws.on_upgrade(|_socket| async {}) }),
        )
        .layer(glimpse_telemetry_axum::TelemetryLayer::new())
}

async fn connect(
    addr: std::net::SocketAddr,
    path: &str,
) -> (
    tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    axum::http::Response<Option<Vec<u8>>>,
) {
    let mut req = format!("ws://{addr}{path}").into_client_request().unwrap();
    req.headers_mut()
        .insert("traceparent", traceparent().parse().unwrap());
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio_tungstenite::client_async(req, stream).await.unwrap()
}

fn active(route: &str) -> f64 {
    metric(
        "websocket_server_active_connections",
        &[("http_route", route)],
    )
    .unwrap_or(0.0)
}

/// Messages, sizes, close codes, duration and the connection span (in the upgrade's trace), and
/// log lines of the connection carrying the upgrade's `requestId`, `userId` and `traceId`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_connections_are_measured_traced_and_logged() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let t = init(Options::default());
    let addr = serve(app()).await;

    let (mut ws, upgrade) = connect(addr, "/ws").await;
    assert_eq!(upgrade.status(), 101);
    let rid = upgrade.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let tp = upgrade.headers()["traceparent"]
        .to_str()
        .unwrap()
        .to_owned();
    let upgrade_span = tp.split('-').nth(2).unwrap().to_owned();
    assert!(tp.contains(TRACE_ID));
    assert!(eventually(Duration::from_secs(5), || active("/ws") == 1.0).await);

    ws.send(ClientMessage::text("hello")).await.unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        ClientMessage::text("hello")
    );
    ws.send(ClientMessage::binary(vec![1u8, 2, 3]))
        .await
        .unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        ClientMessage::binary(vec![1u8, 2, 3])
    );
    ws.close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "bye".into(),
    }))
    .await
    .unwrap();
    while ws.next().await.is_some() {}

    assert!(eventually(Duration::from_secs(5), || active("/ws") == 0.0).await);
    let count = |direction: &str, kind: &str| {
        metric(
            "websocket_server_messages_total",
            &[
                ("http_route", "/ws"),
                ("direction", direction),
                ("message_type", kind),
            ],
        )
    };
    assert_eq!(count("received", "text"), Some(1.0));
    assert_eq!(count("received", "binary"), Some(1.0));
    assert_eq!(count("received", "close"), Some(1.0));
    assert_eq!(count("sent", "text"), Some(1.0));
    assert_eq!(count("sent", "binary"), Some(1.0));
    assert_eq!(
        metric(
            "websocket_server_message_size_bytes_sum",
            &[("http_route", "/ws"), ("direction", "received")]
        ),
        Some(8.0)
    );
    assert_eq!(
        metric(
            "websocket_server_closes_total",
            &[("http_route", "/ws"), ("websocket_close_code", "1000")]
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(
            "websocket_server_connection_duration_seconds_count",
            &[("http_route", "/ws")]
        ),
        Some(1.0)
    );

    let line = t.wait_for_line(Duration::from_secs(5), |l| l["message"] == "ws text");
    assert_eq!(line["requestId"], rid.as_str());
    assert_eq!(line["userId"], "ws-user");
    assert_eq!(line["traceId"], TRACE_ID);
    let closed = t.wait_for_line(Duration::from_secs(5), |l| {
        l["message"] == "websocket closed"
    });
    assert_eq!(closed["requestId"], rid.as_str());
    assert_eq!(closed["close_code"], "1000");
    assert_eq!(closed["messages_received"], 3);
    assert_eq!(closed["messages_sent"], 2);
    assert_eq!(closed["http_route"], "/ws");
    // The upgrade itself is one access line (101).
    assert_eq!(t.access_line(&rid)["http_status"], 101);

    let span = t.wait_for_span(Duration::from_secs(5), |s| s.name == "WS /ws");
    assert_eq!(span.span_context.trace_id().to_string(), TRACE_ID);
    assert_eq!(span.parent_span_id.to_string(), upgrade_span);
    let close_code = span
        .attributes
        .iter()
        .find(|kv| kv.key == Key::from_static_str("websocket.close_code"))
        .map(|kv| kv.value.as_str().into_owned());
    assert_eq!(close_code.as_deref(), Some("1000"));
}

/// Under head sampling at ratio 0 ("keep errors and slow"), a connection that logs an ERROR
/// keeps its trace, the upgrade request's server span included (one decision when the
/// connection closes); a fine connection lasting longer than the slow threshold (1 s) does
/// not: connections are kept for their errors, not their length.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_connections_keep_their_errors_not_their_length() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let Some(otlp) = glimpse_test_support::OtlpReceiver::start() else {
        return;
    };
    let _t = init(Options {
        otlp_traces_url: Some(otlp.http_traces_url()),
        sampler: Some("parentbased_traceidratio"),
        sampler_arg: Some("0"),
        ..Options::default()
    });
    let addr = serve(app()).await;
    let open = |path: &'static str| async move {
        let req = format!("ws://{addr}{path}").into_client_request().unwrap();
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (ws, upgrade) = tokio_tungstenite::client_async(req, stream).await.unwrap();
        let tp = upgrade.headers()["traceparent"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(tp.ends_with("-00"), "head sampling said no: {tp}");
        (ws, tp.split('-').nth(1).unwrap().to_owned())
    };

    let (mut fine, fine_trace) = open("/ws").await;
    fine.send(ClientMessage::text("hello")).await.unwrap();
    assert!(fine.next().await.is_some());
    tokio::time::sleep(Duration::from_millis(1200)).await;
    fine.close(None).await.unwrap();
    while fine.next().await.is_some() {}

    let (mut failing, failing_trace) = open("/ws-fails").await;
    failing.send(ClientMessage::text("boom")).await.unwrap();
    while failing.next().await.is_some() {}

    let spans = otlp.wait_until(Duration::from_secs(15), |s| {
        s.iter().filter(|s| s.trace_id == failing_trace).count() >= 2
    });
    let of = |trace: &str| {
        spans
            .iter()
            .filter(|s| s.trace_id == trace)
            .collect::<Vec<_>>()
    };
    let failing_spans = of(&failing_trace);
    let upgrade = failing_spans
        .iter()
        .find(|s| s.name == "GET /ws-fails")
        .unwrap_or_else(|| panic!("the upgrade's server span: {failing_spans:?}"));
    let connection = failing_spans
        .iter()
        .find(|s| s.name == "WS /ws-fails")
        .unwrap_or_else(|| panic!("the connection's span: {failing_spans:?}"));
    assert_eq!(connection.parent_span_id.as_ref(), Some(&upgrade.span_id));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        of(&fine_trace).is_empty() && otlp.spans().iter().all(|s| s.trace_id != fine_trace),
        "the fine connection was exported: {:?}",
        of(&fine_trace)
    );
}

/// The active-connections gauge returns to zero when the client vanishes without a close frame,
/// when the server's handler returns without closing, and when it panics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_connections_return_to_zero_on_drops_and_panics() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let _t = init(Options::default());
    let addr = serve(app()).await;

    // Client vanishes.
    let (mut ws, _) = connect(addr, "/ws").await;
    ws.send(ClientMessage::text("hi")).await.unwrap();
    let _ = ws.next().await;
    assert_eq!(active("/ws"), 1.0);
    drop(ws);
    assert!(
        eventually(Duration::from_secs(5), || active("/ws") == 0.0).await,
        "{}",
        active("/ws")
    );
    assert_eq!(
        metric(
            "websocket_server_closes_total",
            &[("http_route", "/ws"), ("websocket_close_code", "none")]
        ),
        Some(1.0)
    );

    // Handler panics.
    let (mut ws, _) = connect(addr, "/ws-panic").await;
    assert!(eventually(Duration::from_secs(5), || active("/ws-panic") == 1.0).await);
    ws.send(ClientMessage::text("boom")).await.unwrap();
    assert!(
        eventually(Duration::from_secs(5), || active("/ws-panic") == 0.0).await,
        "{}",
        active("/ws-panic")
    );

    // Handler returns at once.
    let (mut ws, _) = connect(addr, "/ws-hangup").await;
    while ws.next().await.is_some_and(|m| m.is_ok()) {}
    assert!(eventually(Duration::from_secs(5), || active("/ws-hangup") == 0.0).await);
    assert_eq!(
        metric(
            "websocket_server_connection_duration_seconds_count",
            &[("http_route", "/ws-hangup")]
        ),
        Some(1.0)
    );
    // Still serving HTTP.
    assert_eq!(fetch(addr, "/ws", &[]).await.status, 400);
}

#[allow(dead_code)]
fn _response_type(_: Response) {}

fn pings(route: &str) -> f64 {
    metric(
        "websocket_server_ping_duration_seconds_count",
        &[("http_route", route)],
    )
    .unwrap_or(0.0)
}

/// The server pings on its interval, the client's automatic pongs come back, and each round
/// trip lands in the histogram; with pings off, none is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_measure_the_round_trip_and_can_be_turned_off() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let _t = init(Options::default());
    let addr = serve(app()).await;
    let before = pings("/ws-ping");
    let (mut ws, _) = connect(addr, "/ws-ping").await;
    // Reading answers the pings (tungstenite queues the pong and flushes it on the next read).
    let mut seen = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while seen < 3 && tokio::time::Instant::now() < deadline {
        if let Ok(Some(Ok(ClientMessage::Ping(payload)))) =
            tokio::time::timeout(Duration::from_millis(500), ws.next()).await
        {
            assert_eq!(payload.len(), 8, "the ping carries its sequence number");
            seen += 1;
        }
    }
    assert_eq!(seen, 3, "three pings in 150 ms or so");
    // The last pong goes out with this read's flush; the echo proves the server read past it.
    ws.send(ClientMessage::text("after")).await.unwrap();
    loop {
        match ws.next().await.unwrap().unwrap() {
            ClientMessage::Text(t) => {
                assert_eq!(t.as_str(), "after");
                break;
            }
            ClientMessage::Ping(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        eventually(Duration::from_secs(5), || pings("/ws-ping") >= before + 2.0).await,
        "round trips recorded: {}",
        pings("/ws-ping") - before
    );
    let rtt_sum = metric(
        "websocket_server_ping_duration_seconds_sum",
        &[("http_route", "/ws-ping")],
    )
    .unwrap_or(0.0);
    assert!(rtt_sum > 0.0 && rtt_sum < 5.0, "{rtt_sum}");
    ws.close(None).await.unwrap();

    let (mut quiet, _) = connect(addr, "/ws-quiet").await;
    let got = tokio::time::timeout(Duration::from_millis(300), quiet.next()).await;
    assert!(got.is_err(), "no ping without an interval: {got:?}");
    assert_eq!(pings("/ws-quiet"), 0.0);
    quiet.close(None).await.unwrap();
}
