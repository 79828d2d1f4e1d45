//! Failure behaviour of the real example service (the `glimpse-api` binary, started as users
//! start it) when what telemetry talks to is broken:
//!
//! - the collector refuses connections (`refused_url()`), accepts and never answers
//!   (`Blackhole`), or answers 500 / 429 (`StatusServer`, over OTLP/HTTP);
//! - GlitchTip is down, blackholed, or answers 500 / 429 (the DSN points at the same peers).
//!
//! Under a few hundred requests of every kind (200s, 404s, 402s, 5xx from a failing query and
//! from a panicking handler, a slow query) it proves: every request gets its normal response
//! within a generous 10 s bound (nothing fails or hangs), the process stays up, the lost spans
//! are counted in `glimpse_telemetry_spans_total{outcome="failed"|"dropped"}` (none
//! `exported`), every failed request handed exactly one event to the reporter
//! (`glimpse_telemetry_error_events_total`), the "trace export failed" WARN line is written
//! once (not once per attempt), every stdout line is one JSON object, RSS grows by less than
//! 50 MiB, and SIGTERM stops the process within the shutdown timeout (1 s) plus a margin.
//!
//! And with `GLIMPSE_OPS_ADDR`, `/metrics`, `/healthz` and `/readyz` are served on the ops port
//! (200, the right content types, a promtool-clean exposition) and are 404 on the public port.
//!
//! The figures (requests, drops, RSS, shutdown time) are printed; run with `--no-capture` to
//! see them.

mod common;

use std::net::SocketAddr;
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use common::{Launch, Response, eventually, register_as};
use glimpse_test_support::{Blackhole, StatusServer, refused_url};
use serde_json::Value;

/// The bound on one request: far above any normal response, far below a hang.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// `GLIMPSE_SHUTDOWN_TIMEOUT_MS`.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(1);
/// SIGTERM to exit, at most (the shutdown timeout plus a generous margin for a loaded CI box).
const EXIT_BOUND: Duration = Duration::from_secs(10);
const RSS_GROWTH_BOUND_KIB: u64 = 50 * 1024;
const EXPORT_FAILED: &str = "trace export failed";

/// What the service wrote to stdout, checked line by line.
#[derive(Default)]
struct Output {
    lines: Vec<Value>,
    /// Stdout lines that were not one JSON object.
    invalid: Vec<String>,
    /// Lines with a key written twice (valid JSON, but Elasticsearch rejects the document).
    duplicate_keys: Vec<String>,
}

impl common::Stdout for Output {
    fn line(&mut self, line: String) {
        match serde_json::from_str::<Value>(&line) {
            Ok(v) if v.is_object() => {
                if v.as_object().map_or(0, |m| m.len()) != top_level_keys(&line) {
                    self.duplicate_keys.push(line.clone());
                }
                self.lines.push(v)
            }
            _ => self.invalid.push(line),
        }
    }
}

type Service = common::Service<Output>;

/// How many keys the object text `line` (valid JSON) has at its top level, duplicates included.
fn top_level_keys(line: &str) -> usize {
    let b = line.as_bytes();
    let (mut depth, mut i, mut keys) = (0usize, 0usize, 0usize);
    while i < b.len() {
        match b[i] {
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                if depth == 1 && line[i + 1..].trim_start().starts_with(':') {
                    keys += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    keys
}

/// Starts the binary with a clean environment plus `env` (and its stderr collected), and
/// waits until it is healthy.
fn start(name: &str, env: &[(&str, String)], ops: bool) -> Service {
    let launch = Launch::new(&format!("faults-{name}"))
        .env("RUST_LOG", "info")
        .env(
            "GLIMPSE_SHUTDOWN_TIMEOUT_MS",
            SHUTDOWN_TIMEOUT.as_millis().to_string(),
        )
        .envs(env.iter().map(|(k, v)| (k, v)))
        .capture_stderr();
    if ops { launch.ops_port() } else { launch }.start()
}

impl Service {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("read /proc/<pid>/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }

    /// RSS once two readings 300 ms apart agree within 1 MiB (at most 10 s).
    fn settled_rss_kib(&self) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut last = self.rss_kib();
        loop {
            std::thread::sleep(Duration::from_millis(300));
            let now = self.rss_kib();
            if now.abs_diff(last) < 1024 || Instant::now() > deadline {
                return now;
            }
            last = now;
        }
    }

    /// Lines whose message starts with `prefix`.
    fn lines_starting(&self, prefix: &str) -> Vec<Value> {
        self.logs
            .lock()
            .unwrap()
            .lines
            .iter()
            .filter(|l| l["message"].as_str().is_some_and(|m| m.starts_with(prefix)))
            .cloned()
            .collect()
    }

    fn metrics(&self) -> String {
        let r = http(self.ops.unwrap_or(self.addr), "GET", "/metrics", &[], "");
        assert_eq!(r.status, 200, "GET /metrics: {}", r.body);
        r.body
    }

    /// SIGTERM, then waits for the exit; returns the time it took and the exit status.
    fn terminate(&mut self) -> (Duration, Option<ExitStatus>) {
        let sent = Instant::now();
        let kill = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(kill.success(), "kill -TERM failed");
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return (sent.elapsed(), Some(status));
            }
            if sent.elapsed() > EXIT_BOUND * 2 {
                return (sent.elapsed(), None);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// [`common::exchange`] with `Connection: close` and [`REQUEST_TIMEOUT`] on every step, chunked
/// bodies decoded. Status 0 when the connection failed or timed out.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Response {
    let start = Instant::now();
    let req = common::request_text(addr, method, path, headers, body);
    match common::exchange(addr, req.as_bytes(), REQUEST_TIMEOUT) {
        Ok(x) if x.sent.is_ok() && x.read.is_ok() => {
            let mut r = Response::parse(&x.raw, start.elapsed());
            if r.headers
                .iter()
                .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
            {
                r.body = glimpse_test_support::dechunk_str(&r.body);
            }
            r
        }
        _ => Response::none(start.elapsed()),
    }
}

/// A sample of the exposition (`name{labels} value`), 0 when absent.
fn sample(exposition: &str, series: &str) -> f64 {
    common::sample(exposition, series).unwrap_or(0.0)
}

fn spans(exposition: &str, outcome: &str) -> f64 {
    sample(
        exposition,
        &format!("glimpse_telemetry_spans_total{{outcome=\"{outcome}\"}}"),
    )
}

fn error_events(exposition: &str, outcome: &str) -> f64 {
    sample(
        exposition,
        &format!("glimpse_telemetry_error_events_total{{outcome=\"{outcome}\"}}"),
    )
}

/// What the traffic was.
#[derive(Debug, Default)]
struct Traffic {
    requests: usize,
    server_errors: usize,
    slowest: Duration,
    slowest_request: String,
}

/// `per_client` rounds of mixed requests from each of `clients` threads at once; asserts each
/// gets its normal response within [`REQUEST_TIMEOUT`].
fn drive(addr: SocketAddr, clients: usize, per_client: usize) -> Traffic {
    let user = register_as(addr, &[], "Ada");
    let other = register_as(addr, &[], "Bob");
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let (user, other) = (user.clone(), other.clone());
            std::thread::spawn(move || {
                let mut t = Traffic::default();
                for i in 0..per_client {
                    let fail = i % 2 == 0;
                    let payment = format!(
                        r#"{{"user_id":"{user}","amount_minor":1999,"currency":"EUR","simulate_failure":{fail}}}"#
                    );
                    let user_path = format!("/users/{user}");
                    let (method, path, body, want): (&str, &str, &str, u16) = match (i + c) % 7 {
                        0 => ("GET", &user_path, "", 200),
                        1 => ("GET", "/users/nobody", "", 404),
                        2 => ("POST", "/payments", &payment, if fail { 402 } else { 201 }),
                        3 => ("GET", "/debug/error", "", 500),
                        4 => ("GET", "/debug/panic", "", 500),
                        5 => ("GET", "/reports/slow?ms=20", "", 200),
                        _ => ("GET", "/no/such/route", "", 404),
                    };
                    let r = http(addr, method, path, &[("x-user-id", other.as_str())], body);
                    assert_eq!(
                        r.status, want,
                        "{method} {path} (took {:?}): {}",
                        r.took, r.body
                    );
                    assert!(
                        r.took < REQUEST_TIMEOUT,
                        "{method} {path} took {:?}",
                        r.took
                    );
                    t.requests += 1;
                    t.server_errors += usize::from(want >= 500);
                    if r.took > t.slowest {
                        t.slowest = r.took;
                        t.slowest_request = format!("{method} {path}");
                    }
                }
                t
            })
        })
        .collect();
    let mut total = Traffic {
        requests: 2, // the registrations
        ..Traffic::default()
    };
    for th in threads {
        let t = th.join().expect("a client thread failed");
        total.requests += t.requests;
        total.server_errors += t.server_errors;
        if t.slowest > total.slowest {
            total.slowest = t.slowest;
            total.slowest_request = t.slowest_request;
        }
    }
    total
}

/// The whole scenario against one broken collector and one broken GlitchTip.
fn survives(name: &str, collector: &[(&str, String)], dsn: String) {
    let mut env: Vec<(&str, String)> = collector.to_vec();
    env.extend([
        ("SENTRY_DSN", dsn),
        // Small and quick, so that a few hundred requests overflow the queue of a hung collector
        // and every failure shows within the test.
        ("OTEL_BSP_MAX_QUEUE_SIZE", "64".to_owned()),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "32".to_owned()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "1000".to_owned()),
    ]);
    let mut svc = start(name, &env, false);
    // A few requests first, so the baseline RSS includes the allocator's and pools' warm-up.
    let warm_up = drive(svc.addr, 1, 14);
    // The reporter resolves the panics' stack traces in the background (the first one loads the
    // binary's debug info): take the baseline once RSS has settled.
    let rss_before = svc.settled_rss_kib();
    let started = Instant::now();
    let mut traffic = drive(svc.addr, 4, 75);
    let took = started.elapsed();
    traffic.requests += warm_up.requests;
    traffic.server_errors += warm_up.server_errors;
    assert!(svc.alive(), "glimpse-api died:\n{}", svc.stderr());

    // The failures are counted: no span was exported, some failed or were dropped.
    let mut exposition = String::new();
    let counted = eventually(Duration::from_secs(20), || {
        exposition = svc.metrics();
        spans(&exposition, "failed") + spans(&exposition, "dropped") > 0.0
    });
    assert!(
        counted,
        "no failed or dropped spans counted:\n{}",
        exposition
            .lines()
            .filter(|l| l.starts_with("glimpse_telemetry"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(
        spans(&exposition, "exported"),
        0.0,
        "nothing can be exported"
    );
    // Every failed request handed exactly one event to the reporter (or had it dropped at a
    // full queue), whatever GlitchTip does with it.
    let handed = |e: &str| error_events(e, "captured") + error_events(e, "dropped");
    let all_events = eventually(Duration::from_secs(10), || {
        exposition = svc.metrics();
        handed(&exposition) >= traffic.server_errors as f64
    });
    assert!(
        all_events,
        "{} error events for {} failed requests",
        handed(&exposition),
        traffic.server_errors
    );
    assert_eq!(
        handed(&exposition),
        traffic.server_errors as f64,
        "one event per failed request"
    );

    // The export failure is logged once, not once per attempt.
    assert!(
        eventually(Duration::from_secs(20), || !svc
            .lines_starting(EXPORT_FAILED)
            .is_empty()),
        "no \"{EXPORT_FAILED}\" line"
    );
    let warned = svc.lines_starting(EXPORT_FAILED);
    assert_eq!(warned.len(), 1, "logged more than once: {warned:#?}");
    assert_eq!(warned[0]["level"], "WARN");

    let rss_after = svc.rss_kib();
    let growth = rss_after.saturating_sub(rss_before);
    assert!(
        growth < RSS_GROWTH_BOUND_KIB,
        "RSS grew by {growth} KiB ({rss_before} -> {rss_after} KiB)"
    );
    assert!(svc.alive(), "glimpse-api died:\n{}", svc.stderr());

    let (exit_took, status) = svc.terminate();
    assert!(
        status.is_some() && exit_took < EXIT_BOUND,
        "no exit within {EXIT_BOUND:?} of SIGTERM (shutdown timeout {SHUTDOWN_TIMEOUT:?}); \
         status {status:?}\n{}",
        svc.stderr()
    );
    let out = svc.logs.lock().unwrap();
    assert!(
        out.invalid.is_empty(),
        "stdout lines that are not one JSON object: {:#?}",
        out.invalid
    );
    if !out.duplicate_keys.is_empty() {
        eprintln!(
            "DUPLICATE KEYS {name}: {} lines, e.g. {}",
            out.duplicate_keys.len(),
            out.duplicate_keys[0]
        );
    }
    eprintln!(
        "FIGURES {name}: {} requests ({} 5xx) in {:.2?}, slowest {:.2?} ({}); spans exported {} \
         failed {} dropped {}; error events captured {} dropped {}; \"{EXPORT_FAILED}\" lines {}; \
         RSS {} -> {} KiB (+{} KiB); SIGTERM to exit {:.2?}, {}",
        traffic.requests,
        traffic.server_errors,
        took,
        traffic.slowest,
        traffic.slowest_request,
        spans(&exposition, "exported"),
        spans(&exposition, "failed"),
        spans(&exposition, "dropped"),
        error_events(&exposition, "captured"),
        error_events(&exposition, "dropped"),
        warned.len(),
        rss_before,
        rss_after,
        growth,
        exit_took,
        status.map_or("no status".to_owned(), |s| s.to_string()),
    );
}

fn dsn_at(url: &str) -> String {
    // http://127.0.0.1:PORT -> http://public@127.0.0.1:PORT/1
    format!(
        "http://public@{}/1",
        url.strip_prefix("http://").expect("an http:// URL")
    )
}

fn grpc(endpoint: String) -> Vec<(&'static str, String)> {
    vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".to_owned()),
    ]
}

fn http_protobuf(base: String) -> Vec<(&'static str, String)> {
    vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", base),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".to_owned()),
    ]
}

#[test]
fn collector_refused_and_glitchtip_down() {
    survives("refused", &grpc(refused_url()), dsn_at(&refused_url()));
}

#[test]
fn collector_and_glitchtip_blackholed() {
    let collector = Blackhole::start();
    let glitchtip = Blackhole::start();
    survives(
        "blackholed",
        &grpc(collector.url()),
        dsn_at(&glitchtip.url()),
    );
    assert!(collector.accepted() >= 1, "the exporter did connect");
    assert!(glitchtip.accepted() >= 1, "the sentry client did connect");
}

#[test]
fn collector_and_glitchtip_answer_500() {
    let collector = StatusServer::start(500);
    let glitchtip = StatusServer::start(500);
    survives(
        "status-500",
        &http_protobuf(collector.url()),
        dsn_at(&glitchtip.url()),
    );
    assert!(collector.requests() >= 1, "the exporter did send");
    assert!(glitchtip.requests() >= 1, "the sentry client did send");
}

#[test]
fn collector_and_glitchtip_answer_429() {
    let collector = StatusServer::start_with_headers(429, &[("Retry-After", "60")]);
    let glitchtip = StatusServer::start_with_headers(
        429,
        &[
            ("Retry-After", "60"),
            ("X-Sentry-Rate-Limits", "60::organization"),
        ],
    );
    survives(
        "status-429",
        &http_protobuf(collector.url()),
        dsn_at(&glitchtip.url()),
    );
    assert!(collector.requests() >= 1, "the exporter did send");
    assert!(glitchtip.requests() >= 1, "the sentry client did send");
}

/// `/metrics`, `/healthz` and `/readyz` on the ops port only.
#[test]
fn ops_endpoints_on_their_own_port() {
    let svc = start("ops", &[("OTEL_SDK_DISABLED", "true".to_owned())], true);
    let ops = svc.ops.expect("ops port");
    let user = register_as(svc.addr, &[], "Ada");
    assert_eq!(
        http(svc.addr, "GET", &format!("/users/{user}"), &[], "").status,
        200
    );

    for path in ["/metrics", "/healthz", "/readyz"] {
        let r = http(svc.addr, "GET", path, &[], "");
        assert_eq!(r.status, 404, "{path} on the public port: {}", r.body);
        assert!(
            !r.body.contains("http_server_request_duration_seconds"),
            "{path} leaked the exposition on the public port"
        );
    }
    // The API is not on the ops port either.
    assert_eq!(
        http(ops, "GET", &format!("/users/{user}"), &[], "").status,
        404
    );

    let text = http(ops, "GET", "/metrics", &[], "");
    assert_eq!(text.status, 200);
    assert_eq!(
        text.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(
        text.body
            .contains("# TYPE http_server_request_duration_seconds histogram")
    );
    // The public 404s were counted as unmatched requests, not as a /metrics route.
    assert!(
        text.body.lines().any(|l| l.starts_with(
            "http_server_request_duration_seconds_count{http_request_method=\"GET\",http_route=\"unmatched\",http_response_status_code=\"404\""
        )),
        "no unmatched 404 series"
    );
    assert!(!text.body.contains("http_route=\"/metrics\""));
    if glimpse_test_support::promtool().is_some() {
        // Valid; promtool's only remark is its naming lint on the catalogue's
        // `db_client_connection_count` (OpenTelemetry's `db.client.connection.count`), as in
        // glimpse-telemetry-sqlx's tests.
        if let Err(problems) = glimpse_test_support::promtool_check_metrics(&text.body) {
            for line in problems.lines().skip(1) {
                assert!(
                    line.starts_with("db_client_connection_count ")
                        && line.contains("\"_count\" suffix"),
                    "promtool: {problems}"
                );
            }
        }
    }

    let om = http(
        ops,
        "GET",
        "/metrics",
        &[(
            "Accept",
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        )],
        "",
    );
    assert_eq!(om.status, 200);
    assert_eq!(
        om.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    assert!(om.body.ends_with("# EOF\n"), "OpenMetrics ends with # EOF");

    let health = http(ops, "GET", "/healthz", &[], "");
    assert_eq!(health.status, 200);
    assert_eq!(health.header("content-type"), Some("application/json"));
    let v: Value = serde_json::from_str(&health.body).unwrap();
    assert_eq!(v["status"], "ok");

    let ready = http(ops, "GET", "/readyz", &[], "");
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert_eq!(ready.header("content-type"), Some("application/json"));
    let v: Value = serde_json::from_str(&ready.body).unwrap();
    assert_eq!(v["status"], "ready");
    assert_eq!(v["checks"][0]["name"], "database");
    assert_eq!(v["checks"][0]["status"], "ok");
}
