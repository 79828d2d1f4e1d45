//! The sentry client for GlitchTip: its options, the enrichment of events with the request's
//! ids, redaction, and the `tracing` layer that turns events into GlitchTip events and
//! breadcrumbs.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use sentry::protocol::{self, Breadcrumb, Event, Exception, Mechanism, TraceContext, User, Value};
use tracing::field::{Field, Visit};
use tracing::{Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use super::reporter;
use super::scope;
use super::{NO_BREADCRUMB_FIELD, PANIC_TARGET};
use crate::redact::{REDACTED, Redactor};

/// The sentry client's options. `release` is `SENTRY_RELEASE` or `<service>@<version>`.
pub(crate) fn client_options(
    dsn: &str,
    environment: String,
    release: Option<String>,
    sample_rate: f32,
    server_name: Option<String>,
    redactor: Redactor,
    transport: Option<Arc<dyn sentry::TransportFactory>>,
) -> Result<sentry::ClientOptions, crate::Error> {
    // ClientOptions::dsn panics on a bad DSN: parse it first (the config did, but a builder
    // value may come straight from code).
    let dsn: sentry::types::Dsn = dsn
        .parse()
        .map_err(|e| crate::Error::invalid("SENTRY_DSN", dsn, format!("a GlitchTip DSN ({e})")))?;
    let mut options = sentry::ClientOptions::new()
        .dsn(&dsn.to_string())
        .environment(environment)
        .maybe_release(release)
        .sample_rate(sample_rate.clamp(0.0, 1.0))
        .send_default_pii(false)
        .attach_stacktrace(false)
        .max_breadcrumbs(50)
        .shutdown_timeout(std::time::Duration::from_secs(2))
        // The integrations this SDK relies on, named: sentry's defaults depend on the features
        // enabled anywhere in the build, and its panic integration (a `sentry` dependency with
        // default features elsewhere in the service) would report every panic a second time
        // beside this SDK's panic hook.
        .default_integrations(false)
        .add_integration(sentry::integrations::backtrace::AttachStacktraceIntegration)
        .add_integration(sentry::integrations::contexts::ContextIntegration::default())
        .add_integration(sentry::integrations::backtrace::ProcessStacktraceIntegration)
        .before_send(move |mut event: Event<'static>| {
            // In the capturing thread for events of sentry's own API (the hub's scope is applied
            // by then); for the SDK's own events, in the worker thread: no span, nothing to add.
            enrich(&mut event);
            if let Some(request) = scope::take_current() {
                request.name(&mut event);
                request.attach(&mut event);
            }
            redact_event(&redactor, &mut event);
            Some(event)
        });
    if let Some(name) = server_name {
        options = options.server_name(name);
    }
    if let Some(t) = transport {
        options.transport = Some(t);
    }
    Ok(options)
}

/// Adds the current request's ids and trace to an event. Must run in the capturing thread,
/// inside the request's spans (events captured through sentry's own API get it in
/// `before_send`; the SDK's own events before they go to the reporter thread).
pub(super) fn enrich(event: &mut Event<'static>) {
    enrich_with(event, crate::context::current());
}

/// Adds these ids to an event (what is already set wins).
fn enrich_with(event: &mut Event<'static>, cx: crate::context::RequestContext) {
    if let Some(user_id) = cx.user_id {
        let user = event.user.get_or_insert_with(User::default);
        if user.id.is_none() {
            user.id = Some(user_id);
        }
    }
    if let Some(request_id) = cx.request_id {
        event.tags.entry("request_id".into()).or_insert(request_id);
    }
    if let (Some(trace_id), Some(span_id)) = (cx.trace_id, cx.span_id) {
        event.tags.insert("trace_id".into(), trace_id.to_string());
        event.contexts.insert(
            "trace".into(),
            protocol::Context::Trace(Box::new(TraceContext {
                trace_id: protocol::TraceId::from(trace_id.to_bytes()),
                span_id: protocol::SpanId::from(span_id.to_bytes()),
                ..Default::default()
            })),
        );
    }
}

fn redact_value(r: &Redactor, v: &mut Value) {
    match v {
        Value::String(s) => {
            if let Cow::Owned(m) = r.mask(s) {
                *s = m;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|v| redact_value(r, v)),
        Value::Object(o) => redact_map(r, o),
        _ => {}
    }
}

fn redact_map<'a>(r: &Redactor, map: impl IntoIterator<Item = (&'a String, &'a mut Value)>) {
    for (k, v) in map {
        if r.is_secret_key(k) {
            *v = Value::from(REDACTED);
        } else {
            redact_value(r, v);
        }
    }
}

fn mask_opt(r: &Redactor, s: &mut Option<String>) {
    if let Some(v) = s {
        if let Cow::Owned(m) = r.mask(v) {
            *v = m;
        }
    }
}

/// Removes secrets from everything an event can carry from user code.
pub(super) fn redact_event(r: &Redactor, e: &mut Event<'static>) {
    mask_opt(r, &mut e.message);
    if let Some(le) = &mut e.logentry {
        if let Cow::Owned(m) = r.mask(&le.message) {
            le.message = m;
        }
    }
    redact_map(r, e.extra.iter_mut());
    for (k, v) in e.tags.iter_mut() {
        if r.is_secret_key(k) {
            *v = REDACTED.into();
        } else if let Cow::Owned(m) = r.mask(v) {
            *v = m;
        }
    }
    for ex in e.exception.values.iter_mut() {
        mask_opt(r, &mut ex.value);
    }
    for b in e.breadcrumbs.values.iter_mut() {
        mask_opt(r, &mut b.message);
        redact_map(r, b.data.iter_mut());
    }
    if let Some(req) = &mut e.request {
        req.cookies = None;
        req.query_string = None;
        req.data = None;
        for (k, v) in req.headers.iter_mut() {
            if r.is_secret_key(k) {
                *v = REDACTED.into();
            }
        }
    }
    for (_, cx) in e.contexts.iter_mut() {
        if let protocol::Context::Other(map) = cx {
            redact_map(r, map.iter_mut());
        }
    }
}

/// Enriches an event in this thread and hands it, with this thread's stack, to the reporter.
pub(super) fn submit(mut event: Event<'static>) {
    enrich(&mut event);
    reporter::submit(event, true, scope::take_current);
}

pub(super) fn capture_panic(message: &str, location: &str) {
    let event = Event {
        level: protocol::Level::Fatal,
        exception: vec![Exception {
            ty: "panic".into(),
            value: Some(message.to_owned()),
            mechanism: Some(Mechanism {
                ty: "panic".into(),
                handled: Some(false),
                ..Default::default()
            }),
            ..Default::default()
        }]
        .into(),
        culprit: (!location.is_empty()).then(|| location.to_owned()),
        ..Default::default()
    };
    submit(event);
}

/// Turns `ERROR` events into GlitchTip events and `WARN`/`INFO` events into breadcrumbs (of the
/// request they belong to, see [`scope`]).
pub(crate) struct SentryLayer {
    pub(crate) redactor: Redactor,
}

#[derive(Default)]
struct Fields {
    message: String,
    data: BTreeMap<String, Value>,
    error: Option<Event<'static>>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.data
                .insert(field.name().to_owned(), Value::from(format!("{value:?}")));
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_owned();
        } else {
            self.data
                .insert(field.name().to_owned(), Value::from(value));
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.data
            .insert(field.name().to_owned(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.data
            .insert(field.name().to_owned(), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.data
            .insert(field.name().to_owned(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.data
            .insert(field.name().to_owned(), Value::from(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if self.error.is_none() {
            self.error = Some(sentry::event_from_error(value));
        }
        self.data
            .insert(field.name().to_owned(), Value::from(value.to_string()));
    }
}

impl<S> tracing_subscriber::Layer<S> for SentryLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_layer(&mut self, _: &mut S) {
        scope::set_errors_on();
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        if meta.target() == PANIC_TARGET || meta.target().starts_with("sentry") {
            return; // the panic hook reports panics itself
        }
        let level = *meta.level();
        if level > Level::INFO {
            return;
        }
        if level != Level::ERROR && meta.fields().field(NO_BREADCRUMB_FIELD).is_some() {
            return;
        }
        // Nothing to build when this thread's hub sends nowhere (no DSN, or an adapter's silent
        // hub for a line whose request already reported).
        if !sentry::Hub::with_active(|_| true) {
            return;
        }
        let mut f = Fields::default();
        event.record(&mut f);
        let data: BTreeMap<String, Value> = f
            .data
            .into_iter()
            .filter(|(k, _)| {
                !k.starts_with("otel.")
                    && !k.starts_with("log.")
                    && k != "request_id"
                    && k != "user_id"
            })
            .map(|(k, mut v)| {
                if self.redactor.is_secret_key(&k) {
                    v = Value::from(REDACTED);
                }
                (k, v)
            })
            .collect();
        if level == Level::ERROR {
            let mut e = f.error.unwrap_or_default();
            e.level = protocol::Level::Error;
            e.message = Some(f.message);
            e.logger = Some(meta.target().to_owned());
            e.extra.extend(data);
            enrich_with(&mut e, crate::context::of_event(event, &ctx));
            reporter::submit(e, true, || scope::take_for_event(event, &ctx));
        } else {
            let crumb = Breadcrumb {
                category: Some(meta.target().to_owned()),
                message: Some(f.message),
                level: if level == Level::WARN {
                    protocol::Level::Warning
                } else {
                    protocol::Level::Info
                },
                data: data.into_iter().collect(),
                ..Default::default()
            };
            // Outside any request, the hub's scope keeps it.
            if let Some(crumb) = scope::add_breadcrumb(event, &ctx, crumb) {
                sentry::add_breadcrumb(crumb);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whatever sentry features the build enables (the workspace's benchmarks turn on `panic`),
    /// only these run: sentry's panic integration would report every panic a second time.
    #[test]
    fn only_the_named_integrations_run() {
        let o = client_options(
            "https://key@glitchtip.example/1",
            "test".to_owned(),
            None,
            1.0,
            None,
            Redactor::default(),
            None,
        )
        .unwrap();
        assert!(!o.default_integrations);
        let names: Vec<&str> = o.integrations.iter().map(|i| i.name()).collect();
        assert_eq!(
            names,
            ["attach-stacktrace", "contexts", "process-stacktrace"]
        );
    }

    #[test]
    fn events_lose_their_secrets() {
        let r = Redactor::default();
        // A fixed id and time: a random id or the clock can contain "4111" themselves.
        let mut e = Event {
            event_id: sentry::types::Uuid::nil(),
            timestamp: std::time::UNIX_EPOCH,
            message: Some("card 4111 1111 1111 1111 declined".into()),
            ..Default::default()
        };
        e.extra.insert("password".into(), Value::from("hunter2"));
        e.extra.insert(
            "nested".into(),
            serde_json::json!({"api_key": "k", "ok": "v"}),
        );
        e.tags.insert("session_token".into(), "t".into());
        redact_event(&r, &mut e);
        let text = serde_json::to_string(&e).unwrap();
        for secret in ["4111", "hunter2", "\"k\"", "\"t\""] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(text.contains("\"ok\":\"v\""));
    }
}
