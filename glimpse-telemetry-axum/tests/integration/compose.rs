//! Every request is seen, however the router is composed: for each composition, a real server on
//! loopback answers a known route, a path no route matches (and whatever the composition adds:
//! a fallback, a 405, an auth rejection), and each request gets its request id and a
//! `traceparent` of the caller's trace, one access line with the caller's `traceId`, an exported
//! server span, and a count under its route template (`unmatched` for no route, never the path).

use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use glimpse_telemetry_axum::{TelemetryLayer, instrument, ops_router};
use http::StatusCode;

use crate::common::*;

/// One request and what must follow from it.
struct Case {
    method: &'static str,
    path: &'static str,
    headers: &'static [(&'static str, &'static str)],
    status: u16,
    route: &'static str,
    /// The span name (`GET /users/{id}`; `GET` for requests no route matched).
    span: &'static str,
}

const fn get_(path: &'static str, status: u16, route: &'static str, span: &'static str) -> Case {
    Case {
        method: "GET",
        path,
        headers: &[],
        status,
        route,
        span,
    }
}

const USER: Case = get_("/users/7", 200, "/users/{id}", "GET /users/{id}");
const UNKNOWN: Case = get_("/no/such/route", 404, "unmatched", "GET");

fn users() -> Router {
    Router::new().route("/users/{id}", get(|| async { "user" }))
}

fn count(method: &str, route: &str, status: u16) -> f64 {
    let status = status.to_string();
    metric(
        "http_server_request_duration_seconds_count",
        &[
            ("http_request_method", method),
            ("http_route", route),
            ("http_response_status_code", &status),
            ("error_type", ""),
        ],
    )
    .unwrap_or(0.0)
}

/// Sends each case three times and checks everything a request must get.
async fn assert_every_request_seen(t: &Telemetry, addr: std::net::SocketAddr, cases: &[Case]) {
    const TIMES: u32 = 3;
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    for (n, case) in cases.iter().enumerate() {
        let before = count(case.method, case.route, case.status);
        for i in 0..TIMES {
            let request_id = format!("compose-{call}-{n}-{i}");
            let tp = traceparent();
            let mut headers = vec![("x-request-id", request_id.as_str()), ("traceparent", &tp)];
            headers.extend_from_slice(case.headers);
            let mut req = format!(
                "{} {} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n",
                case.method, case.path
            );
            for (k, v) in &headers {
                req.push_str(&format!("{k}: {v}\r\n"));
            }
            req.push_str("\r\n");
            let response = raw(addr, req.as_bytes()).await;
            let what = format!("{} {}", case.method, case.path);
            assert_eq!(response.status, case.status, "{what}: {}", response.text());
            assert_eq!(response.request_id(), request_id, "{what}: x-request-id");
            assert_eq!(response.traceparent().0, TRACE_ID, "{what}: traceparent");

            let line = t.access_line(&request_id);
            assert_eq!(line["http_status"], case.status, "{what}: {line}");
            assert_eq!(line["route"], case.route, "{what}: {line}");
            assert_eq!(line["path"], case.path, "{what}: {line}");
            assert_eq!(line["traceId"], TRACE_ID, "{what}: {line}");
            let level = if case.status >= 400 { "WARN" } else { "INFO" };
            assert_eq!(line["level"], level, "{what}: {line}");
            assert_eq!(t.access_lines(&request_id).len(), 1, "{what}: one line");

            let span_id = response.traceparent().1;
            let span = t.wait_for_span(Duration::from_secs(5), |s| {
                s.span_context.span_id().to_string() == span_id
            });
            assert_eq!(span.name, case.span, "{what}: span name");
            assert_eq!(span.span_context.trace_id().to_string(), TRACE_ID);
            let route_attr = span
                .attributes
                .iter()
                .find(|kv| kv.key.as_str() == "http.route")
                .map(|kv| kv.value.to_string());
            let expected = (case.route != "unmatched").then(|| case.route.to_owned());
            assert_eq!(route_attr, expected, "{what}: http.route");
        }
        assert_eq!(
            count(case.method, case.route, case.status) - before,
            f64::from(TIMES),
            "{} {}: counted once each under http_route={:?}",
            case.method,
            case.path,
            case.route
        );
    }
    let text = glimpse_telemetry::metrics::encode(glimpse_telemetry::metrics::Format::Text);
    assert!(!text.contains("/no/such/route"), "never the raw path");
}

/// The README's old pattern: the layer, then the ops router merged in (its default fallback
/// replaces the app's; it carries a layer of its own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layer_then_merge() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let t = init(Options::default());
    let app = users()
        .layer(glimpse_telemetry_axum::TelemetryLayer::new())
        .merge(ops_router());
    let addr = serve(app).await;
    assert_every_request_seen(&t, addr, &[USER, UNKNOWN]).await;
    assert_ops_endpoints_stay_out(&t, addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_then_layer() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let t = init(Options::default());
    let app = users()
        .merge(ops_router())
        .layer(glimpse_telemetry_axum::TelemetryLayer::new());
    let addr = serve(app).await;
    assert_every_request_seen(&t, addr, &[USER, UNKNOWN]).await;
    assert_ops_endpoints_stay_out(&t, addr).await;
}

/// The documented way: the layer around the finished app.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instrument_the_finished_app() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let t = init(Options::default());
    let addr = serve_instrumented(instrument(users().merge(ops_router()))).await;
    assert_every_request_seen(&t, addr, &[USER, UNKNOWN]).await;
    assert_ops_endpoints_stay_out(&t, addr).await;
}

/// `nest` keeps the full template; a nested router's own fallback and `nest_service` answer
/// requests no route template names (`unmatched`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_routers_their_fallbacks_and_nested_services() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let t = init(Options::default());
    let api = users().fallback(|| async { (StatusCode::NOT_FOUND, "no such API") });
    let files = tower::service_fn(|_req: Request| async {
        Ok::<_, std::convert::Infallible>("file".into_response())
    });
    let app = Router::new()
        .nest("/api", api)
        .nest_service("/static", files)
        .merge(ops_router());
    let addr = serve_instrumented(instrument(app)).await;
    assert_every_request_seen(
        &t,
        addr,
        &[
            get_(
                "/api/users/7",
                200,
                "/api/users/{id}",
                "GET /api/users/{id}",
            ),
            get_("/api/nothing", 404, "unmatched", "GET"),
            get_("/static/site.css", 200, "unmatched", "GET"),
            UNKNOWN,
        ],
    )
    .await;
}

/// A custom fallback added after everything else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_fallback() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let t = init(Options::default());
    let app = users()
        .merge(ops_router())
        .fallback(|| async { (StatusCode::NOT_FOUND, "custom") });
    let addr = serve_instrumented(instrument(app)).await;
    assert_every_request_seen(&t, addr, &[USER, UNKNOWN]).await;
}

/// A 405 keeps the route's template.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn method_not_allowed_keeps_the_template() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let t = init(Options::default());
    let addr = serve_instrumented(instrument(users().merge(ops_router()))).await;
    let post = Case {
        method: "POST",
        path: "/users/7",
        headers: &[],
        status: 405,
        route: "/users/{id}",
        span: "POST /users/{id}",
    };
    assert_every_request_seen(&t, addr, &[post, USER]).await;
}

async fn require_token(req: Request, next: Next) -> Response {
    if req.headers().contains_key("x-token") {
        next.run(req).await
    } else {
        StatusCode::UNAUTHORIZED.into_response()
    }
}

/// The application's own auth as a `route_layer`, added after the telemetry layer: its
/// rejections are seen under the route's template.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_layer_rejections() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let t = init(Options::default());
    let app = users()
        .route_layer(middleware::from_fn(require_token))
        .merge(ops_router());
    let addr = serve_instrumented(instrument(app)).await;
    let rejected = get_("/users/7", 401, "/users/{id}", "GET /users/{id}");
    let allowed = Case {
        headers: &[("x-token", "t")],
        ..USER
    };
    assert_every_request_seen(&t, addr, &[rejected, allowed, UNKNOWN]).await;
}

#[derive(Clone)]
struct AppState(&'static str);

fn stateful() -> Router<AppState> {
    Router::new().route(
        "/users/{id}",
        get(|State(s): State<AppState>| async move { s.0 }),
    )
}

/// `with_state` before the layer, and the layer (by `Router::layer`) before `with_state`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_state_before_or_after() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let t = init(Options::default());
    let before = instrument(stateful().with_state(AppState("user")).merge(ops_router()));
    let addr = serve_instrumented(before).await;
    assert_every_request_seen(&t, addr, &[USER, UNKNOWN]).await;

    let layered: Router = stateful()
        .layer(TelemetryLayer::new())
        .merge(ops_router())
        .with_state(AppState("user"));
    let addr = serve(layered).await;
    assert_every_request_seen(&t, addr, &[USER, UNKNOWN]).await;
}

/// The ops endpoints stay out of the metrics and the access log, in every composition.
async fn assert_ops_endpoints_stay_out(t: &Telemetry, addr: std::net::SocketAddr) {
    for path in ["/metrics", "/healthz", "/readyz"] {
        let response = fetch(addr, path, &[("x-request-id", "ops-probe")]).await;
        assert_eq!(response.status, 200, "{path}");
        assert_eq!(count("GET", path, 200), 0.0, "{path} is not counted");
    }
    // A request after them is logged: had they been, their lines would be there first.
    let response = fetch(addr, "/users/1", &[("x-request-id", "after-ops")]).await;
    assert_eq!(response.status, 200);
    t.access_line("after-ops");
    assert!(
        t.access_lines("ops-probe").is_empty(),
        "ops requests are not logged"
    );
}

/// A chunked upload (no `Content-Length`) is measured as it is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_request_bodies_are_measured() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let t = init(Options::default());
    let app = Router::new().route(
        "/upload",
        axum::routing::post(|body: axum::body::Bytes| async move { body.len().to_string() }),
    );
    let addr = serve_instrumented(instrument(app)).await;
    let labels = [
        ("http_request_method", "POST"),
        ("http_route", "/upload"),
        ("http_response_status_code", "200"),
        ("error_type", ""),
    ];
    let sum = || metric("http_server_request_body_size_bytes_sum", &labels).unwrap_or(0.0);
    let requests = || metric("http_server_request_body_size_bytes_count", &labels).unwrap_or(0.0);
    let (sum_before, count_before) = (sum(), requests());
    let chunks = ["hello ", "chunked ", "world"];
    let mut req = format!(
        "POST /upload HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nx-request-id: chunked-1\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    for c in chunks {
        req.push_str(&format!("{:x}\r\n{c}\r\n", c.len()));
    }
    req.push_str("0\r\n\r\n");
    let response = raw(addr, req.as_bytes()).await;
    let total: usize = chunks.iter().map(|c| c.len()).sum();
    assert_eq!(response.status, 200);
    assert_eq!(
        response.text(),
        total.to_string(),
        "the handler read it all"
    );
    t.access_line("chunked-1");
    assert_eq!(requests() - count_before, 1.0, "the request was measured");
    assert_eq!(
        sum() - sum_before,
        total as f64,
        "its body size counted as read"
    );
}
