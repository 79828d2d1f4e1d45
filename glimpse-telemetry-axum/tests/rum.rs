//! The RUM endpoint (feature `rum`) through a real router and the telemetry layer, in-process:
//! what is recorded, counted once per page view, linked to the document trace, and refused; and
//! generated hostile beacons (proptest, like tests/fuzz.rs): arbitrary bytes, mutated reports,
//! arbitrary media types and sizes never panic, never answer 5xx, and never add a series.
//!
//! The counts are per process: run with nextest (one process per test), as `./scripts/test` does;
//! each test also uses its own page templates.

use std::sync::LazyLock;

use axum::Router;
use axum::body::Body;
use glimpse_telemetry::metrics::{Format, catalogue, encode};
use glimpse_telemetry_axum::rum::beacon::{self, Measure};
use glimpse_telemetry_axum::rum::{OTHER, RumEndpoint};
use http::{Request, StatusCode};
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use tower::ServiceExt as _;

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn app(rum: RumEndpoint) -> Router {
    Router::new()
        .merge(rum.router())
        .layer(glimpse_telemetry_axum::TelemetryLayer::new())
}

async fn post(
    app: &Router,
    content_type: Option<&str>,
    body: impl Into<Body>,
) -> (StatusCode, String) {
    let mut req = Request::post("/rum");
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let res = app
        .clone()
        .oneshot(req.body(body.into()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn report(name: &str, value: f64, id: &str, page: &str, extra: &str) -> String {
    format!(r#"{{"name":"{name}","value":{value},"id":"{id}","page":"{page}"{extra}}}"#)
}

fn exposition() -> String {
    encode(Format::OpenMetrics)
}

fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            let rest = l.strip_prefix(series)?.strip_prefix(' ')?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .unwrap_or(f64::NAN)
}

fn count(text: &str, metric: &str, page: &str) -> f64 {
    sample(text, &format!("{metric}_count{{page_route=\"{page}\"}}"))
}

fn outcome(text: &str, o: &str) -> f64 {
    sample(
        text,
        &format!("glimpse_telemetry_rum_beacons_total{{outcome=\"{o}\"}}"),
    )
}

#[tokio::test]
async fn reports_are_recorded_by_page_template_with_ratings_and_exemplars() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let rum = RumEndpoint::builder().pages(["/a/{id}", "/a/me"]).build();
    assert_eq!(rum.page_route("/a/1"), "/a/{id}");
    let app = app(rum);
    let tp = format!(r#","traceparent":"{TRACEPARENT}""#);
    let batch = format!(
        "[{},{},{},{},{},{}]",
        report("LCP", 4200.0, "v6-1-1", "/a/42?x=1", &tp),
        report(
            "INP",
            180.0,
            "v6-1-2",
            "/a/42",
            r#","delta":180,"rating":"good","navigationType":"navigate""#
        ),
        report("CLS", 0.3, "v6-1-3", "/a/me", ""),
        report("FCP", 1000.0, "v6-1-4", "https://glimpse.app/a/42", ""),
        report("TTFB", 900.0, "v6-1-5", "/elsewhere/secret-token", ""),
        report("PageLoad", 2100.0, "pl-1-6", "/a/42", ""),
    );
    assert_eq!(
        post(&app, Some("text/plain;charset=UTF-8"), batch).await.0,
        StatusCode::NO_CONTENT
    );
    let single = report("LCP", 1000.0, "v6-2-1", "/a/7", "");
    assert_eq!(
        post(&app, Some("application/json"), single).await.0,
        StatusCode::NO_CONTENT
    );

    let text = exposition();
    assert_eq!(
        count(&text, "browser_web_vital_lcp_seconds", "/a/{id}"),
        2.0
    );
    assert_eq!(
        sample(
            &text,
            r#"browser_web_vital_lcp_seconds_sum{page_route="/a/{id}"}"#
        ),
        5.2
    );
    assert_eq!(
        count(&text, "browser_web_vital_inp_seconds", "/a/{id}"),
        1.0
    );
    assert_eq!(count(&text, "browser_web_vital_cls", "/a/me"), 1.0);
    assert_eq!(
        count(&text, "browser_web_vital_fcp_seconds", "/a/{id}"),
        1.0
    );
    assert_eq!(count(&text, "browser_web_vital_ttfb_seconds", OTHER), 1.0);
    assert_eq!(
        count(&text, "browser_page_load_duration_seconds", "/a/{id}"),
        1.0
    );
    assert!(!text.contains("secret-token") && !text.contains("/a/42"));
    let rating = |page: &str, v: &str, r: &str| {
        sample(
            &text,
            &format!(
                r#"browser_web_vital_ratings_total{{page_route="{page}",web_vital="{v}",rating="{r}"}}"#
            ),
        )
    };
    assert_eq!(rating("/a/{id}", "lcp", "poor"), 1.0);
    assert_eq!(rating("/a/{id}", "lcp", "good"), 1.0);
    assert_eq!(rating("/a/{id}", "inp", "good"), 1.0);
    assert_eq!(rating("/a/me", "cls", "poor"), 1.0);
    assert_eq!(rating(OTHER, "ttfb", "needs-improvement"), 1.0);
    // The LCP of 4.2 s carries the document's trace, in its bucket (5 s); the other none.
    let exemplars: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("browser_") && l.contains(" # {"))
        .collect();
    assert_eq!(exemplars.len(), 1, "{exemplars:?}");
    assert!(
        exemplars[0]
            .starts_with(r#"browser_web_vital_lcp_seconds_bucket{le="5.0",page_route="/a/{id}"}"#)
    );
    assert!(
        exemplars[0]
            .contains(r#"trace_id="4bf92f3577b34da6a3ce929d0e0e4736",span_id="00f067aa0ba902b7""#)
    );
    assert_eq!(outcome(&text, "accepted"), 2.0);
}

#[tokio::test]
async fn each_page_view_counts_once_per_measure() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let app = app(RumEndpoint::builder()
        .page("/b")
        .dedupe_capacity(16)
        .build());
    let first = report("CLS", 0.05, "v6-9-1", "/b", "");
    // The same report again (a retry), then the later report of the same id (value grew).
    let later = report("CLS", 0.08, "v6-9-1", "/b", r#","delta":0.03"#);
    // A later report whose id was forgotten (or sent to another replica): delta != value.
    let orphan = report("INP", 300.0, "v6-9-2", "/b", r#","delta":50"#);
    for body in [&first, &first, &later, &orphan] {
        assert_eq!(
            post(&app, Some("text/plain"), body.clone()).await.0,
            StatusCode::NO_CONTENT
        );
    }
    let text = exposition();
    assert_eq!(count(&text, "browser_web_vital_cls", "/b"), 1.0);
    assert_eq!(
        sample(&text, r#"browser_web_vital_cls_sum{page_route="/b"}"#),
        0.05
    );
    assert_eq!(count(&text, "browser_web_vital_inp_seconds", "/b"), 0.0);
    assert_eq!(
        sample(&text, "glimpse_telemetry_rum_duplicate_reports_total"),
        3.0
    );
    // The same id for another measure is another page-view measure.
    let lcp = report("LCP", 800.0, "v6-9-1", "/b", "");
    assert_eq!(
        post(&app, Some("text/plain"), lcp).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        count(&exposition(), "browser_web_vital_lcp_seconds", "/b"),
        1.0
    );
    // Past the capacity, the oldest generation is forgotten, memory stays bounded.
    for i in 0..40 {
        let r = report("FCP", 100.0, &format!("v6-f-{i}"), "/b", "");
        assert_eq!(
            post(&app, Some("text/plain"), r).await.0,
            StatusCode::NO_CONTENT
        );
    }
    assert_eq!(
        count(&exposition(), "browser_web_vital_fcp_seconds", "/b"),
        40.0
    );
}

#[tokio::test]
async fn unsampled_or_absent_traces_give_no_exemplar() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let app = app(RumEndpoint::builder().page("/c").build());
    let unsampled = TRACEPARENT.replace("-01", "-00");
    let r = report(
        "TTFB",
        100.0,
        "v6-c-1",
        "/c",
        &format!(r#","traceparent":"{unsampled}""#),
    );
    assert_eq!(
        post(&app, Some("text/plain"), r).await.0,
        StatusCode::NO_CONTENT
    );
    let text = exposition();
    assert_eq!(count(&text, "browser_web_vital_ttfb_seconds", "/c"), 1.0);
    // Not even the beacon request's own (sampled) trace.
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("browser_web_vital_ttfb") && l.contains(" # {"))
    );
}

#[tokio::test]
async fn refusals_are_4xx_with_a_reason_and_counted() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let app = app(RumEndpoint::builder().page("/d").max_body(1024).build());
    let ok = report("LCP", 1.0, "v6-d-1", "/d", "");
    let (s, _) = post(&app, None, ok.clone()).await;
    assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (s, _) = post(&app, Some("multipart/form-data; boundary=x"), ok.clone()).await;
    assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let big = format!("[{}]", vec![ok.as_str(); 30].join(","));
    let (s, why) = post(&app, Some("text/plain"), big.clone()).await;
    assert_eq!(
        (s, why.as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "beacon too large")
    );
    // No Content-Length: a stream, refused once it passes the limit.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..10).map(|_| Ok(vec![b' '; 200])).collect();
    let stream = Body::from_stream(futures_util::stream::iter(chunks));
    assert_eq!(
        post(&app, Some("text/plain"), stream).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let (s, why) = post(&app, Some("text/plain"), report("FID", 1.0, "a", "/d", "")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(why.contains("unknown metric name \"FID\""), "{why}");
    // One bad report refuses the batch: nothing of it is recorded.
    let mixed = format!("[{ok},{}]", report("LCP", -5.0, "v6-d-2", "/d", ""));
    let (s, why) = post(&app, Some("text/plain"), mixed).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(why.starts_with("report 1:"), "{why}");
    let text = exposition();
    assert_eq!(count(&text, "browser_web_vital_lcp_seconds", "/d"), 0.0);
    assert_eq!(outcome(&text, "unsupported_media_type"), 2.0);
    assert_eq!(outcome(&text, "too_large"), 2.0);
    assert_eq!(outcome(&text, "invalid"), 2.0);
    assert_eq!(outcome(&text, "accepted"), 0.0);
}

#[tokio::test]
async fn the_rate_bound_drops_and_counts() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let app = app(RumEndpoint::builder().page("/e").rate_limit(1, 3).build());
    let mut statuses = Vec::new();
    for i in 0..6 {
        let r = report("FCP", 100.0, &format!("v6-e-{i}"), "/e", "");
        statuses.push(post(&app, Some("text/plain"), r).await.0.as_u16());
    }
    // A burst of 3, then (within well under a second) the rest dropped.
    assert_eq!(&statuses[..3], &[204, 204, 204]);
    assert!(
        statuses[3..].iter().filter(|s| **s == 429).count() >= 2,
        "{statuses:?}"
    );
    let text = exposition();
    let dropped = statuses.iter().filter(|s| **s == 429).count() as f64;
    assert_eq!(outcome(&text, "rate_limited"), dropped);
    assert_eq!(
        count(&text, "browser_web_vital_fcp_seconds", "/e"),
        6.0 - dropped
    );
}

// ---------------------------------------------------------------------------------------------
// Generated hostile beacons
// ---------------------------------------------------------------------------------------------

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
});

static FUZZ_APP: LazyLock<Router> = LazyLock::new(|| {
    // A generous rate bound: the cases test parsing; the bound has its own test.
    app(RumEndpoint::builder()
        .pages(["/f", "/f/{id}"])
        .rate_limit(1_000_000, 1_000_000)
        .build())
});

/// A report, valid or with one field replaced by something hostile.
fn report_json() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        4 => prop::sample::select(vec!["LCP", "INP", "CLS", "FCP", "TTFB", "PageLoad"]).prop_map(|s| format!("\"{s}\"")),
        1 => prop::sample::select(vec!["\"FID\"", "\"lcp\"", "\"\"", "1", "null", "[]", "\"LCP\\u0000\""]).prop_map(str::to_owned),
        1 => "\\PC{0,80}".prop_map(|s| serde_json::to_string(&s).unwrap()),
    ];
    let number = prop_oneof![
        4 => (0.0f64..10_000.0).prop_map(|v| v.to_string()),
        1 => prop::sample::select(vec![
            "NaN", "Infinity", "-Infinity", "1e400", "-1", "1e308", "-0", "0", "\"5\"", "null",
            "600001", "99999999999999999999999999999",
        ]).prop_map(str::to_owned),
        1 => any::<f64>().prop_map(|v| format!("{v:e}")),
    ];
    let text = prop_oneof![
        3 => "[A-Za-z0-9._-]{1,64}".prop_map(|s| format!("\"{s}\"")),
        1 => "\\PC{0,200}".prop_map(|s| serde_json::to_string(&s).unwrap()),
        1 => Just(format!("\"{}\"", "x".repeat(5000))),
    ];
    let page = prop_oneof![
        3 => prop::sample::select(vec!["/f", "/f/1", "/f/", "/f/1/2", "https://x/f/9?q#h", "/other"]).prop_map(|s| format!("\"{s}\"")),
        1 => "\\PC{0,300}".prop_map(|s| serde_json::to_string(&s).unwrap()),
    ];
    let extra = prop_oneof![
        3 => Just(String::new()),
        1 => Just(format!(r#","traceparent":"{TRACEPARENT}""#)),
        1 => "[a-zA-Z]{1,12}".prop_map(|k| format!(r#","{k}":1"#)),
        1 => "\\PC{0,60}".prop_map(|s| format!(r#","traceparent":{}"#, serde_json::to_string(&s).unwrap())),
        1 => prop::sample::select(vec![r#","rating":"meh""#, r#","rating":"poor""#, r#","navigationType":"reload""#, r#","delta":-3"#, r#","entries":[{}]"#]).prop_map(str::to_owned),
    ];
    (name, number.clone(), text, page, extra, number).prop_map(|(n, v, id, p, e, d)| {
        format!(r#"{{"name":{n},"value":{v},"delta":{d},"id":{id},"page":{p}{e}}}"#)
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => report_json().prop_map(String::into_bytes),
        2 => prop::collection::vec(report_json(), 0..30).prop_map(|v| format!("[{}]", v.join(",")).into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..12_000),
        1 => (report_json(), 0usize..200).prop_map(|(r, cut)| {
            let b = r.into_bytes();
            let cut = cut.min(b.len());
            b[..cut].to_vec()
        }),
        1 => (1usize..200).prop_map(|depth| format!("{}{}", "[".repeat(depth), "]".repeat(depth)).into_bytes()),
    ]
}

fn content_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        4 => Just(Some("text/plain;charset=UTF-8".to_owned())),
        2 => Just(Some("application/json".to_owned())),
        1 => Just(None),
        1 => "[ -~]{0,40}".prop_map(Some),
    ]
}

fn series_counts() -> Vec<usize> {
    [
        &catalogue::BROWSER_WEB_VITAL_LCP,
        &catalogue::BROWSER_WEB_VITAL_INP,
        &catalogue::BROWSER_WEB_VITAL_CLS,
        &catalogue::BROWSER_WEB_VITAL_FCP,
        &catalogue::BROWSER_WEB_VITAL_TTFB,
        &catalogue::BROWSER_PAGE_LOAD_DURATION,
    ]
    .iter()
    .map(|d| {
        d.register::<glimpse_telemetry::metrics::Histogram>()
            .unwrap()
            .series_count()
    })
    .chain([catalogue::BROWSER_WEB_VITAL_RATINGS
        .register::<glimpse_telemetry::metrics::Counter>()
        .unwrap()
        .series_count()])
    .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// The parser alone: never panics; what it accepts is finite, in range, with known names.
    #[test]
    fn the_parser_accepts_only_sane_reports(body in body()) {
        match beacon::parse(&body) {
            Ok(reports) => {
                prop_assert!(!reports.is_empty() && reports.len() <= beacon::MAX_BATCH);
                for r in reports {
                    prop_assert!(Measure::ALL.contains(&r.measure));
                    prop_assert!(r.value.is_finite() && r.value >= 0.0 && r.value <= r.measure.max_value());
                    prop_assert!(r.delta.is_finite());
                    prop_assert!(!r.id.is_empty() && r.id.len() <= beacon::MAX_ID_LEN);
                    prop_assert!(r.page.len() <= beacon::MAX_PAGE_LEN);
                }
            }
            Err(e) => prop_assert!(!e.reason().is_empty() && e.reason().len() < 400, "{}", e.reason()),
        }
    }

    /// Through the router and the layer: a 2xx or a 4xx, never a 5xx, never a new series.
    #[test]
    fn hostile_beacons_never_fail_the_service_nor_add_series(body in body(), ct in content_type()) {
        let app = &*FUZZ_APP;
        let before = series_counts();
        let (status, reason) = RUNTIME.block_on(post(app, ct.as_deref(), body));
        prop_assert!(
            [204, 400, 413, 415].contains(&status.as_u16()),
            "{status} {reason}"
        );
        prop_assert_eq!(series_counts(), before);
        let text = exposition();
        // Only declared templates (of this file's endpoints) and `other` are label values.
        let declared = ["/a/{id}", "/a/me", "/b", "/c", "/d", "/e", "/f", "/f/{id}", "other"];
        for l in text.lines().filter(|l| l.starts_with("browser_")) {
            let page = l.split("page_route=\"").nth(1).and_then(|r| r.split('"').next());
            prop_assert!(page.is_some_and(|p| declared.contains(&p)), "{}", l);
        }
    }
}
