//! Real-user monitoring in a real browser: Debian's Chromium, headless, driven by
//! `playwright-core` (test-support/peers/rum-browser.mjs), loads the example's page, which loads the real
//! `web-vitals` module (served by the example from test-support/peers/node_modules) and the SDK's
//! snippet; the browser clicks (INP) and leaves the page (hidden: web-vitals reports). Then the
//! service's `/metrics` must show one page view of every measure for the page's route template,
//! with the document request's trace as exemplar; and hostile beacons (oversized, malformed, NaN,
//! unknown names, a wrong media type, a flood) get 4xx, never a 5xx, and add no series.
//!
//! Peers: `node`, `test-support/peers/node_modules` (`npm ci --prefix test-support/peers`) and Chromium
//! (`apt-get install chromium`, or `CHROMIUM=/path`). Missing ones skip the test, or fail it
//! with `GLIMPSE_REQUIRE_PEERS=1`.

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Launch, Response, Service, sample};
use glimpse_test_support::peer_missing;
use serde_json::Value;

const PAGE_ROUTE: &str = "/pages/{name}";
const MEASURES: [&str; 6] = [
    "browser_web_vital_lcp_seconds",
    "browser_web_vital_inp_seconds",
    "browser_web_vital_cls",
    "browser_web_vital_fcp_seconds",
    "browser_web_vital_ttfb_seconds",
    "browser_page_load_duration_seconds",
];

/// The raw answer: status, head and body (bodies here are small and not chunked).
fn send(addr: SocketAddr, raw: &[u8]) -> (u16, String) {
    // The server may answer (413) and close before the whole body is written: `exchange`
    // reads the answer anyway.
    let x = common::exchange(addr, raw, Duration::from_secs(10)).expect("connect");
    let status = Response::parse(&x.raw, x.took).status;
    (status, String::from_utf8_lossy(&x.raw).into_owned())
}

fn beacon(addr: SocketAddr, content_type: &str, body: &[u8]) -> (u16, String) {
    let mut raw = format!(
        "POST /rum HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(body);
    send(addr, &raw)
}

fn metrics(addr: SocketAddr) -> String {
    let (status, text) = send(
        addr,
        format!(
            "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nAccept: application/openmetrics-text;version=1.0.0\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    );
    assert_eq!(status, 200, "{text}");
    text.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default()
}

/// The set of browser and RUM series (name and labels, without values or exemplars).
fn rum_series(exposition: &str) -> BTreeSet<String> {
    exposition
        .lines()
        .filter(|l| l.starts_with("browser_") || l.starts_with("glimpse_telemetry_rum_"))
        .filter_map(|l| l.split(' ').next().map(str::to_owned))
        .collect()
}

fn count_of(exposition: &str, name: &str) -> f64 {
    sample(
        exposition,
        &format!("{name}_count{{page_route=\"{PAGE_ROUTE}\"}}"),
    )
    .unwrap_or(-1.0)
}

fn beacons(exposition: &str, outcome: &str) -> f64 {
    sample(
        exposition,
        &format!("glimpse_telemetry_rum_beacons_total{{outcome=\"{outcome}\"}}"),
    )
    .unwrap_or(-1.0)
}

/// What the browser test needs, or `None` after `peer_missing`.
fn peers() -> Option<(PathBuf, PathBuf, PathBuf)> {
    let peers_dir = glimpse_test_support::peers_dir();
    let Some(node) = which("node") else {
        peer_missing("node", "node is not on PATH (apt-get install nodejs)");
        return None;
    };
    let web_vitals = peers_dir.join("node_modules/web-vitals/dist/web-vitals.js");
    if !peers_dir.join("node_modules/playwright-core").is_dir() || !web_vitals.is_file() {
        peer_missing(
            "playwright-core and web-vitals",
            &format!(
                "{} lacks them: run ./scripts/test or `npm ci --prefix test-support/peers`",
                peers_dir.join("node_modules").display()
            ),
        );
        return None;
    }
    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if !chromium.is_file() {
        peer_missing(
            "chromium",
            &format!(
                "{} is missing (apt-get install chromium, or set CHROMIUM)",
                chromium.display()
            ),
        );
        return None;
    }
    let _ = node;
    Some((peers_dir, web_vitals, chromium))
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The example binary serving `web_vitals` (its stdout is not read).
fn start(web_vitals: &std::path::Path) -> Service<()> {
    Launch::new("rum")
        .env("GLIMPSE_WEB_VITALS_JS", web_vitals.to_string_lossy())
        .start()
}

#[test]
fn web_vitals_from_a_real_browser_reach_metrics_linked_to_the_document_trace() {
    let Some((peers_dir, web_vitals, chromium)) = peers() else {
        return;
    };
    let service = start(&web_vitals);
    let addr = service.addr;
    let before = metrics(addr);
    for m in MEASURES {
        assert_eq!(count_of(&before, m), 0.0, "{m} before the page view");
    }
    let series_before = rum_series(&before);

    // One page view in Chromium.
    let output = Command::new("node")
        .arg(peers_dir.join("rum-browser.mjs"))
        .arg(format!("http://{addr}/pages/home"))
        .env("CHROMIUM", &chromium)
        .current_dir(&peers_dir)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the browser run failed:\n{stdout}\n{stderr}"
    );
    let run: Value = serde_json::from_str(stdout.trim().lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    assert_eq!(run["documentStatus"], 200, "{run}");
    assert_eq!(run["consoleErrors"], serde_json::json!([]), "{run}");
    let traceparent = run["documentTraceparent"].as_str().expect("traceparent");
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4, "{traceparent}");
    let (trace_id, span_id) = (parts[1], parts[2]);
    assert_eq!(parts[3], "01", "the document request is sampled");
    // Both ways of giving the page its trace reached it.
    assert_eq!(run["seenByPage"]["serverTiming"], traceparent, "{run}");
    assert_eq!(run["seenByPage"]["meta"], traceparent, "{run}");

    // sendBeacon is asynchronous: wait for every measure to arrive.
    let deadline = Instant::now() + Duration::from_secs(15);
    let after = loop {
        let text = metrics(addr);
        if MEASURES.iter().all(|m| count_of(&text, m) >= 1.0) || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    for m in MEASURES {
        assert_eq!(
            count_of(&after, m),
            1.0,
            "{m}: one page view, counted once\n{}",
            after
                .lines()
                .filter(|l| l.starts_with("browser_"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    // Real values: the click handler busy-waits 120 ms, the late banner shifts the layout.
    let sum = |m: &str| {
        sample(&after, &format!("{m}_sum{{page_route=\"{PAGE_ROUTE}\"}}")).unwrap_or(-1.0)
    };
    assert!(
        sum("browser_web_vital_inp_seconds") >= 0.1,
        "INP {}",
        sum("browser_web_vital_inp_seconds")
    );
    assert!(
        sum("browser_web_vital_cls") > 0.0,
        "CLS {}",
        sum("browser_web_vital_cls")
    );
    for m in [
        "browser_web_vital_lcp_seconds",
        "browser_web_vital_fcp_seconds",
    ] {
        assert!(sum(m) > 0.0 && sum(m) < 60.0, "{m} {}", sum(m));
    }
    // Ratings: one per web vital for the page (page load has none).
    for vital in ["lcp", "inp", "cls", "fcp", "ttfb"] {
        let total: f64 = ["good", "needs-improvement", "poor"]
            .iter()
            .filter_map(|r| {
                sample(
                    &after,
                    &format!(
                        "browser_web_vital_ratings_total{{page_route=\"{PAGE_ROUTE}\",web_vital=\"{vital}\",rating=\"{r}\"}}"
                    ),
                )
            })
            .sum();
        assert_eq!(total, 1.0, "{vital} ratings");
    }
    // The exemplar of the LCP observation is the document request's trace.
    let exemplars: Vec<&str> = after
        .lines()
        .filter(|l| l.starts_with("browser_web_vital_lcp_seconds_bucket") && l.contains(" # {"))
        .collect();
    assert_eq!(exemplars.len(), 1, "{exemplars:?}");
    assert!(
        exemplars[0].contains(&format!("trace_id=\"{trace_id}\""))
            && exemplars[0].contains(&format!("span_id=\"{span_id}\"")),
        "{exemplars:?} vs {traceparent}"
    );
    assert!(beacons(&after, "accepted") >= 1.0);
    assert_eq!(
        rum_series(&after),
        series_before,
        "the page view added a series"
    );

    // Hostile beacons: 4xx with a reason, never a 5xx, nothing recorded, no series added.
    let valid = |name: &str, value: &str| {
        format!(r#"{{"name":"{name}","value":{value},"id":"v6-1-{name}","page":"/pages/x"}}"#)
    };
    let huge = format!("[{}]", vec![valid("LCP", "1"); 200].join(","));
    let cases: Vec<(&str, String, &str, u16, &str)> = vec![
        (
            "oversized",
            "text/plain;charset=UTF-8".into(),
            huge.as_str(),
            413,
            "too large",
        ),
        (
            "malformed",
            "text/plain".into(),
            r#"{"name":"LCP","#,
            400,
            "malformed JSON",
        ),
        (
            "NaN",
            "text/plain".into(),
            r#"{"name":"LCP","value":NaN,"id":"a","page":"/"}"#,
            400,
            "malformed JSON",
        ),
        (
            "unknown name",
            "application/json".into(),
            r#"{"name":"FID","value":12,"id":"a","page":"/"}"#,
            400,
            "unknown metric name",
        ),
        (
            "out of range",
            "text/plain".into(),
            r#"{"name":"CLS","value":1e300,"id":"a","page":"/"}"#,
            400,
            "out of range",
        ),
        (
            "raw URL as a field",
            "text/plain".into(),
            r#"{"name":"LCP","value":1,"id":"a","page":"/","url":"/admin?token=x"}"#,
            400,
            "unknown field",
        ),
        (
            "form",
            "application/x-www-form-urlencoded".into(),
            "name=LCP&value=1",
            415,
            "content-type",
        ),
    ];
    for (what, ct, body, want, reason) in &cases {
        let (status, text) = beacon(addr, ct, body.as_bytes());
        assert_eq!(status, *want, "{what}: {text}");
        assert!(text.contains(reason), "{what}: {text}");
    }
    // Chunked, no Content-Length, past the limit: refused while reading.
    let chunk = "x".repeat(4096);
    let mut raw = format!(
        "POST /rum HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    for _ in 0..4 {
        raw.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    }
    raw.push_str("0\r\n\r\n");
    let (status, text) = send(addr, raw.as_bytes());
    assert_eq!(status, 413, "chunked: {text}");

    // A flood: the per-process bound (50/s, bursts of 100) drops and counts.
    let mut statuses = std::collections::BTreeMap::new();
    for _ in 0..300 {
        let (status, _) = beacon(addr, "text/plain", b"{}");
        *statuses.entry(status).or_insert(0) += 1;
    }
    assert!(statuses.get(&429).copied().unwrap_or(0) > 0, "{statuses:?}");
    assert!(
        statuses.keys().all(|s| *s == 400 || *s == 429),
        "{statuses:?}"
    );

    let end = metrics(addr);
    for m in MEASURES {
        assert_eq!(count_of(&end, m), 1.0, "{m} after the hostile beacons");
    }
    assert_eq!(
        rum_series(&end),
        series_before,
        "hostile beacons added a series"
    );
    assert!(
        beacons(&end, "invalid") >= 5.0,
        "{}",
        beacons(&end, "invalid")
    );
    assert!(beacons(&end, "too_large") >= 2.0);
    assert!(beacons(&end, "unsupported_media_type") >= 1.0);
    assert_eq!(beacons(&end, "rate_limited"), statuses[&429] as f64);
    assert!(
        !end.contains("http_response_status_code=\"5"),
        "a 5xx was served:\n{}",
        end.lines()
            .filter(|l| l.contains("status_code=\"5"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
