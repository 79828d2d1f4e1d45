//! Tokio runtime metrics, read at scrape time from the stable
//! [`RuntimeMetrics`](tokio::runtime::RuntimeMetrics) API (nothing that needs
//! `--cfg tokio_unstable`): worker threads, alive tasks, the global queue's depth, and per
//! worker its busy time and how often it parked. A saturated runtime shows as busy time close
//! to one second per second per worker and a global queue that does not drain; a worker that
//! a blocking call holds shows as one worker busy all the time while it never parks.
//!
//! [`init`](crate::init()) registers the runtime it is called in (the one of `#[tokio::main]`);
//! call [`register`] for another runtime, or when `init` ran outside one.
//!
//! ```
//! use glimpse_telemetry::metrics::{self, Format, runtime};
//!
//! let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build()?;
//! runtime::register(rt.handle());
//! rt.block_on(async { tokio::spawn(async {}).await })?;
//! let text = metrics::encode(Format::Text);
//! assert!(text.contains("# TYPE tokio_runtime_workers gauge"));
//! assert!(text.contains("# TYPE tokio_runtime_worker_busy_duration_seconds_total counter"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::atomic::{AtomicBool, Ordering};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Unit as PromUnit;
use tokio::runtime::Handle;

use super::catalogue::{
    MetricDef, TOKIO_RUNTIME_ALIVE_TASKS, TOKIO_RUNTIME_GLOBAL_QUEUE_DEPTH,
    TOKIO_RUNTIME_WORKER_BUSY_DURATION, TOKIO_RUNTIME_WORKER_PARKS, TOKIO_RUNTIME_WORKERS,
};

/// Reads one runtime's metrics when `/metrics` is scraped.
#[derive(Debug)]
struct RuntimeCollector {
    handle: Handle,
}

/// Exposes the metrics of the runtime behind `handle` (`tokio_runtime_*`). One runtime per
/// process: the catalogue's names have no runtime label, so later calls do nothing and return
/// `false`.
///
/// ```
/// let rt = tokio::runtime::Builder::new_current_thread().build()?;
/// glimpse_telemetry::metrics::runtime::register(rt.handle());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn register(handle: &Handle) -> bool {
    static REGISTERED: AtomicBool = AtomicBool::new(false);
    if REGISTERED.swap(true, Ordering::SeqCst) {
        return false;
    }
    super::register_collector(Box::new(RuntimeCollector {
        handle: handle.clone(),
    }));
    true
}

/// Registers the current runtime, if `init` runs in one.
pub(crate) fn register_current() {
    if let Ok(handle) = Handle::try_current() {
        register(&handle);
    }
}

/// The name prometheus-client is given: without the unit suffix (it appends it) and without
/// `_total` (it appends it to counters).
fn base(def: &MetricDef) -> &'static str {
    match def.unit {
        Some(u) => def
            .name
            .strip_suffix(u.suffix())
            .and_then(|n| n.strip_suffix('_'))
            .unwrap_or(def.name),
        None => def.name,
    }
}

fn gauge(encoder: &mut DescriptorEncoder, def: &MetricDef, v: usize) -> std::fmt::Result {
    let g = ConstGauge::new(i64::try_from(v).unwrap_or(i64::MAX));
    g.encode(encoder.encode_descriptor(base(def), def.help, None, g.metric_type())?)
}

/// A counter with one series per worker (`tokio_worker="0"`, `"1"`, ...).
#[cfg(target_has_atomic = "64")]
fn per_worker(
    encoder: &mut DescriptorEncoder,
    def: &MetricDef,
    unit: Option<&PromUnit>,
    values: impl Iterator<Item = f64>,
) -> std::fmt::Result {
    let mut family = encoder.encode_descriptor(
        base(def),
        def.help,
        unit,
        prometheus_client::metrics::MetricType::Counter,
    )?;
    for (worker, v) in values.enumerate() {
        let labels = [(def.labels[0], worker.to_string())];
        ConstCounter::new(v).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

impl Collector for RuntimeCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let m = self.handle.metrics();
        let workers = m.num_workers();
        gauge(&mut encoder, &TOKIO_RUNTIME_WORKERS, workers)?;
        gauge(
            &mut encoder,
            &TOKIO_RUNTIME_ALIVE_TASKS,
            m.num_alive_tasks(),
        )?;
        gauge(
            &mut encoder,
            &TOKIO_RUNTIME_GLOBAL_QUEUE_DEPTH,
            m.global_queue_depth(),
        )?;
        #[cfg(target_has_atomic = "64")]
        {
            per_worker(
                &mut encoder,
                &TOKIO_RUNTIME_WORKER_BUSY_DURATION,
                Some(&PromUnit::Seconds),
                (0..workers).map(|w| m.worker_total_busy_duration(w).as_secs_f64()),
            )?;
            per_worker(
                &mut encoder,
                &TOKIO_RUNTIME_WORKER_PARKS,
                None,
                (0..workers).map(|w| m.worker_park_count(w) as f64),
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Format, encode};

    fn value(text: &str, series: &str) -> f64 {
        text.lines()
            .find_map(|l| {
                l.strip_prefix(series)?
                    .trim()
                    .split(' ')
                    .next()?
                    .parse()
                    .ok()
            })
            .unwrap_or_else(|| panic!("{series} not in\n{text}"))
    }

    #[test]
    fn a_busy_runtime_shows_its_work_at_scrape_time() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .build()
            .unwrap();
        assert!(register(rt.handle()));
        assert!(!register(rt.handle()), "one runtime per process");
        let busy = r#"tokio_runtime_worker_busy_duration_seconds_total{tokio_worker="0"}"#;
        let busy1 = r#"tokio_runtime_worker_busy_duration_seconds_total{tokio_worker="1"}"#;
        let before = encode(Format::Text);
        let busy_before = value(&before, busy) + value(&before, busy1);
        assert_eq!(value(&before, "tokio_runtime_workers "), 2.0);

        // Two tasks that hold their worker for 100 ms each (blocking on purpose), and ten that
        // wait: alive while the scrape below runs.
        let waiting: Vec<_> = (0..10)
            .map(|_| {
                rt.spawn(async { tokio::time::sleep(std::time::Duration::from_secs(30)).await })
            })
            .collect();
        rt.block_on(async {
            let spinners: Vec<_> = (0..2)
                .map(|_| {
                    tokio::spawn(async {
                        std::thread::sleep(std::time::Duration::from_millis(100));
                    })
                })
                .collect();
            for s in spinners {
                s.await.unwrap();
            }
        });
        // A worker adds its busy time to the metric when it parks: give both a moment to park
        // after the spinners (the scrape itself is what is under test, not the wait).
        let mut after = encode(Format::Text);
        for _ in 0..100 {
            if value(&after, busy) + value(&after, busy1) - busy_before >= 0.2 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
            after = encode(Format::Text);
        }
        assert!(
            value(&after, "tokio_runtime_alive_tasks ") >= 10.0,
            "{after}"
        );
        let busy_after = value(&after, busy) + value(&after, busy1);
        assert!(
            busy_after - busy_before >= 0.2,
            "busy time grew by {} s",
            busy_after - busy_before
        );
        assert!(value(&after, "tokio_runtime_global_queue_depth ") >= 0.0);
        assert!(after.contains(r#"tokio_runtime_worker_parks_total{tokio_worker="1"}"#));
        for w in waiting {
            w.abort();
        }
    }
}
