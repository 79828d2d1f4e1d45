//! Secrets never leave the process: an `Authorization: Bearer <token>` header, a
//! `Cookie: session=<value>`, a `password` field and a card number (`4111 1111 1111 1111`), sent
//! through a request, a log event, a SQL query (inlined as a literal and bound) and an error
//! (a 5xx with the card in its message, `capture_error`, a panic), never appear in the JSON log
//! lines, in the spans a real OTLP receiver gets, or in the events a real Sentry envelope
//! receiver gets.
//!
//! Two services:
//! - `secrets_stay_out_of_logs_spans_and_events`: a small axum app built here with the SDK
//!   crates (`glimpse-telemetry`, `-axum`, `-sqlx` on SQLite), whose handlers log the secrets
//!   the way careless code does (under secret-looking keys, the card in a message and in a span
//!   field), run the queries, and fail;
//! - `example_payments_keep_card_and_credentials_out`: the real example binary's
//!   `POST /payments` with a card number, `Authorization` and `Cookie`, plus its failing
//!   endpoints with the same headers.
//!
//! Neither can pass vacuously: the test first checks that the handler really received each
//! secret, that the queries really ran with the card (and the failing one really put it in its
//! error message), and that the log lines, spans and events of those very requests arrived
//! (masked) before it looks for the secrets in them.

mod common;

use std::net::SocketAddr;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use common::{Launch, Service, eventually, receivers};
use glimpse_telemetry::tracing;
use glimpse_telemetry::{Config, Protocol};
use glimpse_telemetry_axum::ResponseError;
use glimpse_test_support::{LogCapture, OtlpReceiver, SentryReceiver};
use serde_json::Value;

const TOKEN: &str = "tok_9fK2xQv7LmZ3pR8sW1yT";
const SESSION: &str = "sess_4hN8bV2cX6zJ0qA5eR9u";
const PASSWORD: &str = "hunter2-Pq7xZk3Wm9";
const CARD: &str = "4111 1111 1111 1111";

/// Every spelling of a secret that must not appear anywhere.
fn needles() -> Vec<String> {
    vec![
        TOKEN.to_owned(),
        SESSION.to_owned(),
        PASSWORD.to_owned(),
        CARD.to_owned(),
        CARD.replace(' ', ""),
        CARD.replace(' ', "-"),
    ]
}

/// The secrets found in `text`, with where.
fn leaks(what: &str, text: &str) -> Vec<String> {
    needles()
        .into_iter()
        .filter(|n| text.contains(n.as_str()))
        .map(|n| {
            let at = text.find(&n).unwrap_or(0);
            let mut from = at.saturating_sub(200);
            while !text.is_char_boundary(from) {
                from -= 1;
            }
            let mut to = (at + n.len() + 200).min(text.len());
            while !text.is_char_boundary(to) {
                to += 1;
            }
            format!("{n:?} in {what}: ...{}...", &text[from..to])
        })
        .collect()
}

/// The secrets found in `text` (`what`), in the spans `otlp` received and in the envelopes
/// `sentry` received.
fn leaks_anywhere(
    what: &str,
    text: &str,
    otlp: &OtlpReceiver,
    sentry: &SentryReceiver,
) -> Vec<String> {
    let mut found = leaks(what, text);
    found.extend(leaks(
        "the exported spans",
        &serde_json::to_string(&otlp.trace_requests()).unwrap(),
    ));
    found.extend(leaks(
        "the GlitchTip envelopes",
        &serde_json::to_string(&sentry.envelopes()).unwrap(),
    ));
    found
}

// ---------------------------------------------------------------------------------------------
// A small HTTP client
// ---------------------------------------------------------------------------------------------

/// [`common::exchange`] that fails the test when the request cannot be sent or answered.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> common::Response {
    let req = common::request_text(addr, method, path, headers, body);
    let x = common::exchange(addr, req.as_bytes(), Duration::from_secs(20)).expect("connect");
    x.sent.expect("send");
    x.read.expect("read");
    common::Response::parse(&x.raw, x.took)
}

/// The headers every request carries.
fn credentials() -> (String, String) {
    (format!("Bearer {TOKEN}"), format!("session={SESSION}"))
}

// ---------------------------------------------------------------------------------------------
// The in-process app
// ---------------------------------------------------------------------------------------------

/// What the handlers received and got back, to prove the secrets were really there.
#[derive(Default, Debug)]
struct Seen {
    authorization: Option<String>,
    cookie: Option<String>,
    password: Option<String>,
    card: Option<String>,
    /// What the bound and the inlined SELECTs returned.
    selected: Vec<String>,
    /// The messages of the failing queries' errors.
    query_errors: Vec<String>,
}

static SEEN: OnceLock<Mutex<Seen>> = OnceLock::new();

fn seen() -> std::sync::MutexGuard<'static, Seen> {
    SEEN.get_or_init(Default::default).lock().unwrap()
}

type Pool = glimpse_telemetry_sqlx::SqlitePool;

fn header(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// `POST /checkout {"password": .., "card_number": ..}`: logs and traces the secrets the way
/// careless code does, runs the queries, then fails with the card in the error.
async fn checkout(State(pool): State<Pool>, headers: HeaderMap, body: String) -> Response {
    let v: Value = serde_json::from_str(&body).unwrap_or_default();
    let password = v["password"].as_str().unwrap_or_default().to_owned();
    let card = v["card_number"].as_str().unwrap_or_default().to_owned();
    let authorization = header(&headers, "authorization").unwrap_or_default();
    let cookie = header(&headers, "cookie").unwrap_or_default();
    {
        let mut s = seen();
        s.authorization = Some(authorization.clone());
        s.cookie = Some(cookie.clone());
        s.password = Some(password.clone());
        s.card = Some(card.clone());
    }

    // Log events: secrets under secret-looking keys, the card in a message and in a plain field.
    tracing::info!(password = %password, user = "ada", "login attempt");
    tracing::info!("charging card {card}");
    tracing::warn!(authorization = %authorization, cookie = %cookie, note = %format!("card {card} on file"), "request credentials");
    // A span of our own, exported with its fields as attributes.
    let span = tracing::info_span!(
        "charge",
        card_number = %card,
        payment_note = %format!("paid with {card}"),
        password = %password,
    );
    let _entered = span.enter();
    tracing::warn!(card_hint = %card, "card looks risky: {card}");
    drop(_entered);

    // Queries: the card inlined as a literal and bound, succeeding and failing.
    let inlined = format!("SELECT '{card}' AS card, '{password}' AS pw");
    let bound = "SELECT ? AS card";
    let mut selected = Vec::new();
    if let Ok((c, _)) = sqlx::query_as::<_, (String, String)>(&inlined)
        .fetch_one(&pool)
        .await
    {
        selected.push(c);
    }
    if let Ok((c,)) = sqlx::query_as::<_, (String,)>(bound)
        .bind(&card)
        .fetch_one(&pool)
        .await
    {
        selected.push(c);
    }
    // SQLite quotes a bad JSON path in its error message: the card ends up in the error.
    let mut errors = Vec::new();
    let failing_inlined = format!("SELECT json_extract('{{}}', '{card}')");
    if let Err(e) = sqlx::query(&failing_inlined).fetch_one(&pool).await {
        errors.push(e.to_string());
    }
    if let Err(e) = sqlx::query("SELECT json_extract('{}', ?)")
        .bind(&card)
        .fetch_one(&pool)
        .await
    {
        errors.push(e.to_string());
    }
    {
        let mut s = seen();
        s.selected = selected;
        s.query_errors = errors;
    }

    // An error reported directly, and a 5xx carrying the card in its message.
    let err = std::io::Error::other(format!("card {card} declined by the issuer"));
    glimpse_telemetry::reporting::capture_error(&err);
    (
        StatusCode::BAD_GATEWAY,
        ResponseError::new(std::io::Error::other(format!(
            "charge failed for card {card}"
        ))),
        "payment failed",
    )
        .into_response()
}

/// `POST /refund`: nothing but a 5xx whose error names the card (the access log line is the
/// GlitchTip event).
async fn refund(body: String) -> Response {
    let v: Value = serde_json::from_str(&body).unwrap_or_default();
    let card = v["card_number"].as_str().unwrap_or_default().to_owned();
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        ResponseError::new(std::io::Error::other(format!("refund to {card} failed"))),
        "refund failed",
    )
        .into_response()
}

/// `POST /verify`: panics with the card in the panic message.
async fn verify(body: String) -> &'static str {
    let v: Value = serde_json::from_str(&body).unwrap_or_default();
    let card = v["card_number"].as_str().unwrap_or_default().to_owned();
    panic!("verification of card {card} blew up");
}

#[test]
fn secrets_stay_out_of_logs_spans_and_events() {
    let Some((otlp, sentry)) = receivers() else {
        return;
    };
    let logs = LogCapture::default();
    let telemetry = glimpse_telemetry::builder()
        .config(
            Config::from_vars([
                ("OTEL_SERVICE_NAME", "secrets-test"),
                ("OTEL_BSP_SCHEDULE_DELAY", "100"),
                // As chatty as it gets: whatever is logged at any level must be clean.
                ("RUST_LOG", "debug"),
            ])
            .unwrap(),
        )
        .otlp_endpoint(otlp.http_traces_url())
        .protocol(Protocol::HttpProtobuf)
        .sentry_dsn(sentry.dsn())
        .log_writer(logs.clone())
        .shutdown_timeout(Duration::from_secs(5))
        .init()
        .expect("init telemetry");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("glimpse-secrets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let addr = rt.block_on(async {
        let raw = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(2)
            .connect(&format!(
                "sqlite://{}?mode=rwc",
                dir.join("secrets.db").display()
            ))
            .await
            .expect("sqlite");
        // Every query is "slow" (logged with its text), and spans carry the text too.
        let pool = glimpse_telemetry_sqlx::Config::new("secrets")
            .slow_threshold(Duration::ZERO)
            .capture_query_text(true)
            .instrument(&raw);
        let app = Router::new()
            .route("/checkout", post(checkout))
            .route("/refund", post(refund))
            .route("/verify", post(verify))
            .layer(glimpse_telemetry_axum::TelemetryLayer::new())
            .with_state(pool);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    });

    let (authorization, cookie) = credentials();
    let headers = [
        ("Authorization", authorization.as_str()),
        ("Cookie", cookie.as_str()),
    ];
    let body = serde_json::json!({"password": PASSWORD, "card_number": CARD}).to_string();
    let card_query = format!("?card={}", CARD.replace(' ', ""));
    let checkout = http(
        addr,
        "POST",
        &format!("/checkout{card_query}"),
        &headers,
        &body,
    );
    assert_eq!(checkout.status, 502, "{}", checkout.body);
    let refund = http(addr, "POST", "/refund", &headers, &body);
    assert_eq!(refund.status, 500, "{}", refund.body);
    let verify = http(addr, "POST", "/verify", &headers, &body);
    assert_eq!(verify.status, 500, "{}", verify.body);
    let ids: Vec<String> = [&checkout, &refund, &verify]
        .iter()
        .map(|r| r.header("x-request-id").expect("request id").to_owned())
        .collect();

    // 1. The secrets were really sent, received and used.
    {
        let s = seen();
        assert_eq!(s.authorization.as_deref(), Some(authorization.as_str()));
        assert_eq!(s.cookie.as_deref(), Some(cookie.as_str()));
        assert_eq!(s.password.as_deref(), Some(PASSWORD));
        assert_eq!(s.card.as_deref(), Some(CARD));
        assert_eq!(s.selected, [CARD, CARD], "both SELECTs returned the card");
        assert_eq!(s.query_errors.len(), 2, "both bad queries failed");
        for e in &s.query_errors {
            assert!(e.contains(CARD), "the card is in the database's error: {e}");
        }
    }

    // 2. What those requests produced arrived: log lines, spans, events.
    telemetry.flush();
    let lines = logs.lines();
    let of = |id: &str| -> Vec<&Value> { lines.iter().filter(|l| l["requestId"] == id).collect() };
    let checkout_lines = of(&ids[0]);
    let has = |lines: &[&Value], pred: &dyn Fn(&Value) -> bool| lines.iter().any(|l| pred(l));
    assert!(has(&checkout_lines, &|l| l["message"] == "login attempt"
        && l["password"] == "[REDACTED]"));
    assert!(has(&checkout_lines, &|l| l["message"]
        == "charging card [REDACTED]"));
    assert!(has(&checkout_lines, &|l| {
        l["message"] == "request credentials"
            && l["authorization"] == "[REDACTED]"
            && l["cookie"] == "[REDACTED]"
            && l["note"] == "card [REDACTED] on file"
    }));
    assert!(
        checkout_lines
            .iter()
            .filter(|l| l["target"] == glimpse_telemetry_sqlx::DATABASE_TARGET)
            .count()
            >= 4,
        "slow-query and failed-query lines of the four queries: {checkout_lines:#?}"
    );
    assert!(has(&checkout_lines, &|l| l["level"] == "ERROR"
        && l["target"] == glimpse_telemetry_sqlx::DATABASE_TARGET));
    assert!(has(&checkout_lines, &|l| l["target"]
        == "glimpse_telemetry_axum::access"
        && l["http_status"] == 502
        && l["path"] == "/checkout"));
    assert!(has(&of(&ids[2]), &|l| l["target"]
        == glimpse_telemetry::reporting::PANIC_TARGET));

    let spans = otlp.wait_until(Duration::from_secs(20), |spans| {
        ["POST /checkout", "POST /refund", "POST /verify", "charge"]
            .iter()
            .all(|n| spans.iter().any(|s| s.name == *n))
            && spans
                .iter()
                .filter(|s| s.kind == "SPAN_KIND_CLIENT")
                .count()
                >= 4
    });
    let charge = spans
        .iter()
        .find(|s| s.name == "charge")
        .unwrap_or_else(|| {
            panic!(
                "no charge span: {:?}",
                spans.iter().map(|s| &s.name).collect::<Vec<_>>()
            )
        });
    assert_eq!(charge.attr_str("card_number"), Some("[REDACTED]"));
    assert_eq!(
        charge.attr_str("payment_note"),
        Some("paid with [REDACTED]")
    );
    assert!(
        spans
            .iter()
            .filter(|s| s.kind == "SPAN_KIND_CLIENT")
            .any(|s| s.attr_str("db.query.text").is_some()),
        "the query spans carry their (sanitized) text"
    );

    // One event per failed request (the checkout's first error wins), plus capture_error's.
    let events = || sentry.events();
    assert!(
        eventually(Duration::from_secs(20), || {
            let e = events();
            ids.iter()
                .all(|id| e.iter().any(|e| e["tags"]["request_id"] == id.as_str()))
        }),
        "an event for each failed request: {:#?}",
        events()
    );

    // 3. No secret anywhere.
    drop(telemetry);
    let found = leaks_anywhere("the log lines", &logs.text(), &otlp, &sentry);
    assert!(found.is_empty(), "secrets leaked:\n{}", found.join("\n\n"));
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------------
// The example binary
// ---------------------------------------------------------------------------------------------

/// The example binary, its stdout kept as written (the secrets are searched in the raw text).
fn start_example(otlp: &OtlpReceiver, sentry: &SentryReceiver) -> Service<String> {
    Launch::new("secrets")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.grpc_endpoint())
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env("SENTRY_DSN", sentry.dsn())
        .env("RUST_LOG", "debug")
        .start()
}

#[test]
fn example_payments_keep_card_and_credentials_out() {
    let Some((otlp, sentry)) = receivers() else {
        return;
    };
    let svc = start_example(&otlp, &sentry);
    let (authorization, cookie) = credentials();
    let headers = [
        ("Authorization", authorization.as_str()),
        ("Cookie", cookie.as_str()),
        ("x-user-id", "ada"),
    ];
    let r = http(svc.addr, "POST", "/users", &headers, r#"{"name":"Ada"}"#);
    assert_eq!(r.status, 201, "{}", r.body);
    let user: Value = serde_json::from_str(&r.body).unwrap();
    let user = user["id"].as_str().unwrap().to_owned();

    let card_query = format!("?card={}", CARD.replace(' ', ""));
    let mut ids = Vec::new();
    for (fail, want) in [(false, 201), (true, 402)] {
        let body = serde_json::json!({
            "user_id": user, "amount_minor": 1999, "currency": "EUR",
            "card_number": CARD, "password": PASSWORD, "simulate_failure": fail,
        })
        .to_string();
        // The service parsed the body (card number included) and processed the payment.
        let r = http(
            svc.addr,
            "POST",
            &format!("/payments{card_query}"),
            &headers,
            &body,
        );
        assert_eq!(r.status, want, "{}", r.body);
        ids.push(r.header("x-request-id").unwrap().to_owned());
    }
    for path in ["/debug/error", "/debug/panic"] {
        let r = http(
            svc.addr,
            "GET",
            &format!("{path}{card_query}"),
            &headers,
            "",
        );
        assert_eq!(r.status, 500, "{path}: {}", r.body);
        ids.push(r.header("x-request-id").unwrap().to_owned());
    }

    // What those requests produced arrived.
    let stdout = || svc.logs.lock().unwrap().clone();
    assert!(
        eventually(Duration::from_secs(10), || {
            let out = stdout();
            ids.iter().all(|id| {
                out.lines().any(|l| {
                    l.contains("glimpse_telemetry_axum::access") && l.contains(id.as_str())
                })
            })
        }),
        "an access line for each request:\n{}",
        stdout()
    );
    let out = stdout();
    assert!(
        out.lines()
            .any(|l| l.contains("\"log_type\":\"audit\"") && l.contains("payment_transaction")),
        "the payments were audited"
    );
    let spans = otlp.wait_until(Duration::from_secs(20), |spans| {
        spans.iter().filter(|s| s.name == "POST /payments").count() == 2
            && spans.iter().any(|s| s.name == "GET /debug/panic")
    });
    assert_eq!(
        spans.iter().filter(|s| s.name == "POST /payments").count(),
        2,
        "stderr: {}",
        otlp.stderr()
    );
    assert!(
        eventually(Duration::from_secs(20), || {
            let e = sentry.events();
            ids[2..]
                .iter()
                .all(|id| e.iter().any(|e| e["tags"]["request_id"] == id.as_str()))
        }),
        "an event for each failed request: {:#?}",
        sentry.events()
    );

    let found = leaks_anywhere("the service's stdout", &stdout(), &otlp, &sentry);
    assert!(found.is_empty(), "secrets leaked:\n{}", found.join("\n\n"));
}
