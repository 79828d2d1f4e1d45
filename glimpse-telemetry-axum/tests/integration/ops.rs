//! `/metrics`, `/healthz`, `/readyz`, merged into the API router or on their own port.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use glimpse_telemetry_axum::Ops;
use serde_json::Value;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_endpoints_serve_metrics_health_and_readiness() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let t = init(Options::default());
    let app = Router::new()
        .route("/users/{id}", get(|| async { "user" }))
        .layer(glimpse_telemetry_axum::TelemetryLayer::new())
        .merge(
            Ops::new()
                .check("ok", || async { Ok::<_, String>(()) })
                .router(),
        );
    let addr = serve(app).await;

    // A sampled request, so its trace id is an exemplar.
    let res = fetch(addr, "/users/1", &[]).await;
    let (trace_id, _) = res.traceparent();

    let text = fetch(addr, "/metrics", &[]).await;
    assert_eq!(text.status, 200);
    assert_eq!(
        text.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let body = text.text();
    assert!(
        body.contains(r#"http_server_request_duration_seconds_count{http_request_method="GET",http_route="/users/{id}",http_response_status_code="200",error_type=""} 1"#),
        "{body}"
    );
    assert!(
        !body.contains("trace_id="),
        "no exemplars in the classic format"
    );
    if glimpse_test_support::promtool().is_some() {
        glimpse_test_support::promtool_check_metrics(&body).unwrap();
    }

    let om = fetch(
        addr,
        "/metrics",
        &[(
            "accept",
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        )],
    )
    .await;
    assert_eq!(
        om.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    let om = om.text();
    assert!(om.ends_with("# EOF\n"));
    assert!(
        om.contains(&format!(r#"trace_id="{trace_id}""#)),
        "exemplar of {trace_id} in {om}"
    );

    let health = fetch(addr, "/healthz", &[]).await;
    assert_eq!(health.status, 200);
    assert_eq!(
        serde_json::from_slice::<Value>(&health.body).unwrap()["status"],
        "ok"
    );
    let ready = fetch(addr, "/readyz", &[]).await;
    assert_eq!(ready.status, 200, "{}", ready.text());
    let ready: Value = serde_json::from_slice(&ready.body).unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["checks"][0]["name"], "ok");

    // The ops endpoints are not counted nor logged.
    let metrics = glimpse_telemetry::metrics::encode(glimpse_telemetry::metrics::Format::Text);
    for path in ["/metrics", "/healthz", "/readyz"] {
        assert!(
            !metrics.contains(&format!(r#"http_route="{path}""#)),
            "{path}"
        );
    }
    assert!(t.lines().iter().all(|l| l["path"] != "/metrics"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_names_failing_checks_on_a_separate_port() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let _t = init(Options::default());
    let ops = Ops::new()
        .check("database", || async { Err::<(), _>("connection refused") })
        .check("cache", || async { Ok::<_, std::io::Error>(()) })
        .check("queue", || async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok::<_, String>(())
        })
        .check("flaky", || async {
            if std::hint::black_box(true) {
                panic!("check bug");
            }
            Ok::<_, String>(())
        })
        .check_timeout(Duration::from_millis(200))
        .serve("127.0.0.1:0")
        .await
        .unwrap();
    let addr = ops.local_addr();

    let started = std::time::Instant::now();
    let res = fetch(addr, "/readyz", &[]).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "checks run concurrently, bounded"
    );
    assert_eq!(res.status, 503);
    assert_eq!(res.header("content-type"), Some("application/json"));
    let body: Value = serde_json::from_slice(&res.body).unwrap();
    assert_eq!(body["status"], "not_ready");
    assert_eq!(
        body["failing"],
        serde_json::json!(["database", "queue", "flaky"])
    );
    let check = |name: &str| {
        body["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(check("database")["error"], "connection refused");
    assert_eq!(check("cache")["status"], "ok");
    assert_eq!(check("queue")["error"], "timed out after 200 ms");
    assert_eq!(check("flaky")["error"], "the check panicked");

    assert_eq!(fetch(addr, "/healthz", &[]).await.status, 200);
    assert_eq!(fetch(addr, "/metrics", &[]).await.status, 200);
    assert_eq!(fetch(addr, "/users/1", &[]).await.status, 404);
    ops.abort();
}
