//! The HTTP layer over real loopback connections: spans, request ids, access log lines, metrics.

use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use glimpse_telemetry::metrics::Histogram;
use glimpse_telemetry::metrics::catalogue::HTTP_SERVER_REQUEST_DURATION;
use glimpse_telemetry::otel::sdk::trace::SpanData;
use glimpse_telemetry::otel::trace::SpanKind;
use glimpse_telemetry::otel::{Key, Value as OtelValue};
use glimpse_telemetry_axum::{TelemetryLayer, UserId};
use glimpse_test_support::OtlpReceiver;

use crate::common::*;

fn attr(span: &SpanData, key: &str) -> Option<OtelValue> {
    span.attributes
        .iter()
        .find(|kv| kv.key == Key::from(key.to_owned()))
        .map(|kv| kv.value.clone())
}

fn users_app() -> Router {
    Router::new()
        .route(
            "/users/{id}",
            get(|| async {
                tracing::info!(rows = 1, "user fetched");
                "user"
            }),
        )
        .route(
            "/boom",
            get(|| async { (StatusCode::BAD_GATEWAY, "upstream down") }),
        )
        .layer(glimpse_telemetry_axum::TelemetryLayer::new())
}

/// The span reaches a real OTLP receiver as a child of the caller's `traceparent`, with the
/// semantic-convention attributes, and the response quotes it in its own `traceparent`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn span_is_a_child_of_the_incoming_traceparent() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let Some(otlp) = OtlpReceiver::start() else {
        return;
    };
    let t = init(Options {
        otlp_traces_url: Some(otlp.http_traces_url()),
        sampler: Some("parentbased_always_on"),
        ..Default::default()
    });
    let addr = serve(users_app()).await;

    let res = fetch(
        addr,
        "/users/42?token=secret",
        &[
            ("traceparent", &traceparent()),
            ("user-agent", "glimpse-test/1.0"),
        ],
    )
    .await;
    assert_eq!(res.status, 200);
    let (trace_id, span_id) = res.traceparent();
    assert_eq!(trace_id, TRACE_ID);
    assert_ne!(span_id, PARENT_ID);
    assert!(res.header("traceparent").unwrap().ends_with("-01"));
    let failed = fetch(addr, "/boom", &[]).await;
    assert_eq!(failed.status, 502);

    t.guard.flush();
    let spans = otlp.wait_for_spans(Duration::from_secs(10), |s| s.name == "GET /users/{id}");
    assert_eq!(spans.len(), 1, "stderr: {}", otlp.stderr());
    let s = &spans[0];
    assert_eq!(s.trace_id, TRACE_ID);
    assert_eq!(s.span_id, span_id);
    assert_eq!(s.parent_span_id.as_deref(), Some(PARENT_ID));
    assert_eq!(s.kind, "SPAN_KIND_SERVER");
    assert_eq!(s.attr_str("http.request.method"), Some("GET"));
    assert_eq!(s.attr_str("http.route"), Some("/users/{id}"));
    assert_eq!(s.attr_str("url.path"), Some("/users/42"));
    assert_eq!(s.attr_str("url.scheme"), Some("http"));
    assert_eq!(s.attr_i64("http.response.status_code"), Some(200));
    assert_eq!(s.attr_str("user_agent.original"), Some("glimpse-test/1.0"));
    assert_eq!(s.attr_str("server.address"), Some("127.0.0.1"));
    assert_eq!(s.attr_i64("server.port"), Some(i64::from(addr.port())));
    assert_eq!(s.attr_str("client.address"), Some("127.0.0.1"));
    assert_eq!(s.attr_str("network.protocol.version"), Some("1.1"));
    assert_eq!(s.attr_str("request_id"), Some(res.request_id().as_str()));
    assert_eq!(s.resource_str("service.name"), Some("axum-test"));
    assert!(
        !serde_json::to_string(&s.attributes)
            .unwrap()
            .contains("secret"),
        "no query string on the span: {:?}",
        s.attributes
    );
    assert_ne!(s.status_code.as_deref(), Some("STATUS_CODE_ERROR"));

    let spans = otlp.wait_for_spans(Duration::from_secs(10), |s| s.name == "GET /boom");
    let s = &spans[0];
    assert!(s.is_root(), "no traceparent: a new trace");
    assert_eq!(s.trace_id, failed.traceparent().0);
    assert_eq!(s.status_code.as_deref(), Some("STATUS_CODE_ERROR"));
    assert_eq!(s.attr_str("error.type"), Some("502"));
    assert_eq!(s.attr_i64("http.response.status_code"), Some(502));
}

/// `requestId` of the access line is the response's `x-request-id`: generated (UUID v7) when the
/// caller sent none or an unusable one, the caller's otherwise; the handler's own lines have it too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_id_in_access_log_equals_response_header() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let t = init(Options::default());
    let addr = serve(users_app()).await;

    let generated = fetch(addr, "/users/1?token=secret", &[]).await;
    let id = generated.request_id();
    assert_eq!(id.len(), 36, "{id}");
    assert_eq!(&id[14..15], "7", "UUID v7: {id}");

    let line = t.access_line(&id);
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["message"], "GET /users/{id} 200");
    assert_eq!(line["method"], "GET");
    assert_eq!(line["route"], "/users/{id}");
    assert_eq!(line["path"], "/users/1");
    assert_eq!(line["http_status"], 200);
    assert!(line["response_time"].as_f64().unwrap() >= 0.0);
    assert_eq!(line["bytes"], 4);
    assert_eq!(line["service"], "axum-test");
    let (trace_id, span_id) = generated.traceparent();
    assert_eq!(line["traceId"], trace_id.as_str());
    assert_eq!(line["spanId"], span_id.as_str());
    let handler_line = t.wait_for_line(Duration::from_secs(5), |l| {
        l["message"] == "user fetched" && l["requestId"] == id.as_str()
    });
    assert_eq!(handler_line["traceId"], trace_id.as_str());

    let kept = fetch(addr, "/users/2", &[("x-request-id", "edge-proxy-7f3a")]).await;
    assert_eq!(kept.request_id(), "edge-proxy-7f3a");
    assert_eq!(t.access_line("edge-proxy-7f3a")["path"], "/users/2");

    let long = "x".repeat(200);
    for bad in ["has space", long.as_str()] {
        let replaced = fetch(addr, "/users/3", &[("x-request-id", bad)]).await;
        let id = replaced.request_id();
        assert_ne!(id, bad);
        assert_eq!(id.len(), 36);
        assert_eq!(t.access_line(&id)["http_status"], 200);
    }

    // The query string is in no log line.
    let all = t.lines();
    assert!(!serde_json::to_string(&all).unwrap().contains("secret"));

    // And the exported span has the same ids.
    let span = t.wait_for_span(Duration::from_secs(5), |s| {
        s.span_context.trace_id().to_string() == trace_id
    });
    assert_eq!(span.name, "GET /users/{id}");
    assert_eq!(span.span_kind, SpanKind::Server);
    assert_eq!(
        attr(&span, "request_id").map(|v| v.as_str().into_owned()),
        Some(id.clone())
    );
    assert_eq!(
        attr(&span, "http.route")
            .map(|v| v.as_str().into_owned())
            .as_deref(),
        Some("/users/{id}")
    );
    assert_eq!(span.span_context.span_id().to_string(), span_id);
}

/// Users set in three ways reach the access line: `set_user_id` in the handler, a `UserId` in
/// the request's extensions (an outer auth middleware), a `UserId` in the response's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_ids_reach_the_access_line() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let t = init(Options::default());
    async fn auth(
        mut req: axum::extract::Request,
        next: axum::middleware::Next,
    ) -> axum::response::Response {
        req.extensions_mut().insert(UserId::new("from-auth-layer"));
        next.run(req).await
    }
    let app = Router::new()
        .route(
            "/me",
            get(|| async {
                assert!(glimpse_telemetry_axum::set_user_id("user123"));
                tracing::info!("profile read");
                "me"
            }),
        )
        .route(
            "/ext",
            get(|| async { (UserId::new("from-response"), "ok") }),
        )
        .route("/outer", get(|| async { "ok" }))
        .layer(glimpse_telemetry_axum::TelemetryLayer::new())
        .layer(axum::middleware::from_fn(
            |req: axum::extract::Request, next: axum::middleware::Next| async move {
                if req.uri().path() == "/outer" {
                    auth(req, next).await
                } else {
                    next.run(req).await
                }
            },
        ));
    let addr = serve(app).await;

    let me = fetch(addr, "/me", &[]).await.request_id();
    assert_eq!(t.access_line(&me)["userId"], "user123");
    let line = t.wait_for_line(Duration::from_secs(5), |l| l["message"] == "profile read");
    assert_eq!(line["userId"], "user123");
    assert_eq!(line["requestId"], me.as_str());

    let ext = fetch(addr, "/ext", &[]).await.request_id();
    assert_eq!(t.access_line(&ext)["userId"], "from-response");
    let outer = fetch(addr, "/outer", &[]).await.request_id();
    assert_eq!(t.access_line(&outer)["userId"], "from-auth-layer");
}

/// 10,000 requests to random paths add no series: they are all `http_route="unmatched"`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_404_paths_add_no_series() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let _t = init(Options {
        sampler: Some("always_off"),
        ..Default::default()
    });
    let addr = serve(users_app()).await;
    let family = HTTP_SERVER_REQUEST_DURATION
        .register::<Histogram>()
        .unwrap();

    let mut conn = KeepAlive::connect(addr).await;
    assert_eq!(conn.get("/warm-up").await, 404);
    let before = family.series_count();
    let exposition_before =
        glimpse_telemetry::metrics::encode(glimpse_telemetry::metrics::Format::Text)
            .lines()
            .count();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..10_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let path = format!("/random/{state:016x}/{i}");
        assert_eq!(conn.get(&path).await, 404);
    }
    assert_eq!(family.series_count(), before);
    let text = glimpse_telemetry::metrics::encode(glimpse_telemetry::metrics::Format::Text);
    assert_eq!(text.lines().count(), exposition_before);
    assert!(!text.contains("/random/"));
    assert_eq!(
        metric(
            "http_server_request_duration_seconds_count",
            &[
                ("http_request_method", "GET"),
                ("http_route", "unmatched"),
                ("http_response_status_code", "404"),
                ("error_type", ""),
            ]
        ),
        Some(10_001.0)
    );
    assert!(
        !text.contains("otel_metric_overflow"),
        "nowhere near the limit"
    );
}

/// A client that goes away mid-request (before the response, or half-way through a streamed
/// body) leaves the active-requests gauge where it was, and the request is logged as cancelled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_requests_return_to_zero_after_cancelled_requests() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    use tokio::io::AsyncWriteExt;
    let t = init(Options::default());
    let started = std::sync::Arc::new(tokio::sync::Notify::new());
    let s = started.clone();
    let app = Router::new()
        .route(
            "/slow",
            get(move || {
                let s = s.clone();
                async move {
                    s.notify_one();
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    "never"
                }
            }),
        )
        .route(
            "/stream",
            get(|| async {
                let chunks = futures_util::stream::unfold(0u64, |i| async move {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    Some((Ok::<_, std::io::Error>(format!("chunk {i}\n")), i + 1))
                });
                axum::body::Body::from_stream(chunks)
            }),
        )
        .layer(glimpse_telemetry_axum::TelemetryLayer::new());
    let addr = serve(app).await;
    let active = || {
        metric(
            "http_server_active_requests",
            &[("http_request_method", "GET"), ("url_scheme", "http")],
        )
        .unwrap_or(0.0)
    };

    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(b"GET /slow HTTP/1.1\r\nHost: t\r\nx-request-id: cancel-me\r\n\r\n")
        .await
        .unwrap();
    started.notified().await;
    assert_eq!(active(), 1.0);
    drop(conn);
    assert!(
        eventually(Duration::from_secs(5), || active() == 0.0).await,
        "gauge stuck at {}",
        active()
    );
    let line = t.access_line("cancel-me");
    assert_eq!(line["level"], "WARN");
    assert_eq!(line["http_status"], 499);
    assert_eq!(line["message"], "GET /slow cancelled by the client");
    assert_eq!(
        metric(
            "http_server_request_duration_seconds_count",
            &[
                ("http_request_method", "GET"),
                ("http_route", "/slow"),
                ("http_response_status_code", ""),
                ("error_type", "cancelled"),
            ]
        ),
        Some(1.0)
    );

    // Half-way through a streamed body.
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(b"GET /stream HTTP/1.1\r\nHost: t\r\nx-request-id: stream-me\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    while !String::from_utf8_lossy(&got).contains("chunk 1") {
        let mut buf = [0u8; 256];
        let n = tokio::io::AsyncReadExt::read(&mut conn, &mut buf)
            .await
            .unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(active(), 1.0);
    drop(conn);
    assert!(
        eventually(Duration::from_secs(5), || active() == 0.0).await,
        "gauge stuck at {}",
        active()
    );
    let line = t.access_line("stream-me");
    assert_eq!(line["http_status"], 200);
    assert!(line["bytes"].as_u64().unwrap() > 0);
}

/// Malformed `traceparent`, `baggage` and `x-request-id` values and non-UTF-8 paths never break a
/// request nor the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_inputs_never_panic() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let t = init(Options::default());
    let addr = serve(users_app()).await;

    let long = "9".repeat(10_000);
    let bad_traceparents = [
        "",
        "00-",
        "garbage",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",
        long.as_str(),
    ];
    for tp in bad_traceparents {
        let res = fetch(
            addr,
            "/users/1",
            &[("traceparent", tp), ("baggage", "a=b,,;;=%%%,=")],
        )
        .await;
        assert_eq!(res.status, 200, "traceparent {tp:?}");
        let (trace_id, _) = res.traceparent();
        assert_ne!(
            trace_id, "4bf92f3577b34da6a3ce929d0e0e4736",
            "{tp:?} was not taken"
        );
    }
    for id in ["", " ", "a\tb", long.as_str()] {
        let res = fetch(addr, "/users/1", &[("x-request-id", id)]).await;
        assert_eq!(res.status, 200, "x-request-id {id:?}");
        assert_eq!(res.request_id().len(), 36);
    }
    // Header values with bytes above 0x7f (obs-text), and non-UTF-8 paths.
    let raws: [&[u8]; 5] = [
        b"GET /users/1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\nx-request-id: caf\xc3\xa9\r\ntraceparent: 00-\xff\xfe-01\r\nuser-agent: \xff\xff\r\n\r\n",
        b"GET /users/\xff\xfe HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        b"GET /caf\xc3\xa9/%ff%fe HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        b"GET /users/%ff%fe HTTP/1.1\r\nHost: \xff\r\nConnection: close\r\n\r\n",
        b"BREW /users/1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    ];
    for req in raws {
        let res = raw(addr, req).await;
        assert!(
            res.status < 500,
            "{:?}: {}",
            String::from_utf8_lossy(req),
            res.status
        );
    }
    // Still serving, and nothing panicked.
    assert_eq!(fetch(addr, "/users/1", &[]).await.status, 200);
    let lines = t.lines();
    assert!(
        lines
            .iter()
            .all(|l| l["target"] != "glimpse_telemetry::panic"),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["route"] == "/users/{id}" && l["path"] == "/users/%ff%fe")
    );
    // The unknown method is `_OTHER` in the metrics.
    assert!(
        metric(
            "http_server_request_duration_seconds_count",
            &[
                ("http_request_method", "_OTHER"),
                ("http_route", "/users/{id}"),
                ("http_response_status_code", "405"),
                ("error_type", ""),
            ]
        )
        .is_some()
    );
}

/// Access log levels, per-route sampling, slow requests, excluded and quiet routes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_log_levels_and_sampling() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let t = init(Options::default());
    let app = Router::new()
        .route(
            "/hot",
            get(|q: axum::extract::RawQuery| async move {
                match q.0.as_deref() {
                    Some("fail") => StatusCode::BAD_REQUEST,
                    Some("slow") => {
                        tokio::time::sleep(Duration::from_millis(120)).await;
                        StatusCode::OK
                    }
                    Some("error") => StatusCode::INTERNAL_SERVER_ERROR,
                    _ => StatusCode::OK,
                }
            }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/health", get(|| async { "ok" }))
        .route("/internal", get(|| async { "ok" }))
        .layer(
            TelemetryLayer::builder()
                .sample_successes("/hot", 0.0)
                .slow_threshold(Duration::from_millis(100))
                .exclude_route("/internal")
                .build(),
        );
    let addr = serve(app).await;

    let ok = fetch(addr, "/hot", &[]).await.request_id();
    let fail = fetch(addr, "/hot?fail", &[]).await.request_id();
    let slow = fetch(addr, "/hot?slow", &[]).await.request_id();
    let error = fetch(addr, "/hot?error", &[]).await.request_id();
    let health = fetch(addr, "/health", &[]).await.request_id();
    let internal = fetch(addr, "/internal", &[]).await;
    // `/healthz` is excluded by default (the ops endpoints' path).
    let healthz = fetch(addr, "/healthz", &[]).await;
    assert_eq!(healthz.status, 200);
    assert!(
        healthz.header("x-request-id").is_none(),
        "excluded routes are left alone"
    );
    assert!(internal.header("x-request-id").is_none());

    assert_eq!(t.access_line(&fail)["level"], "WARN");
    assert_eq!(t.access_line(&slow)["level"], "INFO");
    assert!(t.access_line(&slow)["response_time"].as_f64().unwrap() >= 100.0);
    assert_eq!(t.access_line(&error)["level"], "ERROR");
    assert!(t.access_lines(&ok).is_empty(), "sampled out");
    assert!(t.access_lines(&health).is_empty(), "quiet route");
    let text = glimpse_telemetry::metrics::encode(glimpse_telemetry::metrics::Format::Text);
    assert!(
        text.contains(r#"http_route="/health""#),
        "quiet routes are still measured"
    );
    assert!(!text.contains(r#"http_route="/internal""#));
    assert!(!text.contains(r#"http_route="/healthz""#));
}
