//! Process metrics with the standard Prometheus names (`process_cpu_seconds_total`,
//! `process_resident_memory_bytes`, ...), read from `/proc` at scrape time: no background task,
//! and exact when scraped. On systems without `/proc` the collector writes nothing.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use super::catalogue::{
    Kind, MetricDef, PROCESS_CPU, PROCESS_MAX_FDS, PROCESS_OPEN_FDS, PROCESS_RESIDENT_MEMORY,
    PROCESS_START_TIME, PROCESS_THREADS, PROCESS_VIRTUAL_MEMORY,
};
use super::unit::base_name;

#[derive(Debug)]
pub(super) struct ProcessCollector {
    clock_ticks: f64,
    page_size: f64,
    boot_time: Option<f64>,
}

#[derive(Debug, Default, PartialEq)]
struct Stat {
    cpu_seconds: f64,
    threads: i64,
    start_time_seconds: f64,
    virtual_bytes: f64,
    resident_bytes: f64,
}

impl ProcessCollector {
    pub(super) fn new() -> Self {
        // SAFETY: sysconf only reads system constants.
        let (ticks, page) = unsafe {
            (
                libc::sysconf(libc::_SC_CLK_TCK),
                libc::sysconf(libc::_SC_PAGESIZE),
            )
        };
        let boot_time = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("btime "))
                .and_then(|v| v.trim().parse::<f64>().ok())
        });
        ProcessCollector {
            clock_ticks: if ticks > 0 { ticks as f64 } else { 100.0 },
            page_size: if page > 0 { page as f64 } else { 4096.0 },
            boot_time,
        }
    }

    fn stat(&self) -> Option<Stat> {
        parse_stat(
            &std::fs::read_to_string("/proc/self/stat").ok()?,
            self.clock_ticks,
            self.page_size,
            self.boot_time?,
        )
    }
}

fn parse_stat(text: &str, clock_ticks: f64, page_size: f64, boot_time: f64) -> Option<Stat> {
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok());
    Some(Stat {
        cpu_seconds: (num(11)? + num(12)?) / clock_ticks,
        threads: num(17)? as i64,
        start_time_seconds: boot_time + num(19)? / clock_ticks,
        virtual_bytes: num(20)?,
        resident_bytes: num(21)? * page_size,
    })
}

fn open_fds() -> Option<i64> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count() as i64)
}

fn max_fds() -> Option<i64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    (rc == 0).then(|| i64::try_from(lim.rlim_cur).unwrap_or(i64::MAX))
}

/// One sample of a catalogue entry: its name, help and unit come from the catalogue.
pub(crate) fn sample(encoder: &mut DescriptorEncoder, def: &MetricDef, v: f64) -> std::fmt::Result {
    let name = match def.unit {
        Some(unit) => base_name(def.name, unit).unwrap_or(def.name),
        None => def.name,
    };
    let unit = def.unit.map(|u| u.to_prometheus());
    if def.kind == Kind::Counter {
        let c = ConstCounter::new(v);
        c.encode(encoder.encode_descriptor(name, def.help, unit.as_ref(), c.metric_type())?)
    } else {
        let g = ConstGauge::new(v);
        g.encode(encoder.encode_descriptor(name, def.help, unit.as_ref(), g.metric_type())?)
    }
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        if let Some(s) = self.stat() {
            sample(&mut encoder, &PROCESS_CPU, s.cpu_seconds)?;
            sample(&mut encoder, &PROCESS_RESIDENT_MEMORY, s.resident_bytes)?;
            sample(&mut encoder, &PROCESS_VIRTUAL_MEMORY, s.virtual_bytes)?;
            sample(&mut encoder, &PROCESS_START_TIME, s.start_time_seconds)?;
            sample(&mut encoder, &PROCESS_THREADS, s.threads as f64)?;
        }
        if let Some(n) = open_fds() {
            sample(&mut encoder, &PROCESS_OPEN_FDS, n as f64)?;
        }
        if let Some(n) = max_fds() {
            sample(&mut encoder, &PROCESS_MAX_FDS, n as f64)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_stat_line_with_a_tricky_command_name() {
        let line = "1234 (my (weird) app) S 1 1234 1234 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 7 0 1000 104857600 2560 18446744073709551615";
        let s = parse_stat(line, 100.0, 4096.0, 1_700_000_000.0).unwrap();
        assert_eq!(
            s,
            Stat {
                cpu_seconds: 3.0,
                threads: 7,
                start_time_seconds: 1_700_000_010.0,
                virtual_bytes: 104857600.0,
                resident_bytes: 2560.0 * 4096.0,
            }
        );
    }

    #[test]
    fn reads_this_process() {
        let c = ProcessCollector::new();
        let s = c.stat().expect("/proc is available on Linux");
        assert!(s.resident_bytes > 0.0 && s.threads >= 1);
        assert!(open_fds().unwrap() > 2 && max_fds().unwrap() > 0);
    }
}
