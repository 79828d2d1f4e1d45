//! Gets log lines to stdout without ever making a request wait for it.
//!
//! A request thread appends its finished line to a shared buffer (one short lock, one copy); a
//! dedicated thread swaps the buffer out and writes it in one call. When stdout cannot keep up
//! (a full pipe, a stalled shipper) the buffer stops at [`MAX_BUFFERED`] and further lines are
//! dropped and counted in `glimpse_telemetry_log_lines_dropped_total`, instead of blocking or
//! growing memory. Waking a thread costs a system call (microseconds, more than formatting the
//! line), so the writer is only woken when the buffer goes from empty to not empty, and then
//! waits [`COALESCE`] before writing, collecting the lines that arrive meanwhile: at most one
//! wake-up per [`COALESCE`], however busy the service.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::metrics::Counter;

/// Bytes of log lines held while the output is slow; past this, lines are dropped and counted.
pub(crate) const MAX_BUFFERED: usize = 8 * 1024 * 1024;

/// How long the writer collects lines after being woken; also the most a line waits.
pub(crate) const COALESCE: Duration = Duration::from_millis(5);

struct State {
    buf: Vec<u8>,
    writer_idle: bool,
    closed: bool,
}

/// The lines waiting for the writer thread, shared by the request threads that append them and
/// the thread that writes them out.
pub(crate) struct LineBuffer {
    state: Mutex<State>,
    wake: Condvar,
    out: Mutex<Box<dyn Write + Send>>,
    dropped: Counter,
    max_buffered: usize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Where finished lines go. Cheap to clone.
#[derive(Clone)]
pub(crate) enum LogSink {
    /// Through the writer thread (production).
    Background(Arc<LineBuffer>),
    /// Written in the calling thread (tests, which read their lines right after logging).
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    Direct(Arc<Mutex<Box<dyn Write + Send>>>),
}

impl LogSink {
    /// Starts the writer thread over `out`.
    pub(crate) fn background(
        out: Box<dyn Write + Send>,
        dropped: Counter,
    ) -> std::io::Result<(LogSink, JoinHandle<()>)> {
        Self::background_with_limit(out, dropped, MAX_BUFFERED)
    }

    fn background_with_limit(
        out: Box<dyn Write + Send>,
        dropped: Counter,
        max_buffered: usize,
    ) -> std::io::Result<(LogSink, JoinHandle<()>)> {
        let shared = Arc::new(LineBuffer {
            state: Mutex::new(State {
                buf: Vec::with_capacity(64 * 1024),
                writer_idle: false,
                closed: false,
            }),
            wake: Condvar::new(),
            out: Mutex::new(out),
            dropped,
            max_buffered,
        });
        let thread_shared = shared.clone();
        let handle = std::thread::Builder::new()
            .name("glimpse-log-writer".into())
            .spawn(move || run(&thread_shared))?;
        Ok((LogSink::Background(shared), handle))
    }

    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    pub(crate) fn direct(out: Box<dyn Write + Send>) -> LogSink {
        LogSink::Direct(Arc::new(Mutex::new(out)))
    }

    /// Hands over one finished line (with its newline).
    pub(crate) fn write_line(&self, line: &[u8]) {
        match self {
            LogSink::Background(shared) => {
                let mut st = lock(&shared.state);
                if st.closed {
                    // After shutdown there is no writer thread: late lines go out directly.
                    drop(st);
                    let _ = lock(&shared.out).write_all(line);
                    return;
                }
                if st.buf.len() + line.len() > shared.max_buffered {
                    drop(st);
                    shared.dropped.inc();
                    return;
                }
                st.buf.extend_from_slice(line);
                if st.writer_idle {
                    st.writer_idle = false;
                    shared.wake.notify_one();
                }
            }
            LogSink::Direct(out) => {
                let _ = lock(out).write_all(line);
            }
        }
    }

    /// Waits until every line handed over so far is written, or `timeout` passes.
    pub(crate) fn flush(&self, timeout: Duration) -> bool {
        match self {
            LogSink::Background(shared) => {
                let deadline = Instant::now() + timeout;
                loop {
                    {
                        let st = lock(&shared.state);
                        if st.buf.is_empty() && (st.writer_idle || st.closed) {
                            return true;
                        }
                    }
                    if Instant::now() >= deadline {
                        return false;
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            LogSink::Direct(out) => {
                let _ = lock(out).flush();
                true
            }
        }
    }

    /// Writes what is buffered and stops the writer thread; later lines are written directly.
    pub(crate) fn close(&self) {
        if let LogSink::Background(shared) = self {
            let mut st = lock(&shared.state);
            st.closed = true;
            shared.wake.notify_one();
        }
    }
}

fn run(shared: &LineBuffer) {
    let mut batch: Vec<u8> = Vec::with_capacity(64 * 1024);
    loop {
        {
            let mut st = lock(&shared.state);
            while st.buf.is_empty() && !st.closed {
                st.writer_idle = true;
                st = shared.wake.wait(st).unwrap_or_else(|e| e.into_inner());
            }
            st.writer_idle = false;
            if st.buf.is_empty() && st.closed {
                return;
            }
            if !st.closed {
                // Let more lines arrive before writing (producers do not wake us meanwhile).
                drop(st);
                std::thread::sleep(COALESCE);
                st = lock(&shared.state);
            }
            std::mem::swap(&mut st.buf, &mut batch);
        }
        let mut out = lock(&shared.out);
        // A failing stdout (closed pipe) must not kill the thread or the service: the lines
        // are lost, which is all that can be done with them.
        let _ = out.write_all(&batch);
        let _ = out.flush();
        drop(out);
        batch.clear();
        if batch.capacity() > 1024 * 1024 {
            batch.shrink_to(64 * 1024);
        }
    }
}

/// Starts what the configuration asks of log output: for JSON lines, the writer thread over
/// `out` (stdout when `None`), its dropped lines counted; nothing for the pretty format (its
/// lines go straight to stdout through tracing-subscriber's fmt layer).
///
/// # Errors
/// The writer thread could not be spawned.
pub(crate) fn start(
    config: &crate::config::LogsConfig,
    out: Option<Box<dyn Write + Send>>,
) -> Result<Option<(LogSink, JoinHandle<()>)>, crate::Error> {
    match config.log_format {
        crate::config::LogFormat::Json => {
            let out = out.unwrap_or_else(|| Box::new(std::io::stdout()));
            let dropped = crate::metrics::catalogue::GLIMPSE_TELEMETRY_LOG_LINES_DROPPED
                .series::<Counter>(&[]);
            LogSink::background(out, dropped)
                .map(Some)
                .map_err(|e| crate::Error::setup("log writer thread", e))
        }
        crate::config::LogFormat::Pretty => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that blocks until told to go on, like a full pipe.
    struct Gate(Arc<(Mutex<bool>, Condvar)>, Arc<Mutex<Vec<u8>>>);
    impl Write for Gate {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            let (open, cv) = &*self.0;
            let mut g = open.lock().unwrap();
            while !*g {
                g = cv.wait(g).unwrap();
            }
            self.1.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stalled_output_drops_and_counts_instead_of_blocking() {
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let written = Arc::new(Mutex::new(Vec::new()));
        let dropped = Counter::default();
        let (sink, handle) = LogSink::background_with_limit(
            Box::new(Gate(gate.clone(), written.clone())),
            dropped.clone(),
            1000,
        )
        .unwrap();
        let line = [b'x'; 99];
        for _ in 0..1000 {
            sink.write_line(&line); // never blocks, though the output is stuck
        }
        assert!(dropped.get() >= 1000 - 20, "dropped {}", dropped.get());
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
        assert!(sink.flush(Duration::from_secs(5)));
        sink.close();
        handle.join().unwrap();
        let n = written.lock().unwrap().len();
        assert_eq!(n as u64 + dropped.get() * 99, 1000 * 99);
    }

    #[test]
    fn lines_after_close_are_written_directly() {
        let buf = Arc::new(Mutex::new(Vec::new()));
        struct SharedOut(Arc<Mutex<Vec<u8>>>);
        impl Write for SharedOut {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let (sink, handle) =
            LogSink::background(Box::new(SharedOut(buf.clone())), Counter::default()).unwrap();
        sink.write_line(b"one\n");
        sink.close();
        handle.join().unwrap();
        sink.write_line(b"two\n");
        assert_eq!(&*buf.lock().unwrap(), b"one\ntwo\n");
    }
}
