//! Traces: `tracing` spans become OpenTelemetry spans (tracing-opentelemetry) and go to Jaeger
//! over OTLP, in batches, off the request path (the exporter: `otlp/`).
//!
//! A collector that is down, hung or slow never reaches a request: the batch processor exports
//! from its own thread; finished spans wait in a bounded queue (`OTEL_BSP_MAX_QUEUE_SIZE`), and
//! past it they are dropped. Every finished span is counted once in
//! `glimpse_telemetry_spans_total{outcome}` as `exported`, `failed` or `dropped`. The first
//! failure is logged once, and so is the recovery, never a line per attempt.
//!
//! Log events inside a sampled span at WARN and above also become span events (see
//! [`Builder::span_event_level`](crate::Builder::span_event_level)); a span or event with the
//! field [`SKIP_OTEL_FIELD`] is left to the logs. Adapters that build their OpenTelemetry spans
//! directly get the tracer with [`tracer`].
//!
//! Secrets are removed from span attributes and events before export (see
//! [`redact`](crate::redact)).
//!
//! With a ratio sampler, the traces head sampling refuses are still recorded and kept when
//! their request fails or is slow ([`KeepTraces`], `keep.rs`).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Span, SpanData, SpanExporter, SpanProcessor,
};

use crate::config::{Sampler, TracesConfig};
use crate::metrics::{Counter, catalogue};
use crate::redact::{REDACTED, Redactor};
pub use crate::subscriber::SKIP_OTEL_FIELD;

pub(crate) mod carrier;
pub(crate) mod current;
pub(crate) mod head;
pub(crate) mod keep;
mod names;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
mod otlp;
pub(crate) mod policy;
pub use carrier::{tracer, tracer_with_head_sampling};
pub use current::current_sampled_ids;
pub use head::HeadSampling;
pub use keep::keep_current_trace;
pub use names::{MAX_INTERNED, MAX_INTERNED_LEN, intern};
pub use policy::KeepTraces;

pub(crate) fn sdk_sampler(s: &Sampler) -> opentelemetry_sdk::trace::Sampler {
    use opentelemetry_sdk::trace::Sampler as S;
    match s {
        Sampler::AlwaysOn => S::AlwaysOn,
        Sampler::AlwaysOff => S::AlwaysOff,
        Sampler::TraceIdRatio(r) => S::TraceIdRatioBased(*r),
        Sampler::ParentBased(inner) => S::ParentBased(Box::new(sdk_sampler(inner))),
    }
}

/// Counts of what happened to finished spans, and the gate that keeps the queue bounded.
#[derive(Debug)]
pub(crate) struct SpanAccounting {
    /// Spans handed to the batch processor and not yet exported or failed.
    in_flight: AtomicUsize,
    max_in_flight: usize,
    exported: Counter,
    failed: Counter,
    dropped: Counter,
    failing: AtomicBool,
    endpoint: String,
}

impl SpanAccounting {
    pub(crate) fn new(max_queue_size: usize, endpoint: String) -> Arc<Self> {
        let c = |outcome: &str| catalogue::GLIMPSE_TELEMETRY_SPANS.series::<Counter>(&[outcome]);
        Arc::new(SpanAccounting {
            in_flight: AtomicUsize::new(0),
            max_in_flight: max_queue_size,
            exported: c("exported"),
            failed: c("failed"),
            dropped: c("dropped"),
            failing: AtomicBool::new(false),
            endpoint,
        })
    }

    fn done(&self, n: usize, result: &OTelSdkResult) {
        self.in_flight.fetch_sub(
            n.min(self.in_flight.load(Ordering::Relaxed)),
            Ordering::Relaxed,
        );
        match result {
            Ok(()) => {
                self.exported.inc_by(n as u64);
                if self.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!(target: "glimpse_telemetry", endpoint = %self.endpoint, "trace export recovered");
                }
            }
            Err(e) => {
                self.failed.inc_by(n as u64);
                if !self.failing.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        target: "glimpse_telemetry",
                        endpoint = %self.endpoint,
                        error = %e,
                        "trace export failed; spans are dropped until the collector answers (counted in glimpse_telemetry_spans_total{{outcome=\"failed\"}}). This is logged once."
                    );
                }
            }
        }
    }
}

/// Wraps the real exporter to redact spans and count outcomes.
pub(crate) struct CountingExporter<E> {
    inner: E,
    redactor: Redactor,
    accounting: Arc<SpanAccounting>,
}

impl<E: fmt::Debug> fmt::Debug for CountingExporter<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl<E: SpanExporter> SpanExporter for CountingExporter<E> {
    async fn export(&self, mut batch: Vec<SpanData>) -> OTelSdkResult {
        let n = batch.len();
        // Redacted here, on the batch thread, not in `on_end` on the request's thread.
        for span in &mut batch {
            redact_span(&self.redactor, span);
        }
        let result = self.inner.export(batch).await;
        self.accounting.done(n, &result);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// Hands finished spans to the batch processor unless the queue is full (then drops and counts
/// them).
#[derive(Debug)]
pub(crate) struct GuardedProcessor<P> {
    inner: P,
    accounting: Arc<SpanAccounting>,
}

impl<P: SpanProcessor> SpanProcessor for GuardedProcessor<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        let a = &self.accounting;
        if a.in_flight.fetch_add(1, Ordering::Relaxed) >= a.max_in_flight {
            a.in_flight.fetch_sub(1, Ordering::Relaxed);
            a.dropped.inc();
            return;
        }
        self.inner.on_end(span);
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

fn redact_span(redactor: &Redactor, span: &mut SpanData) {
    redact_attributes(redactor, &mut span.attributes);
    for event in span.events.events.iter_mut() {
        redact_attributes(redactor, &mut event.attributes);
        if let std::borrow::Cow::Owned(masked) = redactor.mask(&event.name) {
            event.name = masked.into();
        }
    }
    if let opentelemetry::trace::Status::Error { description } = &mut span.status {
        if let std::borrow::Cow::Owned(masked) = redactor.mask(description) {
            *description = masked.into();
        }
    }
}

fn redact_attributes(redactor: &Redactor, attrs: &mut [KeyValue]) {
    for kv in attrs.iter_mut() {
        if redactor.is_secret_key(kv.key.as_str()) {
            kv.value = Value::from(REDACTED);
        } else if let Value::String(s) = &kv.value {
            if let std::borrow::Cow::Owned(masked) = redactor.mask(s.as_str()) {
                kv.value = Value::from(masked);
            }
        }
    }
}

/// Starts what the traces section asks: nothing when `sdk_disabled` (`OTEL_SDK_DISABLED=true`);
/// otherwise the provider exporting to `exporter` (a caller's, for tests and benchmarks) or to
/// the configured OTLP endpoint, on `runtime` for gRPC.
///
/// # Errors
/// An OTLP exporter that cannot be built, or a protocol this build has no feature for.
pub(crate) fn start<E: SpanExporter + 'static>(
    config: &TracesConfig,
    sdk_disabled: bool,
    exporter: Option<E>,
    runtime: Option<&tokio::runtime::Runtime>,
    identity: &crate::resource::ServiceIdentity,
    redactor: &Redactor,
) -> Result<Option<Traces>, crate::Error> {
    if sdk_disabled {
        return Ok(None);
    }
    let resource = identity.otel_resource();
    if let Some(exporter) = exporter {
        let name = "custom exporter".to_owned();
        return Ok(Some(provider(exporter, config, resource, redactor, name)));
    }
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    {
        let exporter = otlp::OtlpExporter::new(config, runtime)?;
        let endpoint = config.traces_endpoint();
        Ok(Some(provider(
            exporter, config, resource, redactor, endpoint,
        )))
    }
    #[cfg(not(any(feature = "otlp-grpc", feature = "otlp-http")))]
    {
        let _ = (runtime, resource);
        Err(crate::Error::setup(
            "trace exporter",
            "this build has neither the otlp-grpc nor the otlp-http feature; set OTEL_SDK_DISABLED=true or pass .span_exporter(..)",
        ))
    }
}

/// The tracer provider, the store of held traces when errors and slow ones are kept, and what
/// head sampling decides before a span is built.
pub(crate) struct Traces {
    pub(crate) provider: opentelemetry_sdk::trace::SdkTracerProvider,
    pub(crate) held: Option<Arc<keep::Held>>,
    pub(crate) head: HeadSampling,
}

/// Builds the tracer provider around `exporter`.
/// (batch settings, sampler and "keep errors and slow" from `config`).
pub(crate) fn provider<E: SpanExporter + 'static>(
    exporter: E,
    config: &TracesConfig,
    resource: Resource,
    redactor: &Redactor,
    endpoint: String,
) -> Traces {
    let (batch, sampler) = (&config.batch, &config.sampler);
    let accounting = SpanAccounting::new(batch.max_queue_size, endpoint);
    let exporter = CountingExporter {
        inner: exporter,
        redactor: redactor.clone(),
        accounting: accounting.clone(),
    };
    // The gate above keeps at most max_queue_size spans in flight, so the SDK's own queue
    // (sized with room for one batch being exported) never overflows uncounted.
    let processor = BatchSpanProcessor::builder(exporter)
        .with_batch_config(
            BatchConfigBuilder::default()
                .with_max_queue_size(batch.max_queue_size + batch.max_export_batch_size)
                .with_max_export_batch_size(batch.max_export_batch_size)
                .with_scheduled_delay(batch.scheduled_delay)
                .build(),
        )
        .build();
    let guarded = GuardedProcessor {
        inner: processor,
        accounting,
    };
    let builder = opentelemetry_sdk::trace::SdkTracerProvider::builder().with_resource(resource);
    let head = HeadSampling::new(sampler, config.keep_traces().is_some());
    match config.keep_traces() {
        Some(policy) => {
            let held = keep::Held::new(policy.clone());
            let provider = builder
                .with_span_processor(keep::KeepProcessor {
                    inner: guarded,
                    held: held.clone(),
                })
                .with_sampler(keep::KeepSampler(sdk_sampler(sampler)))
                .build();
            Traces {
                provider,
                held: Some(held),
                head,
            }
        }
        None => Traces {
            provider: builder
                .with_span_processor(guarded)
                .with_sampler(sdk_sampler(sampler))
                .build(),
            held: None,
            head,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_from_attributes() {
        let r = Redactor::default();
        let mut attrs = vec![
            KeyValue::new("http.request.header.authorization", "Bearer abc"),
            KeyValue::new("note", "card 4111 1111 1111 1111"),
            KeyValue::new("http.route", "/users/{id}"),
        ];
        redact_attributes(&r, &mut attrs);
        assert_eq!(attrs[0].value, Value::from(REDACTED));
        assert_eq!(attrs[1].value.as_str(), "card [REDACTED]");
        assert_eq!(attrs[2].value.as_str(), "/users/{id}");
    }
}
