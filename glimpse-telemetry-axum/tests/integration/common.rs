//! Shared test helpers: telemetry initialised against real peers with captured log lines, a real
//! server on an ephemeral loopback port, and a small raw HTTP/1.1 client (raw, so tests can send
//! what no well-behaved client would: malformed headers, non-UTF-8 paths, dropped connections).

#![allow(dead_code)]

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use glimpse_telemetry::otel::sdk::error::OTelSdkResult;
use glimpse_telemetry::otel::sdk::trace::{SpanData, SpanExporter};
use glimpse_telemetry::{Config, Protocol, TelemetryGuard};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Default)]
pub struct Options {
    /// The OTLP/HTTP traces URL of an `OtlpReceiver`.
    pub otlp_traces_url: Option<String>,
    pub sentry_dsn: Option<String>,
    /// `OTEL_TRACES_SAMPLER` (default `always_on`).
    pub sampler: Option<&'static str>,
    /// `OTEL_TRACES_SAMPLER_ARG` (default: unset).
    pub sampler_arg: Option<&'static str>,
}

#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub struct Telemetry {
    pub guard: TelemetryGuard,
    logs: Logs,
    spans: Spans,
}

/// Initialises telemetry for this test process (nextest: one process per test).
pub fn init(opts: Options) -> Telemetry {
    let mut vars = vec![
        ("OTEL_SERVICE_NAME", "axum-test"),
        ("OTEL_TRACES_SAMPLER", opts.sampler.unwrap_or("always_on")),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ("RUST_LOG", "info"),
    ];
    if let Some(arg) = opts.sampler_arg {
        vars.push(("OTEL_TRACES_SAMPLER_ARG", arg));
    }
    let logs = Logs::default();
    let spans = Spans::default();
    let mut b = glimpse_telemetry::builder()
        .config(Config::from_vars(vars).expect("config"))
        .log_writer(logs.clone())
        .shutdown_timeout(Duration::from_secs(3));
    match opts.otlp_traces_url {
        Some(url) => b = b.otlp_endpoint(url).protocol(Protocol::HttpProtobuf),
        // No collector: keep the spans in memory.
        None => b = b.span_exporter(MemoryExporter(spans.clone())),
    }
    if let Some(dsn) = opts.sentry_dsn {
        b = b.sentry_dsn(dsn);
    }
    Telemetry {
        guard: b.init().expect("init"),
        logs,
        spans,
    }
}

type Spans = Arc<Mutex<Vec<SpanData>>>;

#[derive(Debug)]
struct MemoryExporter(Spans);

impl SpanExporter for MemoryExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.lock().unwrap().extend(batch);
        Ok(())
    }
}

impl Telemetry {
    /// The spans exported so far (without an OTLP receiver).
    pub fn spans(&self) -> Vec<SpanData> {
        self.guard.flush();
        self.spans.lock().unwrap().clone()
    }

    /// Waits for an exported span (without an OTLP receiver).
    pub fn wait_for_span(&self, timeout: Duration, pred: impl Fn(&SpanData) -> bool) -> SpanData {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.spans().into_iter().find(&pred) {
                return s;
            }
            if Instant::now() > deadline {
                let names: Vec<_> = self.spans().iter().map(|s| s.name.to_string()).collect();
                panic!("no matching span; spans: {names:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every log line so far (flushed first).
    pub fn lines(&self) -> Vec<Value> {
        self.guard.flush();
        let text = String::from_utf8(self.logs.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| panic!("invalid JSON line {l:?}: {e}"))
            })
            .collect()
    }

    /// Waits for a log line matching `pred`.
    pub fn wait_for_line(&self, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(l) = self.lines().into_iter().find(&pred) {
                return l;
            }
            if Instant::now() > deadline {
                panic!("no matching log line; lines: {:#?}", self.lines());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Access log lines for this request id.
    pub fn access_lines(&self, request_id: &str) -> Vec<Value> {
        self.lines()
            .into_iter()
            .filter(|l| {
                l["target"] == "glimpse_telemetry_axum::access" && l["requestId"] == request_id
            })
            .collect()
    }

    /// Waits for the access line of a request.
    pub fn access_line(&self, request_id: &str) -> Value {
        self.wait_for_line(Duration::from_secs(5), |l| {
            l["target"] == "glimpse_telemetry_axum::access" && l["requestId"] == request_id
        })
    }
}

/// Serves `app` on 127.0.0.1 on a free port (with connect info, as services do).
pub async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    addr
}

/// Serves an instrumented app on 127.0.0.1 on a free port, with connect info.
pub async fn serve_instrumented(app: glimpse_telemetry_axum::InstrumentedRouter) -> SocketAddr {
    use axum::ServiceExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<SocketAddr>(
                app,
            ),
        )
        .await
        .unwrap();
    });
    addr
}

#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn request_id(&self) -> String {
        self.header("x-request-id")
            .expect("x-request-id")
            .to_owned()
    }

    /// The trace id and span id of the `traceparent` response header.
    pub fn traceparent(&self) -> (String, String) {
        let tp = self.header("traceparent").expect("traceparent");
        let parts: Vec<_> = tp.split('-').collect();
        assert_eq!(parts.len(), 4, "{tp}");
        (parts[1].to_owned(), parts[2].to_owned())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends raw request bytes on a new connection and reads the response to EOF.
pub async fn raw(addr: SocketAddr, request: &[u8]) -> RawResponse {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut buf))
        .await
        .expect("response within 10 s")
        .unwrap();
    parse(&buf).unwrap_or_else(|| panic!("unparsable response {:?}", String::from_utf8_lossy(&buf)))
}

/// `GET path` with extra headers, `Connection: close`.
pub async fn fetch(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> RawResponse {
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    raw(addr, req.as_bytes()).await
}

fn parse(buf: &[u8]) -> Option<RawResponse> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = buf[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = glimpse_test_support::dechunk(&body);
    }
    Some(RawResponse {
        status,
        headers,
        body,
    })
}

/// A keep-alive connection sending requests one after the other (for volume tests).
pub struct KeepAlive {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl KeepAlive {
    pub async fn connect(addr: SocketAddr) -> KeepAlive {
        KeepAlive {
            stream: TcpStream::connect(addr).await.unwrap(),
            buf: Vec::new(),
        }
    }

    /// `GET path`; returns the status.
    pub async fn get(&mut self, path: &str) -> u16 {
        let req = format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n");
        self.stream.write_all(req.as_bytes()).await.unwrap();
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                while self.buf.len() < end + 4 + len {
                    self.read_more().await;
                }
                self.buf.drain(..end + 4 + len);
                return head.split(' ').nth(1).unwrap().parse().unwrap();
            }
            self.read_more().await;
        }
    }

    async fn read_more(&mut self) {
        let mut chunk = [0u8; 8192];
        let n = self.stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed");
        self.buf.extend_from_slice(&chunk[..n]);
    }
}

/// Polls `f` until it returns true or `timeout` passes.
pub async fn eventually(timeout: Duration, f: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    f()
}

/// A metric sample's value from the registry (`None` when absent).
pub fn metric(name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    glimpse_telemetry::testing::metric_value(name, labels)
}

/// A W3C traceparent with fixed ids.
pub const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
pub const PARENT_ID: &str = "00f067aa0ba902b7";
pub fn traceparent() -> String {
    format!("00-{TRACE_ID}-{PARENT_ID}-01")
}
