//! End to end: the example service, started as users start it, with a real Prometheus scraping
//! it every second (the generated alert and recording rules loaded), a real OTLP receiver and a
//! real Sentry envelope receiver. After traffic of every kind (5xx, a slow query, WebSocket
//! messages, failed payments) it proves:
//! - every catalogue metric is in the live exposition;
//! - every dashboard query and every rule expression returns data from the real Prometheus;
//! - the error-rate and slow-query alerts go pending (or firing);
//! - the trace, the log line and the GlitchTip event of one request name the same ids.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Service, header, http, receivers, register};
use glimpse_test_support::{OtlpReceiver, Prometheus, SentryReceiver};

fn start_service(otlp: &OtlpReceiver, sentry: &SentryReceiver) -> Service {
    Service::start(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.grpc_endpoint()),
        ("OTEL_BSP_SCHEDULE_DELAY", "200"),
        ("SENTRY_DSN", sentry.dsn()),
        ("GLIMPSE_ENV", "staging"),
        ("GLIMPSE_API_KEYS", "ci-deploy:s3cr3t-key-value"),
        ("GLIMPSE_WS_PING_INTERVAL_MS", "100"),
        // Every trace is sampled; callers that did not sample still get their failures kept
        // (and the held-trace metrics are in the exposition).
        ("GLIMPSE_TRACES_KEEP", "errors,slow"),
    ])
}

/// `GET` 404s counted under `http_route="unmatched"`, from the live exposition.
fn unmatched_404s(addr: SocketAddr) -> f64 {
    let (_, _, text) = http(addr, "GET", "/metrics", &[], "");
    text.lines()
        .filter(|l| {
            l.starts_with("http_server_request_duration_seconds_count{")
                && l.contains(r#"http_route="unmatched""#)
                && l.contains(r#"http_response_status_code="404""#)
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn chat(addr: SocketAddr, user: &str, messages: usize) {
    use futures_util::{SinkExt as _, StreamExt as _};
    use tokio_tungstenite::tungstenite::Message;
    let mut ws = common::chat_socket(addr, user).await;
    for i in 0..messages {
        ws.send(Message::Text(format!("hello {i}").into()))
            .await
            .unwrap();
        // Our own message comes back through the room (after the server's pings, which
        // tungstenite answers by itself).
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            if let Message::Text(text) = msg {
                assert!(text.as_str().ends_with(&format!("hello {i}")));
                break;
            }
        }
    }
    // Stay for a few pings (every 100 ms here): reading sends their pongs.
    let until = tokio::time::Instant::now() + Duration::from_millis(350);
    while let Ok(Some(Ok(_))) = tokio::time::timeout_at(until, ws.next()).await {}
    tokio::time::sleep(Duration::from_millis(50)).await;
    ws.close(None).await.unwrap();
}

/// Drives every kind of traffic; returns the id of a registered user.
fn drive_traffic(addr: SocketAddr) -> String {
    let a = register(addr, "Ada");
    let b = register(addr, "Bob");
    for _ in 0..20 {
        assert_eq!(
            http(
                addr,
                "GET",
                &format!("/users/{a}"),
                &[("x-user-id", b.as_str())],
                ""
            )
            .0,
            200
        );
        assert_eq!(http(addr, "GET", "/users/nobody", &[], "").0, 404);
    }
    assert_eq!(
        http(
            addr,
            "POST",
            "/matches",
            &[],
            &format!(r#"{{"user_a":"{a}","user_b":"{b}"}}"#)
        )
        .0,
        201
    );
    for i in 0..10 {
        let fail = i % 3 == 0; // 4 of 10 fail: above the 10 % alert
        let body = format!(
            r#"{{"user_id":"{a}","amount_minor":1999,"currency":"EUR","card_number":"4111 1111 1111 1111","simulate_failure":{fail}}}"#
        );
        let (status, _, _) = http(
            addr,
            "POST",
            "/payments",
            &[("x-user-id", a.as_str())],
            &body,
        );
        assert_eq!(status, if fail { 402 } else { 201 });
    }
    // Security events: failed logins, API keys, an admin's permission change.
    security_traffic(addr, &a, &b);
    // 5xx well above 5 % of requests.
    for _ in 0..5 {
        assert_eq!(http(addr, "GET", "/debug/error", &[], "").0, 500);
        assert_eq!(http(addr, "GET", "/debug/panic", &[], "").0, 500);
    }
    // Slow queries, above the 500 ms threshold.
    for _ in 0..2 {
        assert_eq!(http(addr, "GET", "/reports/slow", &[], "").0, 200);
    }
    // One page view's beacon, as the RUM snippet sends it (the User experience row's data).
    let view = [
        "LCP:1800",
        "INP:240",
        "CLS:0.02",
        "FCP:900",
        "TTFB:120",
        "PageLoad:1500",
    ]
    .map(|m| {
        let (name, value) = m.split_once(':').unwrap();
        format!(r#"{{"name":"{name}","value":{value},"id":"v6-e2e-{name}","page":"/pages/home"}}"#)
    })
    .join(",");
    assert_eq!(http(addr, "POST", "/rum", &[], &format!("[{view}]")).0, 204);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        chat(addr, &a, 3).await;
        chat(addr, &b, 2).await;
    });
    a
}

/// What the traffic sends, as the counters must show it: the security events of
/// [`security_traffic`], the user cache (22 reads of one user, the first a miss, and 20 of an
/// unknown one) and the match's transaction.
const EXPECTED_COUNTS: &[(&str, u64)] = &[
    (
        r#"glimpse_cache_lookups_total{cache_name="users",result="hit"}"#,
        21,
    ),
    (
        r#"glimpse_cache_lookups_total{cache_name="users",result="miss"}"#,
        21,
    ),
    (
        r#"db_client_transactions_total{db_system_name="sqlite",db_client_connection_pool_name="main",outcome="commit"}"#,
        1,
    ),
    // 6 of the 10 payments of 19.99 EUR succeed.
    (
        r#"glimpse_payment_amount_minor_total{currency="EUR",outcome="succeeded"}"#,
        6 * 1999,
    ),
    (
        r#"glimpse_payment_amount_minor_total{currency="EUR",outcome="failed"}"#,
        4 * 1999,
    ),
    (
        r#"glimpse_audit_events_total{log_type="security",event_type="failed_login",outcome="bad_password"}"#,
        2,
    ),
    (
        r#"glimpse_audit_events_total{log_type="security",event_type="failed_login",outcome="unknown_user"}"#,
        1,
    ),
    (
        r#"glimpse_audit_events_total{log_type="security",event_type="permission_change",outcome="granted"}"#,
        1,
    ),
    (
        r#"glimpse_audit_events_total{log_type="audit",event_type="admin_action",outcome="set_permission"}"#,
        1,
    ),
    (
        r#"glimpse_audit_events_total{log_type="audit",event_type="user_data_access",outcome="read"}"#,
        20,
    ),
    (
        r#"glimpse_api_key_requests_total{api_key_id="ci-deploy",outcome="accepted"}"#,
        2,
    ),
    (
        r#"glimpse_api_key_requests_total{api_key_id="ci-deploy",outcome="rejected"}"#,
        1,
    ),
    (
        r#"glimpse_api_key_requests_total{api_key_id="unknown",outcome="rejected"}"#,
        1,
    ),
];

fn security_traffic(addr: SocketAddr, a: &str, b: &str) {
    let login = |user: &str, password: &str| {
        http(
            addr,
            "POST",
            "/sessions",
            &[],
            &format!(r#"{{"user_id":"{user}","password":"{password}"}}"#),
        )
        .0
    };
    assert_eq!(login(a, "demo"), 201);
    assert_eq!(login(a, "guess1"), 401);
    assert_eq!(login(b, "guess2"), 401);
    assert_eq!(login("nobody", "demo"), 401);
    let with_key = |key: &str| {
        http(
            addr,
            "GET",
            &format!("/users/{a}"),
            &[("x-api-key", key)],
            "",
        )
        .0
    };
    assert_eq!(with_key("ci-deploy.s3cr3t-key-value"), 200);
    assert_eq!(with_key("ci-deploy.s3cr3t-key-value"), 200);
    assert_eq!(with_key("ci-deploy.wrong"), 401);
    assert_eq!(with_key("stolen.s3cr3t-key-value"), 401);
    let grant = |caller: &str| {
        http(
            addr,
            "POST",
            &format!("/admin/users/{b}/permissions"),
            &[("x-user-id", caller)],
            r#"{"permission":"moderator","granted":true}"#,
        )
        .0
    };
    assert_eq!(grant(b), 403);
    assert_eq!(grant("admin-1"), 204);
}

/// The value of one sample line of an exposition.
fn sample(exposition: &str, series: &str) -> Option<u64> {
    exposition.lines().find_map(|l| {
        l.strip_prefix(series)?
            .trim()
            .split(' ')
            .next()?
            .parse()
            .ok()
    })
}

/// The expression with Grafana's variables filled in for an instant query.
fn concrete(expr: &str) -> String {
    expr.replace("$__rate_interval", "1m")
        .replace("$__range", "5m")
        .replace("$job", ".+")
}

/// An alert's expression without its final comparison: what it measures.
fn measured(expr: &str) -> String {
    let trimmed = expr.trim();
    for op in [" > ", " < ", " >= ", " <= ", " == ", " != "] {
        if let Some(i) = trimmed.rfind(op) {
            let rhs = trimmed[i + op.len()..].trim();
            if rhs
                .chars()
                .all(|c| c.is_ascii_digit() || ".*+- e".contains(c))
            {
                return trimmed[..i].to_owned();
            }
        }
    }
    trimmed.to_owned()
}

#[test]
fn example_service_end_to_end() {
    let Some((otlp, sentry)) = receivers() else {
        return;
    };
    let service = start_service(&otlp, &sentry);
    let rules = xtask::workspace_root().join("deploy/prometheus/alerts.yml");
    let Some(prom) = Prometheus::start(&[service.addr], &[&rules]) else {
        return;
    };

    let user = drive_traffic(service.addr);

    // One request, followed everywhere: response header → access log → span → GlitchTip event.
    let (status, headers, _) = http(
        service.addr,
        "GET",
        "/debug/error",
        &[("x-user-id", "user123")],
        "",
    );
    assert_eq!(status, 500);
    let request_id = header(&headers, "x-request-id")
        .expect("x-request-id")
        .to_owned();
    let trace_id = header(&headers, "traceparent")
        .and_then(|t| t.split('-').nth(1))
        .expect("traceparent")
        .to_owned();
    let access = service.access_line(&request_id);
    assert_eq!(access["traceId"], trace_id.as_str());
    assert_eq!(access["userId"], "user123");
    assert_eq!(access["level"], "ERROR");
    assert_eq!(access["http_status"], 500);
    let spans = otlp.wait_for_spans(Duration::from_secs(15), |s| {
        s.trace_id == trace_id && s.name == "GET /debug/error"
    });
    assert_eq!(spans.len(), 1, "the server span reached the collector");
    assert_eq!(spans[0].resource_str("service.name"), Some("glimpse-api"));
    let events = sentry.wait_for_events(Duration::from_secs(15), |e| {
        e["contexts"]["trace"]["trace_id"] == trace_id.as_str()
    });
    assert_eq!(
        events.len(),
        1,
        "exactly one GlitchTip event for the failed request: {:#?}",
        sentry.events()
    );
    assert_eq!(events[0]["user"]["id"], "user123");
    assert_eq!(
        events[0]["release"],
        format!("glimpse-api@{}", env!("CARGO_PKG_VERSION"))
    );
    // The card number sent with payments went nowhere.
    let all_logs = serde_json::to_string(&*service.logs.lock().unwrap()).unwrap();
    assert!(!all_logs.contains("4111 1111"), "card number in the logs");
    assert!(
        !serde_json::to_string(&sentry.events())
            .unwrap()
            .contains("4111 1111")
    );

    // A path no route matches is seen like any other request (issue: the 404s of unknown paths
    // had no request id, no span, no line and no count).
    let before = unmatched_404s(service.addr);
    const UNKNOWN: u32 = 25;
    let incoming_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    for i in 0..UNKNOWN {
        let request_id = format!("req-unknown-{i}");
        let (status, headers, _) = http(
            service.addr,
            "GET",
            &format!("/no/such/route/{i}"),
            &[
                ("x-request-id", request_id.as_str()),
                (
                    "traceparent",
                    &format!("00-{incoming_trace}-00f067aa0ba902b7-01"),
                ),
            ],
            "",
        );
        assert_eq!(status, 404);
        assert_eq!(header(&headers, "x-request-id"), Some(request_id.as_str()));
        let tp = header(&headers, "traceparent").expect("traceparent on a 404");
        assert_eq!(tp.split('-').nth(1), Some(incoming_trace));
        if i == 0 {
            let line = service.access_line(&request_id);
            assert_eq!(line["level"], "WARN");
            assert_eq!(line["http_status"], 404);
            assert_eq!(line["route"], "unmatched");
            assert_eq!(line["traceId"], incoming_trace);
            let span_id = tp.split('-').nth(2).expect("span id").to_owned();
            let spans = otlp.wait_for_spans(Duration::from_secs(15), |s| s.span_id == span_id);
            assert_eq!(
                spans.len(),
                1,
                "the 404's server span reached the collector"
            );
            assert_eq!(spans[0].trace_id, incoming_trace);
        }
    }
    assert_eq!(
        unmatched_404s(service.addr) - before,
        f64::from(UNKNOWN),
        "every 404 counted under http_route=\"unmatched\""
    );

    // Every catalogue metric is in the live exposition.
    let (_, _, exposition) = http(service.addr, "GET", "/metrics", &[], "");
    let missing = xtask::missing_from_exposition(&exposition);
    assert!(
        missing.is_empty(),
        "catalogue metrics missing from /metrics: {missing:?}"
    );
    // Each event was counted exactly once (the security ones by the helper that wrote the line).
    for (series, expected) in EXPECTED_COUNTS {
        assert_eq!(
            sample(&exposition, series),
            Some(*expected),
            "{series} in:\n{exposition}"
        );
    }
    // The chat's pings came back (every 100 ms, while each client stayed 350 ms or more).
    let round_trips = sample(
        &exposition,
        r#"websocket_server_ping_duration_seconds_count{http_route="/chat"}"#,
    );
    assert!(
        round_trips.is_some_and(|n| n >= 2),
        "ping round trips: {round_trips:?}"
    );
    let logs = service.logs.lock().unwrap();
    let lines = |event: &str| logs.iter().filter(|l| l["event_type"] == event).count();
    assert_eq!(lines("failed_login"), 3);
    assert_eq!(lines("permission_change"), 1);
    assert_eq!(lines("admin_action"), 1);
    assert!(
        !serde_json::to_string(&*logs)
            .unwrap()
            .contains("s3cr3t-key-value"),
        "an API key secret reached the logs"
    );
    drop(logs);

    // Prometheus scraped it, and every query the operations side relies on returns data.
    prom.wait_for_data("up{job=\"glimpse\"} == 1", Duration::from_secs(30))
        .unwrap();
    prom.wait_for_data("glimpse:http_error_ratio:rate5m", Duration::from_secs(30))
        .unwrap();
    // Cache hits while Prometheus watches: the hit ratio leaves out caches whose lookups did
    // not grow in the window, and the first ones may have come before the first scrape.
    for _ in 0..5 {
        assert_eq!(
            http(service.addr, "GET", &format!("/users/{user}"), &[], "").0,
            200
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    // Likewise a registration, a match and a payment for the conversion panels, which leave
    // out windows without registrations.
    let (c, d) = (
        register(service.addr, "Cleo"),
        register(service.addr, "Dan"),
    );
    let matched = format!(r#"{{"user_a":"{c}","user_b":"{d}"}}"#);
    assert_eq!(http(service.addr, "POST", "/matches", &[], &matched).0, 201);
    let paid = format!(r#"{{"user_id":"{c}","amount_minor":500,"currency":"usd"}}"#);
    assert_eq!(http(service.addr, "POST", "/payments", &[], &paid).0, 201);
    let mut empty = Vec::new();
    let mut checked = 0;
    for q in xtask::queries().into_iter().filter(|q| !q.external) {
        let expr = concrete(&if q.source.starts_with("alert ") {
            measured(&q.expr)
        } else {
            q.expr.clone()
        });
        let result = prom
            .wait_for_data(&expr, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("{}: {e}", q.source));
        checked += 1;
        if result.is_empty() {
            empty.push(format!("{} :: {expr}", q.source));
        }
    }
    assert!(checked > 40, "checked {checked} queries");
    assert!(
        empty.is_empty(),
        "queries without data:\n{}",
        empty.join("\n")
    );

    // The error-rate and slow-query alerts are pending (their `for` has not passed yet) or firing.
    // rate() ignores a series' first sample, so like a real incident the bad traffic goes on
    // while Prometheus watches.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let keep_failing = {
        let (stop, addr) = (stop.clone(), service.addr);
        let user = register(addr, "Cy");
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                http(addr, "GET", "/debug/error", &[], "");
                http(addr, "GET", &format!("/users/{user}"), &[], "");
                let body = format!(
                    r#"{{"user_id":"{user}","amount_minor":500,"currency":"EUR","simulate_failure":true}}"#
                );
                http(addr, "POST", "/payments", &[], &body);
                http(addr, "GET", "/reports/slow", &[], "");
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let alerts = prom.alerts().unwrap();
        let active = |name: &str| {
            alerts.iter().any(|a| {
                a["labels"]["alertname"] == name
                    && (a["state"] == "pending" || a["state"] == "firing")
            })
        };
        if active("HighErrorRate") && active("SlowQueries") && active("PaymentFailures") {
            break;
        }
        if Instant::now() >= deadline {
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            panic!("alerts not pending: {alerts:#?}");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    keep_failing.join().unwrap();
}
