//! Instrumented WebSockets: use [`WebSocketUpgrade`] instead of axum's, and every connection
//! gets, by route:
//! - `websocket_server_active_connections` (back to its value when the connection ends, however
//!   it ends: close, error, drop, panic — a drop guard sees to it);
//! - `websocket_server_messages_total{direction,message_type}` and
//!   `websocket_server_message_size_bytes{direction}` (text and binary payloads);
//! - `websocket_server_connection_duration_seconds` and
//!   `websocket_server_closes_total{websocket_close_code}` (`none` when the connection ended
//!   without a close frame);
//! - a span `WS {route}` in the upgrade request's trace (a child of its server span), entered
//!   whenever the connection's task runs, with the upgrade's `request_id` and `user_id`: log lines
//!   of the connection carry the same `requestId`, `userId` and `traceId` as the upgrade request.
//!   Under head sampling with "keep errors and slow" (`glimpse_telemetry::traces::KeepTraces`),
//!   the connection and its upgrade request are decided together when the connection closes:
//!   kept when the connection failed or logged an ERROR, not for lasting long;
//! - one log line when it closes (`websocket closed`, with the close code, the duration and the
//!   message counts);
//! - a ping every [`DEFAULT_PING_INTERVAL`] (see [`WebSocketUpgrade::ping_interval`]), sent
//!   while the handler waits for messages, and its round trip, from sending the ping to
//!   receiving the pong, in `websocket_server_ping_duration_seconds` (the pongs still reach the
//!   handler).
//!
//! ```no_run
//! use axum::{Router, routing::get, response::Response};
//! use glimpse_telemetry_axum::ws::{Message, WebSocket, WebSocketUpgrade};
//!
//! async fn chat(ws: WebSocketUpgrade) -> Response {
//!     ws.on_upgrade(|mut socket: WebSocket| async move {
//!         while let Some(Ok(msg)) = socket.recv().await {
//!             if let Message::Text(text) = msg {
//!                 tracing::info!(len = text.len(), "message"); // with requestId, userId, traceId
//!                 if socket.send(Message::Text(text)).await.is_err() {
//!                     break;
//!                 }
//!             }
//!         }
//!     })
//! }
//!
//! let app: Router = Router::new()
//!     .route("/ws", get(chat))
//!     .layer(glimpse_telemetry_axum::TelemetryLayer::new());
//! ```

use std::collections::HashMap;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::{Arc, LazyLock, OnceLock, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, MatchedPath};
use axum::response::Response;
use futures_core::Stream;
use futures_sink::Sink;
use glimpse_telemetry::metrics::catalogue::{
    WEBSOCKET_SERVER_ACTIVE_CONNECTIONS, WEBSOCKET_SERVER_CLOSES,
    WEBSOCKET_SERVER_CONNECTION_DURATION, WEBSOCKET_SERVER_MESSAGE_SIZE, WEBSOCKET_SERVER_MESSAGES,
    WEBSOCKET_SERVER_PING_DURATION,
};
use glimpse_telemetry::metrics::{Counter, Family, Gauge, Histogram};
use glimpse_telemetry::otel::semconv::attribute as attr;
use glimpse_telemetry::otel::tracing_opentelemetry::OpenTelemetrySpanExt as _;
use http::request::Parts;
use tracing::{Instrument as _, Span};

pub use axum::extract::ws::rejection::WebSocketUpgradeRejection;
pub use axum::extract::ws::{CloseFrame, Message, Utf8Bytes};

use crate::server::metrics::UNMATCHED_ROUTE;

/// The target of the connection spans and of the `websocket closed` log lines.
pub const WS_TARGET: &str = "glimpse_telemetry_axum::ws";

/// The `websocket_close_code` of connections that ended without a close frame.
pub const NO_CLOSE_CODE: &str = "none";

/// How often an instrumented WebSocket pings its peer to measure the round trip, unless
/// [`WebSocketUpgrade::ping_interval`] says otherwise.
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(20);

/// axum's `WebSocketUpgrade`, remembering the route, whose connections are instrumented.
///
/// Everything axum's offers is reachable through [`WebSocketUpgrade::map`].
pub struct WebSocketUpgrade {
    inner: axum::extract::ws::WebSocketUpgrade,
    route: Arc<str>,
    ping_interval: Option<Duration>,
}

impl std::fmt::Debug for WebSocketUpgrade {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketUpgrade")
            .field("route", &self.route)
            .finish_non_exhaustive()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for WebSocketUpgrade {
    type Rejection = WebSocketUpgradeRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let route: Arc<str> = parts
            .extensions
            .get::<MatchedPath>()
            .map_or(UNMATCHED_ROUTE, MatchedPath::as_str)
            .into();
        let inner = axum::extract::ws::WebSocketUpgrade::from_request_parts(parts, state).await?;
        Ok(WebSocketUpgrade {
            inner,
            route,
            ping_interval: Some(DEFAULT_PING_INTERVAL),
        })
    }
}

impl WebSocketUpgrade {
    /// Configures the underlying axum upgrade (protocols, message and frame size limits...).
    ///
    /// ```no_run
    /// # use glimpse_telemetry_axum::ws::WebSocketUpgrade;
    /// # async fn h(ws: WebSocketUpgrade) -> axum::response::Response {
    /// ws.map(|ws| ws.max_message_size(64 * 1024).protocols(["chat.v1"]))
    ///     .on_upgrade(|_socket| async {})
    /// # }
    /// ```
    pub fn map(
        mut self,
        f: impl FnOnce(axum::extract::ws::WebSocketUpgrade) -> axum::extract::ws::WebSocketUpgrade,
    ) -> Self {
        self.inner = f(self.inner);
        self
    }

    /// How often the connection pings its peer to measure the round trip
    /// (`websocket_server_ping_duration_seconds`); `None` sends no pings. Default
    /// [`DEFAULT_PING_INTERVAL`]. Pings go out while the handler waits in
    /// [`recv`](WebSocket::recv) (or polls the stream), which a handler of incoming messages does
    /// all the time; a send-only handler sends none. Browsers answer pings by themselves.
    /// The pings need the runtime's timers (`#[tokio::main]` and `enable_all()` have them);
    /// on a runtime built without `enable_time()`, pass `None`.
    ///
    /// ```no_run
    /// # use glimpse_telemetry_axum::ws::WebSocketUpgrade;
    /// # use std::time::Duration;
    /// # async fn h(ws: WebSocketUpgrade) -> axum::response::Response {
    /// ws.ping_interval(Some(Duration::from_secs(5)))
    ///     .on_upgrade(|_socket| async {})
    /// # }
    /// ```
    pub fn ping_interval(mut self, every: Option<Duration>) -> Self {
        self.ping_interval = every.filter(|d| !d.is_zero());
        self
    }

    /// The route template this upgrade came in on.
    pub fn route(&self) -> &str {
        &self.route
    }

    /// Finishes the upgrade and runs `callback` with the instrumented socket, in the connection's
    /// span. Call it from the handler (inside the upgrade request's span, after
    /// [`set_user_id`](crate::set_user_id) if the handler authenticates) so the connection
    /// inherits the request's ids and trace.
    pub fn on_upgrade<C, Fut>(self, callback: C) -> Response
    where
        C: FnOnce(WebSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let request = glimpse_telemetry::context::current();
        let route = self.route;
        let span = tracing::info_span!(
            target: WS_TARGET,
            parent: None,
            "WebSocket connection",
            otel.name = format_args!("WS {route}"),
            otel.kind = "server",
            http.route = &*route,
            request_id = request.request_id.as_deref(),
            user_id = request.user_id.as_deref(),
            websocket.close_code = tracing::field::Empty,
        );
        // The connection is a local root of its own for "keep errors and slow": its parent,
        // the upgrade request's server span (the active context), is given as a remote one,
        // and the span is started now, while that request runs, so the request's spans are
        // held until the connection closes and one decision covers both.
        let _ = span.set_parent(as_remote_parent(glimpse_telemetry::otel::Context::current()));
        // On the exported span only (a field would repeat on every log line of the connection):
        // it tells "keep errors and slow" that this root is a connection, not a request.
        span.set_attribute(attr::NETWORK_PROTOCOL_NAME, "websocket");
        let _ = span.context();
        let ping_interval = self.ping_interval;
        let failed_route = route.clone();
        self.inner
            .on_failed_upgrade(move |error| {
                tracing::warn!(target: WS_TARGET, route = &*failed_route, error = %error, "websocket upgrade failed");
            })
            .on_upgrade(move |socket| {
                let conn = Connection::open(route, span.clone());
                let pinger = ping_interval.map(|every| Pinger::new(every, &conn));
                let socket = WebSocket {
                    inner: socket,
                    conn,
                    pinger,
                };
                callback(socket).instrument(span)
            })
    }
}

/// axum's `WebSocket`, counted. It is a `Stream` of messages and a `Sink` for them like axum's,
/// so `StreamExt::split` works too; the connection is recorded as ended when it is dropped (when
/// both halves are, after a split).
pub struct WebSocket {
    inner: axum::extract::ws::WebSocket,
    conn: Connection,
    pinger: Option<Pinger>,
}

/// The pings of one connection: a timer, and the ping in flight.
struct Pinger {
    interval: tokio::time::Interval,
    /// The timer fired and the ping is not sent yet (the sink was not ready).
    due: bool,
    /// The ping is written but not flushed yet.
    flushing: bool,
    /// The sequence number (the payload) and send time of the ping awaiting its pong.
    in_flight: Option<(u64, Instant)>,
    seq: u64,
    round_trip: Option<Histogram>,
}

impl Pinger {
    fn new(every: Duration, conn: &Connection) -> Pinger {
        let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Pinger {
            interval,
            due: false,
            flushing: false,
            in_flight: None,
            seq: 0,
            round_trip: conn.metrics.handles.as_ref().map(|h| h.ping.clone()),
        }
    }

    /// Sends the ping when it is due and the sink is ready; never blocks the receive.
    fn poll_send(
        &mut self,
        inner: &mut axum::extract::ws::WebSocket,
        conn: &mut Connection,
        cx: &mut Context<'_>,
    ) {
        if self.interval.poll_tick(cx).is_ready() {
            self.due = true;
        }
        if self.due {
            match Pin::new(&mut *inner).poll_ready(cx) {
                Poll::Ready(Ok(())) => {
                    self.due = false;
                    self.seq += 1;
                    let msg = Message::Ping(self.seq.to_be_bytes().to_vec().into());
                    conn.message(SENT, &msg);
                    if Pin::new(&mut *inner).start_send(msg).is_ok() {
                        // A ping left unanswered is replaced: it counts as lost, not as slow.
                        self.in_flight = Some((self.seq, Instant::now()));
                        self.flushing = true;
                    }
                }
                // A broken connection: the receive says so.
                Poll::Ready(Err(_)) => self.due = false,
                Poll::Pending => {}
            }
        }
        if self.flushing && Pin::new(&mut *inner).poll_flush(cx).is_ready() {
            self.flushing = false;
        }
    }

    /// Records the round trip when `msg` is the pong of the ping in flight.
    fn received(&mut self, msg: &Message) {
        if let (Message::Pong(payload), Some((seq, sent))) = (msg, self.in_flight)
            && payload.as_ref() == seq.to_be_bytes()
        {
            self.in_flight = None;
            if let Some(h) = &self.round_trip {
                h.observe_without_exemplar(sent.elapsed().as_secs_f64());
            }
        }
    }
}

impl std::fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket")
            .field("route", &self.conn.metrics.route)
            .finish_non_exhaustive()
    }
}

impl WebSocket {
    /// Receives the next message; `None` when the connection is closed.
    pub async fn recv(&mut self) -> Option<Result<Message, axum::Error>> {
        poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// Sends a message.
    ///
    /// # Errors
    /// When the connection is closed or broken.
    pub async fn send(&mut self, msg: Message) -> Result<(), axum::Error> {
        poll_fn(|cx| Pin::new(&mut *self).poll_ready(cx)).await?;
        Pin::new(&mut *self).start_send(msg)?;
        poll_fn(|cx| Pin::new(&mut *self).poll_flush(cx)).await
    }

    /// Closes the connection with a close frame (code and reason).
    ///
    /// # Errors
    /// When the connection is already closed or broken.
    pub async fn close(&mut self, code: u16, reason: &str) -> Result<(), axum::Error> {
        self.send(Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })))
        .await
    }

    /// The selected subprotocol, if any.
    pub fn protocol(&self) -> Option<&http::HeaderValue> {
        self.inner.protocol()
    }

    /// The connection's span (log in it from other tasks with `.instrument(span)`).
    pub fn span(&self) -> &Span {
        &self.conn.span
    }
}

impl Stream for WebSocket {
    type Item = Result<Message, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(p) = &mut this.pinger {
            p.poll_send(&mut this.inner, &mut this.conn, cx);
        }
        let polled = Pin::new(&mut this.inner).poll_next(cx);
        if let Poll::Ready(Some(Ok(msg))) = &polled {
            this.conn.message(RECEIVED, msg);
            if let Some(p) = &mut this.pinger {
                p.received(msg);
            }
        }
        polled
    }
}

impl Sink<Message> for WebSocket {
    type Error = axum::Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.inner).poll_ready(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, item: Message) -> Result<(), Self::Error> {
        let this = &mut *self;
        this.conn.message(SENT, &item);
        Pin::new(&mut this.inner).start_send(item)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

const RECEIVED: usize = 0;
const SENT: usize = 1;
const DIRECTIONS: [&str; 2] = ["received", "sent"];
const TYPES: [&str; 5] = ["text", "binary", "ping", "pong", "close"];

/// The type index and payload size of a message.
fn classify(msg: &Message) -> (usize, usize) {
    match msg {
        Message::Text(t) => (0, t.len()),
        Message::Binary(b) => (1, b.len()),
        Message::Ping(b) => (2, b.len()),
        Message::Pong(b) => (3, b.len()),
        Message::Close(_) => (4, 0),
    }
}

/// One open connection; its `Drop` records the end.
struct Connection {
    metrics: Arc<RouteMetrics>,
    span: Span,
    start: Instant,
    close_code: Option<u16>,
    counts: [u64; 2],
}

impl Connection {
    fn open(route: Arc<str>, span: Span) -> Connection {
        let metrics = route_metrics(route);
        if let Some(m) = &metrics.handles {
            m.active.inc();
        }
        Connection {
            metrics,
            span,
            start: Instant::now(),
            close_code: None,
            counts: [0; 2],
        }
    }

    #[inline]
    fn message(&mut self, direction: usize, msg: &Message) {
        let (kind, size) = classify(msg);
        self.counts[direction] += 1;
        if let Message::Close(frame) = msg {
            // The first close frame either way says why the connection ends; 1005 is the
            // protocol's "no status code present".
            self.close_code
                .get_or_insert(frame.as_ref().map_or(1005, |f| f.code));
        }
        if let Some(m) = &self.metrics.handles {
            m.messages[direction][kind].inc();
            if kind <= 1 {
                m.sizes[direction].observe_without_exemplar(size as f64);
            }
        }
    }
}

/// `cx` with its span's context marked remote (same trace, same parent id on the wire).
fn as_remote_parent(cx: glimpse_telemetry::otel::Context) -> glimpse_telemetry::otel::Context {
    use glimpse_telemetry::otel::trace::{SpanContext, TraceContextExt as _};
    let sc = cx.span().span_context().clone();
    if !sc.is_valid() {
        return cx;
    }
    let remote = SpanContext::new(
        sc.trace_id(),
        sc.span_id(),
        sc.trace_flags(),
        true,
        sc.trace_state().clone(),
    );
    cx.with_remote_span_context(remote)
}

impl Drop for Connection {
    fn drop(&mut self) {
        let elapsed = self.start.elapsed();
        let code = match self.close_code {
            Some(c) if (1000..=4999).contains(&c) => c.to_string(),
            Some(_) => "invalid".to_owned(),
            None => NO_CLOSE_CODE.to_owned(),
        };
        if let Some(m) = &self.metrics.handles {
            m.active.dec();
            m.duration.observe_without_exemplar(elapsed.as_secs_f64());
            m.closes.get_or_create(&[&self.metrics.route, &code]).inc();
        }
        self.span.record("websocket.close_code", code.as_str());
        tracing::info!(
            target: WS_TARGET,
            parent: &self.span,
            route = &*self.metrics.route,
            close_code = code.as_str(),
            duration_ms = elapsed.as_millis() as u64,
            messages_received = self.counts[RECEIVED],
            messages_sent = self.counts[SENT],
            "websocket closed"
        );
    }
}

struct Handles {
    active: Gauge,
    messages: [[Counter; 5]; 2],
    sizes: [Histogram; 2],
    duration: Histogram,
    closes: Family<Counter>,
    ping: Histogram,
}

/// The handles of one route (`handles` is `None` if the families could not be registered).
struct RouteMetrics {
    route: Arc<str>,
    handles: Option<Handles>,
}

struct Families {
    active: Family<Gauge>,
    messages: Family<Counter>,
    sizes: Family<Histogram>,
    duration: Family<Histogram>,
    closes: Family<Counter>,
    ping: Family<Histogram>,
}

/// Registers the WebSocket families (the layer does it when it is built).
pub(crate) fn register() {
    let _ = families();
}

fn families() -> Option<&'static Families> {
    static FAMILIES: OnceLock<Option<Families>> = OnceLock::new();
    FAMILIES
        .get_or_init(|| {
            Some(Families {
                active: WEBSOCKET_SERVER_ACTIVE_CONNECTIONS.register().ok()?,
                messages: WEBSOCKET_SERVER_MESSAGES.register().ok()?,
                sizes: WEBSOCKET_SERVER_MESSAGE_SIZE.register().ok()?,
                duration: WEBSOCKET_SERVER_CONNECTION_DURATION.register().ok()?,
                closes: WEBSOCKET_SERVER_CLOSES.register().ok()?,
                ping: WEBSOCKET_SERVER_PING_DURATION.register().ok()?,
            })
        })
        .as_ref()
}

fn route_metrics(route: Arc<str>) -> Arc<RouteMetrics> {
    static ROUTES: LazyLock<RwLock<HashMap<Arc<str>, Arc<RouteMetrics>>>> =
        LazyLock::new(Default::default);
    if let Some(m) = ROUTES.read().unwrap_or_else(|e| e.into_inner()).get(&route) {
        return m.clone();
    }
    let handles = families().map(|f| {
        let r = &*route;
        Handles {
            active: f.active.get_or_create(&[r]),
            messages: [RECEIVED, SENT]
                .map(|d| TYPES.map(|t| f.messages.get_or_create(&[r, DIRECTIONS[d], t]))),
            sizes: [RECEIVED, SENT].map(|d| f.sizes.get_or_create(&[r, DIRECTIONS[d]])),
            duration: f.duration.get_or_create(&[r]),
            closes: f.closes.clone(),
            ping: f.ping.get_or_create(&[r]),
        }
    });
    let m = Arc::new(RouteMetrics {
        route: route.clone(),
        handles,
    });
    let mut routes = ROUTES.write().unwrap_or_else(|e| e.into_inner());
    // Route templates are few; past this bound (a misuse), stop caching.
    if routes.len() < 4096 {
        routes.entry(route).or_insert_with(|| m.clone()).clone()
    } else {
        m
    }
}
