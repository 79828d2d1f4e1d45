//! Head sampling known before a span is built: when the configured sampler refuses a span
//! whatever its trace id (`always_off`, or a parent that was not sampled under
//! `parentbased_*`) and "keep errors and slow" is off, nothing of the span is recorded, so an
//! adapter need not build it. It then skips the SDK's span builder, the attribute list it
//! would allocate and the span's drop, and propagates only the ids, made as the SDK makes
//! them: the parent's trace id (or a new one), a new span id, the flags "not sampled", the
//! parent's trace state.
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
    /// The sampler decides (it may need the trace id), or every span is recorded.
    #[default]
    Builds,
    /// Every span is refused.
    Refuses,
    /// The parent's sampled flag decides; without a parent, `root_refuses`.
    ParentBased { root_refuses: bool },
}

impl HeadSampling {
    /// The rule of `sampler`; `keeps`: "keep errors and slow" records what it refuses.
    pub(crate) fn new(sampler: &Sampler, keeps: bool) -> HeadSampling {
        fn rule(s: &Sampler) -> Rule {
            match s {
                Sampler::AlwaysOn => Rule::Builds,
                Sampler::AlwaysOff => Rule::Refuses,
                // The SDK's ratio sampler drops every trace id at a ratio of 0 or below.
                Sampler::TraceIdRatio(r) if *r <= 0.0 => Rule::Refuses,
                Sampler::TraceIdRatio(_) => Rule::Builds,
                Sampler::ParentBased(root) => Rule::ParentBased {
                    root_refuses: rule(root) == Rule::Refuses,
                },
            }
        }
        HeadSampling {
            rule: if keeps { Rule::Builds } else { rule(sampler) },
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
        match self.rule {
            Rule::Builds => false,
            // A suppressed context gets the SDK's empty span; leave it to the SDK.
            _ if parent.is_telemetry_suppressed() => false,
            Rule::Refuses => true,
            // As the SDK's `Sampler::ParentBased`: any active span is the parent, valid or not.
            Rule::ParentBased { root_refuses } => {
                if parent.has_active_span() {
                    !parent.span().span_context().is_sampled()
                } else {
                    root_refuses
                }
            }
        }
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
            pb(Sampler::AlwaysOn),
            pb(Sampler::AlwaysOff),
            pb(Sampler::TraceIdRatio(0.0)),
            pb(Sampler::TraceIdRatio(0.5)),
        ]
    }

    /// Refused exactly when the SDK's own sampler (as the provider is built with it) drops the
    /// span for every trace id tried; a ratio strictly between 0 and 1 is never refused.
    #[test]
    fn refuses_exactly_what_the_sdk_drops_whatever_the_trace_id() {
        let mut refused = 0;
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
                }
            }
        }
        assert!(refused > 10, "the cases cover refusals: {refused}");
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
