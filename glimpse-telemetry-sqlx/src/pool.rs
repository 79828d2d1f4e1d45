//! Connection-pool metrics.
//!
//! - `db_client_connection_count{state="idle"|"used"}`, `db_client_connection_max` and
//!   `db_client_connection_pending_requests` are read when Prometheus scrapes, by one collector
//!   for all instrumented pools: `Pool::size()`, `Pool::num_idle()` and the pool's
//!   `max_connections` from sqlx, and the number of callers inside
//!   [`InstrumentedPool::acquire`](crate::InstrumentedPool::acquire) (an atomic this crate
//!   keeps, since sqlx does not expose its waiters). No background task, and exact at the
//!   moment of the scrape.
//! - `db_client_connection_wait_time_seconds` (histogram) and
//!   `db_client_connection_timeouts_total` (counter) are recorded by the acquire itself.
//!
//! The collector holds pools weakly: a pool whose last [`InstrumentedPool`](crate::InstrumentedPool)
//! handle is dropped, or that is closed, disappears from the scrape. Instrumenting the same sqlx
//! pool again replaces its earlier registration (it is never counted twice); different pools
//! registered under the same name are summed into one series, with a warning.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use glimpse_telemetry::metrics::catalogue::{
    DB_CLIENT_CONNECTION_COUNT, DB_CLIENT_CONNECTION_MAX, DB_CLIENT_CONNECTION_PENDING_REQUESTS,
    MetricDef,
};
use glimpse_telemetry::metrics::prometheus_client;
use glimpse_telemetry::metrics::{Collector, register_collector};
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::gauge::ConstGauge;
use sqlx::Database;

use crate::DATABASE_TARGET;
use crate::pool_state::PoolState;

/// The most pools reported at once (a bug that instruments a pool per request must not grow
/// the scrape without bound).
pub const MAX_POOLS: usize = 64;

/// A pool's connections at one instant (see [`InstrumentedPool::stats`](crate::InstrumentedPool::stats)).
///
/// ```
/// let s = glimpse_telemetry_sqlx::PoolStats::default();
/// assert_eq!(s.used + s.idle, 0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// Open connections not lent out.
    pub idle: u32,
    /// Open connections lent out (or being opened).
    pub used: u32,
    /// `max_connections`.
    pub max: u32,
    /// Callers waiting for a connection.
    pub pending: u32,
}

impl PoolStats {
    fn add(&mut self, other: PoolStats) {
        self.idle = self.idle.saturating_add(other.idle);
        self.used = self.used.saturating_add(other.used);
        self.max = self.max.saturating_add(other.max);
        self.pending = self.pending.saturating_add(other.pending);
    }
}

/// The pool and its instrumentation state; what [`InstrumentedPool`](crate::InstrumentedPool)
/// holds and the collector holds weakly.
pub(crate) struct PoolEntry<DB: Database> {
    pub(crate) pool: sqlx::Pool<DB>,
    pub(crate) state: Arc<PoolState>,
}

impl<DB: Database> PoolEntry<DB> {
    pub(crate) fn stats(&self) -> PoolStats {
        let size = self.pool.size();
        let idle = u32::try_from(self.pool.num_idle())
            .unwrap_or(u32::MAX)
            .min(size);
        PoolStats {
            idle,
            used: size - idle,
            max: self.pool.options().get_max_connections(),
            pending: self.state.pending(),
        }
    }
}

trait Source: Send + Sync {
    fn read(&self) -> Option<(&str, PoolStats)>;
    /// Identifies the sqlx pool (the address of its shared state, alive as long as we are).
    fn identity(&self) -> usize;
}

impl<DB: Database> Source for PoolEntry<DB> {
    fn read(&self) -> Option<(&str, PoolStats)> {
        (!self.pool.is_closed()).then(|| (&*self.state.pool_name, self.stats()))
    }

    fn identity(&self) -> usize {
        std::ptr::from_ref(self.pool.options()) as usize
    }
}

fn registry() -> &'static Mutex<Vec<Weak<dyn Source>>> {
    static POOLS: OnceLock<Mutex<Vec<Weak<dyn Source>>>> = OnceLock::new();
    POOLS.get_or_init(|| {
        register_collector(Box::new(PoolCollector));
        Mutex::new(Vec::new())
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Adds a pool to the scrape.
pub(crate) fn register<DB: Database>(entry: &Arc<PoolEntry<DB>>) {
    let weak: Weak<PoolEntry<DB>> = Arc::downgrade(entry);
    let weak: Weak<dyn Source> = weak;
    let mut pools = lock(registry());
    let identity = entry.identity();
    pools.retain(|p| p.upgrade().is_some_and(|p| p.identity() != identity));
    let name = &*entry.state.pool_name;
    let same_name = pools
        .iter()
        .filter_map(Weak::upgrade)
        .any(|p| p.read().is_some_and(|(n, _)| n == name));
    if pools.len() >= MAX_POOLS {
        static WARNED: AtomicBool = AtomicBool::new(false);
        if WARNED.swap(true, Ordering::Relaxed) {
            return;
        }
        tracing::warn!(
            target: DATABASE_TARGET,
            component = glimpse_telemetry::logs::catalogue::COMPONENT_DATABASE,
            max_pools = MAX_POOLS,
            db.client.connection.pool.name = name,
            "too many instrumented pools: the connection gauges of this one and of any further ones are not reported (their queries still are); this is logged once"
        );
        return;
    }
    if same_name {
        tracing::warn!(
            target: DATABASE_TARGET,
            component = glimpse_telemetry::logs::catalogue::COMPONENT_DATABASE,
            pool = name,
            "another pool is instrumented under this name: their connection gauges are summed"
        );
    }
    pools.push(weak);
}

/// Reads every registered pool at scrape time.
struct PoolCollector;

impl fmt::Debug for PoolCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PoolCollector")
    }
}

fn encode_gauge<'a>(
    encoder: &mut DescriptorEncoder,
    def: &MetricDef,
    series: impl Iterator<Item = (&'a str, Option<&'a str>, u32)>,
) -> fmt::Result {
    let mut metric = encoder.encode_descriptor(def.name, def.help, None, MetricType::Gauge)?;
    let pool_key = def
        .labels
        .first()
        .copied()
        .unwrap_or("db_client_connection_pool_name");
    for (pool, state, value) in series {
        let gauge = ConstGauge::new(i64::from(value));
        match (state, def.labels.get(1)) {
            (Some(state), Some(state_key)) => {
                let labels = [(pool_key, pool), (*state_key, state)];
                gauge.encode(metric.encode_family(&labels)?)?;
            }
            _ => {
                let labels = [(pool_key, pool)];
                gauge.encode(metric.encode_family(&labels)?)?;
            }
        }
    }
    Ok(())
}

impl Collector for PoolCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let live: Vec<Arc<dyn Source>> = {
            let mut pools = lock(registry());
            pools.retain(|p| p.strong_count() > 0);
            pools.iter().filter_map(Weak::upgrade).collect()
        };
        let mut by_name: BTreeMap<&str, PoolStats> = BTreeMap::new();
        for source in &live {
            if let Some((name, stats)) = source.read() {
                by_name.entry(name).or_default().add(stats);
            }
        }
        if by_name.is_empty() {
            return Ok(());
        }
        encode_gauge(
            &mut encoder,
            &DB_CLIENT_CONNECTION_COUNT,
            by_name.iter().flat_map(|(name, s)| {
                [(*name, Some("idle"), s.idle), (*name, Some("used"), s.used)]
            }),
        )?;
        encode_gauge(
            &mut encoder,
            &DB_CLIENT_CONNECTION_MAX,
            by_name.iter().map(|(name, s)| (*name, None, s.max)),
        )?;
        encode_gauge(
            &mut encoder,
            &DB_CLIENT_CONNECTION_PENDING_REQUESTS,
            by_name.iter().map(|(name, s)| (*name, None, s.pending)),
        )
    }
}
