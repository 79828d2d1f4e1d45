//! Assert on your own telemetry in unit tests: [`Capture`] runs a block of code under the same
//! layers `init` installs (JSON logs, OpenTelemetry spans, GlitchTip events, redaction), with
//! in-memory outputs instead of stdout, the collector and GlitchTip.
//!
//! Enable with `glimpse-telemetry = { version = "...", features = ["testing"] }` in
//! `[dev-dependencies]`.
//!
//! ```
//! use glimpse_telemetry::testing::Capture;
//!
//! let capture = Capture::new();
//! capture.run(|| {
//!     let span = tracing::info_span!("checkout", request_id = "req-7");
//!     let _g = span.enter();
//!     tracing::info!(password = "hunter2", "paid");
//!     tracing::error!("card declined");
//! });
//!
//! let lines = capture.log_lines();
//! assert_eq!(lines[0]["message"], "paid");
//! assert_eq!(lines[0]["requestId"], "req-7");
//! assert_eq!(lines[0]["password"], "[REDACTED]");
//! assert_eq!(capture.spans()[0].name, "checkout");
//! # #[cfg(feature = "sentry")]
//! assert_eq!(capture.error_events()[0].message.as_deref(), Some("card declined"));
//! ```
//!
//! Metrics live in the process-wide registry; read them with [`metric_value`].

use std::future::Future;
use std::io::Write;
use std::sync::{Arc, Mutex};

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use tracing_subscriber::layer::SubscriberExt as _;

use crate::config::Sampler;
use crate::logs::writer::LogSink;
use crate::metrics::{Format, encode};
use crate::redact::Redactor;
use crate::subscriber::{Layers, directives};

/// The telemetry a block of code produced.
pub struct Capture {
    logs: Arc<Mutex<Vec<u8>>>,
    spans: Arc<Mutex<Vec<SpanData>>>,
    provider: SdkTracerProvider,
    dispatch: tracing::Dispatch,
    #[cfg(feature = "sentry")]
    hub: Arc<sentry::Hub>,
    #[cfg(feature = "sentry")]
    events: Arc<Mutex<Vec<sentry::protocol::Event<'static>>>>,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture").finish_non_exhaustive()
    }
}

impl Default for Capture {
    fn default() -> Self {
        Capture::new()
    }
}

struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        lock(&self.0).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[derive(Debug)]
struct MemoryExporter(Arc<Mutex<Vec<SpanData>>>);

impl SpanExporter for MemoryExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        lock(&self.0).extend(batch);
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Capture {
    /// Captures everything at DEBUG and above.
    pub fn new() -> Capture {
        Capture::with_filter("debug")
    }

    /// Captures what `directives` (`RUST_LOG` syntax) lets through. Invalid directives fall
    /// back to `debug`.
    pub fn with_filter(directives_: &str) -> Capture {
        let filter = if crate::subscriber::TelemetryFilter::new(directives_).is_ok() {
            directives_
        } else {
            "debug"
        };
        let filter = directives(filter);
        let redactor = Redactor::default();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let spans = Arc::new(Mutex::new(Vec::new()));
        let traces = crate::traces::provider(
            MemoryExporter(spans.clone()),
            &crate::config::TracesConfig {
                sampler: Sampler::AlwaysOn,
                ..crate::config::TracesConfig::default()
            },
            opentelemetry_sdk::Resource::builder_empty()
                .with_attributes([opentelemetry::KeyValue::new("service.name", "test")])
                .build(),
            &redactor,
            "memory".to_owned(),
        );
        let provider = traces.provider;
        let layers = Layers {
            directives: &filter,
            redactor: &redactor,
            service: "test",
            sink: Some(LogSink::direct(Box::new(SharedBuf(logs.clone())))),
            sampling: &[],
            held: None,
            head: traces.head,
            tracer: Some({
                use opentelemetry::trace::TracerProvider as _;
                provider.tracer("glimpse-telemetry")
            }),
            pretty: false,
            errors: cfg!(feature = "sentry"),
            span_event_level: tracing::level_filters::LevelFilter::WARN,
        }
        .build(Vec::new());
        // The directives were checked above, so building cannot fail; stay usable if it does.
        let dispatch = match layers {
            Ok(layers) => {
                let subscriber: crate::subscriber::Built =
                    tracing_subscriber::registry().with(layers);
                tracing::Dispatch::new(subscriber)
            }
            Err(_) => tracing::Dispatch::none(),
        };
        #[cfg(feature = "sentry")]
        let (hub, events) = sentry_hub(redactor);
        Capture {
            logs,
            spans,
            provider,
            dispatch,
            #[cfg(feature = "sentry")]
            hub,
            #[cfg(feature = "sentry")]
            events,
        }
    }

    /// Runs `f` with this capture as the thread's subscriber (and GlitchTip hub).
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        let run = || tracing::dispatcher::with_default(&self.dispatch, f);
        #[cfg(feature = "sentry")]
        return sentry::Hub::run(self.hub.clone(), run);
        #[cfg(not(feature = "sentry"))]
        run()
    }

    /// Runs a future with this capture as its subscriber (and GlitchTip hub) on every poll.
    pub async fn run_async<F: Future>(&self, fut: F) -> F::Output {
        use tracing::instrument::WithSubscriber as _;
        let fut = fut.with_subscriber(self.dispatch.clone());
        #[cfg(feature = "sentry")]
        {
            use sentry::SentryFutureExt as _;
            fut.bind_hub(self.hub.clone()).await
        }
        #[cfg(not(feature = "sentry"))]
        fut.await
    }

    /// The log lines written so far, parsed (each must be one JSON object).
    pub fn log_lines(&self) -> Vec<serde_json::Value> {
        self.logs_text()
            .lines()
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(
                    |e| serde_json::json!({ "invalid_json": l, "error": e.to_string() }),
                )
            })
            .collect()
    }

    /// The log output so far, as written.
    pub fn logs_text(&self) -> String {
        String::from_utf8_lossy(&lock(&self.logs)).into_owned()
    }

    /// The spans finished so far, as they would be exported (redacted).
    pub fn spans(&self) -> Vec<SpanData> {
        let _ = self.provider.force_flush();
        lock(&self.spans).clone()
    }

    /// The GlitchTip events captured so far.
    #[cfg(feature = "sentry")]
    pub fn error_events(&self) -> Vec<sentry::protocol::Event<'static>> {
        // Resolving a backtrace in a debug test binary takes seconds on a loaded machine; this
        // returns as soon as the queue is empty.
        crate::reporting::reporter::flush(std::time::Duration::from_secs(30));
        if let Some(client) = self.hub.client() {
            client.flush(Some(std::time::Duration::from_secs(1)));
        }
        lock(&self.events).clone()
    }
}

#[cfg(feature = "sentry")]
type Events = Arc<Mutex<Vec<sentry::protocol::Event<'static>>>>;

#[cfg(feature = "sentry")]
fn sentry_hub(redactor: Redactor) -> (Arc<sentry::Hub>, Events) {
    struct MemoryTransport(Events);
    impl sentry::Transport for MemoryTransport {
        fn send_envelope(&self, envelope: sentry::Envelope) {
            if let Some(event) = envelope.event() {
                lock(&self.0).push(event.clone());
            }
        }
    }
    let events: Events = Arc::new(Mutex::new(Vec::new()));
    let transport_events = events.clone();
    let transport: Arc<dyn sentry::TransportFactory> =
        Arc::new(move |_: &sentry::ClientOptions| {
            Arc::new(MemoryTransport(transport_events.clone())) as Arc<dyn sentry::Transport>
        });
    let options = crate::reporting::client_options(
        "http://public@127.0.0.1:1/1",
        "test".to_owned(),
        Some("test@0.0.0".to_owned()),
        1.0,
        None,
        redactor,
        Some(transport),
    );
    let client = options.ok().map(|o| Arc::new(sentry::Client::from(o)));
    (
        Arc::new(sentry::Hub::new(client, Arc::new(sentry::Scope::default()))),
        events,
    )
}

/// How many request error scopes this process has created so far: one for each request (a span
/// with a `request_id`) that had a breadcrumb or an event, none for a request that went well
/// without logging at `INFO` or above. Counts every thread: compare before and after in a test of
/// its own process.
///
/// ```standalone_crate
/// use glimpse_telemetry::testing::{self, Capture};
///
/// let before = testing::error_scopes_created();
/// Capture::new().run(|| {
///     let span = tracing::info_span!("request", request_id = "req-1");
///     let _g = span.enter();
///     tracing::debug!("not a breadcrumb");
/// });
/// assert_eq!(testing::error_scopes_created(), before);
/// ```
#[cfg(feature = "sentry")]
pub fn error_scopes_created() -> u64 {
    crate::reporting::scope::CREATED.load(std::sync::atomic::Ordering::Relaxed)
}

/// The value of one sample in the SDK's registry: `name` as exposed (`..._total`, `..._count`),
/// with exactly these labels.
///
/// ```
/// use glimpse_telemetry::{metrics, testing};
/// let c = metrics::counter("doc_testing_jobs", "Jobs.").labels(["queue"]).register()?;
/// c.get_or_create(&["email"]).inc_by(3);
/// assert_eq!(testing::metric_value("doc_testing_jobs_total", &[("queue", "email")]), Some(3.0));
/// # Ok::<(), glimpse_telemetry::Error>(())
/// ```
pub fn metric_value(name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let text = encode(Format::Text);
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (sample, label_text) = match series.split_once('{') {
                Some((s, rest)) => (s, rest.strip_suffix('}')?),
                None => (series, ""),
            };
            if sample != name {
                return None;
            }
            let found = parse_labels(label_text);
            let matches = found.len() == labels.len()
                && labels
                    .iter()
                    .all(|(k, v)| found.iter().any(|(fk, fv)| fk == k && fv == v));
            matches.then(|| value.parse().ok()).flatten()
        })
}

fn parse_labels(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some((key, after)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c)) => value.push(c),
                    None => {}
                },
                '"' => {
                    end = i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        out.push((key.trim_start_matches(',').to_owned(), value));
        rest = &after[end..];
    }
    out
}
