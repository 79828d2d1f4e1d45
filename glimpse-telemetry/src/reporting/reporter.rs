//! Sends GlitchTip events from a worker thread.
//!
//! Resolving a stack trace's symbols takes milliseconds (14 ms per event in a debug build, as
//! measured by `tests/errors.rs`), which an error storm would pay on every request. The
//! request thread therefore only walks the frames (`Backtrace::new_unresolved`, microseconds),
//! applies the hub's scope and the request's part (its breadcrumbs, transaction and tags) and
//! hands the event over; the worker resolves, attaches the stack trace and sends. The queue is
//! bounded: past it, events are dropped and counted in `glimpse_telemetry_error_events_total{outcome="dropped"}`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use backtrace::Backtrace;
use sentry::protocol::{Event, Thread};

use super::scope::RequestPart;
use crate::metrics::{Counter, catalogue};

/// Events waiting for the worker, at most.
const QUEUE: usize = 256;

struct Pending {
    event: Event<'static>,
    backtrace: Option<Backtrace>,
    client: Arc<sentry::Client>,
}

struct Reporter {
    tx: SyncSender<Pending>,
    pending: Arc<AtomicUsize>,
    captured: Counter,
    dropped: Counter,
}

fn reporter() -> Option<&'static Reporter> {
    static REPORTER: OnceLock<Option<Reporter>> = OnceLock::new();
    REPORTER
        .get_or_init(|| {
            let (tx, rx) = sync_channel::<Pending>(QUEUE);
            let pending = Arc::new(AtomicUsize::new(0));
            let worker_pending = pending.clone();
            let rx = Mutex::new(rx);
            std::thread::Builder::new()
                .name("glimpse-error-reporter".into())
                .spawn(move || run(&rx, &worker_pending))
                .ok()?;
            let c = |outcome: &str| {
                catalogue::GLIMPSE_TELEMETRY_ERROR_EVENTS.series::<Counter>(&[outcome])
            };
            Some(Reporter {
                tx,
                pending,
                captured: c("captured"),
                dropped: c("dropped"),
            })
        })
        .as_ref()
}

/// Hands an event to the worker, with a stack trace of the calling thread when `stack` is set.
/// Applies the current hub's scope and the request's part (`request`, asked only when there is a
/// client: taking it marks the request reported) now, in the capturing thread. No-op without a
/// client.
pub(crate) fn submit(
    mut event: Event<'static>,
    stack: bool,
    request: impl FnOnce() -> Option<RequestPart>,
) {
    let hub = sentry::Hub::current();
    let Some(client) = hub.client().filter(|c| c.is_enabled()) else {
        return;
    };
    let request = request();
    if let Some(r) = &request {
        r.name(&mut event);
    }
    let Some(mut event) = hub.configure_scope(|scope| scope.apply_to_event(event)) else {
        return;
    };
    if let Some(r) = request {
        r.attach(&mut event);
    }
    let Some(r) = reporter() else { return };
    let backtrace = stack.then(Backtrace::new_unresolved);
    r.pending.fetch_add(1, Ordering::SeqCst);
    match r.tx.try_send(Pending {
        event,
        backtrace,
        client,
    }) {
        Ok(()) => r.captured.inc(),
        Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
            r.pending.fetch_sub(1, Ordering::SeqCst);
            r.dropped.inc();
        }
    }
}

/// Waits until every submitted event was handed to its client, or `timeout` passes.
pub(crate) fn flush(timeout: Duration) -> bool {
    let Some(r) = reporter() else { return true };
    let deadline = Instant::now() + timeout;
    while r.pending.load(Ordering::SeqCst) > 0 {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    true
}

fn run(rx: &Mutex<Receiver<Pending>>, pending: &AtomicUsize) {
    let rx = rx.lock().unwrap_or_else(|e| e.into_inner());
    while let Ok(p) = rx.recv() {
        let mut event = p.event;
        if let Some(mut bt) = p.backtrace {
            bt.resolve();
            if let Some(mut st) = sentry::integrations::backtrace::backtrace_to_stacktrace(&bt) {
                // The newest frames are the SDK's own (this module, the tracing layer, the panic
                // machinery) and the std glue between them: drop them, down to the user's frame.
                while st
                    .frames
                    .last()
                    .and_then(|f| f.function.as_deref())
                    .is_some_and(is_sdk_frame)
                {
                    st.frames.pop();
                }
                match event.exception.values.last_mut() {
                    Some(ex) if ex.stacktrace.is_none() => ex.stacktrace = Some(st),
                    Some(_) => {}
                    None => event.threads.values.push(Thread {
                        stacktrace: Some(st),
                        current: true,
                        ..Default::default()
                    }),
                }
            }
        }
        // No scope here: it was applied in the capturing thread.
        p.client.capture_event(event, None);
        pending.fetch_sub(1, Ordering::SeqCst);
    }
}

fn is_sdk_frame(function: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "backtrace::",
        "glimpse_telemetry::reporting",
        "<glimpse_telemetry::reporting",
        // The subscriber's own wrappers of the built-in layers (`NoLifecycle`).
        "glimpse_telemetry::subscriber",
        "<glimpse_telemetry::subscriber",
        "tracing::",
        "tracing_core::",
        "tracing_subscriber::",
        "<tracing",
        "std::",
        "<std::",
        "core::",
        "<core::",
        "alloc::",
        "<alloc::",
        "__rustc::",
        "rust_begin_unwind",
    ];
    PREFIXES.iter().any(|p| function.starts_with(p))
}
