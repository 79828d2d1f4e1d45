//! The guide's alerts on the hosts and peers, from the standard exporters: DiskSpaceLow,
//! MemoryUsageHigh, SSLCertificateExpiry and RedisMemoryHigh.

use crate::prometheus::model::{Alert, Case, Fired, INFRASTRUCTURE, Severity, series};

const NODE_FS_FILTER: &str = r#"fstype!~"tmpfs|ramfs|devtmpfs|overlay|squashfs|nsfs|fuse.*""#;

fn fs_series(metric: &str, fstype: &str, mountpoint: &str, values: &str) -> (String, String) {
    series(
        metric,
        &[
            ("job", "node"),
            ("instance", "host-1:9100"),
            (
                "device",
                if fstype == "tmpfs" {
                    "tmpfs"
                } else {
                    "/dev/sda1"
                },
            ),
            ("fstype", fstype),
            ("mountpoint", mountpoint),
        ],
        values,
    )
}

pub(crate) fn disk_space_low() -> Alert {
    let disk = |avail: &str| {
        vec![
            fs_series("node_filesystem_avail_bytes", "ext4", "/", avail),
            fs_series("node_filesystem_size_bytes", "ext4", "/", "100x10"),
            fs_series("node_filesystem_readonly", "ext4", "/", "0x10"),
            fs_series("node_filesystem_avail_bytes", "tmpfs", "/run", "1x10"),
            fs_series("node_filesystem_size_bytes", "tmpfs", "/run", "100x10"),
            fs_series("node_filesystem_readonly", "tmpfs", "/run", "0x10"),
        ]
    };
    Alert {
        group: INFRASTRUCTURE,
        name: "DiskSpaceLow",
        severity: Severity::Critical,
        guide: "Disk Space Low: <15% free space",
        expr: format!(
            "node_filesystem_avail_bytes{{{NODE_FS_FILTER}}}\n  / node_filesystem_size_bytes\n  < 0.15\nand on (instance, device, mountpoint)\n  node_filesystem_readonly == 0"
        ),
        for_: "5m",
        summary: "Disk space low on {{ $labels.instance }}",
        description: "Only {{ $value | humanizePercentage }} of {{ $labels.mountpoint }} \
            ({{ $labels.device }}) on {{ $labels.instance }} is free (threshold 15%).",
        why: "node_exporter. Writable, disk-backed file systems only (tmpfs and overlays come and\n\
              go with containers). `for: 5m`: free space moves slowly, a dip while a file is\n\
              rewritten is not an incident.",
        tests: vec![
            Case {
                what: "15% free: not below the threshold. A nearly full tmpfs is ignored.".into(),
                series: disk("15x10"),
                checks: vec![("10m", vec![])],
                exprs: vec![],
            },
            Case {
                what: "14% free: pending at 4m, firing at 5m.".into(),
                series: disk("14x10"),
                checks: vec![
                    ("4m", vec![]),
                    (
                        "5m",
                        vec![Fired {
                            labels: vec![
                                ("job", "node".into()),
                                ("instance", "host-1:9100".into()),
                                ("device", "/dev/sda1".into()),
                                ("fstype", "ext4".into()),
                                ("mountpoint", "/".into()),
                            ],
                            summary: "Disk space low on host-1:9100".into(),
                            description: "Only 14% of / (/dev/sda1) on host-1:9100 is free \
                                (threshold 15%)."
                                .into(),
                        }],
                    ),
                ],
                exprs: vec![],
            },
        ],
    }
}

pub(crate) fn memory_usage_high() -> Alert {
    let mem = |avail: &str| {
        let host = [("job", "node"), ("instance", "host-1:9100")];
        vec![
            series("node_memory_MemAvailable_bytes", &host, avail),
            series("node_memory_MemTotal_bytes", &host, "100x10"),
        ]
    };
    Alert {
        group: INFRASTRUCTURE,
        name: "MemoryUsageHigh",
        severity: Severity::Warning,
        guide: "Memory Usage High: >85% for 5 minutes",
        expr: "node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes < 0.15".to_owned(),
        for_: "5m",
        summary: "Memory usage high on {{ $labels.instance }}",
        description: "More than 85% of the memory of {{ $labels.instance }} is in use: only \
            {{ $value | humanizePercentage }} is available.",
        why: "node_exporter. \"Used\" is what is not available (MemAvailable counts reclaimable\n\
              caches as available), written as available < 15% so the edge is exact.",
        tests: vec![
            Case {
                what: "85% used (15% available): not above the threshold.".into(),
                series: mem("15x10"),
                checks: vec![("10m", vec![])],
                exprs: vec![],
            },
            Case {
                what: "86% used: pending at 4m, firing at 5m.".into(),
                series: mem("14x10"),
                checks: vec![
                    ("4m", vec![]),
                    (
                        "5m",
                        vec![Fired {
                            labels: vec![
                                ("job", "node".into()),
                                ("instance", "host-1:9100".into()),
                            ],
                            summary: "Memory usage high on host-1:9100".into(),
                            description: "More than 85% of the memory of host-1:9100 is in \
                                use: only 14% is available."
                                .into(),
                        }],
                    ),
                ],
                exprs: vec![],
            },
        ],
    }
}

pub(crate) fn ssl_certificate_expiry() -> Alert {
    let probe = [("job", "blackbox"), ("instance", "https://glimpse.app/")];
    Alert {
        group: INFRASTRUCTURE,
        name: "SSLCertificateExpiry",
        severity: Severity::Warning,
        guide: "SSL Certificate Expiry: <30 days",
        expr: "probe_ssl_earliest_cert_expiry - time() < 30 * 86400".to_owned(),
        for_: "15m",
        summary: "TLS certificate of {{ $labels.instance }} expires soon",
        description: "The certificate served by {{ $labels.instance }} expires in \
            {{ $value | humanizeDuration }} (threshold 30 days): renew it.",
        why: "blackbox_exporter's TLS probes. `for: 15m` ignores a probe that hit one stale\n\
              backend during a rollout.",
        tests: vec![
            Case {
                what: "Exactly 30 days left at every evaluation (the series follows the clock): \
                       never fires."
                    .into(),
                series: vec![series(
                    "probe_ssl_earliest_cert_expiry",
                    &probe,
                    "2592000+60x60",
                )],
                checks: vec![("30m", vec![]), ("60m", vec![])],
                exprs: vec![],
            },
            Case {
                what: "One minute less than 30 days: pending at once, firing at 15m, not at 14m."
                    .into(),
                series: vec![series(
                    "probe_ssl_earliest_cert_expiry",
                    &probe,
                    "2591940+60x60",
                )],
                checks: vec![
                    ("14m", vec![]),
                    (
                        "15m",
                        vec![Fired {
                            labels: vec![
                                ("job", "blackbox".into()),
                                ("instance", "https://glimpse.app/".into()),
                            ],
                            summary: "TLS certificate of https://glimpse.app/ expires soon".into(),
                            description: "The certificate served by https://glimpse.app/ \
                                expires in 29d 23h 59m 0s (threshold 30 days): renew it."
                                .into(),
                        }],
                    ),
                ],
                exprs: vec![],
            },
        ],
    }
}

pub(crate) fn redis_memory_high() -> Alert {
    let redis = |used: &str, max: &str| {
        let r = [("job", "redis"), ("instance", "redis:6379")];
        vec![
            series("redis_memory_used_bytes", &r, used),
            series("redis_memory_max_bytes", &r, max),
        ]
    };
    Alert {
        group: INFRASTRUCTURE,
        name: "RedisMemoryHigh",
        severity: Severity::Warning,
        guide: "Redis Memory High: >80% used",
        expr: "redis_memory_used_bytes / (redis_memory_max_bytes > 0) > 0.8".to_owned(),
        for_: "5m",
        summary: "Redis {{ $labels.instance }} memory high",
        description: "Redis {{ $labels.instance }} uses {{ $value | humanizePercentage }} of \
            its maxmemory (threshold 80%): keys will be evicted or writes refused.",
        why: "redis_exporter. A Redis without maxmemory reports 0 and is left out. `for: 5m`\n\
              (the guide gives no duration), like MemoryUsageHigh.",
        tests: vec![
            Case {
                what: "80% used: not above the threshold; no maxmemory: ignored.".into(),
                series: redis("80x10", "100x10"),
                checks: vec![("10m", vec![])],
                exprs: vec![],
            },
            Case {
                what: "No maxmemory set (0): never divided by zero.".into(),
                series: redis("80x10", "0x10"),
                checks: vec![("10m", vec![])],
                exprs: vec![],
            },
            Case {
                what: "81% used: pending at 4m, firing at 5m.".into(),
                series: redis("81x10", "100x10"),
                checks: vec![
                    ("4m", vec![]),
                    (
                        "5m",
                        vec![Fired {
                            labels: vec![
                                ("job", "redis".into()),
                                ("instance", "redis:6379".into()),
                            ],
                            summary: "Redis redis:6379 memory high".into(),
                            description: "Redis redis:6379 uses 81% of its maxmemory \
                                (threshold 80%): keys will be evicted or writes refused."
                                .into(),
                        }],
                    ),
                ],
                exprs: vec![],
            },
        ],
    }
}
