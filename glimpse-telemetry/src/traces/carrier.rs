//! The tracer, carried by a layer of the subscriber so adapters find it from the current
//! dispatcher ([`tracer`]).

use std::sync::atomic::{AtomicUsize, Ordering};

use super::head::HeadSampling;

/// The tracer of the current `tracing` dispatcher (the one `init` installed, or the one
/// [`Builder::build`](crate::Builder::build) returned and the caller made current), for adapters
/// that build OpenTelemetry spans directly; `None` when traces are off.
///
/// ```
/// // Without telemetry there is no tracer.
/// assert!(glimpse_telemetry::traces::tracer().is_none());
/// ```
pub fn tracer() -> Option<opentelemetry_sdk::trace::SdkTracer> {
    tracer_with_head_sampling().map(|(tracer, _)| tracer)
}

/// [`tracer`], with what head sampling decides before a span is built ([`HeadSampling`]), in
/// one look-up: an adapter that starts a span per request or query skips building the ones
/// the sampler refuses anyway.
///
/// ```
/// use glimpse_telemetry::otel::Context;
///
/// // Without telemetry there is no tracer.
/// assert!(glimpse_telemetry::traces::tracer_with_head_sampling().is_none());
///
/// let (tracer, head) = glimpse_telemetry::testing::Capture::new()
///     .run(glimpse_telemetry::traces::tracer_with_head_sampling)
///     .expect("a tracer");
/// // The capture samples every span: none is refused before it is built.
/// assert!(!head.refuses(&Context::new()));
/// # drop(tracer);
/// ```
pub fn tracer_with_head_sampling() -> Option<(opentelemetry_sdk::trace::SdkTracer, HeadSampling)> {
    // With traces off (`OTEL_SDK_DISABLED`) no carrier exists, and the look-up below would ask
    // every layer before failing: about 250 instructions on each request.
    if CARRIERS_BUILT.load(Ordering::Relaxed) == 0 {
        return None;
    }
    tracing::dispatcher::get_default(|d| {
        d.downcast_ref::<TracerHandle>().map(|h| (h.0.clone(), h.1))
    })
}

/// What [`TracerLayer`] exposes through the dispatcher.
pub(crate) struct TracerHandle(opentelemetry_sdk::trace::SdkTracer, HeadSampling);

/// A layer that does nothing but carry the tracer, so [`tracer`] can find it from a dispatcher.
/// It rides inside the span-fields layer, under that layer's filter (see `subscriber.rs`).
pub(crate) struct TracerLayer(TracerHandle);

/// How many [`TracerLayer`]s this process has built (never decreases: a count, not a census).
static CARRIERS_BUILT: AtomicUsize = AtomicUsize::new(0);

impl TracerLayer {
    pub(crate) fn new(tracer: opentelemetry_sdk::trace::SdkTracer, head: HeadSampling) -> Self {
        CARRIERS_BUILT.fetch_add(1, Ordering::Relaxed);
        TracerLayer(TracerHandle(tracer, head))
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for TracerLayer {
    // SAFETY: each pointer returned points to a value of exactly the type asked for (the handle
    // field, or the layer itself), valid for as long as `self` is.
    unsafe fn downcast_raw(&self, id: std::any::TypeId) -> Option<*const ()> {
        if id == std::any::TypeId::of::<TracerHandle>() {
            Some(&self.0 as *const TracerHandle as *const ())
        } else if id == std::any::TypeId::of::<Self>() {
            Some(self as *const Self as *const ())
        } else {
            None
        }
    }
}
