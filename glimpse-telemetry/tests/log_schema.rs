//! The JSON log schema: required fields always present and well-formed, ids from the innermost
//! span (also when recorded after the span was created), fields flattened once, secrets
//! redacted, hostile values still one valid JSON object per line, audit helpers tagged.

use glimpse_telemetry::business::{self, PaymentOutcome};
use glimpse_telemetry::logs::audit;
use glimpse_telemetry::testing::Capture;
use serde_json::Value;

fn is_rfc3339_millis_utc(ts: &str) -> bool {
    let b = ts.as_bytes();
    b.len() == 24
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.'
        && b[23] == b'Z'
        && ts
            .chars()
            .enumerate()
            .all(|(i, c)| [4, 7, 10, 13, 16, 19, 23].contains(&i) || c.is_ascii_digit())
}

#[test]
fn required_fields_and_context() {
    let capture = Capture::new();
    capture.run(|| {
        tracing::warn!("outside any request");
        let request = tracing::info_span!(
            "request",
            request_id = "req-1",
            user_id = tracing::field::Empty,
            http.route = "/users/{id}"
        );
        let _r = request.enter();
        tracing::info!("before auth");
        assert!(glimpse_telemetry::context::set_user_id("user123"));
        let handler = tracing::info_span!("handler", step = "load", rows = tracing::field::Empty);
        let _h = handler.enter();
        handler.record("rows", 3);
        tracing::debug!(step = "event-wins", "after auth");
    });
    let lines = capture.log_lines();
    for l in &lines {
        assert!(
            is_rfc3339_millis_utc(l["timestamp"].as_str().unwrap()),
            "{l}"
        );
        assert!(
            ["ERROR", "WARN", "INFO", "DEBUG", "TRACE"].contains(&l["level"].as_str().unwrap())
        );
        assert_eq!(l["service"], "test");
        assert!(l["message"].is_string());
    }
    let outside = &lines[0];
    assert!(outside.get("requestId").is_none() && outside.get("traceId").is_none());

    let before = lines
        .iter()
        .find(|l| l["message"] == "before auth")
        .unwrap();
    assert_eq!(before["requestId"], "req-1");
    assert!(before.get("userId").is_none(), "not known yet");
    assert_eq!(
        before["http_route"], "/users/{id}",
        "dots become underscores"
    );

    let after = lines.iter().find(|l| l["message"] == "after auth").unwrap();
    assert_eq!(after["level"], "DEBUG");
    assert_eq!(after["requestId"], "req-1", "from the outer span");
    assert_eq!(
        after["userId"], "user123",
        "recorded after the span was created"
    );
    assert_eq!(
        after["step"], "event-wins",
        "the event's field wins over the span's"
    );
    assert_eq!(
        after["rows"], 3,
        "recorded later on the inner span, a JSON number"
    );
    let trace_id = after["traceId"].as_str().unwrap();
    assert!(
        trace_id.len() == 32
            && trace_id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    assert_eq!(after["spanId"].as_str().unwrap().len(), 16);
    // The ids are exactly those of the exported spans.
    let spans = capture.spans();
    let handler = spans.iter().find(|s| s.name == "handler").unwrap();
    assert_eq!(handler.span_context.trace_id().to_string(), trace_id);
    assert_eq!(handler.span_context.span_id().to_string(), after["spanId"]);
}

#[test]
fn each_key_once_and_schema_keys_protected() {
    let capture = Capture::new();
    capture.run(|| {
        let outer = tracing::info_span!("outer", k = "outer", level = "span-level");
        let _o = outer.enter();
        let inner = tracing::info_span!("inner", k = "inner");
        let _i = inner.enter();
        tracing::info!(timestamp = 5, log_level = "mine", "m");
    });
    let text = capture.logs_text();
    let line = text
        .lines()
        .find(|l| l.contains("\"message\":\"m\""))
        .unwrap();
    assert_eq!(line.matches("\"k\":").count(), 1, "{line}");
    let v: Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["k"], "inner");
    assert_eq!(v["level"], "INFO");
    assert_eq!(v["fields_level"], "span-level");
    assert_eq!(v["fields_timestamp"], 5);
    assert_eq!(
        v["fields_log_level"], "mine",
        "an Elasticsearch alias cannot be written to"
    );
    assert!(v.get("log_level").is_none());
}

#[test]
fn secrets_are_redacted() {
    let capture = Capture::new();
    capture.run(|| {
        let span = tracing::info_span!(
            "login",
            api_key = "k-123",
            session_token = tracing::field::Empty
        );
        let _s = span.enter();
        span.record("session_token", "tok-456");
        tracing::info!(
            password = "hunter2",
            authorization = "Bearer abc.def",
            note = %"paid with 4111-1111-1111-1111",
            "card 5500 0000 0000 0004 charged"
        );
    });
    let text = capture.logs_text();
    for secret in [
        "k-123",
        "tok-456",
        "hunter2",
        "abc.def",
        "4111-1111",
        "5500 0000",
    ] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    let line = capture
        .log_lines()
        .into_iter()
        .find(|l| l["password"].is_string())
        .unwrap();
    assert_eq!(line["password"], "[REDACTED]");
    assert_eq!(line["note"], "paid with [REDACTED]");
    assert_eq!(line["message"], "card [REDACTED] charged");
    // Spans are redacted before export too.
    let span = capture
        .spans()
        .into_iter()
        .find(|s| s.name == "login")
        .unwrap();
    let exported = format!("{:?}", span.attributes);
    assert!(
        !exported.contains("k-123") && !exported.contains("tok-456"),
        "{exported}"
    );
}

#[test]
fn hostile_values_keep_one_json_object_per_line() {
    let capture = Capture::new();
    let hostile = [
        "\"}{\"injected\":1",
        "line\nbreak\r\n",
        "\u{0}\u{1b}[31mred\u{7f}",
        "back\\slash\\",
        "\u{2028}\u{fffd}é",
    ];
    capture.run(|| {
        for h in hostile {
            let span = tracing::info_span!("s", path = h);
            let _g = span.enter();
            tracing::info!(value = h, debug = ?h, "{h}");
        }
        tracing::info!(big = %"x".repeat(100_000), "big");
    });
    let text = capture.logs_text();
    assert_eq!(text.lines().count(), hostile.len() + 1);
    for (line, h) in text.lines().zip(hostile) {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_eq!(v["value"], h);
        assert_eq!(v["path"], h);
        assert_eq!(v["message"], h);
        assert!(v.get("injected").is_none());
    }
    let big: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert!(
        big["big"].as_str().unwrap().len() < 9_000,
        "long values are capped"
    );
}

#[test]
fn audit_and_security_lines_are_tagged_for_routing() {
    let capture = Capture::new();
    capture.run(|| {
        let span = tracing::info_span!("request", request_id = "req-a", user_id = "admin-7");
        let _g = span.enter();
        audit::user_data_access("admin-7", "user-42", "profile", "export");
        business::payment_transaction("pay_1", 1999, "EUR", PaymentOutcome::Failed);
        audit::config_change("admin-7", "stripe_api_key", "old-secret", "new-secret");
        audit::failed_login("user-42", "bad_password");
        audit::permission_change("admin-7", "user-42", "admin", true);
        audit::admin_action("admin-7", "ban", "user-99");
    });
    let lines = capture.log_lines();
    let find = |t: &str| {
        lines
            .iter()
            .find(|l| l["event_type"] == t)
            .unwrap_or_else(|| panic!("{t}"))
    };
    let access = find("user_data_access");
    assert_eq!(
        (access["log_type"].as_str(), access["retention"].as_str()),
        (Some("audit"), Some("1y"))
    );
    assert_eq!(access["requestId"], "req-a");
    let payment = find("payment_transaction");
    assert_eq!(
        (payment["retention"].as_str(), payment["level"].as_str()),
        (Some("7y"), Some("WARN"))
    );
    let config = find("config_change");
    assert_eq!(config["old_value"], "[REDACTED]");
    assert!(!capture.logs_text().contains("new-secret"));
    let login = find("failed_login");
    assert_eq!(
        (login["log_type"].as_str(), login["target"].as_str()),
        (Some("security"), Some("security"))
    );
    assert_eq!(find("permission_change")["log_type"], "security");
    assert_eq!(find("admin_action")["log_type"], "audit");
}

#[test]
fn error_events_under_a_scoped_dispatcher_carry_the_request_ids() {
    let capture = Capture::new();
    capture.run(|| {
        let span = tracing::info_span!("request", request_id = "req-e", user_id = "user-e");
        let _g = span.enter();
        tracing::error!("boom");
    });
    let events = capture.error_events();
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(
        e.user.as_ref().and_then(|u| u.id.as_deref()),
        Some("user-e")
    );
    assert_eq!(e.tags.get("request_id").map(String::as_str), Some("req-e"));
    let line = capture
        .log_lines()
        .into_iter()
        .find(|l| l["message"] == "boom")
        .unwrap();
    assert_eq!(
        e.tags.get("trace_id").map(String::as_str),
        line["traceId"].as_str()
    );
}

#[test]
fn audit_lines_write_only_catalogued_keys() {
    use glimpse_telemetry::logs::catalogue::{self, JsonType};
    let capture = Capture::new();
    capture.run(|| {
        let span = tracing::info_span!("request", request_id = "req-c", user_id = "admin-7");
        let _g = span.enter();
        audit::user_data_access("admin-7", "user-42", "profile", "read");
        audit::config_change("admin-7", "theme", "light", "dark");
        business::payment_transaction("pay_2", 500, "EUR", PaymentOutcome::Failed);
        audit::admin_action("admin-7", "ban", "user-99");
        audit::failed_login("user-42", "locked");
        audit::permission_change("admin-7", "user-42", "admin", false);
    });
    let lines = capture.log_lines();
    assert_eq!(lines.len(), 6);
    for line in &lines {
        for (key, value) in line.as_object().unwrap() {
            let field = catalogue::field(key)
                .unwrap_or_else(|| panic!("{key} is not in the log-field catalogue: {line}"));
            let ok = match field.json_type {
                JsonType::String => value.is_string(),
                JsonType::Integer => value.is_i64() || value.is_u64(),
                JsonType::Number => value.is_number(),
                JsonType::Boolean => value.is_boolean(),
                _ => false,
            };
            assert!(ok, "{key} = {value} is not a {}", field.json_type.as_str());
        }
        let class =
            catalogue::retention_class(line["retention"].as_str(), line["level"].as_str().unwrap());
        assert_eq!(line["retention"], class.retention.as_str(), "{line}");
    }
    let payment = lines
        .iter()
        .find(|l| l["event_type"] == "payment_transaction")
        .unwrap();
    assert_eq!(payment["status"], "failed", "the guide's status:failed");
}

#[test]
fn a_span_field_recorded_again_is_written_once_with_its_last_value() {
    let capture = Capture::new();
    capture.run(|| {
        let span = tracing::info_span!("job", attempt = 1, queue = "mail");
        let _g = span.enter();
        span.record("attempt", 2);
        span.record("attempt", 3);
        tracing::info!(queue = "urgent", "retrying");
    });
    let text = capture.logs_text();
    let line = text
        .lines()
        .find(|l| l.contains("retrying"))
        .expect("the line");
    assert_eq!(line.matches("\"attempt\":").count(), 1, "{line}");
    assert!(line.contains("\"attempt\":3"), "{line}");
    assert_eq!(line.matches("\"queue\":").count(), 1, "{line}");
    assert!(
        line.contains("\"queue\":\"urgent\""),
        "the event's own wins: {line}"
    );
}

#[test]
fn span_directives_of_rust_log_follow_the_span_entered() {
    // `[checkout]=debug`: DEBUG lines inside a `checkout` span, WARN elsewhere. The filter must
    // see the span entered and left (the built-in layers skip those callbacks without such a
    // directive).
    let capture = Capture::with_filter("warn,[checkout]=debug");
    capture.run(|| {
        tracing::debug!("before");
        {
            let span = tracing::info_span!("checkout");
            let _entered = span.enter();
            tracing::debug!("inside");
        }
        tracing::debug!("after");
        tracing::warn!("a warning");
    });
    let messages: Vec<String> = capture
        .log_lines()
        .iter()
        .map(|l| l["message"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(messages, ["inside", "a warning"]);
}
