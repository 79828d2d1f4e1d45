//! Shared by the example's integration tests: the real binary started with a clean environment
//! (and, with [`Service`], its JSON lines collected), a minimal HTTP/1.1 client, and the text
//! of its requests.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The example service, running: its address and every JSON line it wrote. Killed on drop.
pub struct Service {
    pub child: Child,
    pub addr: SocketAddr,
    pub logs: Arc<Mutex<Vec<Value>>>,
    _dir: TempDir,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Service {
    /// Starts `glimpse-api` with `env` added to [`service_command`]'s, and waits until
    /// `/healthz` answers 200 (at most 60 s).
    pub fn start(env: &[(&str, &str)]) -> Service {
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let addr = free_addr();
        let dir = std::env::temp_dir().join(format!(
            "glimpse-api-test-{}-{}",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::Relaxed)
        ));
        let mut cmd = service_command(addr, &dir);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start glimpse-api");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().expect("piped stdout");
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| panic!("log line is not JSON: {line}"));
                sink.lock().unwrap().push(v);
            }
        });
        let service = Service {
            child,
            addr,
            logs,
            _dir: TempDir(dir),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while http(service.addr, "GET", "/healthz", &[], "").0 != 200 {
            assert!(
                Instant::now() < deadline,
                "glimpse-api did not become healthy"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        service
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

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A minimal HTTP/1.1 client: status, headers (lowercased names), body; status 0 when the
/// service cannot be reached.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Vec<(String, String)>, String) {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return (0, vec![], String::new());
    };
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let req = request_text(addr, method, path, headers, body);
    if s.write_all(req.as_bytes()).is_err() {
        return (0, vec![], String::new());
    }
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
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
    (status, headers, body.to_owned())
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
    let (status, _, body) = http(
        addr,
        "POST",
        "/users",
        &[("x-user-id", "admin-1")],
        &format!(r#"{{"name":"{name}"}}"#),
    );
    assert_eq!(status, 201, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    v["id"].as_str().unwrap().to_owned()
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
