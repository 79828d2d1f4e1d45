//! The layer under the core's in-process `Capture` (no global init, no peers): what a service's
//! own unit tests see.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use glimpse_telemetry::otel::trace::Status;
use glimpse_telemetry::testing::Capture;
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

#[tokio::test]
async fn capture_sees_the_span_the_access_line_and_one_error_event() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let capture = Capture::new();
    let app = Router::new()
        .route("/ok", get(|| async { "hello" }))
        .route(
            "/fail",
            get(|| async {
                glimpse_telemetry_axum::set_user_id("u-1");
                tracing::info!("about to fail");
                StatusCode::INTERNAL_SERVER_ERROR
            }),
        )
        .layer(glimpse_telemetry_axum::TelemetryLayer::new());

    let call = |path: &'static str| {
        let app = app.clone();
        async move {
            let res = app
                .oneshot(Request::get(path).body(Body::empty()).unwrap())
                .await
                .unwrap();
            let (parts, body) = res.into_parts();
            let bytes = body.collect().await.unwrap().to_bytes();
            (parts, bytes)
        }
    };
    let (ok, body) = capture.run_async(call("/ok")).await;
    assert_eq!(ok.status, 200);
    assert_eq!(&body[..], b"hello");
    let (fail, _) = capture.run_async(call("/fail")).await;
    assert_eq!(fail.status, 500);
    let fail_id = fail.headers["x-request-id"].to_str().unwrap().to_owned();

    let lines = capture.log_lines();
    let access: Vec<_> = lines
        .iter()
        .filter(|l| l["target"] == "glimpse_telemetry_axum::access")
        .collect();
    assert_eq!(access.len(), 2, "{lines:#?}");
    assert_eq!(access[0]["bytes"], 5);
    assert_eq!(access[1]["level"], "ERROR");
    assert_eq!(access[1]["userId"], "u-1");
    assert_eq!(access[1]["requestId"], fail_id.as_str());

    let spans = capture.spans();
    let names: Vec<_> = spans.iter().map(|s| s.name.to_string()).collect();
    assert!(names.contains(&"GET /ok".to_owned()), "{names:?}");
    let failed = spans.iter().find(|s| s.name == "GET /fail").unwrap();
    assert!(matches!(failed.status, Status::Error { .. }));

    let events = capture.error_events();
    assert_eq!(events.len(), 1, "{events:#?}");
    let e = &events[0];
    assert_eq!(e.message.as_deref(), Some("GET /fail 500"));
    assert_eq!(e.tags.get("http.route").map(String::as_str), Some("/fail"));
    assert_eq!(e.transaction.as_deref(), Some("GET /fail"));
    assert_eq!(
        e.tags.get("trace_id"),
        Some(&failed.span_context.trace_id().to_string())
    );
    // (Under `Capture` the core cannot see the request span from inside its layer callback, so
    // `request_id` and the user are only checked against a real init, in `errors.rs`.)
    assert_eq!(e.extra.get("path").and_then(|v| v.as_str()), Some("/fail"));
    let _ = &fail_id;
    assert!(
        e.breadcrumbs
            .values
            .iter()
            .any(|b| b.message.as_deref() == Some("about to fail")),
        "{:?}",
        e.breadcrumbs
    );
}

/// Calls `app` with `GET path` and reads the body; the response's request id.
async fn get_id<S>(app: S, path: &str) -> (StatusCode, String)
where
    S: tower::Service<Request<Body>, Response = axum::response::Response> + Send,
    S::Error: std::fmt::Debug,
    S::Future: Send,
{
    let res = app
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (parts, body) = res.into_parts();
    body.collect().await.unwrap();
    let id = parts.headers["x-request-id"].to_str().unwrap().to_owned();
    (parts.status, id)
}

fn crumbs(e: &glimpse_telemetry::sentry::protocol::Event<'static>) -> Vec<String> {
    e.breadcrumbs
        .values
        .iter()
        .filter_map(|b| b.message.clone())
        .collect()
}

/// Error reporting costs nothing to requests that go well (no error scope is made for them, the
/// access lines are never breadcrumbs); two requests served at once on one thread, their polls
/// interleaved, each get only their own breadcrumbs; a request keeps its latest 20.
#[tokio::test(flavor = "current_thread")]
async fn request_scopes_exist_only_for_requests_with_breadcrumbs_and_never_mix() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let capture = Capture::new();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2));
    let app = Router::new()
        .route("/ok", get(|| async { "hello" }))
        .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
        .route(
            "/mixed/{n}",
            get(
                move |axum::extract::Path(n): axum::extract::Path<u32>| async move {
                    tracing::info!("crumb of request {n}");
                    // Both requests have logged their crumb before either fails.
                    barrier.wait().await;
                    tracing::warn!("second crumb of request {n}");
                    tokio::task::yield_now().await;
                    tracing::error!(n, "request {n} failed");
                    StatusCode::INTERNAL_SERVER_ERROR
                },
            ),
        )
        .route(
            "/chatty",
            get(|| async {
                for i in 0..30 {
                    tracing::info!("step {i}");
                }
                StatusCode::INTERNAL_SERVER_ERROR
            }),
        );
    let layered = app
        .clone()
        .layer(glimpse_telemetry_axum::TelemetryLayer::new());
    let instrumented = glimpse_telemetry_axum::instrument(app);

    let before = glimpse_telemetry::testing::error_scopes_created();
    for _ in 0..5 {
        let (status, _) = capture.run_async(get_id(layered.clone(), "/ok")).await;
        assert_eq!(status, 200);
        let (status, _) = capture.run_async(get_id(instrumented.clone(), "/ok")).await;
        assert_eq!(status, 200);
        let (status, _) = capture.run_async(get_id(layered.clone(), "/missing")).await;
        assert_eq!(status, 404);
    }
    assert_eq!(
        glimpse_telemetry::testing::error_scopes_created(),
        before,
        "requests that went well made an error scope"
    );
    assert_eq!(
        capture
            .log_lines()
            .iter()
            .filter(|l| l["target"] == "glimpse_telemetry_axum::access")
            .count(),
        15,
        "their access lines were written"
    );
    assert!(capture.error_events().is_empty());

    let ((s1, id1), (s2, id2)) = capture
        .run_async(async {
            tokio::join!(
                get_id(layered.clone(), "/mixed/1"),
                get_id(instrumented.clone(), "/mixed/2")
            )
        })
        .await;
    assert_eq!(
        (s1, s2),
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusCode::INTERNAL_SERVER_ERROR
        )
    );
    assert_eq!(
        glimpse_telemetry::testing::error_scopes_created(),
        before + 2,
        "one scope per request with breadcrumbs"
    );
    let events = capture.error_events();
    assert_eq!(events.len(), 2, "{events:#?}");
    for (n, id) in [(1, &id1), (2, &id2)] {
        let e = events
            .iter()
            .find(|e| e.message.as_deref() == Some(&format!("request {n} failed")))
            .unwrap_or_else(|| panic!("no event of request {n}: {events:#?}"));
        let other = 3 - n;
        assert_eq!(
            crumbs(e),
            [
                format!("crumb of request {n}"),
                format!("second crumb of request {n}")
            ],
            "request {n} ({id}) has its own breadcrumbs only, not request {other}'s"
        );
        assert_eq!(e.transaction.as_deref(), Some("GET /mixed/{n}"));
        assert_eq!(
            e.tags.get("http.route").map(String::as_str),
            Some("/mixed/{n}")
        );
        assert_eq!(
            e.tags.get("http.request.method").map(String::as_str),
            Some("GET")
        );
    }

    let (status, _) = capture.run_async(get_id(layered, "/chatty")).await;
    assert_eq!(status, 500);
    let (status, _) = capture.run_async(get_id(instrumented, "/chatty")).await;
    assert_eq!(status, 500);
    let events = capture.error_events();
    assert_eq!(events.len(), 4, "{events:#?}");
    for e in &events[2..] {
        let steps: Vec<String> = crumbs(e)
            .into_iter()
            .filter(|m| m.starts_with("step "))
            .collect();
        let expected: Vec<String> = (10..30).map(|i| format!("step {i}")).collect();
        assert_eq!(steps, expected, "the latest 20 breadcrumbs, in order");
        assert_eq!(e.message.as_deref(), Some("GET /chatty 500"));
        assert_eq!(e.transaction.as_deref(), Some("GET /chatty"));
    }
}
