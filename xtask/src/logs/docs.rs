//! `docs/log-schema.md`, from the catalogue.

use glimpse_telemetry::logs::catalogue::{
    ALIASES, DEVELOPMENT_DAYS, FIELDS, LogField, PRODUCTION_HOT_DAYS, RETENTION_CLASSES, Writer,
};

use super::elasticsearch::{INDEX_PREFIX, KEPT_ENVIRONMENTS};
use super::shippers::loki_labels;
use super::{GENERATED, GUIDE_QUERIES};

fn table(md: &mut String, fields: &[&LogField]) {
    md.push_str("| Field | Present | JSON | Elasticsearch | Meaning |\n|---|---|---|---|---|\n");
    for f in fields {
        let mut es = format!("`{}`", f.es_type.as_str());
        if !f.also_indexed_as.is_empty() {
            es.push_str(&format!(", copied to `{}`", f.also_indexed_as.join("`, `")));
        }
        if f.loki_label {
            es.push_str("; Loki label");
        }
        md.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            f.name,
            f.presence,
            f.json_type.as_str(),
            es,
            f.meaning
        ));
    }
}

fn section(md: &mut String, title: &str, intro: &str, writers: &[Writer]) {
    md.push_str(&format!("\n## {title}\n\n{intro}\n\n"));
    let fields: Vec<&LogField> = FIELDS
        .iter()
        .filter(|f| writers.contains(&f.writer))
        .collect();
    table(md, &fields);
}

pub(crate) fn log_schema_md() -> String {
    let mut md = format!(
        "# Log schema\n\n<!-- {GENERATED} -->\n\n\
Every Glimpse service writes one JSON object per line on stdout (with `GLIMPSE_LOG_FORMAT=json`,\n\
the default). Filebeat ships the lines to Elasticsearch (`deploy/filebeat/filebeat.yml`), Promtail\n\
to Loki (`deploy/loki/promtail.yml`); neither re-parses them beyond decoding the JSON. Every key\n\
the SDK and its adapters write is in the log-field catalogue\n\
(`glimpse_telemetry::logs::catalogue`), and this page, the Elasticsearch templates\n\
(`deploy/elasticsearch/`), the Filebeat and the Loki configurations are generated from it; a\n\
test fails when a writer puts a key in a line that the catalogue does not list.\n\n\
```json\n\
{{\"timestamp\":\"2026-11-23T10:15:02.311Z\",\"level\":\"INFO\",\"service\":\"glimpse-api\",\"message\":\"GET /users/{{id}} 200\",\n\
\x20\"requestId\":\"01935d0e-4c1a-7e55-9c1b-0a8f2d3e4b5c\",\"userId\":\"user123\",\n\
\x20\"traceId\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"spanId\":\"00f067aa0ba902b7\",\"target\":\"glimpse_telemetry_axum::access\",\n\
\x20\"method\":\"GET\",\"route\":\"/users/{{id}}\",\"path\":\"/users/42\",\"http_status\":200,\"response_time\":3.2,\"bytes\":57}}\n\
```\n"
    );
    section(
        &mut md,
        "Fields of every line",
        "Written by the JSON writer itself. A context field named like one of these, or like a \
         field alias (`log_level`), is written as `fields_<name>` (`fields_level`), so it can \
         never overwrite them (nor make Elasticsearch reject the line for writing to an alias).",
        &[Writer::Line],
    );
    md.push_str(
        "\n## Context fields\n\n\
Then come the event's fields, then the fields of its spans from the innermost out, each key once\n\
(the innermost value wins). Numbers and booleans stay JSON numbers and booleans.\n\n\
- Dots in keys are written as underscores: a span field `http.route` is logged as `http_route`.\n\
\x20\x20(Elasticsearch would otherwise turn `error.type` into an object and reject a later line whose\n\
\x20\x20`error` is a string.)\n\
- Keys the catalogue does not list are the service's own. Elasticsearch maps them with dynamic\n\
\x20\x20templates: strings and booleans as `keyword`, numbers as `double` with `ignore_malformed`. So a\n\
\x20\x20key first seen as a string still takes numbers (indexed as text), and a key first seen as a\n\
\x20\x20number ignores a later string for that line (the line is kept, the value stays in `_source`):\n\
\x20\x20no line is ever rejected for a type clash.\n\
- Values of keys that look secret are `\"[REDACTED]\"`: `password`, `passwd`, `secret`, `token`,\n\
\x20\x20`authorization`, `cookie`, `api_key`, `apikey`, `access_key`, `private_key`, `credential`,\n\
\x20\x20`card_number`, `credit_card`, `cvv`, `cvc`, `iban`, `ssn` (case-insensitive, anywhere in the key),\n\
\x20\x20plus `GLIMPSE_LOG_REDACT`. Anything that looks like a payment card number (13–19 digits passing\n\
\x20\x20the Luhn check, with or without spaces or dashes) is masked in every value and message, except\n\
\x20\x20in a value that is exactly a UUID (`8-4-4-4-12` hex digits): request ids keep their value even\n\
\x20\x20when their digits, read across the dashes, happen to pass for a card number.\n\
- String values longer than 8 KiB are cut and end with `…[truncated]`. Control characters,\n\
\x20\x20quotes and newlines are escaped: a line is always exactly one JSON object.\n\
- Filebeat drops its own bookkeeping (`agent`, `ecs`, `input`, `log`, `host`, `stream`) before\n\
\x20\x20indexing: a context field with one of these names does not reach Elasticsearch.\n",
    );
    section(
        &mut md,
        "The SDK's own lines",
        "Start-up (`telemetry started`, target `glimpse_telemetry`), trace export failures, a \
         shutdown that timed out, and panics: a panic writes one `ERROR` line with target \
         `glimpse_telemetry::panic` inside the request's spans (so with its `requestId`), then \
         Rust's usual message on stderr.",
        &[Writer::Sdk],
    );
    section(
        &mut md,
        "HTTP access and WebSocket lines",
        "The HTTP layer (`glimpse-telemetry-axum`) writes one line per request when it ends, with \
         target `glimpse_telemetry_axum::access`, level `INFO` for 2xx/3xx, `WARN` for 4xx, \
         `ERROR` for 5xx; WebSocket connections write target `glimpse_telemetry_axum::ws`.",
        &[Writer::Http],
    );
    section(
        &mut md,
        "Database lines",
        "`glimpse-telemetry-sqlx` writes a `WARN` line per slow query and an `ERROR` line per \
         failed query (target `glimpse_telemetry_sqlx`), inside the query's span, whose fields \
         (`db_*`) they carry.",
        &[Writer::Database],
    );
    section(
        &mut md,
        "Audit and security lines",
        "`glimpse_telemetry::logs::audit` (and, for payments, `glimpse_telemetry::business`) \
         writes lines the log pipeline routes by `log_type` and keeps for `retention`:\n\n\
| Helper | `log_type` | `retention` | `event_type` | Level |\n|---|---|---|---|---|\n\
| `user_data_access(actor_id, subject_user_id, resource, action)` | `audit` | `1y` | `user_data_access` | INFO |\n\
| `config_change(actor_id, setting, old, new)` (values of secret settings redacted) | `audit` | `1y` | `config_change` | INFO |\n\
| `business::payment_transaction(payment_id, amount_minor, currency, outcome)` | `audit` | `7y` | `payment_transaction` | INFO, WARN when failed |\n\
| `admin_action(actor_id, action, object)` | `audit` | `1y` | `admin_action` | INFO |\n\
| `failed_login(account_id, reason)` | `security` | `1y` | `failed_login` | WARN |\n\
| `permission_change(actor_id, subject_user_id, permission, granted)` | `security` | `1y` | `permission_change` | WARN |\n\n\
Their fields:",
        &[Writer::Audit],
    );

    md.push_str("\n## Field aliases\n\n| Alias | Field | Why |\n|---|---|---|\n");
    for a in ALIASES {
        md.push_str(&format!("| `{}` | `{}` | {} |\n", a.name, a.path, a.why));
    }

    md.push_str(
        "\n## The monitoring guide's Kibana queries\n\n\
They work as written, on the lines the example service writes; `glimpse-api`'s test\n\
`log_queries` parses each with a Lucene query parser and evaluates it over the lines the running\n\
service printed, indexed as the generated template says (aliases and `copy_to` included).\n",
    );
    for q in GUIDE_QUERIES {
        md.push_str(&format!(
            "\n**{}**\n\n```text\n{}\n```\n\nFinds {}. How: {}\nIn Loki: `{}`\n",
            q.title, q.kibana, q.finds, q.how, q.logql
        ));
    }
    md.push_str(
        "\nWhy these choices:\n\n\
- `log_level` is an alias rather than a second key in every line: the line keeps one level\n\
\x20\x20(`level`, as the guide's own field list has it, and the Loki label), and Kibana accepts both.\n\
- The payment line's outcome is written as `status` (`succeeded`/`failed`), the guide's word; the\n\
\x20\x20`payment` of `service:payment` is the service's name (`OTEL_SERVICE_NAME=payment`).\n\
- `service:database`: the database layer is not a service of its own, so its lines carry\n\
\x20\x20`component: database` and Elasticsearch indexes that value under `service` too (`copy_to`;\n\
\x20\x20`_source` is unchanged). A database line therefore matches both `service:glimpse-api` and\n\
\x20\x20`service:database`, and a terms aggregation on `service` counts it under both; Loki keeps\n\
\x20\x20`service` as the service name (`| json | component=\"database\"`).\n",
    );

    md.push_str(&format!(
        "\n## Retention\n\n\
The guide's retention policy gives the classes below; a line's class comes from its `retention`\n\
(audit and security lines) or, without one, from its level. Filebeat writes each class to its own\n\
daily index, `{INDEX_PREFIX}-<GLIMPSE_ENV>-<class>-YYYY.MM.DD`, whose ILM policy keeps it that long.\n\
The guide's \"Production: 30 days\" is the time a line stays in the hot tier (fully searchable)\n\
before it becomes read-only in the warm tier until its class's retention ends (archive the warm\n\
indices to S3 with a snapshot policy for compliance); \"Development: 7 days\" is every line of a\n\
`development` service: `{INDEX_PREFIX}-development-*` has its own policy.\n\n\
| Class | Lines | Elasticsearch ({}) | ILM policy |\n|---|---|---|---|\n",
        KEPT_ENVIRONMENTS.join(", ")
    ));
    for c in RETENTION_CLASSES {
        let hot = if c.days > PRODUCTION_HOT_DAYS {
            format!(
                "{PRODUCTION_HOT_DAYS} days hot, then warm; deleted after {} days",
                c.days
            )
        } else {
            format!("deleted after {} days", c.days)
        };
        md.push_str(&format!(
            "| `{}` | {} | {hot} | `{INDEX_PREFIX}-{}` |\n",
            c.name, c.lines, c.name
        ));
    }
    md.push_str(&format!(
        "| development | every line of a `development` service | deleted after {DEVELOPMENT_DAYS} days | `{INDEX_PREFIX}-development` |\n\n\
Install the policies and templates with `deploy/elasticsearch/install.sh` before Filebeat ships\n\
the first line. Loki labels streams only by bounded fields ({}), so its per-stream retention\n\
(`deploy/loki/loki.yml`) keeps every `log_type=\"audit\"` stream as long as payments (labels cannot\n\
tell a payment from other audit lines), `security` streams 1 year, DEBUG/TRACE streams 7 days and\n\
the rest 90 days.\n",
        loki_labels()
            .iter()
            .map(|l| format!("`{l}`"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    md.push_str(
        "\n## Counting\n\n\
Every event written is counted in `glimpse_log_events_total{level}` (the Logs Analysis\n\
dashboard's error frequency). Lines that could not be written because stdout did not keep up are\n\
dropped, never waited for, and counted in `glimpse_telemetry_log_lines_dropped_total`.\n",
    );
    md
}
