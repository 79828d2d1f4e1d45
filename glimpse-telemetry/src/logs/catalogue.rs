//! The log-field catalogue: every key the SDK, the HTTP layer (`glimpse-telemetry-axum`), the
//! database adapter (`glimpse-telemetry-sqlx`) and the [`audit`](super::audit) helpers write in
//! a JSON log line, with its JSON type, when it is present, what it means and how
//! Elasticsearch indexes it.
//!
//! It is to the log side what [`metrics::catalogue`](crate::metrics::catalogue) is to metrics:
//! `cargo run -p xtask -- gen` derives `docs/log-schema.md`, the Elasticsearch index template and
//! ILM policies, the Filebeat configuration and the Loki/Promtail configuration from it, and a
//! test fails when a writer puts a key in a line that is not listed here.
//!
//! Keys that are not listed are the service's own context fields (the fields of its events and
//! spans); [`is_context_key`] tells them apart, and the index template maps them with dynamic
//! templates.
//!
//! One long file on purpose: it is a table of every key, read top to bottom by writer; the
//! types that describe an entry come first, the entries after them.
//!
//! ```
//! use glimpse_telemetry::logs::catalogue::{self, EsType, JsonType};
//!
//! let level = catalogue::field("level").unwrap();
//! assert_eq!((level.json_type, level.es_type), (JsonType::String, EsType::Keyword));
//! assert!(level.loki_label);
//! // The monitoring guide's queries say `log_level`: Elasticsearch resolves it to `level`.
//! assert_eq!(catalogue::alias_target("log_level"), Some("level"));
//! assert!(catalogue::field("rows").is_none() && catalogue::is_context_key("rows"));
//! ```

use super::audit::Retention;

/// The JSON type of a field's value in the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JsonType {
    /// A JSON string.
    String,
    /// A JSON number without a fraction (written by an integer field).
    Integer,
    /// A JSON number, possibly with a fraction (milliseconds with microsecond precision).
    Number,
    /// `true` or `false`.
    Boolean,
}

impl JsonType {
    /// The name used in the docs (`string`, `integer`, `number`, `boolean`).
    ///
    /// ```
    /// use glimpse_telemetry::logs::catalogue::JsonType;
    /// assert_eq!(JsonType::Number.as_str(), "number");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            JsonType::String => "string",
            JsonType::Integer => "integer",
            JsonType::Number => "number",
            JsonType::Boolean => "boolean",
        }
    }
}

/// How Elasticsearch indexes a field (its mapping type in the index template).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EsType {
    /// `date` (RFC 3339, parsed by Elasticsearch itself: no pipeline re-parses it).
    Date,
    /// `keyword`: exact values, for filters and aggregations (`level:ERROR`).
    Keyword,
    /// `match_only_text` with a `keyword` sub-field: searchable words, and the exact value for
    /// aggregations ("Top error messages").
    Text,
    /// `integer`.
    Integer,
    /// `long`.
    Long,
    /// `double`.
    Double,
    /// `boolean`.
    Boolean,
}

impl EsType {
    /// The mapping type's name.
    ///
    /// ```
    /// use glimpse_telemetry::logs::catalogue::EsType;
    /// assert_eq!(EsType::Text.as_str(), "match_only_text");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            EsType::Date => "date",
            EsType::Keyword => "keyword",
            EsType::Text => "match_only_text",
            EsType::Integer => "integer",
            EsType::Long => "long",
            EsType::Double => "double",
            EsType::Boolean => "boolean",
        }
    }
}

/// Who writes a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Writer {
    /// The JSON writer itself, on lines of every event.
    Line,
    /// The SDK's own events (start-up, export failures, shutdown, panics).
    Sdk,
    /// The HTTP access log and WebSocket lines of `glimpse-telemetry-axum`.
    Http,
    /// `glimpse-telemetry-sqlx`: slow and failed queries (with the query span's fields).
    Database,
    /// The [`audit`](super::audit) helpers.
    Audit,
}

impl Writer {
    /// The name used in the docs.
    ///
    /// ```
    /// use glimpse_telemetry::logs::catalogue::Writer;
    /// assert_eq!(Writer::Database.as_str(), "database");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Writer::Line => "every line",
            Writer::Sdk => "sdk",
            Writer::Http => "http",
            Writer::Database => "database",
            Writer::Audit => "audit",
        }
    }
}

/// One key of the log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogField {
    /// The key, exactly as written.
    pub name: &'static str,
    /// The JSON type of its value.
    pub json_type: JsonType,
    /// Its Elasticsearch mapping.
    pub es_type: EsType,
    /// Who writes it.
    pub writer: Writer,
    /// When a line has it.
    pub presence: &'static str,
    /// What it means.
    pub meaning: &'static str,
    /// Whether Promtail makes it a Loki label (only bounded fields are).
    pub loki_label: bool,
    /// Other fields Elasticsearch also indexes this value under (`copy_to`), so a query on
    /// them finds the line too.
    pub also_indexed_as: &'static [&'static str],
}

/// A name queries may use for a field that the line writes under another name: an
/// Elasticsearch field alias in the index template (no bytes in the line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldAlias {
    /// The name queries use.
    pub name: &'static str,
    /// The field it stands for.
    pub path: &'static str,
    /// Why it exists.
    pub why: &'static str,
}

/// A retention class: how long lines with one `retention` value are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetentionClass {
    /// Its name (used in index and policy names): `payment`, `activity`, `system`, `debug`.
    pub name: &'static str,
    /// The `retention` value of its lines.
    pub retention: Retention,
    /// Days to keep a line.
    pub days: u32,
    /// Which lines belong to it.
    pub lines: &'static str,
}

/// The value the database adapter writes in `component`.
pub const COMPONENT_DATABASE: &str = "database";

/// The log-field catalogue, in the order of the docs.
pub const FIELDS: &[LogField] = &[
    // The line itself.
    f(
        "timestamp",
        JsonType::String,
        EsType::Date,
        Writer::Line,
        "always",
        "RFC 3339, UTC, milliseconds, `Z` suffix: `2026-11-23T10:15:02.311Z`. Elasticsearch maps it as a `date` as written; Promtail takes it as the entry's time.",
    ),
    LogField {
        loki_label: true,
        ..f(
            "level",
            JsonType::String,
            EsType::Keyword,
            Writer::Line,
            "always",
            "`ERROR`, `WARN`, `INFO`, `DEBUG` or `TRACE`. Also searchable as `log_level` in Elasticsearch (an alias).",
        )
    },
    LogField {
        loki_label: true,
        ..f(
            "service",
            JsonType::String,
            EsType::Keyword,
            Writer::Line,
            "always",
            "The service name (`OTEL_SERVICE_NAME`).",
        )
    },
    f(
        "message",
        JsonType::String,
        EsType::Text,
        Writer::Line,
        "always",
        "The event's message (may be empty); `message.keyword` holds the exact text (up to 1024 bytes) for aggregations.",
    ),
    f(
        "requestId",
        JsonType::String,
        EsType::Keyword,
        Writer::Line,
        "when known",
        "The request id: from the innermost span in scope that recorded `request_id` (the HTTP layer's request span takes the incoming `x-request-id` or generates one, and returns it in the response).",
    ),
    f(
        "userId",
        JsonType::String,
        EsType::Keyword,
        Writer::Line,
        "when known",
        "The user: from the innermost span that recorded `user_id`, also when it was recorded after the span started (`glimpse_telemetry::context::set_user_id`, typically by the auth layer).",
    ),
    f(
        "traceId",
        JsonType::String,
        EsType::Keyword,
        Writer::Line,
        "inside a span",
        "32 lowercase hex digits, exactly the trace id Jaeger shows (and GlitchTip's `trace_id` tag). Present also when the trace was sampled out.",
    ),
    f(
        "spanId",
        JsonType::String,
        EsType::Keyword,
        Writer::Line,
        "inside a span",
        "16 lowercase hex digits, the span the line was written in.",
    ),
    f(
        "target",
        JsonType::String,
        EsType::Keyword,
        Writer::Line,
        "always",
        "The module (or explicit target) that wrote the line, e.g. `glimpse_api::users`, `glimpse_telemetry_axum::access`, `glimpse_telemetry_sqlx`, `audit`.",
    ),
    // The SDK's own lines.
    f(
        "service_version",
        JsonType::String,
        EsType::Keyword,
        Writer::Sdk,
        "start-up line",
        "The service version (`service.version` in `OTEL_RESOURCE_ATTRIBUTES`, else the package version `init!` read).",
    ),
    f(
        "environment",
        JsonType::String,
        EsType::Keyword,
        Writer::Sdk,
        "start-up line",
        "`GLIMPSE_ENV`: `production`, `staging` or `development`.",
    ),
    f(
        "traces",
        JsonType::String,
        EsType::Keyword,
        Writer::Sdk,
        "start-up line",
        "`on` or `off`: whether spans are exported.",
    ),
    f(
        "traces_endpoint",
        JsonType::String,
        EsType::Keyword,
        Writer::Sdk,
        "start-up line",
        "Where spans are exported (empty when off).",
    ),
    f(
        "errors",
        JsonType::String,
        EsType::Keyword,
        Writer::Sdk,
        "start-up line, database metric registration failure",
        "`glitchtip` or `off` on the start-up line; on the database adapter's registration warning, the metrics that could not be registered.",
    ),
    f(
        "metrics_addr",
        JsonType::String,
        EsType::Keyword,
        Writer::Sdk,
        "start-up line",
        "The address of the SDK's own `/metrics` listener (empty when none).",
    ),
    f(
        "endpoint",
        JsonType::String,
        EsType::Keyword,
        Writer::Sdk,
        "trace export failed/recovered",
        "The OTLP endpoint spans are exported to.",
    ),
    f(
        "error",
        JsonType::String,
        EsType::Text,
        Writer::Sdk,
        "failures",
        "What went wrong: the export error, the handler's error on a 5xx access line, the WebSocket upgrade or ops listener failure.",
    ),
    f(
        "timeout_ms",
        JsonType::Integer,
        EsType::Long,
        Writer::Sdk,
        "shutdown timed out",
        "The shutdown deadline that passed, in milliseconds.",
    ),
    f(
        "panic_message",
        JsonType::String,
        EsType::Text,
        Writer::Sdk,
        "panic line",
        "The panic's message (target `glimpse_telemetry::panic`).",
    ),
    f(
        "panic_location",
        JsonType::String,
        EsType::Keyword,
        Writer::Sdk,
        "panic line",
        "`file:line:column` of the panic.",
    ),
    // HTTP.
    f(
        "method",
        JsonType::String,
        EsType::Keyword,
        Writer::Http,
        "access lines",
        "`GET`, `POST`, ... (`_OTHER` for unknown methods).",
    ),
    f(
        "route",
        JsonType::String,
        EsType::Keyword,
        Writer::Http,
        "access and WebSocket lines",
        "The route template (`/users/{id}`), `unmatched` when no route matched.",
    ),
    f(
        "path",
        JsonType::String,
        EsType::Keyword,
        Writer::Http,
        "access lines",
        "The path, without the query string.",
    ),
    f(
        "query",
        JsonType::String,
        EsType::Keyword,
        Writer::Http,
        "access lines, when query capture is on",
        "The query string, secrets redacted.",
    ),
    f(
        "http_status",
        JsonType::Integer,
        EsType::Integer,
        Writer::Http,
        "access lines",
        "The response status.",
    ),
    f(
        "response_time",
        JsonType::Number,
        EsType::Double,
        Writer::Http,
        "access lines",
        "Milliseconds from the request head to the end of the response body.",
    ),
    f(
        "bytes",
        JsonType::Integer,
        EsType::Long,
        Writer::Http,
        "access lines",
        "Response body bytes.",
    ),
    f(
        "panic",
        JsonType::Boolean,
        EsType::Boolean,
        Writer::Http,
        "access lines of a request whose handler panicked",
        "`true`: the 500 was a panic (the panic line has the message).",
    ),
    f(
        "http_route",
        JsonType::String,
        EsType::Keyword,
        Writer::Http,
        "lines inside a WebSocket connection",
        "The WebSocket route (span field `http.route`).",
    ),
    f(
        "websocket_close_code",
        JsonType::String,
        EsType::Keyword,
        Writer::Http,
        "lines inside a closed WebSocket connection",
        "The close code (span field `websocket.close_code`).",
    ),
    f(
        "close_code",
        JsonType::String,
        EsType::Keyword,
        Writer::Http,
        "WebSocket closed line",
        "The close code of the connection.",
    ),
    f(
        "duration_ms",
        JsonType::Number,
        EsType::Double,
        Writer::Database,
        "query and WebSocket closed lines",
        "How long the query (or the WebSocket connection) took, in milliseconds.",
    ),
    f(
        "messages_received",
        JsonType::Integer,
        EsType::Long,
        Writer::Http,
        "WebSocket closed line",
        "Messages received on the connection.",
    ),
    f(
        "messages_sent",
        JsonType::Integer,
        EsType::Long,
        Writer::Http,
        "WebSocket closed line",
        "Messages sent on the connection.",
    ),
    // Database.
    LogField {
        also_indexed_as: &["service"],
        ..f(
            "component",
            JsonType::String,
            EsType::Keyword,
            Writer::Database,
            "database adapter lines",
            "`database`: the line comes from the database layer. Elasticsearch also indexes it under `service` (`copy_to`), so the guide's `service:database` finds the database errors of every service.",
        )
    },
    f(
        "db_client_connection_pool_name",
        JsonType::String,
        EsType::Keyword,
        Writer::Database,
        "database adapter lines",
        "The instrumented pool's name.",
    ),
    f(
        "db_query_text",
        JsonType::String,
        EsType::Keyword,
        Writer::Database,
        "slow and failed queries (when text capture is on)",
        "The query, literals replaced by `?`.",
    ),
    f(
        "threshold_ms",
        JsonType::Integer,
        EsType::Long,
        Writer::Database,
        "slow query lines",
        "The slow-query threshold, in milliseconds.",
    ),
    f(
        "rows_returned",
        JsonType::Integer,
        EsType::Long,
        Writer::Database,
        "slow and failed queries",
        "Rows the query returned so far.",
    ),
    f(
        "rows_affected",
        JsonType::Integer,
        EsType::Long,
        Writer::Database,
        "slow queries",
        "Rows the statement affected.",
    ),
    f(
        "error_type",
        JsonType::String,
        EsType::Keyword,
        Writer::Database,
        "failed queries",
        "The error's class: the database's error code, or `timeout`, `pool_closed`...",
    ),
    f(
        "error_message",
        JsonType::String,
        EsType::Text,
        Writer::Database,
        "failed queries",
        "The database's error message, literals replaced by `?`.",
    ),
    f(
        "db_response_status_code",
        JsonType::String,
        EsType::Keyword,
        Writer::Database,
        "failed queries",
        "The database's error code (SQLSTATE, SQLite code).",
    ),
    f(
        "db_system_name",
        JsonType::String,
        EsType::Keyword,
        Writer::Database,
        "lines inside a query span",
        "`postgresql`, `sqlite`, `mysql`...",
    ),
    f(
        "db_operation_name",
        JsonType::String,
        EsType::Keyword,
        Writer::Database,
        "lines inside a query span",
        "`SELECT`, `INSERT`...",
    ),
    f(
        "db_collection_name",
        JsonType::String,
        EsType::Keyword,
        Writer::Database,
        "lines inside a query span, when known",
        "The table.",
    ),
    f(
        "db_query_summary",
        JsonType::String,
        EsType::Keyword,
        Writer::Database,
        "lines inside a query span, when known",
        "The operation and table(s): `SELECT users`.",
    ),
    f(
        "db_response_returned_rows",
        JsonType::Integer,
        EsType::Long,
        Writer::Database,
        "lines inside a finished query span",
        "Rows returned (span field `db.response.returned_rows`).",
    ),
    f(
        "max_pools",
        JsonType::Integer,
        EsType::Long,
        Writer::Database,
        "too many pools warning",
        "How many pools have connection gauges.",
    ),
    f(
        "pool",
        JsonType::String,
        EsType::Keyword,
        Writer::Database,
        "duplicate pool warning",
        "The pool name instrumented twice.",
    ),
    // Audit and security.
    LogField {
        loki_label: true,
        ..f(
            "log_type",
            JsonType::String,
            EsType::Keyword,
            Writer::Audit,
            "audit and security lines",
            "`audit` or `security`; absent on system and debug lines.",
        )
    },
    f(
        "retention",
        JsonType::String,
        EsType::Keyword,
        Writer::Audit,
        "audit and security lines",
        "How long the line must be kept: `7y` (payments), `1y` (user activity, security); absent lines are system (`90d`) or debug (`7d`) logs. Chooses the index and so the ILM policy.",
    ),
    f(
        "event_type",
        JsonType::String,
        EsType::Keyword,
        Writer::Audit,
        "audit and security lines",
        "`user_data_access`, `config_change`, `payment_transaction`, `admin_action`, `failed_login`, `permission_change`.",
    ),
    f(
        "actor_id",
        JsonType::String,
        EsType::Keyword,
        Writer::Audit,
        "audit and security lines with an actor",
        "Who did it (an id, never an email).",
    ),
    f(
        "subject_user_id",
        JsonType::String,
        EsType::Keyword,
        Writer::Audit,
        "user data access, permission change",
        "Whose data or permission.",
    ),
    f(
        "resource",
        JsonType::String,
        EsType::Keyword,
        Writer::Audit,
        "user data access",
        "Which data (`profile`, `messages`...).",
    ),
    f(
        "action",
        JsonType::String,
        EsType::Keyword,
        Writer::Audit,
        "user data access, admin action",
        "`read`, `update`, `delete`, `export`, or the admin's action.",
    ),
    f(
        "setting",
        JsonType::String,
        EsType::Keyword,
        Writer::Audit,
        "config change",
        "The setting that changed.",
    ),
    f(
        "old_value",
        JsonType::String,
        EsType::Keyword,
        Writer::Audit,
        "config change",
        "The previous value (`[REDACTED]` for secret settings).",
    ),
    f(
        "new_value",
        JsonType::String,
        EsType::Keyword,
        Writer::Audit,
        "config change",
        "The new value (`[REDACTED]` for secret settings).",
    ),
    f(
        "payment_id",
        JsonType::String,
        EsType::Keyword,
        Writer::Audit,
        "payment transaction",
        "The payment.",
    ),
    f(
        "amount_minor",
        JsonType::Integer,
        EsType::Long,
        Writer::Audit,
        "payment transaction",
        "The amount in minor units (cents).",
    ),
    f(
        "currency",
        JsonType::String,
        EsType::Keyword,
        Writer::Audit,
        "payment transaction",
        "ISO 4217 code.",
    ),
    f(
        "status",
        JsonType::String,
        EsType::Keyword,
        Writer::Audit,
        "payment transaction",
        "`succeeded` or `failed` (the guide's `status:failed`).",
    ),
    f(
        "object",
        JsonType::String,
        EsType::Keyword,
        Writer::Audit,
        "admin action",
        "What the admin acted on.",
    ),
    f(
        "account_id",
        JsonType::String,
        EsType::Keyword,
        Writer::Audit,
        "failed login",
        "The account the login was for.",
    ),
    f(
        "reason",
        JsonType::String,
        EsType::Keyword,
        Writer::Audit,
        "failed login",
        "`bad_password`, `unknown_user`, `locked`...",
    ),
    f(
        "permission",
        JsonType::String,
        EsType::Keyword,
        Writer::Audit,
        "permission change",
        "The permission.",
    ),
    f(
        "change",
        JsonType::String,
        EsType::Keyword,
        Writer::Audit,
        "permission change",
        "`granted` or `revoked`.",
    ),
];

/// Field aliases the index template defines.
pub const ALIASES: &[FieldAlias] = &[FieldAlias {
    name: "log_level",
    path: "level",
    why: "The monitoring guide's queries (`userId:\"user123\" AND log_level:ERROR`) say `log_level`; the line says `level`, as the guide's own field list does. An alias makes both work in Kibana without writing the level twice in every line.",
}];

/// The retention classes of the Glimpse retention policy, longest first.
pub const RETENTION_CLASSES: &[RetentionClass] = &[
    RetentionClass {
        name: "payment",
        retention: Retention::Years7,
        days: 7 * 365 + 2,
        lines: "`retention` `7y`: payment transactions",
    },
    RetentionClass {
        name: "activity",
        retention: Retention::Year1,
        days: 365,
        lines: "`retention` `1y`: user data access, configuration changes, admin actions, security events",
    },
    RetentionClass {
        name: "system",
        retention: Retention::Days90,
        days: 90,
        lines: "no `retention`, level ERROR, WARN or INFO: system logs",
    },
    RetentionClass {
        name: "debug",
        retention: Retention::Days7,
        days: 7,
        lines: "no `retention`, level DEBUG or TRACE: debug logs",
    },
];

/// Days every line is kept in development (the guide's "Development: 7 days").
pub const DEVELOPMENT_DAYS: u32 = 7;
/// Days a production line stays in the hot tier, fully searchable (the guide's "Production: 30
/// days"), before it moves to cheaper storage until its class's retention ends.
pub const PRODUCTION_HOT_DAYS: u32 = 30;

const fn f(
    name: &'static str,
    json_type: JsonType,
    es_type: EsType,
    writer: Writer,
    presence: &'static str,
    meaning: &'static str,
) -> LogField {
    LogField {
        name,
        json_type,
        es_type,
        writer,
        presence,
        meaning,
        loki_label: false,
        also_indexed_as: &[],
    }
}

/// The catalogue entry of a key.
///
/// ```
/// use glimpse_telemetry::logs::catalogue;
/// assert_eq!(catalogue::field("http_status").unwrap().es_type.as_str(), "integer");
/// ```
pub fn field(name: &str) -> Option<&'static LogField> {
    FIELDS.iter().find(|f| f.name == name)
}

/// The field an alias stands for.
///
/// ```
/// use glimpse_telemetry::logs::catalogue;
/// assert_eq!(catalogue::alias_target("log_level"), Some("level"));
/// assert_eq!(catalogue::alias_target("level"), None);
/// ```
pub fn alias_target(name: &str) -> Option<&'static str> {
    ALIASES.iter().find(|a| a.name == name).map(|a| a.path)
}

/// Whether a key is a context field: not in the catalogue, so one of the service's own event
/// or span fields (including `fields_<name>`, a field named like a schema key).
///
/// ```
/// use glimpse_telemetry::logs::catalogue::is_context_key;
/// assert!(is_context_key("fields_level"));
/// assert!(!is_context_key("level"));
/// ```
pub fn is_context_key(key: &str) -> bool {
    field(key).is_none()
}

/// The retention class of a line, from its `retention` and `level` values.
///
/// ```
/// use glimpse_telemetry::logs::catalogue;
/// assert_eq!(catalogue::retention_class(Some("7y"), "WARN").name, "payment");
/// assert_eq!(catalogue::retention_class(None, "DEBUG").name, "debug");
/// assert_eq!(catalogue::retention_class(None, "ERROR").name, "system");
/// ```
pub fn retention_class(retention: Option<&str>, level: &str) -> &'static RetentionClass {
    let wanted = match retention {
        Some(r) => RETENTION_CLASSES.iter().find(|c| c.retention.as_str() == r),
        None => None,
    };
    let fallback = if matches!(level, "DEBUG" | "TRACE") {
        &RETENTION_CLASSES[3]
    } else {
        &RETENTION_CLASSES[2]
    };
    wanted.unwrap_or(fallback)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_aliases_name_catalogued_fields() {
        let mut names: Vec<_> = FIELDS.iter().map(|f| f.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "a field is listed twice");
        for a in ALIASES {
            assert!(field(a.path).is_some() && field(a.name).is_none(), "{a:?}");
        }
    }

    #[test]
    fn loki_labels_are_the_bounded_fields() {
        let labels: Vec<_> = FIELDS
            .iter()
            .filter(|f| f.loki_label)
            .map(|f| f.name)
            .collect();
        assert_eq!(labels, ["level", "service", "log_type"]);
    }

    #[test]
    fn retention_classes_cover_every_retention_value() {
        for r in [
            Retention::Days7,
            Retention::Days90,
            Retention::Year1,
            Retention::Years7,
        ] {
            assert_eq!(retention_class(Some(r.as_str()), "INFO").retention, r);
        }
        assert_eq!(retention_class(Some("bogus"), "TRACE").name, "debug");
    }
}
