//! The web front end's side of real-user monitoring: one page that measures itself with the real
//! `web-vitals` module and sends what it measures to the RUM endpoint, linked to the trace of
//! its document request.
//!
//! - `GET /pages/{name}`: the page. Its response carries `Server-Timing: traceparent;desc=...`
//!   and its HTML a `<meta name="traceparent">` (both ways of giving the page its trace).
//! - `GET /assets/rum.js`: the browser snippet (`glimpse_telemetry_axum::rum::BROWSER_SNIPPET`).
//! - `GET /assets/web-vitals.js`: the `web-vitals` ES module, read at startup from the file
//!   `GLIMPSE_WEB_VITALS_JS` names (`node_modules/web-vitals/dist/web-vitals.js`; no CDN here),
//!   404 when unset.
//! - `POST /rum`: the beacon endpoint, with `/pages/{name}` declared as a page route.

use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use glimpse_telemetry_axum::rum::{self, RumEndpoint};

/// The page routes, as the RUM endpoint must know them (the `page_route` label).
pub const PAGE_ROUTES: [&str; 1] = ["/pages/{name}"];

/// The routes above.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let web_vitals: Option<Arc<str>> = std::env::var_os("GLIMPSE_WEB_VITALS_JS")
        .and_then(|path| std::fs::read_to_string(path).ok())
        .map(Arc::from);
    Router::new()
        .route("/pages/{name}", get(page))
        .route(
            "/assets/rum.js",
            get(|| async { javascript(rum::BROWSER_SNIPPET.into()) }),
        )
        .route(
            "/assets/web-vitals.js",
            get(move || {
                let js = web_vitals.clone();
                async move {
                    match js {
                        Some(js) => javascript(js),
                        None => (StatusCode::NOT_FOUND, "GLIMPSE_WEB_VITALS_JS is not set\n")
                            .into_response(),
                    }
                }
            }),
        )
        .merge(RumEndpoint::builder().pages(PAGE_ROUTES).build().router())
}

fn javascript(js: Arc<str>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        js.to_string(),
    )
        .into_response()
}

/// A page with something to paint (LCP), a button whose handler is slow on purpose (INP), and
/// a banner inserted late that pushes the content down (CLS).
async fn page(Path(name): Path<String>) -> Response {
    let mut headers = HeaderMap::new();
    if let Some(timing) = rum::server_timing() {
        headers.insert(rum::SERVER_TIMING, timing);
    }
    let title: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(40)
        .collect();
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Glimpse: {title}</title>
<link rel="icon" href="data:,">
{meta}
<script type="module" src="/assets/rum.js"></script>
</head>
<body>
<div id="top"></div>
<h1>Glimpse {title}</h1>
<p id="text">Matches, chat and payments: this page measures its own Core Web Vitals with web-vitals
and sends them to the service that served it.</p>
<button id="like" type="button">Like</button>
<output id="likes">0</output>
<script>
  document.getElementById('like').addEventListener('click', () => {{
    const until = performance.now() + 120; // a slow handler: an interaction worth measuring
    while (performance.now() < until) {{}}
    const out = document.getElementById('likes');
    out.textContent = String(Number(out.textContent) + 1);
  }});
  setTimeout(() => {{
    const banner = document.createElement('div');
    banner.style.height = '120px';
    banner.textContent = 'A late banner';
    document.getElementById('top').appendChild(banner);
  }}, 300);
</script>
</body>
</html>
"#,
        meta = rum::meta_tag(),
    );
    (headers, Html(html)).into_response()
}
