//! A real Prometheus server (Debian's `prometheus` package) scraping test targets every second,
//! with alert and recording rules loaded, queried over its HTTP API.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::peer_missing;

/// A running Prometheus; killed (and its data directory removed) on drop.
pub struct Prometheus {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
}

/// Path of Debian's `prometheus` server binary, if installed.
pub fn prometheus_binary() -> Option<PathBuf> {
    ["/usr/bin/prometheus", "/usr/local/bin/prometheus"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

impl Prometheus {
    /// Starts Prometheus scraping `targets` (each `host:port`, path `/metrics`) every second,
    /// evaluating `rule_files` every second, with exemplar storage on. `None` (after
    /// [`peer_missing`]) when the binary is not installed.
    pub fn start(targets: &[SocketAddr], rule_files: &[&Path]) -> Option<Prometheus> {
        let Some(bin) = prometheus_binary() else {
            peer_missing(
                "prometheus",
                "install Debian's `prometheus` package (./scripts/test does)",
            );
            return None;
        };
        let dir = std::env::temp_dir().join(format!(
            "glimpse-prometheus-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).expect("create prometheus data dir");
        let targets: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
        let rules: Vec<String> = rule_files
            .iter()
            .map(|p| {
                format!(
                    "  - '{}'",
                    std::fs::canonicalize(p)
                        .unwrap_or_else(|_| p.to_path_buf())
                        .display()
                )
            })
            .collect();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n{}scrape_configs:\n  - job_name: glimpse\n    static_configs:\n      - targets: [{}]\n",
            if rules.is_empty() {
                String::new()
            } else {
                format!("rule_files:\n{}\n", rules.join("\n"))
            },
            targets.join(", ")
        );
        let config_path = dir.join("prometheus.yml");
        std::fs::write(&config_path, config).expect("write prometheus config");
        let port = free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("address");
        let child = Command::new(bin)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--enable-feature=exemplar-storage")
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start prometheus");
        let mut p = Prometheus { child, addr, dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok((200, _)) = http_get(p.addr, "/-/ready") {
                return Some(p);
            }
            if let Ok(Some(status)) = p.child.try_wait() {
                let mut err = String::new();
                if let Some(e) = p.child.stderr.as_mut() {
                    let _ = e.read_to_string(&mut err);
                }
                panic!("prometheus exited ({status}) before it was ready:\n{err}");
            }
            assert!(
                Instant::now() < deadline,
                "prometheus did not become ready in 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Calls an API path (e.g. `/api/v1/alerts`) and returns its `data`.
    pub fn api(&self, path_and_query: &str) -> Result<Value, String> {
        let (status, body) = http_get(self.addr, path_and_query).map_err(|e| e.to_string())?;
        let v: Value = serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
        if status != 200 || v["status"] != "success" {
            return Err(format!("{path_and_query}: HTTP {status}: {body}"));
        }
        Ok(v["data"].clone())
    }

    /// An instant query; returns `data.result`.
    pub fn query(&self, expr: &str) -> Result<Vec<Value>, String> {
        let data = self.api(&format!("/api/v1/query?query={}", url_encode(expr)))?;
        Ok(data["result"].as_array().cloned().unwrap_or_default())
    }

    /// Polls `expr` until it returns at least one series, or `timeout` passes.
    pub fn wait_for_data(&self, expr: &str, timeout: Duration) -> Result<Vec<Value>, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let r = self.query(expr)?;
            if !r.is_empty() {
                return Ok(r);
            }
            if Instant::now() >= deadline {
                return Ok(r);
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Exemplars stored for `expr` over the last `window`.
    pub fn exemplars(&self, expr: &str, window: Duration) -> Result<Vec<Value>, String> {
        let end = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let data = self.api(&format!(
            "/api/v1/query_exemplars?query={}&start={}&end={}",
            url_encode(expr),
            end - window.as_secs_f64(),
            end + 60.0
        ))?;
        Ok(data.as_array().cloned().unwrap_or_default())
    }

    /// Active alerts (`pending` and `firing`).
    pub fn alerts(&self) -> Result<Vec<Value>, String> {
        Ok(self.api("/api/v1/alerts")?["alerts"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }

    /// The scrape targets and their health.
    pub fn targets(&self) -> Result<Vec<Value>, String> {
        Ok(self.api("/api/v1/targets")?["activeTargets"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A minimal HTTP/1.1 GET (connection close), returning status and body.
pub(crate) fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    Ok((
        status,
        if chunked {
            crate::dechunk_str(body)
        } else {
            body.to_owned()
        },
    ))
}
