//! Shared by the example's integration tests: the real binary started with a clean environment
//! (and, with [`Service`], its stdout collected), a minimal HTTP/1.1 client, the text of its
//! requests, and small readers of what the service answers (exposition samples).
//!
//! Each test keeps its own specifics (what it makes of the stdout lines, its timeouts, its
//! traffic) in its file; what several of them need is here.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use glimpse_test_support::{OtlpReceiver, SentryReceiver};
use serde_json::Value;

/// What a test keeps of the service's stdout, fed one line at a time (from a reader thread).
pub trait Stdout: Default + Send + 'static {
    fn line(&mut self, line: String);
}

/// Every line parsed as JSON; a line that is not JSON panics the reader.
impl Stdout for Vec<Value> {
    fn line(&mut self, line: String) {
        let v: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {line}"));
        self.push(v);
    }
}

/// The raw text, as written (one `\n` after every line).
impl Stdout for String {
    fn line(&mut self, line: String) {
        self.push_str(&line);
        self.push('\n');
    }
}

/// Nothing kept.
impl Stdout for () {
    fn line(&mut self, _: String) {}
}

/// The example service, running: its address (and ops address), and what it wrote to stdout
/// (`L`: by default every JSON line). Killed on drop.
pub struct Service<L: Stdout = Vec<Value>> {
    pub child: Child,
    pub addr: SocketAddr,
    /// The ops port (`GLIMPSE_OPS_ADDR`), when started with [`Launch::ops_port`].
    pub ops: Option<SocketAddr>,
    pub logs: Arc<Mutex<L>>,
    stderr: Option<Arc<Mutex<String>>>,
    _dir: TempDir,
}

impl<L: Stdout> Drop for Service<L> {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Service {
    /// Starts `glimpse-api` with `env` added to [`service_command`]'s, and waits until
    /// `/healthz` answers 200 (at most 60 s).
    pub fn start(env: &[(&str, &str)]) -> Service {
        Launch::new("test").envs(env.iter().copied()).start()
    }

    /// Waits for the access line of a request (at most 10 s).
    pub fn access_line(&self, request_id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let found = self
                .logs
                .lock()
                .unwrap()
                .iter()
                .find(|l| {
                    l["requestId"] == request_id && l["target"] == "glimpse_telemetry_axum::access"
                })
                .cloned();
            if let Some(l) = found {
                return l;
            }
            assert!(
                Instant::now() < deadline,
                "no access log line for {request_id}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl<L: Stdout> Service<L> {
    /// What it wrote to stderr so far (the first 64 KiB), when started with
    /// [`Launch::capture_stderr`]; empty otherwise.
    pub fn stderr(&self) -> String {
        self.stderr
            .as_ref()
            .map(|e| e.lock().unwrap().clone())
            .unwrap_or_default()
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

/// How to start the service: [`service_command`] plus a test's variables, an ops port, stderr.
pub struct Launch {
    label: String,
    env: Vec<(String, String)>,
    ops: bool,
    stderr: bool,
}

impl Launch {
    /// `label` names the service's temporary directory.
    pub fn new(label: &str) -> Launch {
        Launch {
            label: label.to_owned(),
            env: Vec::new(),
            ops: false,
            stderr: false,
        }
    }

    /// One more variable.
    pub fn env(mut self, key: &str, value: impl Into<String>) -> Launch {
        self.env.push((key.to_owned(), value.into()));
        self
    }

    /// More variables.
    pub fn envs<K: AsRef<str>, V: AsRef<str>>(
        mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Launch {
        for (k, v) in vars {
            self.env
                .push((k.as_ref().to_owned(), v.as_ref().to_owned()));
        }
        self
    }

    /// Serves `/metrics`, `/healthz` and `/readyz` on a port of their own (`GLIMPSE_OPS_ADDR`);
    /// the health check then asks there.
    pub fn ops_port(mut self) -> Launch {
        self.ops = true;
        self
    }

    /// Collects stderr (for [`Service::stderr`]); it is closed otherwise.
    pub fn capture_stderr(mut self) -> Launch {
        self.stderr = true;
        self
    }

    /// Starts it and waits until `/healthz` answers 200 (at most 60 s; a process that exits
    /// first fails the test with its stderr).
    pub fn start<L: Stdout>(self) -> Service<L> {
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let addr = free_addr();
        let ops = self.ops.then(free_addr);
        let dir = std::env::temp_dir().join(format!(
            "glimpse-api-{}-{}-{}",
            self.label,
            std::process::id(),
            STARTED.fetch_add(1, Ordering::Relaxed)
        ));
        let mut cmd = service_command(addr, &dir);
        if let Some(ops) = ops {
            cmd.env("GLIMPSE_OPS_ADDR", ops.to_string());
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        if self.stderr {
            cmd.stderr(Stdio::piped());
        }
        let mut child = cmd.spawn().expect("start glimpse-api");

        let logs = Arc::new(Mutex::new(L::default()));
        let (stdout, sink) = (child.stdout.take().expect("piped stdout"), logs.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().line(line);
            }
        });
        let stderr = child.stderr.take().map(|pipe| {
            let stderr = Arc::new(Mutex::new(String::new()));
            let sink = stderr.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let mut e = sink.lock().unwrap();
                    if e.len() < 64 * 1024 {
                        e.push_str(&line);
                        e.push('\n');
                    }
                }
            });
            stderr
        });

        let mut service = Service {
            child,
            addr,
            ops,
            logs,
            stderr,
            _dir: TempDir(dir),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut wait = |port: SocketAddr, ready: fn(u16) -> bool, what: &str| {
            while !ready(http(port, "GET", "/healthz", &[], "").0) {
                if let Ok(Some(status)) = service.child.try_wait() {
                    panic!("glimpse-api exited ({status}):\n{}", service.stderr());
                }
                assert!(
                    Instant::now() < deadline,
                    "glimpse-api {what}:\n{}",
                    service.stderr()
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        };
        wait(ops.unwrap_or(addr), |s| s == 200, "did not become healthy");
        // With an ops port, health answers before the API listener may be up: wait until the
        // API port answers too (404 for `/healthz` there is an answer).
        if ops.is_some() {
            wait(addr, |s| s != 0, "did not answer on its API port");
        }
        service
    }
}

/// A directory removed on drop.
pub struct TempDir(pub PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An answer: status (0 when there was none), headers (names lowercased), body as sent, and
/// how long the exchange took.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub took: Duration,
}

impl Response {
    /// No answer.
    pub fn none(took: Duration) -> Response {
        Response {
            status: 0,
            headers: vec![],
            body: String::new(),
            took,
        }
    }

    /// The status line, headers and body of the raw answer.
    pub fn parse(raw: &[u8], took: Duration) -> Response {
        let text = String::from_utf8_lossy(raw);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Response {
            status,
            headers,
            body: body.to_owned(),
            took,
        }
    }

    /// The value of a header (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One request on a fresh connection, as [`exchange`] did it.
pub struct Exchange {
    /// Everything read until the server closed (or the read failed).
    pub raw: Vec<u8>,
    /// Whether the whole request was written.
    pub sent: std::io::Result<()>,
    /// Whether the answer was read to its end.
    pub read: std::io::Result<()>,
    pub took: Duration,
}

/// Writes `request` on a fresh connection to `addr` and reads the answer until the server
/// closes; connecting, writing and reading are each bounded by `timeout`. `Err` only when it
/// could not connect; a failed write is still followed by a read (a server may answer and
/// close before the whole body is written).
pub fn exchange(addr: SocketAddr, request: &[u8], timeout: Duration) -> std::io::Result<Exchange> {
    let start = Instant::now();
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let sent = s.write_all(request);
    let mut raw = Vec::new();
    let read = s.read_to_end(&mut raw).map(|_| ());
    Ok(Exchange {
        raw,
        sent,
        read,
        took: start.elapsed(),
    })
}

/// A minimal HTTP/1.1 client: status, headers (lowercased names), body; status 0 when the
/// service cannot be reached. Each step is bounded by 20 s.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Vec<(String, String)>, String) {
    let req = request_text(addr, method, path, headers, body);
    match exchange(addr, req.as_bytes(), Duration::from_secs(20)) {
        Ok(x) if x.sent.is_ok() => {
            let r = Response::parse(&x.raw, x.took);
            (r.status, r.headers, r.body)
        }
        _ => (0, vec![], String::new()),
    }
}

/// The value of a response header (names lowercased, as [`http`] returns them).
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Creates a user through the API (as an admin) and returns its id.
pub fn register(addr: SocketAddr, name: &str) -> String {
    register_as(addr, &[("x-user-id", "admin-1")], name)
}

/// Creates a user through the API with the request headers `headers` and returns its id.
pub fn register_as(addr: SocketAddr, headers: &[(&str, &str)], name: &str) -> String {
    let (status, _, body) = http(
        addr,
        "POST",
        "/users",
        headers,
        &format!(r#"{{"name":"{name}"}}"#),
    );
    assert_eq!(status, 201, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    v["id"].as_str().unwrap().to_owned()
}

/// Opens the chat WebSocket as `user`.
pub async fn chat_socket(
    addr: SocketAddr,
    user: &str,
) -> tokio_tungstenite::WebSocketStream<tokio::net::TcpStream> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = format!("ws://{addr}/chat").into_client_request().unwrap();
    req.headers_mut().insert("x-user-id", user.parse().unwrap());
    let (ws, _) = tokio_tungstenite::client_async(req, stream)
        .await
        .expect("websocket handshake");
    ws
}

/// The value of the sample `series` (exact name and labels as exposed, then a space); what
/// follows the value (a timestamp, an exemplar) is ignored.
pub fn sample(exposition: &str, series: &str) -> Option<f64> {
    exposition.lines().find_map(|l| {
        let rest = l.strip_prefix(series)?.strip_prefix(' ')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// Polls `f` every 100 ms until it returns true (then true) or `timeout` passes (then false).
pub fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The OTLP receiver and the Sentry receiver, started; `None` (after `peer_missing`) when
/// either cannot run here.
pub fn receivers() -> Option<(OtlpReceiver, SentryReceiver)> {
    let otlp = OtlpReceiver::start()?;
    let sentry = SentryReceiver::start()?;
    Some((otlp, sentry))
}

/// A free port on 127.0.0.1.
pub fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
}

/// `glimpse-api` with nothing from the test's environment but `PATH`: listening on `addr`, its
/// SQLite file in `dir`, stdout piped (the JSON log lines), stdin and stderr closed. Callers add
/// the telemetry variables their test is about.
pub fn service_command(addr: SocketAddr, dir: &Path) -> Command {
    std::fs::create_dir_all(dir).expect("service directory");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_glimpse-api"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GLIMPSE_API_ADDR", addr.to_string())
        .env(
            "DATABASE_URL",
            format!("sqlite://{}?mode=rwc", dir.join("api.db").display()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    cmd
}

/// `method path` with `Connection: close`, the headers, and a JSON body when there is one.
pub fn request_text(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> String {
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        req.push_str("Content-Type: application/json\r\n");
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    req
}
