//! Shared by the example's integration tests: the real binary started with a clean environment,
//! and the text of a minimal HTTP/1.1 request (each test reads the answer its own way).
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Command, Stdio};

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
