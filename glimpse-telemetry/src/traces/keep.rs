//! Keep errors and slow: the traces head sampling said no to are still recorded, held in
//! memory until their local root span ends, and exported after all when the request failed or
//! was slow; otherwise dropped, never converted or encoded.
//!
//! How it fits the SDK's pipeline (opentelemetry_sdk 0.33):
//! - [`KeepSampler`] wraps the configured sampler and turns its `Drop` into `RecordOnly`: the
//!   span records its attributes and events, but its context says "not sampled", so the
//!   `traceparent` this service sends on and returns carries the head decision unchanged.
//! - [`KeepProcessor`] sits in front of the batch processor. A sampled span passes through.
//!   A not-sampled local root (no parent, or a remote one) opens an entry in [`Held`] when it
//!   starts; its local descendants are held there as they end; when the root ends the entry is
//!   decided: **kept** (every held span is re-flagged sampled and handed on) when any span of
//!   it ended with an error status or `error.type` (a 5xx, a panic, a cancelled request, a
//!   failed query), when an ERROR event was logged inside it ([`MarkOnError`]) or
//!   [`crate::reporting::capture_error`] reported one, or when the root lasted at least the slow
//!   threshold; **dropped** otherwise. Once a trace is kept, later spans of it pass through.
//! - A WebSocket connection's span is a local root of its own (the connection's adapter gives
//!   it its upgrade request's span as a remote parent, and starts it before that request
//!   ends), so the upgrade request's spans wait for the connection and the trace is decided
//!   when the connection closes; a connection (`network.protocol.name` = `websocket`) is kept
//!   for its errors, not for lasting long.
//! - Spans that end after their root follow the decision, remembered for the last
//!   [`DECISIONS_PER_SHARD`] traces of each shard; past that memory they are dropped and counted
//!   as `late`.
//!
//! Bounds, each counted in `glimpse_telemetry_held_spans_discarded_total{reason}` when hit:
//! spans held per trace (`trace_limit`) and spans held in the process (`process_limit`, split
//! evenly over the shards so no counter is shared by every core). A discarded span is lost even
//! if its trace is kept later; the root itself is never held, so a kept trace always has it.
//! `glimpse_telemetry_held_spans` (read at scrape time) shows what is held now, and
//! `glimpse_telemetry_held_traces_total{decision}` what became of each trace.
//!
//! Hand-written because no crate does this in-process (the Collector's tail sampler needs every
//! span shipped to it first); the state is 16 mutex-guarded shards keyed by trace id, touched
//! only by spans head sampling refused.

use std::collections::HashMap;
use std::hash::Hasher;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Duration;

use opentelemetry::trace::{
    Link, SpanContext, SpanId, SpanKind, Status, TraceContextExt as _, TraceId,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    SamplingDecision, SamplingResult, ShouldSample, Span, SpanData, SpanProcessor,
};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;

use super::policy::{KeepTraces, SHARDS};
use crate::metrics::{Counter, catalogue};

/// The configured sampler, with `Drop` turned into `RecordOnly` so the refused spans are
/// recorded for [`KeepProcessor`] to hold.
#[derive(Clone, Debug)]
pub(crate) struct KeepSampler(pub(crate) opentelemetry_sdk::trace::Sampler);

impl ShouldSample for KeepSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        let mut result =
            self.0
                .should_sample(parent_context, trace_id, name, span_kind, attributes, links);
        if result.decision == SamplingDecision::Drop {
            result.decision = SamplingDecision::RecordOnly;
        }
        result
    }
}

/// How many decided traces each shard remembers, for spans that end after their root.
pub(crate) const DECISIONS_PER_SHARD: usize = 64;

/// Why a trace is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reason {
    Error,
    Slow,
}

/// One local trace waiting for its root.
#[derive(Default)]
struct Entry {
    /// Local roots of this trace still running (a service called twice in one trace has two).
    open_roots: u32,
    keep: Option<Reason>,
    spans: Vec<SpanData>,
}

struct Shard {
    open: HashMap<TraceId, Entry, TraceIdHashing>,
    /// Spans held in this shard's entries.
    held: usize,
    decided: Decisions,
}

/// The last decisions of a shard, a ring of `(trace, kept)`.
struct Decisions {
    ring: [(TraceId, bool); DECISIONS_PER_SHARD],
    next: usize,
}

impl Decisions {
    fn remember(&mut self, trace: TraceId, kept: bool) {
        self.ring[self.next] = (trace, kept);
        self.next = (self.next + 1) % DECISIONS_PER_SHARD;
    }

    fn of(&self, trace: TraceId) -> Option<bool> {
        self.ring
            .iter()
            .find(|(t, _)| *t == trace)
            .map(|(_, kept)| *kept)
    }
}

impl Shard {
    fn new() -> Self {
        Shard {
            open: HashMap::with_hasher(TraceIdHashing::new()),
            held: 0,
            decided: Decisions {
                ring: [(TraceId::INVALID, false); DECISIONS_PER_SHARD],
                next: 0,
            },
        }
    }
}

/// Hashes a trace id with one keyed multiply instead of SipHash over all 128 bits (measured:
/// two SipHash rounds per held trace were ~10 % of the store's cost). Keyed per process, so a
/// caller choosing trace ids (`traceparent`) cannot aim them at one bucket.
#[derive(Clone)]
struct TraceIdHashing {
    k1: u64,
    k2: u64,
}

impl TraceIdHashing {
    fn new() -> Self {
        use std::hash::BuildHasher as _;
        let random = std::collections::hash_map::RandomState::new();
        TraceIdHashing {
            k1: random.hash_one(1u8),
            k2: random.hash_one(2u8),
        }
    }
}

impl std::hash::BuildHasher for TraceIdHashing {
    type Hasher = TraceIdHasher;

    fn build_hasher(&self) -> TraceIdHasher {
        TraceIdHasher {
            k1: self.k1,
            k2: self.k2,
            h: 0,
        }
    }
}

struct TraceIdHasher {
    k1: u64,
    k2: u64,
    h: u64,
}

impl Hasher for TraceIdHasher {
    fn finish(&self) -> u64 {
        self.h
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not reached for `TraceId` (it hashes as one u128); kept correct for anything else.
        for b in bytes {
            self.write_u128(u128::from(*b) ^ (u128::from(self.h) << 8));
        }
    }

    fn write_u128(&mut self, n: u128) {
        // A folded multiply of the two keyed halves (as in aHash), then a second one by an odd
        // constant: when one half is fixed (a caller varying only the other), the first
        // product's factor may be even and leave the low bits (the bucket) poorly mixed.
        let fold = |m: u128| (m as u64) ^ ((m >> 64) as u64);
        let h = fold(u128::from((n as u64) ^ self.k1) * u128::from(((n >> 64) as u64) ^ self.k2));
        self.h = fold(u128::from(h) * u128::from(0x9e37_79b9_7f4a_7c15_u64));
    }
}

/// The held spans of the traces not yet decided, and the self-metrics of the decisions.
pub(crate) struct Held {
    shards: Box<[Mutex<Shard>]>,
    pick: TraceIdHashing,
    policy: KeepTraces,
    per_shard: usize,
    kept_error: Counter,
    kept_slow: Counter,
    dropped: Counter,
    over_trace: Counter,
    over_process: Counter,
    late: Counter,
}

/// What to do with spans once the shard's lock is released.
enum After {
    Nothing,
    Forward(Vec<SpanData>),
    /// Dropped with their trace: freed outside the lock.
    Free(#[allow(dead_code)] Vec<SpanData>),
}

impl Held {
    pub(crate) fn new(policy: KeepTraces) -> Arc<Self> {
        let decisions = |d: &str| catalogue::GLIMPSE_TELEMETRY_HELD_TRACES.series::<Counter>(&[d]);
        let discarded =
            |r: &str| catalogue::GLIMPSE_TELEMETRY_HELD_SPANS_DISCARDED.series::<Counter>(&[r]);
        let held = Arc::new(Held {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::new())).collect(),
            pick: TraceIdHashing::new(),
            per_shard: (policy.held_spans() / SHARDS).max(1),
            policy,
            kept_error: decisions("kept_error"),
            kept_slow: decisions("kept_slow"),
            dropped: decisions("dropped"),
            over_trace: discarded("trace_limit"),
            over_process: discarded("process_limit"),
            late: discarded("late"),
        });
        register_gauge(&held);
        held
    }

    fn shard(&self, trace: TraceId) -> MutexGuard<'_, Shard> {
        use std::hash::BuildHasher as _;
        // Keyed too, so chosen trace ids cannot all land in one shard.
        let i = (self.pick.hash_one(trace) >> 60) as usize % SHARDS;
        // A panic while holding the lock leaves plain data behind; carry on with it.
        self.shards[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Spans held now, over all shards.
    pub(crate) fn held_spans(&self) -> usize {
        (0..SHARDS)
            .map(|i| self.shards[i].lock().map_or(0, |s| s.held))
            .sum()
    }

    fn root_started(&self, trace: TraceId) {
        self.shard(trace).open.entry(trace).or_default().open_roots += 1;
    }

    /// Keeps the trace if it is still held (an ERROR was logged in it); its held spans go on
    /// with the next span of it that ends (its root, at the latest). A trace already decided is
    /// left as it was.
    pub(crate) fn mark(&self, trace: TraceId) {
        if let Some(entry) = self.shard(trace).open.get_mut(&trace) {
            entry.keep.get_or_insert(Reason::Error);
        }
    }

    fn ended<P: SpanProcessor>(&self, span: SpanData, next: &P) {
        let trace = span.span_context.trace_id();
        let is_root = span.parent_span_id == SpanId::INVALID || span.parent_span_is_remote;
        let error = self.policy.keeps_errors() && is_error(&span);
        let slow = is_root
            && self.policy.slow().is_some_and(|t| {
                span.end_time
                    .duration_since(span.start_time)
                    .is_ok_and(|d| d >= t)
            })
            && !is_connection(&span);
        let mut span = Some(span);
        let after = {
            let mut shard = self.shard(trace);
            let per_shard = self.per_shard;
            let Shard {
                open,
                held,
                decided,
            } = &mut *shard;
            match open.get_mut(&trace) {
                None => match decided.of(trace) {
                    Some(true) => After::Forward(span.take().into_iter().collect()),
                    Some(false) => After::Nothing,
                    None if is_root => {
                        // A root that started before this processor knew of it: decide alone.
                        let reason = reason(error, slow);
                        decided.remember(trace, reason.is_some());
                        self.count(reason);
                        match reason {
                            Some(_) => After::Forward(span.take().into_iter().collect()),
                            None => After::Nothing,
                        }
                    }
                    None => {
                        self.late.inc();
                        After::Nothing
                    }
                },
                Some(entry) => {
                    if entry.keep.is_none() {
                        entry.keep = reason(error, slow);
                    }
                    if is_root {
                        entry.open_roots = entry.open_roots.saturating_sub(1);
                    }
                    if entry.keep.is_some() {
                        let mut out = std::mem::take(&mut entry.spans);
                        *held -= out.len();
                        out.extend(span.take());
                        if entry.open_roots == 0 {
                            let keep = entry.keep;
                            open.remove(&trace);
                            decided.remember(trace, true);
                            self.count(keep);
                        }
                        After::Forward(out)
                    } else if is_root && entry.open_roots == 0 {
                        let out = std::mem::take(&mut entry.spans);
                        *held -= out.len();
                        open.remove(&trace);
                        decided.remember(trace, false);
                        self.count(None);
                        After::Free(out)
                    } else if entry.spans.len() >= self.policy.spans_per_trace() {
                        self.over_trace.inc();
                        After::Nothing
                    } else if *held >= per_shard {
                        self.over_process.inc();
                        After::Nothing
                    } else {
                        entry.spans.extend(span.take());
                        *held += 1;
                        After::Nothing
                    }
                }
            }
        };
        self.after(after, next);
    }

    fn count(&self, decision: Option<Reason>) {
        match decision {
            Some(Reason::Error) => self.kept_error.inc(),
            Some(Reason::Slow) => self.kept_slow.inc(),
            None => self.dropped.inc(),
        }
    }

    fn after<P: SpanProcessor>(&self, after: After, next: &P) {
        if let After::Forward(spans) = after {
            for span in spans {
                next.on_end(sampled(span));
            }
        }
    }
}

fn reason(error: bool, slow: bool) -> Option<Reason> {
    if error {
        Some(Reason::Error)
    } else if slow {
        Some(Reason::Slow)
    } else {
        None
    }
}

/// A span that says it failed: an error status (5xx, panic, failed query) or an `error.type`
/// (a cancelled request has no status but says `cancelled`).
fn is_error(span: &SpanData) -> bool {
    matches!(span.status, Status::Error { .. })
        || span
            .attributes
            .iter()
            .any(|kv| kv.key.as_str() == "error.type")
}

/// A root that is a long-lived connection, not a request (`network.protocol.name` =
/// `websocket`): it lasts as long as the client stays, so only its errors keep its trace.
fn is_connection(span: &SpanData) -> bool {
    span.attributes
        .iter()
        .any(|kv| kv.key.as_str() == "network.protocol.name" && kv.value.as_str() == "websocket")
}

/// The span flagged sampled, so the batch processor exports it.
fn sampled(mut span: SpanData) -> SpanData {
    let sc = &span.span_context;
    span.span_context = SpanContext::new(
        sc.trace_id(),
        sc.span_id(),
        sc.trace_flags().with_sampled(true),
        sc.is_remote(),
        sc.trace_state().clone(),
    );
    span
}

/// The span processor in front of the batch processor: sampled spans pass, the others are
/// held in [`Held`] until their local root decides.
pub(crate) struct KeepProcessor<P> {
    pub(crate) inner: P,
    pub(crate) held: Arc<Held>,
}

impl<P: std::fmt::Debug> std::fmt::Debug for KeepProcessor<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeepProcessor")
            .field("inner", &self.inner)
            .field("policy", &self.held.policy)
            .finish()
    }
}

impl<P: SpanProcessor> SpanProcessor for KeepProcessor<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        use opentelemetry::trace::Span as _;
        let sc = span.span_context();
        if !sc.is_sampled() && span.is_recording() {
            let parent = cx.span();
            let parent = parent.span_context();
            if !parent.is_valid() || parent.is_remote() {
                self.held.root_started(sc.trace_id());
            }
        }
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        if span.span_context.is_sampled() {
            self.inner.on_end(span);
        } else {
            self.held.ended(span, &self.inner);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// Keeps the trace of every ERROR event (and of [`crate::reporting::capture_error`]): a layer
/// under the filter of the built-in layers, with events at ERROR only.
pub(crate) struct MarkOnError(pub(crate) Arc<Held>);

impl MarkOnError {
    /// Keeps the current trace, if it is one being held.
    pub(crate) fn mark_current(&self) {
        let trace = Context::map_current(|cx| {
            let span = cx.span();
            let sc = span.span_context();
            (sc.is_valid() && !sc.is_sampled() && span.is_recording()).then(|| sc.trace_id())
        });
        if let Some(trace) = trace {
            self.0.mark(trace);
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for MarkOnError {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if *event.metadata().level() == tracing::Level::ERROR {
            self.mark_current();
        }
    }

    // SAFETY: the pointer returned points to `self`, of exactly the type asked for, valid for
    // as long as `self` is.
    unsafe fn downcast_raw(&self, id: std::any::TypeId) -> Option<*const ()> {
        (id == std::any::TypeId::of::<Self>()).then_some(self as *const Self as *const ())
    }
}

/// Keeps the current trace although head sampling refused it, when "keep errors" holds it
/// (what an ERROR log line does); nothing otherwise. For errors reported another way than a
/// log line, so that the event's trace id is one the collector receives.
///
/// ```
/// // Outside any trace, or without telemetry, it does nothing.
/// glimpse_telemetry::traces::keep_current_trace();
/// ```
pub fn keep_current_trace() {
    tracing::dispatcher::get_default(|d| {
        if let Some(m) = d.downcast_ref::<MarkOnError>() {
            m.mark_current();
        }
    });
}

/// The stores alive now, summed into `glimpse_telemetry_held_spans` at scrape time.
fn stores() -> &'static Mutex<Vec<Weak<Held>>> {
    static STORES: OnceLock<Mutex<Vec<Weak<Held>>>> = OnceLock::new();
    STORES.get_or_init(|| {
        crate::metrics::register_collector(Box::new(HeldGauge));
        Mutex::new(Vec::new())
    })
}

fn register_gauge(held: &Arc<Held>) {
    let mut list = stores().lock().unwrap_or_else(|p| p.into_inner());
    list.retain(|w| w.strong_count() > 0);
    list.push(Arc::downgrade(held));
}

#[derive(Debug)]
struct HeldGauge;

impl Collector for HeldGauge {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let held: usize = stores()
            .lock()
            .map(|list| {
                list.iter()
                    .filter_map(Weak::upgrade)
                    .map(|h| h.held_spans())
                    .sum()
            })
            .unwrap_or(0);
        crate::metrics::const_sample(
            &mut encoder,
            &catalogue::GLIMPSE_TELEMETRY_HELD_SPANS,
            held as f64,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher as _;

    /// Ids a caller chose to collide (same low half, or same high half) still spread over the
    /// shards and the buckets.
    #[test]
    fn chosen_trace_ids_spread_over_shards_and_buckets() {
        let pick = TraceIdHashing::new();
        for make in [
            |i: u128| TraceId::from(i << 64 | 0xdead_beef),
            |i: u128| TraceId::from(0xdead_beef_u128 << 64 | i),
        ] {
            let mut shards = [0usize; SHARDS];
            let mut buckets = std::collections::HashSet::new();
            for i in 1..=1600u128 {
                let h = pick.hash_one(make(i));
                shards[(h >> 60) as usize % SHARDS] += 1;
                buckets.insert(h & 1023);
            }
            assert!(
                shards.iter().all(|&n| (40..=200).contains(&n)),
                "{shards:?}"
            );
            assert!(buckets.len() > 700, "{} of 1024 buckets", buckets.len());
        }
    }
}
