//! Server errors at a real Sentry envelope receiver: one event per failed request, with the
//! method, route, request id, user and trace id, and nothing secret.

use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use glimpse_telemetry_axum::ResponseError;
use glimpse_test_support::SentryReceiver;
use serde_json::Value;

use crate::common::*;

fn events_for(sentry: &SentryReceiver, request_id: &str) -> Vec<Value> {
    let first = sentry.wait_for_events(Duration::from_secs(10), |e| {
        e["tags"]["request_id"] == request_id
    });
    assert!(
        !first.is_empty(),
        "no event for {request_id}; stderr: {}",
        sentry.stderr()
    );
    // Give a duplicate time to arrive.
    std::thread::sleep(Duration::from_millis(1500));
    sentry
        .events()
        .into_iter()
        .filter(|e| e["tags"]["request_id"] == request_id)
        .collect()
}

/// The user a handler sets shows in the access log and in the GlitchTip event of its 5xx, with
/// the route, method, request id and trace id, and without the `authorization` and `cookie`
/// headers or the query string.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_id_reaches_the_access_log_and_the_sentry_event() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let Some(sentry) = SentryReceiver::start() else {
        return;
    };
    let t = init(Options {
        sentry_dsn: Some(sentry.dsn().to_owned()),
        ..Default::default()
    });
    let app = Router::new()
        .route(
            "/orders/{id}",
            get(|| async {
                glimpse_telemetry_axum::set_user_id("user123");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ResponseError::new(std::io::Error::other("payment backend refused")),
                    "internal error",
                )
            }),
        )
        .layer(glimpse_telemetry_axum::TelemetryLayer::new());
    let addr = serve(app).await;

    let res = fetch(
        addr,
        "/orders/7?token=query-secret&card=4111111111111111",
        &[
            ("authorization", "Bearer super-secret-token"),
            ("cookie", "session=cookie-secret"),
        ],
    )
    .await;
    assert_eq!(res.status, 500);
    let rid = res.request_id();
    let (trace_id, _) = res.traceparent();

    let line = t.access_line(&rid);
    assert_eq!(line["level"], "ERROR");
    assert_eq!(line["userId"], "user123");
    assert_eq!(line["http_status"], 500);

    let events = events_for(&sentry, &rid);
    assert_eq!(events.len(), 1, "exactly one event: {events:#?}");
    let e = &events[0];
    assert_eq!(e["user"]["id"], "user123");
    assert_eq!(e["tags"]["trace_id"], trace_id.as_str());
    assert_eq!(e["contexts"]["trace"]["trace_id"], trace_id.as_str());
    assert_eq!(e["tags"]["http.route"], "/orders/{id}");
    assert_eq!(e["tags"]["http.request.method"], "GET");
    assert_eq!(e["transaction"], "GET /orders/{id}");
    assert_eq!(e["extra"]["route"], "/orders/{id}");
    assert_eq!(e["extra"]["method"], "GET");
    assert_eq!(e["extra"]["http_status"], 500);
    assert_eq!(e["extra"]["path"], "/orders/7");
    let text = e.to_string();
    assert!(text.contains("payment backend refused"), "{text}");
    for secret in [
        "super-secret-token",
        "cookie-secret",
        "query-secret",
        "4111111111111111",
    ] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    assert!(
        !text.to_ascii_lowercase().contains("authorization"),
        "{text}"
    );
}

/// A panicking handler gives a 500, exactly one event (the panic, with the request's ids), and
/// leaves nothing broken: the next requests, and the same route again, are served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_panic_is_a_500_one_event_and_no_poisoned_state() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let Some(sentry) = SentryReceiver::start() else {
        return;
    };
    let t = init(Options {
        sentry_dsn: Some(sentry.dsn().to_owned()),
        ..Default::default()
    });
    let app = Router::new()
        .route(
            "/panic",
            get(|| async {
                glimpse_telemetry_axum::set_user_id("u-panic");
                if std::hint::black_box(true) {
                    panic!("kaboom");
                }
                "unreachable"
            }),
        )
        .route("/ok", get(|| async { "ok" }))
        .layer(glimpse_telemetry_axum::TelemetryLayer::new());
    let addr = serve(app).await;

    let res = fetch(addr, "/panic", &[]).await;
    assert_eq!(res.status, 500);
    let rid = res.request_id();
    let (trace_id, _) = res.traceparent();
    for _ in 0..20 {
        assert_eq!(fetch(addr, "/ok", &[]).await.status, 200);
    }
    let again = fetch(addr, "/panic", &[]).await;
    assert_eq!(again.status, 500);

    let events = events_for(&sentry, &rid);
    assert_eq!(events.len(), 1, "exactly one event: {events:#?}");
    let e = &events[0];
    assert_eq!(e["level"], "fatal");
    assert_eq!(e["exception"]["values"][0]["type"], "panic");
    assert_eq!(e["exception"]["values"][0]["value"], "kaboom");
    assert_eq!(e["user"]["id"], "u-panic");
    assert_eq!(e["tags"]["trace_id"], trace_id.as_str());
    assert_eq!(e["tags"]["http.route"], "/panic");

    let panic_line = t.wait_for_line(Duration::from_secs(5), |l| {
        l["target"] == "glimpse_telemetry::panic" && l["requestId"] == rid.as_str()
    });
    assert_eq!(panic_line["userId"], "u-panic");
    let access = t.access_line(&rid);
    assert_eq!(access["level"], "ERROR");
    assert_eq!(access["panic"], true);
    assert_eq!(access["http_status"], 500);
    assert!(
        eventually(Duration::from_secs(5), || metric(
            "http_server_active_requests",
            &[("http_request_method", "GET"), ("url_scheme", "http")]
        ) == Some(0.0))
        .await
    );
}

/// A 5xx gives one event whether or not the handler logged an error itself; 4xx give none; and
/// each request's event has only its own breadcrumbs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_xx_are_reported_exactly_once() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let Some(sentry) = SentryReceiver::start() else {
        return;
    };
    let _t = init(Options {
        sentry_dsn: Some(sentry.dsn().to_owned()),
        ..Default::default()
    });
    let app = Router::new()
        .route(
            "/logged/{n}",
            get(
                |axum::extract::Path(n): axum::extract::Path<u32>| async move {
                    tracing::info!(n, "crumb of request {n}");
                    tracing::error!(n, "database unavailable");
                    StatusCode::INTERNAL_SERVER_ERROR
                },
            ),
        )
        .route("/silent", get(|| async { StatusCode::SERVICE_UNAVAILABLE }))
        .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
        .layer(glimpse_telemetry_axum::TelemetryLayer::new());
    let addr = serve(app).await;

    let logged_1 = fetch(addr, "/logged/1", &[]).await.request_id();
    let logged_2 = fetch(addr, "/logged/2", &[]).await.request_id();
    let silent = fetch(addr, "/silent", &[]).await.request_id();
    let missing = fetch(addr, "/missing", &[]).await.request_id();

    for (rid, n) in [(&logged_1, 1), (&logged_2, 2)] {
        let events = events_for(&sentry, rid);
        assert_eq!(events.len(), 1, "{events:#?}");
        let e = &events[0];
        assert_eq!(e["message"], "database unavailable");
        assert_eq!(e["tags"]["http.route"], "/logged/{n}");
        let crumbs = e["breadcrumbs"]["values"].to_string();
        assert!(
            crumbs.contains(&format!("crumb of request {n}")),
            "{crumbs}"
        );
        let other = if n == 1 { 2 } else { 1 };
        assert!(
            !crumbs.contains(&format!("crumb of request {other}")),
            "mixed: {crumbs}"
        );
    }
    let events = events_for(&sentry, &silent);
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["message"], "GET /silent 503");
    assert_eq!(events[0]["extra"]["http_status"], 503);
    assert!(
        sentry
            .events()
            .iter()
            .all(|e| e["tags"]["request_id"] != missing.as_str()),
        "4xx are not errors"
    );
}
