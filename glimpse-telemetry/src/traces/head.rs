//! Head sampling known before a span is built: when the configured sampler refuses a span
//! whatever its trace id (`always_off`, or a parent that was not sampled under
//! `parentbased_*`) and "keep errors and slow" is off, nothing of the span is recorded, so an
//! adapter need not build it. It then skips the SDK's span builder, the attribute list it
//! would allocate and the span's drop, and propagates only the ids, made as the SDK makes
//! them: the parent's trace id (or a new one), a new span id, the flags "not sampled", the
//! parent's trace state. The other way round, when the sampler records a span whatever its
//! trace id (`always_on`, a sampled parent under `parentbased_*`, or "keep errors and slow"
//! on), an adapter can make its attributes before the start and hand them to the builder in
//! one list ([`HeadSampling::records`]).
//!
//! Derived from the configuration the tracer provider's sampler is built from (`sdk_sampler`),
//! not by asking that sampler: the SDK (0.33) draws the trace id of a root span itself, after
//! any question an adapter could ask, so only a decision that cannot depend on the trace id is
//! known in advance. Every other case answers "build it" and the SDK decides as before.

use opentelemetry::Context;
use opentelemetry::trace::{SpanContext, TraceContextExt as _, TraceFlags};
use opentelemetry_sdk::trace::{IdGenerator as _, RandomIdGenerator};

use crate::config::Sampler;

/// What head sampling decides before a span is built, for the tracer
/// [`tracer_with_head_sampling`](crate::traces::tracer_with_head_sampling) returns.
///
/// The default never refuses (every span is built and the SDK's sampler decides).
///
/// ```
/// use glimpse_telemetry::otel::Context;
/// use glimpse_telemetry::traces::HeadSampling;
///
/// assert!(!HeadSampling::default().refuses(&Context::new()));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeadSampling {
    rule: Rule,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Rule {
    /// The sampler decides from the trace id (a ratio strictly between 0 and 1).
    #[default]
    Asks,
    /// Every span is recorded (`always_on`, a ratio of 1, or "keep errors and slow").
    Records,
    /// Every span is refused.
    Refuses,
    /// The parent's sampled flag decides; without a parent, `root` (never `ParentBased`).
    ParentBased { root: Root },
}

/// The rule for a span without a parent under `parentbased_*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Root {
    Asks,
    Records,
    Refuses,
}

impl HeadSampling {
    /// The rule of `sampler`; `keeps`: "keep errors and slow" records what it refuses.
    pub(crate) fn new(sampler: &Sampler, keeps: bool) -> HeadSampling {
        fn root(s: &Sampler) -> Root {
            match s {
                Sampler::AlwaysOn => Root::Records,
                Sampler::AlwaysOff => Root::Refuses,
                // The SDK's ratio sampler drops every trace id at a ratio of 0 or below, and
                // keeps every one at 1 or above.
                Sampler::TraceIdRatio(r) if *r <= 0.0 => Root::Refuses,
                Sampler::TraceIdRatio(r) if *r >= 1.0 => Root::Records,
                Sampler::TraceIdRatio(_) | Sampler::ParentBased(_) => Root::Asks,
            }
        }
        let rule = match sampler {
            _ if keeps => Rule::Records,
            Sampler::ParentBased(r) => Rule::ParentBased { root: root(r) },
            s => match root(s) {
                Root::Asks => Rule::Asks,
                Root::Records => Rule::Records,
                Root::Refuses => Rule::Refuses,
            },
        };
        HeadSampling { rule }
    }

    /// What the rule says of a span under `parent`, when it does not depend on the trace id.
    #[inline]
    fn decided(&self, parent: &Context) -> Root {
        match self.rule {
            Rule::Asks => Root::Asks,
            // A suppressed context gets the SDK's empty span; leave it to the SDK.
            _ if parent.is_telemetry_suppressed() => Root::Asks,
            Rule::Records => Root::Records,
            Rule::Refuses => Root::Refuses,
            // As the SDK's `Sampler::ParentBased`: any active span is the parent, valid or not.
            Rule::ParentBased { root } => {
                if !parent.has_active_span() {
                    root
                } else if parent.span().span_context().is_sampled() {
                    Root::Records
                } else {
                    Root::Refuses
                }
            }
        }
    }

    /// Whether a span started under `parent` is refused whatever its trace id, so nothing of
    /// it would be recorded.
    ///
    /// ```
    /// use glimpse_telemetry::otel::Context;
    /// use glimpse_telemetry::traces::HeadSampling;
    ///
    /// // Without telemetry configured, spans are built and the SDK decides.
    /// let head = glimpse_telemetry::traces::tracer_with_head_sampling()
    ///     .map(|(_, head)| head)
    ///     .unwrap_or_default();
    /// assert!(!head.refuses(&Context::new()));
    /// ```
    #[inline]
    pub fn refuses(&self, parent: &Context) -> bool {
        self.decided(parent) == Root::Refuses
    }

    /// Whether a span started under `parent` is recorded whatever its trace id, so its
    /// attributes can be made before it is started (handed to the span builder in one list).
    ///
    /// ```
    /// use glimpse_telemetry::otel::Context;
    /// use glimpse_telemetry::traces::HeadSampling;
    ///
    /// // The default leaves every decision to the SDK's sampler.
    /// assert!(!HeadSampling::default().records(&Context::new()));
    ///
    /// let (_, head) = glimpse_telemetry::testing::Capture::new()
    ///     .run(glimpse_telemetry::traces::tracer_with_head_sampling)
    ///     .expect("a tracer");
    /// // The capture records every span.
    /// assert!(head.records(&Context::new()));
    /// ```
    #[inline]
    pub fn records(&self, parent: &Context) -> bool {
        self.decided(parent) == Root::Records
    }

    /// The ids of a span started under `parent` when it is refused ([`refuses`](Self::refuses)):
    /// what its child spans and outgoing calls propagate, as the SDK would make them. `None`
    /// when the span is to be built.
    ///
    /// ```
    /// use glimpse_telemetry::otel::Context;
    /// use glimpse_telemetry::traces::HeadSampling;
    ///
    /// assert!(HeadSampling::default().refused(&Context::new()).is_none());
    /// ```
    pub fn refused(&self, parent: &Context) -> Option<SpanContext> {
        if !self.refuses(parent) {
            return None;
        }
        let ids = RandomIdGenerator::default();
        let span = parent.span();
        let psc = span.span_context();
        let trace_id = if psc.is_valid() {
            psc.trace_id()
        } else {
            ids.new_trace_id()
        };
        Some(SpanContext::new(
            trace_id,
            ids.new_span_id(),
            TraceFlags::default(),
            false,
            psc.trace_state().clone(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{
        SpanId, SpanKind, TraceId, TraceState, Tracer as _, TracerProvider as _,
    };
    use opentelemetry_sdk::trace::SdkTracerProvider;

    use super::*;
    use crate::traces::{keep, sdk_sampler};

    fn parents() -> Vec<(&'static str, Context)> {
        let trace = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
        let span = SpanId::from_hex("00f067aa0ba902b7").unwrap();
        let state = TraceState::from_key_value([("vendor", "x")]).unwrap();
        let cx = |sampled: bool, remote: bool| {
            let flags = if sampled {
                TraceFlags::SAMPLED
            } else {
                TraceFlags::default()
            };
            let sc = SpanContext::new(trace, span, flags, remote, state.clone());
            Context::new().with_remote_span_context(sc)
        };
        vec![
            ("no parent", Context::new()),
            ("remote sampled", cx(true, true)),
            ("remote not sampled", cx(false, true)),
            ("local sampled", cx(true, false)),
            ("local not sampled", cx(false, false)),
            (
                "invalid active span",
                Context::new().with_remote_span_context(SpanContext::empty_context()),
            ),
        ]
    }

    fn samplers() -> Vec<Sampler> {
        let pb = |s| Sampler::ParentBased(Box::new(s));
        vec![
            Sampler::AlwaysOn,
            Sampler::AlwaysOff,
            Sampler::TraceIdRatio(0.0),
            Sampler::TraceIdRatio(0.5),
            Sampler::TraceIdRatio(1.0),
            pb(Sampler::AlwaysOn),
            pb(Sampler::AlwaysOff),
            pb(Sampler::TraceIdRatio(0.0)),
            pb(Sampler::TraceIdRatio(0.5)),
            pb(Sampler::TraceIdRatio(1.0)),
        ]
    }

    /// Refused exactly when the SDK's own sampler (as the provider is built with it) drops the
    /// span for every trace id tried, recorded exactly when it drops none; a ratio strictly
    /// between 0 and 1 is neither.
    #[test]
    fn refuses_exactly_what_the_sdk_drops_whatever_the_trace_id() {
        let (mut refused, mut recorded) = (0, 0);
        for keeps in [false, true] {
            for sampler in samplers() {
                let head = HeadSampling::new(&sampler, keeps);
                let sdk: Box<dyn opentelemetry_sdk::trace::ShouldSample> = if keeps {
                    Box::new(keep::KeepSampler(sdk_sampler(&sampler)))
                } else {
                    Box::new(sdk_sampler(&sampler))
                };
                for (name, parent) in parents() {
                    let drops: Vec<bool> = (0..64u128)
                        .map(|i| {
                            let id = TraceId::from(
                                i.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835) | 1,
                            );
                            let r = sdk.should_sample(
                                Some(&parent),
                                id,
                                "s",
                                &SpanKind::Server,
                                &[],
                                &[],
                            );
                            r.decision == opentelemetry_sdk::trace::SamplingDecision::Drop
                        })
                        .collect();
                    let always = drops.iter().all(|d| *d);
                    assert_eq!(
                        head.refuses(&parent),
                        always,
                        "{sampler:?}, keeps {keeps}, {name}: {drops:?}"
                    );
                    refused += usize::from(always);
                    let never = drops.iter().all(|d| !*d);
                    assert_eq!(
                        head.records(&parent),
                        never,
                        "records: {sampler:?}, keeps {keeps}, {name}: {drops:?}"
                    );
                    recorded += usize::from(never);
                }
            }
        }
        assert!(refused > 10, "the cases cover refusals: {refused}");
        assert!(recorded > 10, "the cases cover recordings: {recorded}");
    }

    /// The refused span's ids are what the SDK gives a span it drops: the parent's trace and
    /// trace state, a new span id, not sampled, not remote.
    #[test]
    fn a_refused_span_has_the_ids_the_sdk_would_give_it() {
        let sampler = Sampler::ParentBased(Box::new(Sampler::AlwaysOff));
        let head = HeadSampling::new(&sampler, false);
        let provider = SdkTracerProvider::builder()
            .with_sampler(sdk_sampler(&sampler))
            .build();
        let tracer = provider.tracer("t");
        for (name, parent) in parents() {
            let Some(ours) = head.refused(&parent) else {
                assert!(
                    parent.span().span_context().is_sampled(),
                    "{name}: only a sampled parent is built"
                );
                continue;
            };
            let sdk = tracer.start_with_context("s", &parent);
            let theirs = opentelemetry::trace::Span::span_context(&sdk);
            assert!(ours.is_valid(), "{name}");
            assert_eq!(ours.trace_flags(), theirs.trace_flags(), "{name}");
            assert_eq!(ours.is_remote(), theirs.is_remote(), "{name}");
            assert_eq!(ours.trace_state(), theirs.trace_state(), "{name}");
            assert_ne!(ours.span_id(), parent.span().span_context().span_id());
            if parent.span().span_context().is_valid() {
                assert_eq!(ours.trace_id(), theirs.trace_id(), "{name}");
            }
        }
    }
}
