//! How the `tracing` subscriber is put together: a `Registry` and a list of layers, each with its
//! own filter, so an adapter can add a layer that sees what it needs (say, DEBUG events of one
//! target) without those reaching the log output. The built-in parts that share a rule share a
//! filter (span fields, JSON lines, GlitchTip, "keep errors", the tracer's carrier in one layer;
//! the OpenTelemetry bridge in another): tracing-subscriber looks a span up once per filtered
//! layer on every enter, exit and close.
//!
//! The one rule every built-in layer follows ([`TelemetryFilter`]): spans at INFO and above always
//! exist, whatever `RUST_LOG` says, because they carry the request's trace, `requestId` and
//! `userId`; events, and more verbose spans, follow `RUST_LOG`. `RUST_LOG=warn` therefore quiets
//! the logs without losing traces or the ids on the WARN lines that remain.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Level, Metadata, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::{Context, Filter};
use tracing_subscriber::registry::LookupSpan;

use tracing_subscriber::Layer as _;

use crate::Error;
use crate::logs::JsonLayer;
use crate::logs::fields::SpanFieldsLayer;
use crate::logs::writer::LogSink;
use crate::redact::Redactor;
use crate::two_way;

/// A layer of the SDK's subscriber, boxed (what
/// [`Builder::with_layer`](crate::Builder::with_layer) takes).
pub type BoxedLayer =
    Box<dyn tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync + 'static>;

/// The subscriber [`Builder`](crate::Builder) and the test harness build: the layers over the
/// registry.
pub(crate) type Built =
    tracing_subscriber::layer::Layered<Vec<BoxedLayer>, tracing_subscriber::Registry>;

/// A field that keeps a span or an event away from OpenTelemetry (logs and GlitchTip still see
/// it): the span is not exported, the event does not become a span event. The HTTP layer uses it
/// for its request span, whose OpenTelemetry span it builds itself, and for its access line,
/// which repeats what the span says.
pub const SKIP_OTEL_FIELD: &str = "otel.skip";

/// The filter of the built-in layers: INFO-and-above spans always, the rest by `RUST_LOG`.
pub(crate) struct TelemetryFilter {
    env: EnvFilter,
    max_event_level: LevelFilter,
    /// For the OpenTelemetry layer: events only inside a recording (sampled) span, and not those
    /// marked with [`SKIP_OTEL_FIELD`]. Turning an event into a span event allocates; for a
    /// span that will not be exported, that work is thrown away.
    span_events_only: bool,
    /// Whether `RUST_LOG` has span or field directives (`target[span{f=v}]=level`); only then
    /// does `EnvFilter` need to see every span enter and exit, which costs a lock each time.
    dynamic: bool,
    /// This filter among all the process built (its decisions are remembered per filter).
    id: u64,
}

impl TelemetryFilter {
    /// Spans and events.
    pub(crate) fn new(directives: &str) -> Result<Self, Error> {
        let env = EnvFilter::builder().parse(directives).map_err(|e| {
            Error::invalid(
                "RUST_LOG",
                directives,
                format!("filter directives such as `info,my_crate=debug` ({e})"),
            )
        })?;
        Ok(TelemetryFilter {
            env,
            max_event_level: LevelFilter::TRACE,
            span_events_only: false,
            dynamic: directives.contains('['),
            id: NEXT_FILTER_ID.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// For the OpenTelemetry layer: events become span events only at `level` or above, inside
    /// a recording span, and unless marked with [`SKIP_OTEL_FIELD`].
    pub(crate) fn span_events(mut self, level: LevelFilter) -> Self {
        self.max_event_level = level;
        self.span_events_only = true;
        self
    }

    fn event_allowed(&self, level: &Level) -> bool {
        *level <= self.max_event_level
    }

    /// What `RUST_LOG` says about `meta`. Without span or field directives that depends only on
    /// the target and the level, so the answer is remembered per thread: `EnvFilter` compares the
    /// target with every directive in turn (a dozen with the quiet defaults of [`directives`]),
    /// about 600 instructions for each log line, asked twice for the access line.
    fn env_enabled<S: Subscriber + for<'a> LookupSpan<'a>>(
        &self,
        meta: &Metadata<'_>,
        cx: &Context<'_, S>,
    ) -> bool {
        if self.dynamic {
            return Filter::<S>::enabled(&self.env, meta, cx);
        }
        remembered_or(self.id, meta.target(), *meta.level(), || {
            Filter::<S>::enabled(&self.env, meta, cx)
        })
    }
}

/// The remembered decision of filter `filter` for `target` at `level`, or `decide()`'s, then
/// remembered.
fn remembered_or(filter: u64, target: &str, level: Level, decide: impl FnOnce() -> bool) -> bool {
    let set = decision_set(filter, target, level);
    let remembered = DECISIONS
        .try_with(|d| {
            let d = d.try_borrow().ok()?;
            two_way::find(&d[..], set, |e| {
                e.filter == filter && e.level == level && *e.target == *target
            })
            .map(|e| e.enabled)
        })
        .ok()
        .flatten();
    if let Some(enabled) = remembered {
        return enabled;
    }
    let enabled = decide();
    let _ = DECISIONS.try_with(|d| {
        if let Ok(mut d) = d.try_borrow_mut() {
            let decision = Decision {
                filter,
                level,
                target: target.into(),
                enabled,
            };
            two_way::insert(&mut d[..], set, decision);
        }
    });
    enabled
}

static NEXT_FILTER_ID: AtomicU64 = AtomicU64::new(1);

/// One remembered answer of a filter's `RUST_LOG` directives.
struct Decision {
    filter: u64,
    level: Level,
    /// Compared in full on every hit: a slot is chosen by the target's address, which a
    /// dynamic target (a `log` record's) may share with another.
    target: Box<str>,
    enabled: bool,
}

const DECISION_SLOTS: usize = 128;

thread_local! {
    /// Two ways per set (`two_way`): a collision only costs asking `EnvFilter` again. Per
    /// thread, so a hit touches no memory another core writes.
    static DECISIONS: RefCell<[Option<Decision>; DECISION_SLOTS]> =
        const { RefCell::new([const { None }; DECISION_SLOTS]) };
}

/// The first slot of the set `target` belongs to (by its address: targets are mostly statics).
fn decision_set(filter: u64, target: &str, level: Level) -> usize {
    let level = crate::logs::level_index(&level);
    let h = (target.as_ptr() as usize >> 3) ^ target.len().rotate_left(7) ^ (level * 37);
    two_way::set_of(h ^ filter as usize, DECISION_SLOTS)
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Filter<S> for TelemetryFilter {
    fn enabled(&self, meta: &Metadata<'_>, cx: &Context<'_, S>) -> bool {
        if self.span_events_only && meta.fields().field(SKIP_OTEL_FIELD).is_some() {
            return false;
        }
        if meta.is_span() {
            *meta.level() <= Level::INFO || self.env_enabled(meta, cx)
        } else {
            self.event_allowed(meta.level())
                && (!self.span_events_only || current_span_is_recording())
                && self.env_enabled(meta, cx)
        }
    }

    // `never` or `sometimes`, never `always`. Every layer here is per-layer filtered, and
    // tracing-subscriber 0.3 then caches the filters' combined interest: a callsite cached as
    // `always` skips `enabled()`, and its span or event is judged by whatever the previous
    // `enabled()` call on the thread left in the per-layer filter state (an `enabled!` check,
    // a `log_enabled!` through tracing-log), so it can be silently dropped from some layers
    // (tokio-rs/tracing#2519; the fix proposed in #3572 caps it the same way). `never` still
    // disables a callsite once, at registration; `enabled` decides the rest per call.
    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        if self.span_events_only && meta.fields().field(SKIP_OTEL_FIELD).is_some() {
            return Interest::never();
        }
        // Asked first, for every callsite: `EnvFilter` learns here which spans its span
        // directives (`[checkout]=debug`) name, and ignores those spans later otherwise.
        let env = Filter::<S>::callsite_enabled(&self.env, meta);
        let wanted = if meta.is_span() {
            *meta.level() <= Level::INFO || !env.is_never()
        } else {
            self.event_allowed(meta.level()) && !env.is_never()
        };
        if wanted {
            Interest::sometimes()
        } else {
            Interest::never()
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        let env = Filter::<S>::max_level_hint(&self.env).unwrap_or(LevelFilter::TRACE);
        Some(env.max(LevelFilter::INFO))
    }

    // `EnvFilter` tracks spans only for span and field directives; without them its callbacks
    // would take a lock per span operation for nothing.
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        if self.dynamic {
            Filter::<S>::on_new_span(&self.env, attrs, id, ctx);
        }
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: Context<'_, S>,
    ) {
        if self.dynamic {
            Filter::<S>::on_record(&self.env, id, values, ctx);
        }
    }

    fn on_enter(&self, id: &tracing::span::Id, ctx: Context<'_, S>) {
        if self.dynamic {
            Filter::<S>::on_enter(&self.env, id, ctx);
        }
    }

    fn on_exit(&self, id: &tracing::span::Id, ctx: Context<'_, S>) {
        if self.dynamic {
            Filter::<S>::on_exit(&self.env, id, ctx);
        }
    }

    fn on_close(&self, id: tracing::span::Id, ctx: Context<'_, S>) {
        if self.dynamic {
            Filter::<S>::on_close(&self.env, id, ctx);
        }
    }
}

/// Whether the active OpenTelemetry span records (is sampled); cheap: a thread-local read.
fn current_span_is_recording() -> bool {
    use opentelemetry::trace::TraceContextExt as _;
    opentelemetry::Context::map_current(|cx| cx.span().is_recording())
}

/// The parts of the subscriber, in the order their layers run.
pub(crate) struct Layers<'a> {
    /// `RUST_LOG` with [`directives`] applied.
    pub(crate) directives: &'a str,
    pub(crate) redactor: &'a Redactor,
    pub(crate) service: &'a str,
    /// Where JSON lines go; `None` for the pretty format (events are then only counted).
    pub(crate) sink: Option<LogSink>,
    pub(crate) sampling: &'a [(String, f64)],
    pub(crate) tracer: Option<opentelemetry_sdk::trace::SdkTracer>,
    /// What head sampling refuses before a span is built (adapters read it with the tracer).
    pub(crate) head: crate::traces::head::HeadSampling,
    /// The held traces of "keep errors and slow", which an ERROR event keeps.
    pub(crate) held: Option<std::sync::Arc<crate::traces::keep::Held>>,
    pub(crate) pretty: bool,
    pub(crate) errors: bool,
    /// The least severe level of events that become span events.
    pub(crate) span_event_level: LevelFilter,
}

impl Layers<'_> {
    /// The layers, each with its filter; `extra` (adapters', users') go last.
    pub(crate) fn build(self, extra: Vec<BoxedLayer>) -> Result<Vec<BoxedLayer>, Error> {
        let d = self.directives;
        let mut layers: Vec<BoxedLayer> = Vec::with_capacity(3 + extra.len());
        // One filtered layer for every built-in part that follows the same rule (INFO spans
        // always, the rest by `RUST_LOG`): the span fields (first, so the ids are stored before
        // anything looks for them), the event consumers, each of which checks the levels it
        // takes itself, and the tracer's carrier (for `traces::tracer()`). Each filtered layer
        // costs a registry lookup on every span enter, exit and close (tracing-subscriber looks
        // up the span to read its per-layer filter bits), so four filters for one rule were
        // eight or more lookups per request for nothing. On its own, unfiltered, the carrier
        // would also lift the global maximum level to TRACE (every library `debug!` built and
        // offered to each filter).
        #[cfg(feature = "sentry")]
        let errors = self.errors.then(|| crate::reporting::SentryLayer {
            redactor: self.redactor.clone(),
        });
        #[cfg(not(feature = "sentry"))]
        let errors: Option<tracing_subscriber::layer::Identity> = {
            let _ = self.errors;
            None
        };
        let builtin = SpanFieldsLayer {
            redactor: self.redactor.clone(),
        }
        .and_then(self.held.map(crate::traces::keep::MarkOnError))
        .and_then(JsonLayer::new(
            self.service,
            self.redactor.clone(),
            self.sink,
            self.sampling,
        ))
        .and_then(errors)
        // Last, so the outermost: a downcast (`traces::tracer()`, once per request) asks it
        // first.
        .and_then(
            self.tracer
                .clone()
                .map(|tracer| crate::traces::carrier::TracerLayer::new(tracer, self.head)),
        )
        .with_filter(TelemetryFilter::new(d)?);
        // None of these layers reads a span's enter, exit or close, yet their `Filtered` looks the
        // span up on each (about 160 instructions a time, three times for every span) to decide
        // whether to pass on what nobody reads. Only the filter reads them, for span directives.
        layers.push(if builtin.filter().dynamic {
            builtin.boxed()
        } else {
            NoLifecycle(builtin).boxed()
        });
        // Its own filter: it leaves out the spans it must not export (`otel.skip`), and takes
        // events only inside recording spans.
        if let Some(tracer) = self.tracer {
            layers.push(
                tracing_opentelemetry::layer()
                    .with_tracer(tracer)
                    .with_location(false)
                    .with_threads(false)
                    .with_target(false)
                    .with_tracked_inactivity(false)
                    .with_filter(TelemetryFilter::new(d)?.span_events(self.span_event_level))
                    .boxed(),
            );
        }
        if self.pretty {
            layers.push(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stdout)
                    .with_filter(TelemetryFilter::new(d)?)
                    .boxed(),
            );
        }
        layers.extend(extra);
        Ok(layers)
    }
}

/// A layer without the span enter, exit and close callbacks: for a (filtered) layer none of
/// whose parts reads them, so its filter does not look the span up three times for nothing.
/// Everything else, including `on_layer` (which registers a filter) and `downcast_raw`, is
/// passed on as is.
struct NoLifecycle<L>(L);

impl<S: Subscriber, L: tracing_subscriber::Layer<S>> tracing_subscriber::Layer<S>
    for NoLifecycle<L>
{
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        self.0.on_register_dispatch(subscriber);
    }

    fn on_layer(&mut self, subscriber: &mut S) {
        self.0.on_layer(subscriber);
    }

    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        self.0.register_callsite(metadata)
    }

    fn enabled(&self, metadata: &Metadata<'_>, ctx: Context<'_, S>) -> bool {
        self.0.enabled(metadata, ctx)
    }

    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        self.0.on_new_span(attrs, id, ctx);
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        self.0.max_level_hint()
    }

    fn on_record(
        &self,
        span: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: Context<'_, S>,
    ) {
        self.0.on_record(span, values, ctx);
    }

    fn on_follows_from(
        &self,
        span: &tracing::span::Id,
        follows: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        self.0.on_follows_from(span, follows, ctx);
    }

    fn event_enabled(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) -> bool {
        self.0.event_enabled(event, ctx)
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        self.0.on_event(event, ctx);
    }

    // SAFETY: the inner layer's answer, for the inner layer's types (this wrapper adds none).
    unsafe fn downcast_raw(&self, id: std::any::TypeId) -> Option<*const ()> {
        // SAFETY: as above.
        unsafe { self.0.downcast_raw(id) }
    }
}

/// The default directives added to `RUST_LOG`, for targets not named in it:
/// - the HTTP and gRPC stacks the exporters use, at WARN, so that exporting can never log about
///   its own exporting in a loop;
/// - sqlx's own statement log (`sqlx::query`), at ERROR: it prints each statement with its
///   literal values (at DEBUG, and at WARN when slow), which glimpse-telemetry-sqlx reports
///   instead, sanitized.
pub(crate) fn directives(rust_log: &str) -> String {
    const QUIET: &[(&str, &str)] = &[
        ("h2", "warn"),
        ("hyper", "warn"),
        ("hyper_util", "warn"),
        ("tonic", "warn"),
        ("tower", "warn"),
        ("reqwest", "warn"),
        ("rustls", "warn"),
        ("opentelemetry", "warn"),
        ("opentelemetry_sdk", "warn"),
        ("opentelemetry_otlp", "warn"),
        ("sqlx::query", "error"),
    ];
    let mut d = String::new();
    for (target, level) in QUIET {
        let named = rust_log.split(',').any(|dir| {
            let dir = dir.trim();
            dir == *target
                || dir.starts_with(&format!("{target}="))
                || dir.starts_with(&format!("{target}::"))
        });
        if !named {
            d.push_str(target);
            d.push('=');
            d.push_str(level);
            d.push(',');
        }
    }
    d.push_str(rust_log);
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_targets_are_added_unless_named() {
        let d = directives("debug,hyper=info");
        assert!(d.contains("h2=warn"));
        assert!(!d.contains("hyper=warn"));
        assert!(d.ends_with("debug,hyper=info"));
        assert!(TelemetryFilter::new(&d).is_ok());
    }

    #[test]
    fn two_targets_in_one_set_both_stay_remembered() {
        // Different targets at addresses that fall in the same set (slices of one static).
        static BYTES: [u8; 4096] = {
            let mut b = [0u8; 4096];
            let mut i = 0;
            while i < b.len() {
                b[i] = b'a' + (i * i % 26) as u8;
                i += 1;
            }
            b
        };
        let text: &'static str = std::str::from_utf8(&BYTES).expect("ASCII");
        let set = |t: &str| decision_set(u64::MAX, t, Level::INFO);
        let targets: Vec<&'static str> = (0..text.len() - 4).map(|i| &text[i..i + 4]).collect();
        let (a, b) = targets
            .iter()
            .enumerate()
            .find_map(|(i, a)| {
                let b = targets[i + 1..]
                    .iter()
                    .find(|b| set(b) == set(a) && *b != a)?;
                Some((*a, *b))
            })
            .expect("two targets in one set");
        let mut asked = 0;
        for _ in 0..10 {
            assert!(remembered_or(u64::MAX, a, Level::INFO, || {
                asked += 1;
                true
            }));
            assert!(!remembered_or(u64::MAX, b, Level::INFO, || {
                asked += 1;
                false
            }));
        }
        assert_eq!(asked, 2, "each asked once, then remembered");
    }

    /// Counts the events a filtered layer lets through, by target.
    #[derive(Clone, Default)]
    struct Seen(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

    impl<S: Subscriber> tracing_subscriber::Layer<S> for Seen {
        fn on_event(&self, e: &tracing::Event<'_>, _: Context<'_, S>) {
            if let Ok(mut v) = self.0.lock() {
                v.push(e.metadata().target().to_owned());
            }
        }
    }

    fn emit() {
        for _ in 0..3 {
            tracing::info!(target: "hyper::proto", "quiet by default");
            tracing::info!(target: "app", "an app line");
            tracing::debug!(target: "app", "a debug line");
        }
    }

    #[test]
    fn remembered_answers_are_per_filter_target_and_level() {
        use tracing_subscriber::layer::SubscriberExt as _;
        // Two filters that disagree, in one subscriber, so each is asked about every line
        // (a callsite every filter refuses is disabled at registration and never asked about).
        let (quiet, loud) = (Seen::default(), Seen::default());
        let subscriber = tracing_subscriber::registry()
            .with(
                quiet
                    .clone()
                    .with_filter(TelemetryFilter::new(&directives("info")).expect("filter")),
            )
            .with(loud.clone().with_filter(
                TelemetryFilter::new(&directives("debug,hyper=info")).expect("filter"),
            ));
        // Three times: the second and third ask the remembered answers.
        tracing::subscriber::with_default(subscriber, emit);
        let count = |seen: &Seen, target: &str| {
            let v = seen.0.lock().expect("lock");
            v.iter().filter(|t| *t == target).count()
        };
        assert_eq!(count(&quiet, "hyper::proto"), 0, "hyper is quiet at info");
        assert_eq!(count(&quiet, "app"), 3, "info lines only");
        assert_eq!(count(&loud, "hyper::proto"), 3, "named, hyper is heard");
        assert_eq!(count(&loud, "app"), 6, "debug lines too");
    }
}
