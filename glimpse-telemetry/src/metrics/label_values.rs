//! What the values of each catalogue label are (the label column of `docs/metrics.md`), next
//! to the catalogue that lists the keys: one place for everything a metric's reader needs.
//! A test in xtask checks that every key of every catalogue metric is described here.

/// The values of `label` on metric `metric` (a family name), as Markdown; `None` for a label
/// nobody described yet (a test in xtask fails then).
///
/// ```
/// use glimpse_telemetry::metrics::catalogue;
///
/// let doc = catalogue::label_values("http_server_request_duration_seconds", "http_route");
/// assert!(doc.is_some_and(|d| d.contains("never the raw path")));
/// ```
pub fn label_values(metric: &str, label: &str) -> Option<&'static str> {
    Some(match (metric, label) {
        (_, "http_request_method") => {
            "`GET`, `HEAD`, `POST`, `PUT`, `DELETE`, `PATCH`, `OPTIONS`, `CONNECT`, `TRACE`, \
             `_OTHER` (any other method)"
        }
        (_, "http_route") => {
            "the route template (`/users/{id}`), never the raw path; `unmatched` when no route \
             matched"
        }
        (_, "http_response_status_code") => {
            "the status code (`200`, `404`, `503`...); empty when the client went away before \
             the response or the handler failed"
        }
        (m, "error_type") if m.starts_with("http_") => {
            "empty on success and 4xx; the status code for 5xx (`500`, `503`...); `cancelled` \
             when the client went away; `_OTHER` when the handler failed without a response"
        }
        (m, "error_type") if m.starts_with("db_") => {
            "empty on success; the SQLSTATE or SQLite result code (`23505`, `42P01`), or a \
             client-side kind (`pool_timed_out`, `pool_closed`, `io`, `tls`, `protocol`, \
             `row_not_found`, `decode`, ...)"
        }
        (_, "url_scheme") => "`http`, `https`",
        (_, "direction") => "`received`, `sent`",
        (_, "message_type") => "`text`, `binary`, `ping`, `pong`, `close`",
        (_, "websocket_close_code") => {
            "the close code sent or received (`1000`, `1001`, `1006`, ...); `none` when the \
             connection ended without a close frame"
        }
        (_, "db_system_name") => "`postgresql`, `mysql`, `mariadb`, `sqlite`",
        (_, "db_operation_name") => {
            "the statement's operation from a fixed list (`SELECT`, `INSERT`, `UPDATE`, \
             `DELETE`, `BEGIN`, `COMMIT`, ...); empty when unknown"
        }
        (_, "db_collection_name") => {
            "the table, only when the statement certainly touches exactly one; empty otherwise"
        }
        (_, "db_client_connection_pool_name") => "the pool's name (one per pool the service opens)",
        (_, "db_client_connection_state") => "`idle`, `used`",
        ("glimpse_payments_processed" | "glimpse_payment_amount_minor", "outcome") => {
            "`succeeded`, `failed`"
        }
        (_, "currency") => {
            "the ISO 4217 code when it is one of 32 common currencies (`EUR`, `USD`, `GBP`, \
             `JPY`, ... see `business::CURRENCIES`), `other` otherwise"
        }
        ("glimpse_telemetry_spans", "outcome") => {
            "`exported`, `failed` (the collector returned an error), `dropped` (the export \
             queue was full)"
        }
        ("glimpse_telemetry_held_traces", "decision") => {
            "`kept_error` (a span failed or an ERROR was logged: exported after all), \
             `kept_slow` (the root lasted at least the slow threshold), `dropped`"
        }
        ("glimpse_telemetry_held_spans_discarded", "reason") => {
            "`trace_limit` (spans held per trace), `process_limit` (spans held in the \
             process), `late` (ended after its root, whose decision was forgotten)"
        }
        ("glimpse_telemetry_error_events", "outcome") => {
            "`captured`, `dropped` (the reporter's queue was full)"
        }
        ("glimpse_audit_events", "log_type") => "`audit`, `security`",
        ("glimpse_audit_events", "event_type") => {
            "`failed_login`, `permission_change` (log type `security`); `user_data_access`, \
             `config_change`, `payment_transaction`, `admin_action` (log type `audit`)"
        }
        ("glimpse_audit_events", "outcome") => {
            "per event type: `failed_login`: the reason (`bad_password`, `unknown_user`, \
             `locked`, `mfa_failed`, `expired`, `rate_limited`, `other`); `permission_change`: \
             `granted`, `revoked`; `user_data_access`: `read`, `create`, `update`, `delete`, \
             `export`, `other`; `config_change`: `changed`, `secret_changed`; \
             `payment_transaction`: `succeeded`, `failed`; `admin_action`: the action when it is \
             a short lower-case identifier (`ban`), `other` otherwise"
        }
        ("glimpse_api_key_requests", "api_key_id") => {
            "the key's public id as the service passes it (never the key); `invalid` when it is \
             not a plausible id; at most 200 ids, then the overflow series"
        }
        ("glimpse_api_key_requests", "outcome") => "`accepted`, `rejected`",
        ("db_client_transactions", "outcome") => {
            "`commit`, `rollback` (explicit, or the transaction was dropped), `error` (`BEGIN`, \
             `COMMIT` or `ROLLBACK` failed)"
        }
        (_, "cache_name") => {
            "the cache's fixed name as the service passes it (`users`); at most 50 caches"
        }
        (_, "result") => "`hit`, `miss`",
        (_, "tokio_worker") => {
            "the worker's index, `0` to the number of workers minus one (bounded by \
             `tokio_runtime_workers`)"
        }
        (_, "level") => "`ERROR`, `WARN`, `INFO`, `DEBUG`, `TRACE`",
        ("glimpse_telemetry_cardinality_overflow", "metric") => {
            "the family that reached its series limit (bounded by the number of families)"
        }
        (_, "page_route") => {
            "the page's route template as the service declared it to the RUM endpoint \
             (`/users/{id}`), never the raw URL; `other` for any page it did not declare"
        }
        (_, "web_vital") => "`lcp`, `inp`, `cls`, `fcp`, `ttfb`",
        ("browser_web_vital_ratings", "rating") => {
            "`good`, `needs-improvement`, `poor` (web-vitals' thresholds, computed by the endpoint)"
        }
        ("glimpse_telemetry_rum_beacons", "outcome") => {
            "`accepted`, `invalid` (400), `too_large` (413), `unsupported_media_type` (415), \
             `rate_limited` (429)"
        }
        _ => return None,
    })
}
