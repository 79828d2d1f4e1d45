//! The HTTP RED metrics, with every label set resolved once and its handles cached.
//!
//! The families come from the core's catalogue (names, labels and buckets are defined there).
//! A request on a known route never builds a label set: its handles are found through
//! [`RouteMetrics`] (cached per route by the layer), the method's index and a static table of
//! common status codes, each slot filled once with [`Family::get_or_create`]. Rare status codes and
//! cancelled requests go through `Family::get_or_create` directly (a read lock and a hash lookup), and every
//! series still counts against the core's series limit.

use std::sync::OnceLock;

use glimpse_telemetry::metrics::catalogue::{
    HTTP_SERVER_ACTIVE_REQUESTS, HTTP_SERVER_REQUEST_BODY_SIZE, HTTP_SERVER_REQUEST_DURATION,
    HTTP_SERVER_RESPONSE_BODY_SIZE,
};
use glimpse_telemetry::metrics::{Family, Gauge, Histogram};
use glimpse_telemetry::otel::trace::{SpanId, TraceId};
use http::{Method, StatusCode};

use super::outcome::Outcome;

/// The `http_route` label of requests that matched no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The `error_type` label of requests whose client went away before the response.
pub(crate) const CANCELLED: &str = "cancelled";

/// The method label values, by [`method_index`]; the last is the semantic conventions' `_OTHER`
/// for any method outside the known set (so a client cannot create series with made-up methods).
pub(crate) const METHODS: [&str; 10] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE", "_OTHER",
];

/// The index of `m` in [`METHODS`].
#[inline]
pub(crate) fn method_index(m: &Method) -> usize {
    if *m == Method::GET {
        0
    } else if *m == Method::HEAD {
        1
    } else if *m == Method::POST {
        2
    } else if *m == Method::PUT {
        3
    } else if *m == Method::DELETE {
        4
    } else if *m == Method::PATCH {
        5
    } else if *m == Method::OPTIONS {
        6
    } else if *m == Method::CONNECT {
        7
    } else if *m == Method::TRACE {
        8
    } else {
        9
    }
}

/// Status codes with a cached slot; anything else is looked up in the family each time.
const COMMON_STATUS: [u16; 40] = [
    100, 101, 200, 201, 202, 203, 204, 206, 207, 301, 302, 303, 304, 307, 308, 400, 401, 402, 403,
    404, 405, 406, 408, 409, 410, 411, 412, 413, 414, 415, 416, 422, 429, 431, 500, 501, 502, 503,
    504, 505,
];
/// The slots of cancelled requests and of service errors (no status), after the common codes.
const CANCELLED_SLOT: usize = COMMON_STATUS.len();
const FAILED_SLOT: usize = COMMON_STATUS.len() + 1;
const SLOTS: usize = COMMON_STATUS.len() + 2;

#[inline]
fn status_slot(status: u16) -> Option<usize> {
    // A binary search over 40 sorted values: 6 comparisons, no hashing.
    COMMON_STATUS.binary_search(&status).ok()
}

/// "100101102...999": every status code's label, without formatting.
const STATUS_DIGITS: [u8; 2700] = {
    let mut b = [0u8; 2700];
    let mut i = 0;
    while i < 900 {
        let c = i + 100;
        b[i * 3] = b'0' + (c / 100) as u8;
        b[i * 3 + 1] = b'0' + (c / 10 % 10) as u8;
        b[i * 3 + 2] = b'0' + (c % 10) as u8;
        i += 1;
    }
    b
};
static STATUS_TEXT: &str = match std::str::from_utf8(&STATUS_DIGITS) {
    Ok(s) => s,
    Err(_) => "",
};

/// The `http_response_status_code` label: `"200"`, as a `'static` string.
#[inline]
pub(crate) fn status_label(status: StatusCode) -> &'static str {
    // StatusCode is always 100..=999.
    let i = usize::from(status.as_u16().saturating_sub(100)) * 3;
    STATUS_TEXT.get(i..i + 3).unwrap_or("")
}

/// The `error_type` label of a response: the status code for 5xx (the semantic conventions'
/// rule for servers), empty otherwise.
#[inline]
pub(crate) fn error_type(status: StatusCode) -> &'static str {
    if status.is_server_error() {
        status_label(status)
    } else {
        ""
    }
}

/// The four HTTP families, registered once per process.
pub(crate) struct HttpFamilies {
    duration: Family<Histogram>,
    request_size: Family<Histogram>,
    response_size: Family<Histogram>,
    active: Family<Gauge>,
}

/// The families, or `None` if the registry refused them (another crate registered the same names
/// with other labels): then the layer records no metrics and everything else still works.
pub(crate) fn families() -> Option<&'static HttpFamilies> {
    static FAMILIES: OnceLock<Option<HttpFamilies>> = OnceLock::new();
    FAMILIES
        .get_or_init(|| {
            Some(HttpFamilies {
                duration: HTTP_SERVER_REQUEST_DURATION.register().ok()?,
                request_size: HTTP_SERVER_REQUEST_BODY_SIZE.register().ok()?,
                response_size: HTTP_SERVER_RESPONSE_BODY_SIZE.register().ok()?,
                active: HTTP_SERVER_ACTIVE_REQUESTS.register().ok()?,
            })
        })
        .as_ref()
}

/// `http_server_active_requests` for a method and scheme (`https` when `https`, else `http`).
pub(crate) fn active_requests(method: usize, https: bool) -> Option<&'static Gauge> {
    static ACTIVE: [[OnceLock<Gauge>; 2]; METHODS.len()] =
        [const { [const { OnceLock::new() }; 2] }; METHODS.len()];
    let f = families()?;
    let slot = &ACTIVE[method.min(METHODS.len() - 1)][usize::from(https)];
    Some(slot.get_or_init(|| {
        f.active
            .get_or_create(&[METHODS[method], if https { "https" } else { "http" }])
    }))
}

/// The handles of one (route, method, status) series. The size histograms are created on first
/// use, so a route that never sees a request body has no empty request-size series.
pub(crate) struct StatusHandles {
    duration: Histogram,
    request_size: OnceLock<Histogram>,
    response_size: OnceLock<Histogram>,
}

impl StatusHandles {
    fn new(f: &HttpFamilies, labels: &[&str; 4]) -> Self {
        StatusHandles {
            duration: f.duration.get_or_create(labels),
            request_size: OnceLock::new(),
            response_size: OnceLock::new(),
        }
    }
}

/// The cached handles of one route and method, created on the route's first request with it.
pub(crate) struct MethodMetrics {
    slots: [OnceLock<StatusHandles>; SLOTS],
}

/// One finished request, as the metrics see it.
pub(crate) struct Observation {
    pub(crate) seconds: f64,
    /// The sampled span to use as exemplar.
    pub(crate) exemplar: Option<(TraceId, SpanId)>,
    pub(crate) request_size: Option<u64>,
    pub(crate) response_size: Option<u64>,
}

/// Everything metric-related the layer keeps about one route template.
pub(crate) struct RouteMetrics {
    /// The `http_route` label value.
    route: Box<str>,
    methods: [OnceLock<Box<MethodMetrics>>; METHODS.len()],
}

impl RouteMetrics {
    pub(crate) fn new(route: &str) -> Self {
        RouteMetrics {
            route: route.into(),
            methods: [const { OnceLock::new() }; METHODS.len()],
        }
    }

    /// Records one request: its duration and body sizes, in the series of its method and
    /// outcome. On a known route with a common status this is a few atomic loads and the
    /// histograms' own updates; no label set is built.
    #[inline]
    pub(crate) fn record(&self, method: usize, outcome: Outcome, o: &Observation) {
        let Some(f) = families() else { return };
        let method = method.min(METHODS.len() - 1);
        let slot = match outcome {
            Outcome::Response(s) => status_slot(s.as_u16()),
            Outcome::Cancelled => Some(CANCELLED_SLOT),
            Outcome::Failed => Some(FAILED_SLOT),
        };
        let labels = || -> [&str; 4] {
            match outcome {
                Outcome::Response(s) => {
                    [METHODS[method], &self.route, status_label(s), error_type(s)]
                }
                Outcome::Cancelled => [METHODS[method], &self.route, "", CANCELLED],
                Outcome::Failed => [METHODS[method], &self.route, "", "_OTHER"],
            }
        };
        let owned;
        let h = match slot {
            Some(i) => self.methods[method]
                .get_or_init(|| {
                    Box::new(MethodMetrics {
                        slots: [const { OnceLock::new() }; SLOTS],
                    })
                })
                .slots[i]
                .get_or_init(|| StatusHandles::new(f, &labels())),
            None => {
                owned = StatusHandles::new(f, &labels());
                &owned
            }
        };
        match o.exemplar {
            Some((trace_id, span_id)) => h
                .duration
                .observe_with_exemplar(o.seconds, trace_id, span_id),
            None => h.duration.observe_without_exemplar(o.seconds),
        }
        if let Some(n) = o.request_size {
            h.request_size
                .get_or_init(|| f.request_size.get_or_create(&labels()))
                .observe_without_exemplar(n as f64);
        }
        if let Some(n) = o.response_size {
            h.response_size
                .get_or_init(|| f.response_size.get_or_create(&labels()))
                .observe_without_exemplar(n as f64);
        }
    }

    #[cfg(test)]
    fn cached(&self, method: usize, status: u16) -> Option<&StatusHandles> {
        self.methods[method].get()?.slots[status_slot(status)?].get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_map_to_their_labels_and_others_to_other() {
        for (m, want) in [
            (Method::GET, "GET"),
            (Method::PATCH, "PATCH"),
            (Method::TRACE, "TRACE"),
            (Method::from_bytes(b"PURGE").unwrap(), "_OTHER"),
        ] {
            assert_eq!(METHODS[method_index(&m)], want);
        }
    }

    #[test]
    fn status_table_is_sorted_and_finds_common_codes() {
        assert!(COMMON_STATUS.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(status_slot(200), Some(2));
        assert_eq!(status_slot(599), None);
        assert_eq!(error_type(StatusCode::BAD_GATEWAY), "502");
        assert_eq!(error_type(StatusCode::NOT_FOUND), "");
        for code in [100, 200, 404, 599, 999] {
            let s = StatusCode::from_u16(code).unwrap();
            assert_eq!(status_label(s), s.as_str());
        }
    }

    #[test]
    fn handles_are_cached_per_method_and_status_and_sizes_are_lazy() {
        let r = RouteMetrics::new("/test/cache/{id}");
        let ok = Outcome::Response(StatusCode::OK);
        let o = |req: Option<u64>| Observation {
            seconds: 0.1,
            exemplar: None,
            request_size: req,
            response_size: Some(10),
        };
        r.record(0, ok, &o(None));
        let first = r.cached(0, 200).unwrap() as *const StatusHandles;
        assert!(r.cached(0, 200).unwrap().request_size.get().is_none());
        r.record(0, ok, &o(Some(3)));
        assert!(std::ptr::eq(first, r.cached(0, 200).unwrap()));
        assert!(r.cached(0, 200).unwrap().request_size.get().is_some());
        r.record(
            0,
            Outcome::Response(StatusCode::from_u16(599).unwrap()),
            &o(None),
        );
        assert!(r.cached(0, 599).is_none());
        r.record(0, Outcome::Cancelled, &o(None));
        let text = glimpse_telemetry::metrics::encode(glimpse_telemetry::metrics::Format::Text);
        let count = |status: &str, error: &str| {
            format!(
                r#"http_server_request_duration_seconds_count{{http_request_method="GET",http_route="/test/cache/{{id}}",http_response_status_code="{status}",error_type="{error}"}}"#
            )
        };
        assert!(text.contains(&format!("{} 2", count("200", ""))), "{text}");
        assert!(text.contains(&format!("{} 1", count("599", "599"))));
        assert!(text.contains(&format!("{} 1", count("", "cancelled"))));
        assert!(text.contains(r#"http_server_request_body_size_bytes_count{http_request_method="GET",http_route="/test/cache/{id}",http_response_status_code="200",error_type=""} 1"#));
    }

    /// `cargo test -p glimpse-telemetry-axum --release --lib -- --ignored --nocapture record_cost`
    #[test]
    #[ignore = "a timing, for release builds"]
    fn record_cost_on_a_known_route() {
        let r = RouteMetrics::new("/bench/{id}");
        let ok = Outcome::Response(StatusCode::OK);
        let o = Observation {
            seconds: 0.0042,
            exemplar: None,
            request_size: None,
            response_size: None,
        };
        r.record(0, ok, &o);
        let n = 2_000_000u32;
        let mut best = f64::MAX;
        for _ in 0..5 {
            let t = std::time::Instant::now();
            for _ in 0..n {
                r.record(0, std::hint::black_box(ok), std::hint::black_box(&o));
            }
            best = best.min(t.elapsed().as_nanos() as f64 / f64::from(n));
        }
        let held = families()
            .unwrap()
            .duration
            .get_or_create(&["GET", "/bench/{id}", "200", ""]);
        let mut raw = f64::MAX;
        for _ in 0..5 {
            let t = std::time::Instant::now();
            for _ in 0..n {
                held.observe_without_exemplar(std::hint::black_box(0.0042));
            }
            raw = raw.min(t.elapsed().as_nanos() as f64 / f64::from(n));
        }
        println!(
            "one duration observation on a known route: {best:.1} ns (the histogram itself, handle held: {raw:.1} ns)"
        );
    }
}
