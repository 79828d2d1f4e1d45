//! The log side, on the lines the example service really prints:
//! - the monitoring guide's four "Common Kibana Queries", verbatim, parsed by a Lucene query
//!   parser (tantivy's query grammar) and evaluated over the captured lines as Elasticsearch
//!   indexes them with the generated mappings (field types, the `log_level` alias, `copy_to`),
//!   find exactly the cases they describe;
//! - every key the SDK's writers (the SDK, the HTTP layer, the sqlx adapter, the audit helpers)
//!   put in a line is in the log-field catalogue, with the catalogued JSON type.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{Launch, Service, http, register_as};
use glimpse_telemetry::logs::audit::{AUDIT_TARGET, SECURITY_TARGET};
use glimpse_telemetry::logs::catalogue::{self, JsonType};
use serde_json::{Value, json};
use tantivy_query_grammar::{Delimiter, Occur, UserInputAst, UserInputBound, UserInputLeaf};

// ---------------------------------------------------------------------------------------------
// The service.

fn start(service_name: &str) -> Service {
    Launch::new(&format!("log-queries-{service_name}"))
        .env("OTEL_SERVICE_NAME", service_name)
        .env("RUST_LOG", "debug")
        .start()
}

impl Service {
    /// The lines so far, once `done` holds for them (the access line of the last request is
    /// written when its body has been sent, so it may lag the response a little).
    fn lines_when(&self, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let lines = self.logs.lock().unwrap().clone();
            if done(&lines) || Instant::now() > deadline {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Registers a user with no caller (no `x-user-id`): the lines name only the users the cases
/// are about.
fn register(addr: SocketAddr, name: &str) -> String {
    register_as(addr, &[], name)
}

fn pay(addr: SocketAddr, user: &str, fail: bool) {
    let body = format!(
        r#"{{"user_id":"{user}","amount_minor":1999,"currency":"EUR","simulate_failure":{fail}}}"#
    );
    let (status, _, _) = http(addr, "POST", "/payments", &[("x-user-id", user)], &body);
    assert_eq!(status, if fail { 402 } else { 201 });
}

async fn chat(addr: SocketAddr, user: &str) {
    use futures_util::{SinkExt as _, StreamExt as _};
    use tokio_tungstenite::tungstenite::Message;
    let mut ws = common::chat_socket(addr, user).await;
    ws.send(Message::Text("hello".into())).await.unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(10), ws.next()).await;
    ws.close(None).await.unwrap();
}

fn access<'a>(lines: &'a [Value], route: &str, status: u64) -> Vec<&'a Value> {
    lines
        .iter()
        .filter(|l| {
            l["target"] == "glimpse_telemetry_axum::access"
                && l["route"] == route
                && l["http_status"] == status
        })
        .collect()
}

/// The `glimpse-api` service with every kind of traffic, and a service named `payment` (the
/// same binary) that processes payments: the lines both wrote.
fn captured_lines() -> Vec<Value> {
    let api = start("glimpse-api");
    let addr = api.addr;
    let ada = register(addr, "Ada");
    // user123 makes a request that is fine, one whose query fails (ERROR from the database
    // layer and a 500 access line), and one that panics.
    assert_eq!(
        http(
            addr,
            "GET",
            &format!("/users/{ada}"),
            &[("x-user-id", "user123")],
            ""
        )
        .0,
        200
    );
    assert_eq!(
        http(addr, "GET", "/debug/error", &[("x-user-id", "user123")], "").0,
        500
    );
    assert_eq!(
        http(addr, "GET", "/debug/panic", &[("x-user-id", "user123")], "").0,
        500
    );
    // Another user's error, which the first query must not find.
    assert_eq!(
        http(addr, "GET", "/debug/error", &[("x-user-id", "bob")], "").0,
        500
    );
    // A 200 slower than 1000 ms (and a slow query), and fast ones.
    // The example calibrates its slow query at start-up, on a machine that may be busy:
    // ask for longer ones until one took more than a second.
    for ms in [2000, 3500, 5000] {
        let started = Instant::now();
        assert_eq!(
            http(addr, "GET", &format!("/reports/slow?ms={ms}"), &[], "").0,
            200
        );
        if started.elapsed() > Duration::from_millis(1100) {
            break;
        }
    }
    assert_eq!(http(addr, "GET", "/reports/slow?ms=1", &[], "").0, 200);
    assert_eq!(http(addr, "GET", "/users/nobody", &[], "").0, 404);
    assert_eq!(http(addr, "POST", "/users", &[], "{}").0, 422);
    // A failed payment, but not in a service named payment.
    pay(addr, &ada, true);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(chat(addr, &ada));
    let mut lines = api.lines_when(|l| {
        !access(l, "/reports/slow", 200).is_empty()
            && l.iter()
                .any(|l| l["target"] == "glimpse_telemetry_axum::ws" && l["close_code"].is_string())
            && l.iter().filter(|l| l["http_status"] == 500).count() >= 3
    });
    drop(api);

    let payment = start("payment");
    let addr = payment.addr;
    let carl = register(addr, "Carl");
    pay(addr, &carl, true);
    pay(addr, &carl, false);
    lines.extend(payment.lines_when(|l| {
        l.iter()
            .filter(|l| l["event_type"] == "payment_transaction")
            .count()
            >= 2
            && access(l, "/payments", 201).len() == 1
    }));
    lines
}

// ---------------------------------------------------------------------------------------------
// Elasticsearch's view of a line, from the generated mappings.

/// How a line is indexed: the mappings xtask generates (the committed index template).
struct Index {
    mappings: Value,
}

impl Index {
    fn new(mappings: Value) -> Self {
        Index { mappings }
    }

    /// The field a query names, after aliases.
    fn resolve<'a>(&'a self, field: &'a str) -> &'a str {
        let p = &self.mappings["properties"][field];
        if p["type"] == "alias" {
            p["path"].as_str().unwrap()
        } else {
            field
        }
    }

    /// The mapping type of a field; for a context field, the dynamic template's by JSON type.
    fn es_type(&self, field: &str, value: &Value) -> String {
        let p = &self.mappings["properties"][field];
        if let Some(t) = p["type"].as_str() {
            return t.to_owned();
        }
        let json_type = match value {
            Value::String(_) => "string",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_f64() => "double",
            Value::Number(_) => "long",
            _ => panic!("the writer never writes {value}"),
        };
        self.mappings["dynamic_templates"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|t| t.as_object().unwrap().values())
            .find(|t| t["match_mapping_type"] == json_type)
            .and_then(|t| t["mapping"]["type"].as_str())
            .unwrap_or_else(|| panic!("no dynamic template for {json_type}"))
            .to_owned()
    }

    /// The values indexed under `field` for a line: its own and those copied to it.
    fn values<'a>(&self, line: &'a Value, field: &str) -> Vec<&'a Value> {
        let mut out: Vec<&Value> = line.get(field).into_iter().collect();
        for (source, p) in self.mappings["properties"].as_object().unwrap() {
            let copied = p["copy_to"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t == field));
            if copied {
                out.extend(line.get(source.as_str()));
            }
        }
        out
    }

    fn matches(&self, ast: &UserInputAst, line: &Value) -> bool {
        match ast {
            UserInputAst::Clause(clauses) => {
                let has_must = clauses
                    .iter()
                    .any(|(o, _)| matches!(o, Some(Occur::Must | Occur::MustNot)));
                let mut any_should = false;
                for (occur, sub) in clauses {
                    let hit = self.matches(sub, line);
                    match occur {
                        Some(Occur::Must) if !hit => return false,
                        Some(Occur::MustNot) if hit => return false,
                        Some(Occur::Should) | None => any_should |= hit,
                        _ => {}
                    }
                }
                has_must || any_should
            }
            UserInputAst::Boost(inner, _) => self.matches(inner, line),
            UserInputAst::Leaf(leaf) => self.leaf(leaf, line),
        }
    }

    fn leaf(&self, leaf: &UserInputLeaf, line: &Value) -> bool {
        match leaf {
            UserInputLeaf::Literal(lit) => {
                let field = self.resolve(lit.field_name.as_deref().expect("queries name fields"));
                self.values(line, field).iter().any(|v| {
                    let quoted = lit.delimiter != Delimiter::None;
                    term_matches(&self.es_type(field, v), v, &lit.phrase, quoted)
                })
            }
            UserInputLeaf::Range {
                field,
                lower,
                upper,
            } => {
                let field = self.resolve(field.as_deref().expect("queries name fields"));
                self.values(line, field).iter().any(|v| {
                    let t = self.es_type(field, v);
                    assert!(
                        ["integer", "long", "double"].contains(&t.as_str()),
                        "range on {field} ({t}): Elasticsearch would compare strings"
                    );
                    let Some(x) = v.as_f64() else { return false };
                    in_bound(x, lower, true) && in_bound(x, upper, false)
                })
            }
            other => panic!("the guide's queries use terms and ranges only, not {other:?}"),
        }
    }
}

fn in_bound(x: f64, bound: &UserInputBound, lower: bool) -> bool {
    let n = |s: &str| {
        s.parse::<f64>()
            .unwrap_or_else(|_| panic!("not a number: {s}"))
    };
    match (bound, lower) {
        (UserInputBound::Unbounded, _) => true,
        (UserInputBound::Inclusive(b), true) => x >= n(b),
        (UserInputBound::Exclusive(b), true) => x > n(b),
        (UserInputBound::Inclusive(b), false) => x <= n(b),
        (UserInputBound::Exclusive(b), false) => x < n(b),
    }
}

/// The standard analyzer, as far as these values need: lowercase words.
fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Whether a term query matches one indexed value of a field of mapping type `es_type`.
fn term_matches(es_type: &str, value: &Value, term: &str, quoted: bool) -> bool {
    match es_type {
        // Exact, case-sensitive; numbers and booleans are indexed as their text.
        "keyword" => match value {
            Value::String(s) => s == term,
            other => {
                let text = other.to_string();
                text.as_str() == term
            }
        },
        "integer" | "long" | "double" => match (value.as_f64(), term.parse::<f64>()) {
            (Some(v), Ok(t)) => v == t,
            _ => false,
        },
        "boolean" => value.as_bool().map(|b| b.to_string()).as_deref() == Some(term),
        "match_only_text" => {
            let have = words(value.as_str().unwrap_or_default());
            let want = words(term);
            if quoted {
                have.windows(want.len()).any(|w| w == want.as_slice())
            } else {
                want.iter().any(|w| have.contains(w))
            }
        }
        other => panic!("term on a {other} field"),
    }
}

fn search<'a>(index: &Index, query: &str, lines: &'a [Value]) -> Vec<&'a Value> {
    let ast = tantivy_query_grammar::parse_query(query)
        .unwrap_or_else(|_| panic!("not Lucene query syntax: {query}"));
    lines.iter().filter(|l| index.matches(&ast, l)).collect()
}

// ---------------------------------------------------------------------------------------------
// The catalogue check.

fn writes_for_the_sdk(target: &str) -> bool {
    target.starts_with("glimpse_telemetry") || target == AUDIT_TARGET || target == SECURITY_TARGET
}

fn json_type_ok(t: JsonType, v: &Value) -> bool {
    match t {
        JsonType::String => v.is_string(),
        JsonType::Integer => v.is_i64() || v.is_u64(),
        JsonType::Number => v.is_number(),
        JsonType::Boolean => v.is_boolean(),
        _ => false,
    }
}

/// `target: key` for every key an SDK writer wrote that the catalogue does not know, or with
/// another JSON type than catalogued.
fn uncatalogued(lines: &[Value]) -> Vec<String> {
    let mut out = Vec::new();
    for line in lines {
        let target = line["target"].as_str().unwrap_or_default();
        for (key, value) in line.as_object().unwrap() {
            let known = catalogue::field(key);
            let problem = match known {
                None if writes_for_the_sdk(target) => Some("not in the catalogue"),
                Some(f) if !json_type_ok(f.json_type, value) => Some("not of the catalogued type"),
                _ => None,
            };
            if let Some(problem) = problem {
                let entry = format!("{target}: {key} = {value} ({problem})");
                if !out.contains(&entry) {
                    out.push(entry);
                }
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------

fn guide(title: &str) -> &'static str {
    xtask::logs::GUIDE_QUERIES
        .iter()
        .find(|q| q.title == title)
        .unwrap_or_else(|| panic!("{title}"))
        .kibana
}

#[test]
fn the_guide_queries_find_their_cases_and_every_sdk_key_is_catalogued() {
    let lines = captured_lines();
    let index = Index::new(xtask::logs::index_mappings());
    // The mappings are those of the committed template.
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(
            xtask::workspace_root()
                .join("deploy/elasticsearch/component_templates/glimpse-logs-mappings.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(committed["template"]["mappings"], index.mappings);

    // Every writer wrote something, and nothing the catalogue does not know.
    for target in [
        "glimpse_telemetry",
        "glimpse_telemetry::panic",
        "glimpse_telemetry_axum::access",
        "glimpse_telemetry_axum::ws",
        "glimpse_telemetry_sqlx",
        AUDIT_TARGET,
    ] {
        assert!(
            lines.iter().any(|l| l["target"] == target),
            "no line from {target}"
        );
    }
    let problems = uncatalogued(&lines);
    assert!(
        problems.is_empty(),
        "keys the catalogue does not know:\n{}",
        problems.join("\n")
    );

    // Find all errors for a user: exactly user123's ERROR lines (the failed query, the two 500
    // access lines, the panic), not their fine request's, not bob's errors.
    let q = guide("Find all errors for a user");
    assert_eq!(q, r#"userId:"user123" AND log_level:ERROR"#);
    let found = search(&index, q, &lines);
    let want: Vec<&Value> = lines
        .iter()
        .filter(|l| l["userId"] == "user123" && l["level"] == "ERROR")
        .collect();
    assert!(found.len() >= 4, "{found:#?}");
    assert_eq!(found, want);
    assert!(
        found
            .iter()
            .any(|l| l["target"] == "glimpse_telemetry_sqlx")
    );
    assert!(found.iter().any(|l| l["route"] == "/debug/panic"));
    assert!(
        lines
            .iter()
            .any(|l| l["userId"] == "user123" && l["level"] == "INFO"),
        "user123 also has lines that are not errors"
    );

    // Payment failures: the declined payment of the service named payment only.
    let q = guide("Payment failures");
    assert_eq!(q, "service:payment AND status:failed");
    let found = search(&index, q, &lines);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(
        (
            &found[0]["event_type"],
            &found[0]["service"],
            &found[0]["level"]
        ),
        (
            &json!("payment_transaction"),
            &json!("payment"),
            &json!("WARN")
        )
    );
    assert!(
        lines
            .iter()
            .any(|l| l["status"] == "failed" && l["service"] == "glimpse-api"),
        "a failed payment of another service exists and is not found"
    );

    // Slow API requests: the 200 that took more than a second, not the fast 200s.
    let q = guide("Slow API requests");
    assert_eq!(q, "response_time:>1000 AND http_status:200");
    let found = search(&index, q, &lines);
    let slow_200s: Vec<&Value> = lines
        .iter()
        .filter(|l| l["http_status"] == 200 && l["response_time"].as_f64() > Some(1000.0))
        .collect();
    assert!(!found.is_empty(), "no 200 slower than a second found");
    assert_eq!(found, slow_200s);
    assert!(
        found.iter().all(|l| l["route"] == "/reports/slow"),
        "{found:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["http_status"] == 200 && l["response_time"].as_f64() < Some(1000.0)),
        "fast 200s exist and are not found"
    );

    // Database errors: the ERROR lines of the database layer (user123's and bob's failed
    // queries), not the 500 access lines, not the slow-query WARN.
    let q = guide("Database errors");
    assert_eq!(q, "service:database AND log_level:ERROR");
    let found = search(&index, q, &lines);
    assert_eq!(found.len(), 2, "{found:#?}");
    for l in &found {
        assert_eq!(
            (&l["target"], &l["level"]),
            (&json!("glimpse_telemetry_sqlx"), &json!("ERROR"))
        );
    }
    assert!(
        lines
            .iter()
            .any(|l| l["target"] == "glimpse_telemetry_sqlx" && l["level"] == "WARN")
    );

    // What made them work: without the alias and copy_to, as in the issue, they find nothing.
    let mut bare = xtask::logs::index_mappings();
    let props = bare["properties"].as_object_mut().unwrap();
    props.remove("log_level");
    for p in props.values_mut() {
        p.as_object_mut().unwrap().remove("copy_to");
    }
    let bare = Index::new(bare);
    for title in ["Find all errors for a user", "Database errors"] {
        assert!(search(&bare, guide(title), &lines).is_empty(), "{title}");
    }
}

#[test]
fn the_catalogue_check_reports_unknown_keys_and_wrong_types() {
    let lines = [
        json!({ "target": "glimpse_telemetry_axum::access", "level": "INFO", "latency_ms": 3 }),
        json!({ "target": "glimpse_telemetry_sqlx", "http_status": "200" }),
        json!({ "target": "glimpse_api::users", "rows": 3, "level": "INFO" }),
    ];
    assert_eq!(
        uncatalogued(&lines),
        [
            "glimpse_telemetry_axum::access: latency_ms = 3 (not in the catalogue)",
            "glimpse_telemetry_sqlx: http_status = \"200\" (not of the catalogued type)",
        ],
        "the service's own context fields (rows) are not the catalogue's"
    );
}

#[test]
fn the_evaluator_follows_lucene_semantics() {
    let index = Index::new(xtask::logs::index_mappings());
    let lines = [
        json!({ "level": "ERROR", "message": "Database query failed: SELECT users", "http_status": 500 }),
        json!({ "level": "INFO", "message": "ok", "http_status": 200, "response_time": 1000.0 }),
        json!({ "level": "INFO", "message": "ok", "http_status": 200, "response_time": 1000.5 }),
    ];
    let n = |q: &str| search(&index, q, &lines).len();
    assert_eq!(n("level:ERROR"), 1);
    assert_eq!(n("level:error"), 0, "keyword terms are exact");
    assert_eq!(n(r#"message:"query failed""#), 1, "text is analyzed");
    assert_eq!(
        n(r#"message:"failed query""#),
        0,
        "phrases keep their order"
    );
    assert_eq!(n("response_time:>1000"), 1, "exclusive lower bound");
    assert_eq!(n("response_time:>=1000"), 2);
    assert_eq!(n("http_status:200 AND NOT response_time:>1000"), 1);
    assert_eq!(n("level:ERROR OR http_status:200"), 3);
    assert_eq!(n("log_level:INFO"), 2, "the alias");
}
