//! The tokio runtime's saturation panels (a row of the Infrastructure dashboard), from the
//! `tokio_runtime_*` metrics read at scrape time.

use glimpse_telemetry::metrics::catalogue::{
    TOKIO_RUNTIME_ALIVE_TASKS, TOKIO_RUNTIME_GLOBAL_QUEUE_DEPTH,
    TOKIO_RUNTIME_WORKER_BUSY_DURATION, TOKIO_RUNTIME_WORKER_PARKS, TOKIO_RUNTIME_WORKERS,
};

use crate::grafana::layout::Layout;
use crate::grafana::model::{job_selector, query, rate, timeseries};
use crate::names::sample;

/// Adds the "Tokio runtime" row.
pub(super) fn panels(l: &mut Layout) {
    let busy = sample(&TOKIO_RUNTIME_WORKER_BUSY_DURATION);
    l.row("Tokio runtime (saturation)");
    l.add(
        timeseries(
            "Worker busy ratio",
            "Share of the workers' time spent running tasks. Near 100 %: the runtime is \
             saturated, tasks wait for a worker and every request gets slower.",
            "percentunit",
            vec![query(
                format!(
                    "sum by (job) ({})\n/\nsum by (job) ({})",
                    rate(&busy, ""),
                    job_selector(&TOKIO_RUNTIME_WORKERS, "")
                ),
                "{{job}}",
            )],
        )
        .ratio()
        .thresholds(&[(0.8, "orange")])
        .w(8),
    );
    l.add(
        timeseries(
            "Busiest worker",
            "The busy ratio of the busiest worker. One worker at 100 % while the others are \
             idle: a blocking call (std I/O, a lock, heavy CPU) holds it; move it to \
             spawn_blocking.",
            "percentunit",
            vec![query(
                format!("max by (job) ({})", rate(&busy, "")),
                "{{job}}",
            )],
        )
        .ratio()
        .thresholds(&[(0.9, "red")])
        .w(8),
    );
    l.add(
        timeseries(
            "Global queue depth",
            "Tasks waiting in the global queue for a worker; it should drain to 0 between \
             bursts.",
            "short",
            vec![query(
                format!(
                    "sum by (job) ({})",
                    job_selector(&TOKIO_RUNTIME_GLOBAL_QUEUE_DEPTH, "")
                ),
                "{{job}}",
            )],
        )
        .w(8),
    );
    l.add(timeseries(
        "Alive tasks",
        "Tasks spawned and not finished: a steady climb is a task leak (connections or \
         subscriptions never closed).",
        "short",
        vec![query(
            format!(
                "sum by (job) ({})",
                job_selector(&TOKIO_RUNTIME_ALIVE_TASKS, "")
            ),
            "{{job}}",
        )],
    ));
    l.add(timeseries(
        "Worker parks per second",
        "How often workers ran out of work and slept. Falling to 0 under load: no worker is \
         ever idle.",
        "short",
        vec![query(
            format!(
                "sum by (job) ({})",
                rate(&sample(&TOKIO_RUNTIME_WORKER_PARKS), "")
            ),
            "{{job}}",
        )],
    ));
}
