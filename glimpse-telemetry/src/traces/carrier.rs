//! The tracer, carried by a layer of the subscriber so adapters find it from the current
//! dispatcher ([`tracer`]).

/// The tracer of the current `tracing` dispatcher (the one `init` installed, or the one
/// [`Builder::build`](crate::Builder::build) returned and the caller made current), for adapters
/// that build OpenTelemetry spans directly; `None` when traces are off.
///
/// ```
/// // Without telemetry there is no tracer.
/// assert!(glimpse_telemetry::traces::tracer().is_none());
/// ```
pub fn tracer() -> Option<opentelemetry_sdk::trace::SdkTracer> {
    tracing::dispatcher::get_default(|d| d.downcast_ref::<TracerHandle>().map(|h| h.0.clone()))
}

/// What [`TracerLayer`] exposes through the dispatcher.
pub(crate) struct TracerHandle(opentelemetry_sdk::trace::SdkTracer);

/// A layer that does nothing but carry the tracer, so [`tracer`] can find it from a dispatcher.
/// It rides inside the span-fields layer, under that layer's filter (see `subscriber.rs`).
pub(crate) struct TracerLayer(TracerHandle);

impl TracerLayer {
    pub(crate) fn new(tracer: opentelemetry_sdk::trace::SdkTracer) -> Self {
        TracerLayer(TracerHandle(tracer))
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
