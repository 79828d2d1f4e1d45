//! A real Sentry envelope receiver: Sentry's Spotlight sidecar run by
//! `test-support/peers/sentry-receiver.mjs`.

use std::time::Duration;

use serde_json::Value;

use crate::peers::{PeerProcess, PeerSpec};

const SPEC: PeerSpec = PeerSpec {
    name: "sentry-receiver",
    script: "sentry-receiver.mjs",
    package: "@spotlightjs/spotlight",
};

/// A real Sentry envelope receiver (Sentry's Spotlight sidecar) listening on
/// 127.0.0.1. It accepts `POST /api/<project>/envelope/` like Sentry and
/// GlitchTip do (plain, gzip, deflate or br bodies) and records every
/// envelope. The child process is killed on drop.
///
/// Envelopes are recorded as Spotlight parses them,
/// `[header, [[item_header, item_payload], ...]]`:
/// * JSON item payloads are objects, with the item type copied into a
///   `"type"` field (so an event payload has `"type": "event"`);
/// * other items (attachments, ...) are `{"data": "<base64 or text>"}`;
/// * the envelope header gains Spotlight's `__spotlight_envelope_id`,
///   `__spotlight_sender_user_agent` and `__spotlight_inferred_source` keys.
pub struct SentryReceiver {
    peer: PeerProcess,
    dsn: String,
    port: u16,
}

impl SentryReceiver {
    /// Starts a receiver on a free port. Returns `None` (after
    /// [`peer_missing`](crate::peer_missing)) when `node` or the npm package
    /// is not installed; panics with the receiver's stderr when it is
    /// installed but fails to start within 15 s.
    pub fn start() -> Option<SentryReceiver> {
        let (peer, ready) = PeerProcess::start(&SPEC)?;
        let dsn = ready
            .get("dsn")
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("sentry-receiver ready line lacks \"dsn\": {ready}"))
            .to_owned();
        let port = ready
            .get("port")
            .and_then(Value::as_u64)
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or_else(|| panic!("sentry-receiver ready line lacks \"port\": {ready}"));
        Some(SentryReceiver { peer, dsn, port })
    }

    /// The DSN a Sentry client should use: `http://public@127.0.0.1:PORT/0`.
    pub fn dsn(&self) -> &str {
        &self.dsn
    }

    /// The port the receiver listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The envelope endpoint for project `0`:
    /// `http://127.0.0.1:PORT/api/0/envelope/`.
    pub fn envelope_url(&self) -> String {
        format!("http://127.0.0.1:{}/api/0/envelope/", self.port)
    }

    /// Every envelope received so far, `[header, [[item_header, payload], ...]]`.
    pub fn envelopes(&self) -> Vec<Value> {
        envelopes_of(&self.peer.messages())
    }

    /// Every event item (item type `"event"`) received so far, as the event
    /// payload JSON.
    pub fn events(&self) -> Vec<Value> {
        self.items("event")
    }

    /// The payload of every item of the given type (`"event"`,
    /// `"transaction"`, `"session"`, `"log"`, ...) received so far.
    pub fn items(&self, item_type: &str) -> Vec<Value> {
        items_of(&self.peer.messages(), item_type)
    }

    /// Waits until at least one received event matches `pred` or `timeout`
    /// passes; returns all matching events (empty on timeout). Panics if the
    /// receiver dies meanwhile.
    pub fn wait_for_events(&self, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
        self.wait_for_items("event", timeout, pred)
    }

    /// Like [`wait_for_events`](Self::wait_for_events), for items of any type.
    pub fn wait_for_items(
        &self,
        item_type: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Vec<Value> {
        self.peer
            .wait_until(timeout, |messages| {
                let matching: Vec<_> = items_of(messages, item_type)
                    .into_iter()
                    .filter(&pred)
                    .collect();
                (!matching.is_empty()).then_some(matching)
            })
            .unwrap_or_default()
    }

    /// The tail of the receiver's stderr (Spotlight's own messages), for
    /// diagnostics.
    pub fn stderr(&self) -> String {
        self.peer.stderr()
    }
}

fn envelopes_of(messages: &[Value]) -> Vec<Value> {
    messages
        .iter()
        .filter_map(|m| m.get("envelope").cloned())
        .collect()
}

fn items_of(messages: &[Value], item_type: &str) -> Vec<Value> {
    messages
        .iter()
        .filter_map(|m| m.get("envelope"))
        .filter_map(|env| env.get(1).and_then(Value::as_array))
        .flatten()
        .filter(|item| {
            item.get(0)
                .and_then(|h| h.get("type"))
                .and_then(Value::as_str)
                == Some(item_type)
        })
        .filter_map(|item| item.get(1).cloned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_http::http_request;
    use serde_json::json;

    const EVENT_ID: &str = "9ec79c33ec9942ab8353589fcb2e04dc";
    const TRACE_ID: &str = "5b8efff798038103d269b633813fc60c";

    fn envelope(dsn: &str) -> Vec<u8> {
        let header = json!({
            "event_id": EVENT_ID,
            "dsn": dsn,
            "sent_at": "2026-01-01T00:00:00Z",
            "sdk": {"name": "sentry.rust", "version": "0.49.5"}
        });
        let event = json!({
            "event_id": EVENT_ID,
            "message": "hello from the harness",
            "level": "error",
            "platform": "native",
            "release": "glimpse@1.2.3",
            "environment": "test",
            "user": {"id": "42", "email": "user@example.com"},
            "contexts": {"trace": {"trace_id": TRACE_ID, "span_id": "eee19b7ec3c1b174"}}
        })
        .to_string();
        let attachment = "plain text";
        // One item with an explicit length, one without.
        format!(
            "{header}\n{}\n{event}\n{}\n{attachment}\n",
            json!({"type": "event", "length": event.len()}),
            json!({"type": "attachment", "filename": "note.txt", "content_type": "text/plain", "length": attachment.len()}),
        )
        .into_bytes()
    }

    #[test]
    fn receives_an_envelope_posted_without_content_type() {
        let Some(sentry) = SentryReceiver::start() else {
            return;
        };
        let dsn = sentry.dsn().to_owned();
        assert_eq!(dsn, format!("http://public@127.0.0.1:{}/0", sentry.port()));

        // Like sentry-rust's reqwest/ureq transports: no Content-Type at all.
        let (status, resp) = http_request(
            &sentry.envelope_url(),
            "POST",
            &[(
                "X-Sentry-Auth",
                "Sentry sentry_version=7, sentry_client=sentry.rust/0.49.5, sentry_key=public",
            )],
            &envelope(&dsn),
        );
        assert_eq!(status, 200, "{resp}");

        let events = sentry.wait_for_events(Duration::from_secs(10), |e| e["event_id"] == EVENT_ID);
        assert_eq!(events.len(), 1, "stderr: {}", sentry.stderr());
        let event = &events[0];
        assert_eq!(event["message"], "hello from the harness");
        assert_eq!(event["release"], "glimpse@1.2.3");
        assert_eq!(event["user"]["id"], "42");
        assert_eq!(event["contexts"]["trace"]["trace_id"], TRACE_ID);
        assert_eq!(event["type"], "event");

        let envelopes = sentry.envelopes();
        assert_eq!(envelopes.len(), 1);
        assert_eq!(envelopes[0][0]["event_id"], EVENT_ID);
        assert_eq!(envelopes[0][0]["sdk"]["name"], "sentry.rust");
        assert_eq!(envelopes[0][1].as_array().map(Vec::len), Some(2));
        let attachments = sentry.items("attachment");
        assert_eq!(attachments, vec![json!({"data": "plain text"})]);
        assert!(sentry.items("transaction").is_empty());
    }

    #[test]
    fn accepts_content_type_and_project_path_variants() {
        let Some(sentry) = SentryReceiver::start() else {
            return;
        };
        let base = format!("http://127.0.0.1:{}", sentry.port());
        let body = envelope(sentry.dsn());
        for (path, content_type) in [
            ("/api/0/envelope/", Some("application/x-sentry-envelope")),
            ("/api/17/envelope", None),
            ("/api/0/envelope/?sentry_key=public&sentry_version=7", None),
        ] {
            let headers: Vec<_> = content_type
                .map(|ct| ("Content-Type", ct))
                .into_iter()
                .collect();
            let (status, resp) = http_request(&format!("{base}{path}"), "POST", &headers, &body);
            assert_eq!(status, 200, "{path}: {resp}");
        }
        let received = sentry
            .peer
            .wait_until(Duration::from_secs(10), |m| (m.len() >= 3).then_some(()));
        assert!(received.is_some(), "stderr: {}", sentry.stderr());
        assert_eq!(sentry.events().len(), 3);
    }

    #[test]
    fn exits_when_stdin_closes() {
        let Some(mut sentry) = SentryReceiver::start() else {
            return;
        };
        sentry.peer.close_stdin();
        let status = sentry.peer.wait_exit(Duration::from_secs(10));
        assert!(
            status.is_some_and(|s| s.success()),
            "{status:?}, stderr: {}",
            sentry.stderr()
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn listens_on_loopback_only() {
        let Some(sentry) = SentryReceiver::start() else {
            return;
        };
        // /proc/net/tcp lists listening sockets (state 0A) as HEXIP:HEXPORT;
        // 127.0.0.1 is 0100007F there. Nothing may listen on 0.0.0.0 or ::.
        let port = format!("{:04X}", sentry.port());
        let mut found = Vec::new();
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            let Ok(text) = std::fs::read_to_string(table) else {
                continue;
            };
            for line in text.lines().skip(1) {
                let cols: Vec<_> = line.split_whitespace().collect();
                if cols.len() > 3 && cols[3] == "0A" && cols[1].ends_with(&format!(":{port}")) {
                    found.push(cols[1].to_owned());
                }
            }
        }
        assert_eq!(found, vec![format!("0100007F:{port}")]);
    }
}
