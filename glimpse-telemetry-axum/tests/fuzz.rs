//! Bad requests through the real layer, generated (proptest, in-process with
//! `tower::ServiceExt::oneshot` on a router with `glimpse_telemetry_axum::TelemetryLayer::new()`, under a
//! [`Capture`], i.e. the same JSON log, span and GlitchTip layers `init` installs):
//!
//! - arbitrary `x-request-id` bytes (anything `http::HeaderValue` accepts, including obs-text),
//!   arbitrary `traceparent` and `baggage`, arbitrary paths (percent-encoded bytes, `%FF` and
//!   other non-UTF-8 sequences included; raw non-ASCII characters, which the `http` crate only
//!   accepts as UTF-8; dot segments; very long ones) and arbitrary methods (any token
//!   `http::Method` accepts) never panic and every request gets its normal response;
//! - the response always carries a usable request id: the caller's when it is 1–128 bytes of
//!   visible ASCII, else a fresh UUID v7; never anything else;
//! - a caller's exactly valid W3C traceparent is continued (same trace id in the response);
//! - each request writes exactly one access log line, with the response's request id, and every
//!   log line is one JSON object whose `path` reads back as the request's path;
//! - the series of `http_server_request_duration_seconds` stay bounded: requests that match no
//!   route are `http_route="unmatched"`, unknown methods `_OTHER`, and no raw path ever becomes
//!   a label value, however many distinct paths and methods arrive.

use std::sync::LazyLock;

use axum::Router;
use axum::body::Body;
use axum::http::StatusCode;
use axum::routing::get;
use glimpse_telemetry::metrics::{Format, encode};
use glimpse_telemetry::testing::Capture;
use glimpse_telemetry_axum::ResponseError;
use http::{HeaderValue, Method, Request, Uri};
use http_body_util::BodyExt as _;
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use serde_json::Value;
use tower::ServiceExt as _;

/// The routes the generated paths may or may not hit.
const ROUTES: [&str; 3] = ["/users/{id}", "/fail", "/panic"];

fn app() -> Router {
    Router::new()
        .route("/users/{id}", get(|| async { "user" }))
        .route(
            "/fail",
            get(|| async {
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ResponseError::new(std::io::Error::other("database unavailable")),
                    "failed",
                )
            }),
        )
        .route(
            "/panic",
            get(|| async {
                if true {
                    panic!("{}", PANIC_MESSAGE);
                }
                "unreachable"
            }),
        )
        .layer(glimpse_telemetry_axum::TelemetryLayer::new())
}

static APP: LazyLock<Router> = LazyLock::new(app);

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
});

/// One test's telemetry: every case's lines land here, read back by offset.
static CAPTURE: LazyLock<Capture> = LazyLock::new(|| {
    // The `/panic` route panics on purpose, many times: keep those out of the test's output.
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied());
        if message != Some(PANIC_MESSAGE) {
            previous(info);
        }
    }));
    Capture::new()
});

const PANIC_MESSAGE: &str = "handler panicked on purpose";

// ---------------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------------

/// Any header value: arbitrary bytes with the few a header value refuses (controls other than
/// tab, DEL) mapped into the allowed range; lengths around the 128-byte request id limit.
fn header_value() -> impl Strategy<Value = HeaderValue> {
    let byte = prop_oneof![
        4 => 0x21u8..=0x7e,
        1 => Just(b' '),
        1 => Just(b'\t'),
        1 => 0x80u8..=0xff,
    ];
    let len = prop_oneof![0usize..20, 120usize..136, 0usize..400];
    (prop::collection::vec(byte, 0..400), len).prop_map(|(bytes, len)| {
        let bytes: Vec<u8> = bytes.into_iter().take(len).collect();
        HeaderValue::from_bytes(&bytes).expect("only bytes a header value accepts")
    })
}

/// A traceparent: arbitrary, exactly valid, or valid with one byte changed.
fn traceparent() -> impl Strategy<Value = HeaderValue> {
    let valid = ("[0-9a-f]{31}[1-9a-f]", "[1-9a-f][0-9a-f]{15}", "0[01]")
        .prop_map(|(t, s, f)| format!("00-{t}-{s}-{f}"));
    prop_oneof![
        1 => header_value(),
        2 => valid.clone().prop_map(|s| HeaderValue::from_str(&s).unwrap()),
        1 => (valid, 0usize..55, prop::sample::select(b"-+0fFz ".to_vec())).prop_map(|(s, at, b)| {
            let mut bytes = s.into_bytes();
            bytes[at] = b;
            HeaderValue::from_bytes(&bytes).unwrap()
        }),
    ]
}

/// A method: the standard ones, or any token.
fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        4 => Just(Method::GET),
        1 => prop::sample::select(vec![
            Method::HEAD, Method::POST, Method::PUT, Method::DELETE, Method::PATCH,
            Method::OPTIONS, Method::TRACE, Method::CONNECT,
        ]),
        2 => "[!#$%&'*+.^_`|~0-9A-Za-z-]{1,24}"
            .prop_filter_map("a method token", |m| Method::from_bytes(m.as_bytes()).ok()),
    ]
}

/// A path: known routes with arbitrary segments, random percent-encoded or raw bytes, dot
/// segments, very long ones. Only what the `http` crate accepts as a URI is kept.
fn path() -> impl Strategy<Value = Uri> {
    let segment_byte = prop_oneof![
        6 => prop::sample::select(b"abcxyzABC0189-._~!$&'()*+,;=:@".to_vec()),
        2 => (0u8..=255).prop_map(|b| b),
        1 => Just(b'%'),
    ];
    let segment = prop_oneof![
        8 => prop::collection::vec(segment_byte, 0..24),
        1 => Just(b"..".to_vec()),
        1 => Just(b".".to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..4)
            .prop_map(|b| b.iter().flat_map(|x| format!("%{x:02X}").into_bytes()).collect()),
        1 => Just(vec![b'x'; 3000]),
        // Raw non-ASCII: the http crate accepts it in a path when it is UTF-8.
        2 => "[\\PC&&[^/?#]]{1,8}".prop_map(String::into_bytes),
    ];
    let prefix = prop::sample::select(vec!["", "/users", "/users/", "/fail", "/panic", "//"]);
    let query = prop::option::of("[a-z=&%0-9]{0,20}");
    (prefix, prop::collection::vec(segment, 0..6), query).prop_filter_map(
        "a URI the http crate accepts",
        |(prefix, segments, query)| {
            let mut bytes = prefix.as_bytes().to_vec();
            for s in segments {
                bytes.push(b'/');
                bytes.extend(s);
            }
            if bytes.is_empty() {
                bytes.push(b'/');
            }
            if let Some(q) = query {
                bytes.push(b'?');
                bytes.extend(q.into_bytes());
            }
            Uri::try_from(bytes).ok()
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

fn is_valid_request_id(b: &[u8]) -> bool {
    !b.is_empty() && b.len() <= 128 && b.iter().all(|c| (0x21..=0x7e).contains(c))
}

fn is_uuid_v7(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(&c),
        })
        && b[14] == b'7'
}

/// An exactly valid W3C traceparent's trace id (this layer's callers send version 00).
fn valid_trace_id(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?.trim_matches([' ', '\t']);
    let b = s.as_bytes();
    let hex = |x: &[u8]| {
        x.iter()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
    };
    let ok = b.len() == 55
        && &b[..3] == b"00-"
        && b[35] == b'-'
        && b[52] == b'-'
        && hex(&b[3..35])
        && hex(&b[36..52])
        && hex(&b[53..55])
        && b[3..35].iter().any(|&c| c != b'0')
        && b[36..52].iter().any(|&c| c != b'0');
    ok.then(|| s[3..35].to_owned())
}

#[derive(Debug, Clone)]
struct Case {
    method: Method,
    uri: Uri,
    request_id: Option<HeaderValue>,
    traceparent: Option<HeaderValue>,
    baggage: Option<HeaderValue>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        method(),
        path(),
        prop::option::of(header_value()),
        prop::option::of(traceparent()),
        prop::option::of(header_value()),
    )
        .prop_map(|(method, uri, request_id, traceparent, baggage)| Case {
            method,
            uri,
            request_id,
            traceparent,
            baggage,
        })
}

/// The status the router answers with.
fn expected_status(c: &Case) -> StatusCode {
    let p = c.uri.path();
    let route = if p == "/fail" || p == "/panic" {
        Some(StatusCode::INTERNAL_SERVER_ERROR)
    } else if p
        .strip_prefix("/users/")
        .is_some_and(|id| !id.is_empty() && !id.contains('/'))
    {
        Some(StatusCode::OK)
    } else {
        None
    };
    match route {
        None => StatusCode::NOT_FOUND,
        Some(_) if c.method != Method::GET && c.method != Method::HEAD => {
            StatusCode::METHOD_NOT_ALLOWED
        }
        Some(s) => s,
    }
}

fn run_case(c: &Case) -> Result<(), TestCaseError> {
    run_case_checking(c, true)
}

/// Sends the request and checks the response; with `check_logs`, also this request's log lines.
fn run_case_checking(c: &Case, check_logs: bool) -> Result<(), TestCaseError> {
    let mut req = Request::builder()
        .method(c.method.clone())
        .uri(c.uri.clone());
    for (name, value) in [
        ("x-request-id", &c.request_id),
        ("traceparent", &c.traceparent),
        ("baggage", &c.baggage),
    ] {
        if let Some(v) = value {
            req = req.header(name, v.clone());
        }
    }
    let req = req.body(Body::empty()).expect("request");
    let before = CAPTURE.logs_text().len();
    let (status, headers) = RUNTIME.block_on(CAPTURE.run_async(async {
        let res = APP
            .clone()
            .oneshot(req)
            .await
            .expect("the router is infallible");
        let (parts, body) = res.into_parts();
        // The request ends (and is measured and logged) when its body is done.
        let _ = body.collect().await;
        (parts.status, parts.headers)
    }));
    prop_assert_eq!(status, expected_status(c), "{:?}", c);

    // The request id.
    let rid = headers.get("x-request-id");
    prop_assert!(rid.is_some(), "no x-request-id on the response");
    let rid = rid.unwrap().as_bytes();
    prop_assert!(is_valid_request_id(rid), "response request id {rid:?}");
    let rid = std::str::from_utf8(rid).unwrap().to_owned();
    match &c.request_id {
        Some(v) if is_valid_request_id(v.as_bytes()) => {
            prop_assert_eq!(rid.as_bytes(), v.as_bytes(), "the caller's id is kept")
        }
        _ => prop_assert!(is_uuid_v7(&rid), "a fresh UUID v7, not {rid:?}"),
    }

    // The trace.
    if let Some(trace_id) = c.traceparent.as_ref().and_then(valid_trace_id) {
        let tp = headers.get("traceparent").and_then(|v| v.to_str().ok());
        prop_assert!(
            tp.is_some_and(|tp| tp.split('-').nth(1) == Some(trace_id.as_str())),
            "trace {trace_id} not continued: {tp:?}"
        );
    }

    if !check_logs {
        return Ok(());
    }
    // The log lines of this request: all JSON, one access line with its id and path.
    let text = CAPTURE.logs_text();
    let mut access = Vec::new();
    for line in text[before..].lines() {
        let v: Value = serde_json::from_str(line)
            .map_err(|e| TestCaseError::fail(format!("{e}: {line:?}")))?;
        prop_assert!(v.is_object(), "{line}");
        for key in ["timestamp", "level", "service", "message", "target"] {
            prop_assert!(v[key].is_string(), "{key} missing: {line}");
        }
        if v["target"] == "glimpse_telemetry_axum::access" {
            access.push(v);
        }
    }
    prop_assert_eq!(access.len(), 1, "one access line: {}", &text[before..]);
    let a = &access[0];
    prop_assert_eq!(a["requestId"].as_str(), Some(rid.as_str()));
    prop_assert_eq!(a["http_status"].as_u64(), Some(u64::from(status.as_u16())));
    let path = a["path"].as_str().unwrap_or_default();
    // The path is written as received, unless it is too long or needs masking.
    if c.uri.path().len() <= 1024 && !path.ends_with("[truncated]") {
        prop_assert_eq!(path, c.uri.path());
    }
    Ok(())
}

/// Every series of the request-duration histogram: (method, route, status) label values.
fn duration_series() -> Vec<String> {
    encode(Format::Text)
        .lines()
        .filter(|l| l.starts_with("http_server_request_duration_seconds_count{"))
        .map(|l| l.rsplit_once(' ').map_or(l, |(s, _)| s).to_owned())
        .collect()
}

fn label<'a>(series: &'a str, name: &str) -> Option<&'a str> {
    let start = series.find(&format!("{name}=\""))? + name.len() + 2;
    let end = series[start..].find('"')?;
    Some(&series[start..start + end])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn hostile_requests_get_their_response_an_id_and_one_log_line(c in case()) {
        run_case(&c)?;
    }
}

/// Thousands of distinct paths and methods later, the duration histogram has a handful of
/// series, each labelled with a route template or `unmatched` and a known method or `_OTHER`.
#[test]
fn series_stay_bounded_under_distinct_paths_and_methods() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(500));
    let seen = std::sync::Mutex::new(std::collections::HashSet::new());
    runner
        .run(&case(), |c| {
            seen.lock().unwrap().insert(c.uri.path().to_owned());
            run_case_checking(&c, false)
        })
        .unwrap();
    let mut seen_paths = seen.into_inner().unwrap();
    // The generated paths did include what they are meant to.
    assert!(
        seen_paths.iter().any(|p| !p.is_ascii()),
        "no raw UTF-8 path"
    );
    assert!(
        seen_paths.iter().any(|p| p.contains('%')),
        "no percent-encoded path"
    );
    // And a flood of distinct paths and made-up methods, as a scanner would send.
    for i in 0..3000u32 {
        let c = Case {
            method: Method::from_bytes(format!("SCAN{}", i % 50).as_bytes()).unwrap(),
            uri: Uri::try_from(format!("/wp-admin/{i}/%{:02X}{}.php", i % 256, i * 7919)).unwrap(),
            request_id: None,
            traceparent: None,
            baggage: None,
        };
        seen_paths.insert(c.uri.path().to_owned());
        run_case_checking(&c, false).unwrap();
    }
    let series = duration_series();
    eprintln!(
        "{} distinct paths -> {} http_server_request_duration_seconds series:\n{}",
        seen_paths.len(),
        series.len(),
        series.join("\n")
    );
    assert!(
        seen_paths.len() > 3000,
        "only {} distinct paths",
        seen_paths.len()
    );
    // 4 routes × 10 method labels × the few statuses these routes answer with.
    assert!(
        series.len() <= 4 * 10 * 4,
        "{} series for {} distinct paths:\n{}",
        series.len(),
        seen_paths.len(),
        series.join("\n")
    );
    for s in &series {
        let route = label(s, "http_route").unwrap_or_default();
        assert!(
            route == "unmatched" || ROUTES.contains(&route),
            "http_route {route:?} in {s}"
        );
        let method = label(s, "http_request_method").unwrap_or_default();
        assert!(
            [
                "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
                "_OTHER"
            ]
            .contains(&method),
            "http_request_method {method:?} in {s}"
        );
    }
    assert!(
        series
            .iter()
            .any(|s| s.contains("http_route=\"unmatched\"")),
        "the unmatched series exists: {series:?}"
    );
}
