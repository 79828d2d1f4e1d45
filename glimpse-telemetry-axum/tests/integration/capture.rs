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
    if glimpse_tests::rerun_in_own_process() {
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
        .layer(glimpse_telemetry_axum::layer());

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
