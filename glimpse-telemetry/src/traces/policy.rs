//! What "keep errors and slow" keeps ([`KeepTraces`]): plain settings, read by the
//! configuration and by the store in `keep.rs`.

use std::time::Duration;

/// The held spans are split over this many shards (see `keep.rs`).
pub(crate) const SHARDS: usize = 16;

/// Which traces that head sampling refused are kept anyway, and how much may be held while
/// their requests run. Set it with [`Builder::keep_traces`](crate::Builder::keep_traces) or
/// `GLIMPSE_TRACES_KEEP` / `GLIMPSE_TRACES_SLOW_THRESHOLD` (see `docs/configuration.md`).
///
/// The default keeps errors and requests of 1 s or more, holding at most 256 spans per trace
/// and 10 000 in the process. It is on by default when `OTEL_TRACES_SAMPLER` is a ratio
/// sampler; with `always_on` every trace is exported anyway.
///
/// ```
/// use std::time::Duration;
/// use glimpse_telemetry::traces::KeepTraces;
///
/// let keep = KeepTraces::default().slow_threshold(Some(Duration::from_millis(500)));
/// assert!(keep.keeps_errors());
/// assert_eq!(keep.slow(), Some(Duration::from_millis(500)));
/// assert!(KeepTraces::off().is_off());
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct KeepTraces {
    errors: bool,
    slow: Option<Duration>,
    max_spans_per_trace: usize,
    max_held_spans: usize,
}

impl Default for KeepTraces {
    fn default() -> Self {
        KeepTraces {
            errors: true,
            slow: Some(Duration::from_secs(1)),
            max_spans_per_trace: 256,
            max_held_spans: 10_000,
        }
    }
}

impl KeepTraces {
    /// Keeps nothing: head sampling alone decides (`GLIMPSE_TRACES_KEEP=none`).
    ///
    /// ```
    /// assert!(glimpse_telemetry::traces::KeepTraces::off().is_off());
    /// ```
    pub fn off() -> Self {
        KeepTraces {
            errors: false,
            slow: None,
            ..KeepTraces::default()
        }
    }

    /// Whether a failed request (5xx, panic, cancelled, an error span or an ERROR log line)
    /// keeps its trace.
    ///
    /// ```
    /// let keep = glimpse_telemetry::traces::KeepTraces::default().errors(false);
    /// assert!(!keep.keeps_errors());
    /// ```
    pub fn errors(mut self, keep: bool) -> Self {
        self.errors = keep;
        self
    }

    /// A local root lasting at least this long keeps its trace; `None` keeps no trace for
    /// being slow.
    ///
    /// ```
    /// let keep = glimpse_telemetry::traces::KeepTraces::default().slow_threshold(None);
    /// assert_eq!(keep.slow(), None);
    /// ```
    pub fn slow_threshold(mut self, threshold: Option<Duration>) -> Self {
        self.slow = threshold;
        self
    }

    /// At most this many spans held per trace (at least 1); more are discarded and counted.
    ///
    /// ```
    /// let keep = glimpse_telemetry::traces::KeepTraces::default().max_spans_per_trace(64);
    /// assert_eq!(keep.spans_per_trace(), 64);
    /// ```
    pub fn max_spans_per_trace(mut self, n: usize) -> Self {
        self.max_spans_per_trace = n.max(1);
        self
    }

    /// At most about this many spans held in the process (at least one per shard); more are
    /// discarded and counted.
    ///
    /// ```
    /// let keep = glimpse_telemetry::traces::KeepTraces::default().max_held_spans(2_000);
    /// assert_eq!(keep.held_spans(), 2_000);
    /// ```
    pub fn max_held_spans(mut self, n: usize) -> Self {
        self.max_held_spans = n.max(SHARDS);
        self
    }

    /// Whether failed requests keep their traces.
    pub fn keeps_errors(&self) -> bool {
        self.errors
    }

    /// The slow threshold, if slow requests keep their traces.
    pub fn slow(&self) -> Option<Duration> {
        self.slow
    }

    /// The bound on spans held per trace.
    pub fn spans_per_trace(&self) -> usize {
        self.max_spans_per_trace
    }

    /// The bound on spans held in the process.
    pub fn held_spans(&self) -> usize {
        self.max_held_spans
    }

    /// Whether nothing is kept (head sampling alone decides).
    pub fn is_off(&self) -> bool {
        !self.errors && self.slow.is_none()
    }
}
