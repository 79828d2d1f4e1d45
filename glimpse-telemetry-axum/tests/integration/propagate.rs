//! A trace and a request id following a request from one service to another.

use std::net::SocketAddr;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::get;
use glimpse_telemetry_axum::PropagateLayer;
use serde_json::{Value, json};
use tower::{ServiceBuilder, ServiceExt as _};

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outgoing_calls_carry_the_trace_and_the_request_id() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let t = init(Options::default());
    // Service B echoes what it received.
    let b = serve(
        Router::new()
            .route(
                "/echo",
                get(|h: HeaderMap| async move {
                    let v = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                    json!({"traceparent": v("traceparent"), "x-request-id": v("x-request-id"), "baggage": v("baggage")})
                        .to_string()
                }),
            )
            .layer(glimpse_telemetry_axum::TelemetryLayer::new()),
    )
    .await;
    // Service A calls B with the propagation headers.
    let a = serve(
        Router::new()
            .route(
                "/call",
                get(move || async move {
                    let headers = glimpse_telemetry_axum::outgoing_headers();
                    let mut list = Vec::new();
                    for (k, v) in &headers {
                        list.push((k.as_str().to_owned(), v.to_str().unwrap().to_owned()));
                    }
                    let refs: Vec<(&str, &str)> =
                        list.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                    fetch(b, "/echo", &refs).await.text()
                }),
            )
            .route(
                "/layer",
                get(|| async {
                    let client = ServiceBuilder::new().layer(PropagateLayer::new()).service(
                        tower::service_fn(|req: axum::http::Request<()>| async move {
                            Ok::<_, std::convert::Infallible>(req.headers().clone())
                        }),
                    );
                    let sent = client.oneshot(axum::http::Request::new(())).await.unwrap();
                    json!({
                        "traceparent": sent.get("traceparent").map(|v| v.to_str().unwrap()),
                        "x-request-id": sent.get("x-request-id").map(|v| v.to_str().unwrap()),
                    })
                    .to_string()
                }),
            )
            .layer(glimpse_telemetry_axum::TelemetryLayer::new()),
    )
    .await;

    let res = fetch(a, "/call", &[("baggage", "tenant=acme")]).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let (a_trace, a_span) = res.traceparent();
    let received: Value = serde_json::from_slice(&res.body).unwrap();
    let tp = received["traceparent"].as_str().unwrap();
    assert_eq!(
        tp,
        format!("00-{a_trace}-{a_span}-01"),
        "B's parent is A's server span"
    );
    assert_eq!(received["x-request-id"], res.request_id().as_str());
    assert_eq!(received["baggage"], "tenant=acme");

    // B's access line is in A's trace, with A's request id.
    let b_line = t.wait_for_line(std::time::Duration::from_secs(5), |l| {
        l["route"] == "/echo" && l["target"] == "glimpse_telemetry_axum::access"
    });
    assert_eq!(b_line["traceId"], a_trace.as_str());
    assert_eq!(b_line["requestId"], res.request_id().as_str());

    let res = fetch(a, "/layer", &[]).await;
    let (trace, span) = res.traceparent();
    let sent: Value = serde_json::from_slice(&res.body).unwrap();
    assert_eq!(sent["traceparent"], format!("00-{trace}-{span}-01"));
    assert_eq!(sent["x-request-id"], res.request_id().as_str());

    // Outside a request: nothing to propagate.
    assert!(glimpse_telemetry_axum::outgoing_headers().is_empty());
    let _: SocketAddr = a;
}

/// A request whose trace is sampled out records nothing, but its trace still reaches the services
/// it calls: the caller's trace id, this request's span as the parent, the "not sampled" flag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sampled_out_requests_still_propagate_their_trace() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let t = init(Options {
        sampler: Some("parentbased_always_off"),
        ..Default::default()
    });
    let a = serve(
        Router::new()
            .route(
                "/call",
                get(|| async {
                    let headers = glimpse_telemetry_axum::outgoing_headers();
                    let v = |k: &str| headers.get(k).map(|v| v.to_str().unwrap().to_owned());
                    json!({"traceparent": v("traceparent"), "x-request-id": v("x-request-id")})
                        .to_string()
                }),
            )
            .layer(glimpse_telemetry_axum::TelemetryLayer::new()),
    )
    .await;
    let caller = format!("00-{TRACE_ID}-{PARENT_ID}-00");
    let res = fetch(a, "/call", &[("traceparent", &caller)]).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let tp = res.header("traceparent").expect("traceparent");
    let (trace, span) = res.traceparent();
    assert_eq!(
        tp,
        format!("00-{TRACE_ID}-{span}-00"),
        "the caller's trace, not sampled"
    );
    assert_ne!(span, PARENT_ID, "this request's own span");
    let sent: Value = serde_json::from_slice(&res.body).unwrap();
    assert_eq!(sent["traceparent"], tp, "outgoing calls: the same span");
    assert_eq!(sent["x-request-id"], res.request_id().as_str());
    assert_eq!(t.access_line(&res.request_id())["traceId"], trace.as_str());
}
