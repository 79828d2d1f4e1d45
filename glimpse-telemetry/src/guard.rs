//! The guard `init` returns: dropping it (or calling [`TelemetryGuard::shutdown`]) flushes
//! spans, error events and log lines, within a time limit even when the collector hangs.

use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::Error;
use crate::logs::writer::LogSink;

/// Keeps telemetry running; flushes and stops it when dropped.
///
/// Hold it for the life of the service, in `main`:
///
/// ```no_run
/// #[tokio::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let _telemetry = glimpse_telemetry::init!()?;
///     // ... run the service ...
///     Ok(())
/// } // dropped here: everything is flushed, within GLIMPSE_SHUTDOWN_TIMEOUT_MS (5 s)
/// ```
#[must_use = "telemetry stops when the guard is dropped; keep it in a variable for the life of main"]
pub struct TelemetryGuard {
    pub(crate) provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
    #[cfg(feature = "sentry")]
    pub(crate) sentry: Option<sentry::ClientInitGuard>,
    pub(crate) logs: Option<(LogSink, JoinHandle<()>)>,
    pub(crate) runtime: Option<tokio::runtime::Runtime>,
    pub(crate) timeout: Duration,
    pub(crate) metrics_addr: Option<std::net::SocketAddr>,
}

impl std::fmt::Debug for TelemetryGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryGuard")
            .field("traces", &self.provider.is_some())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl TelemetryGuard {
    /// Where the SDK's own `/metrics` listens (`GLIMPSE_METRICS_ADDR`), with the real port when
    /// the address asked for port 0.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.metrics_addr
    }

    /// Exports what is pending now, without stopping (waits at most the shutdown timeout).
    pub fn flush(&self) {
        let deadline = Instant::now() + self.timeout;
        if let Some(p) = &self.provider {
            let p = p.clone();
            run_with_deadline(deadline, move || {
                let _ = p.force_flush();
            });
        }
        #[cfg(feature = "sentry")]
        if let Some(client) = sentry::Hub::main().client() {
            crate::reporting::reporter::flush(deadline.saturating_duration_since(Instant::now()));
            client.flush(Some(deadline.saturating_duration_since(Instant::now())));
        }
        if let Some((sink, _)) = &self.logs {
            sink.flush(deadline.saturating_duration_since(Instant::now()));
        }
    }

    /// Flushes and stops everything, and says whether it finished in time.
    ///
    /// # Errors
    /// [`Error::ShutdownTimeout`] when the collector or GlitchTip did not answer in time; what
    /// was not sent by then is dropped and the call returns anyway.
    pub fn shutdown(mut self) -> Result<(), Error> {
        self.shutdown_inner()
    }

    fn shutdown_inner(&mut self) -> Result<(), Error> {
        let deadline = Instant::now() + self.timeout;
        let provider = self.provider.take();
        #[cfg(feature = "sentry")]
        let sentry = self.sentry.take();
        #[cfg(not(feature = "sentry"))]
        let sentry: Option<()> = None;
        let timeout = self.timeout;
        let finished = if provider.is_some() || sentry.is_some() {
            run_with_deadline(deadline, move || {
                if let Some(p) = provider {
                    let _ = p.shutdown_with_timeout(timeout);
                }
                #[cfg(feature = "sentry")]
                if let Some(guard) = sentry {
                    crate::reporting::reporter::flush(
                        deadline.saturating_duration_since(Instant::now()),
                    );
                    if let Some(client) = sentry::Hub::main().client() {
                        client.close(Some(deadline.saturating_duration_since(Instant::now())));
                    }
                    drop(guard);
                }
                #[cfg(not(feature = "sentry"))]
                let _ = sentry;
            })
        } else {
            true
        };
        if !finished {
            tracing::warn!(
                target: "glimpse_telemetry",
                timeout_ms = self.timeout.as_millis() as u64,
                "telemetry shutdown timed out; unsent spans and error events were dropped"
            );
        }
        // Log lines last, so the lines above get out too; give them a moment even when the
        // deadline has passed.
        if let Some((sink, _writer)) = self.logs.take() {
            sink.flush(
                deadline
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(200)),
            );
            sink.close();
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
        if finished {
            Ok(())
        } else {
            Err(Error::ShutdownTimeout(self.timeout))
        }
    }
}

/// Runs `f` on its own thread and waits for it until `deadline`; returns whether it finished.
/// The thread is left behind if it does not (the process is shutting down anyway).
fn run_with_deadline(deadline: Instant, f: impl FnOnce() + Send + 'static) -> bool {
    let (tx, rx) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("glimpse-telemetry-shutdown".into())
        .spawn(move || {
            f();
            let _ = tx.send(());
        });
    if spawned.is_err() {
        return false;
    }
    rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
        .is_ok()
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        let _ = self.shutdown_inner();
    }
}
