//! `cargo run -p xtask -- gen`: regenerates docs/metrics.md, the Prometheus rules and their
//! tests, and the Grafana dashboards and provisioning from the metric catalogue, and
//! docs/log-schema.md and the Elasticsearch, Filebeat and Loki files from the log-field catalogue.
//! `cargo run -p xtask -- check`: fails when a committed file differs from what `gen` writes.

use std::process::ExitCode;

const USAGE: &str = "usage: cargo run -p xtask -- <gen|check>
  gen    write the files generated from the metric and log-field catalogues
  check  exit 1 if a committed generated file is stale";

fn main() -> ExitCode {
    let root = xtask::workspace_root();
    match std::env::args().nth(1).as_deref() {
        Some("gen") => match xtask::write(&root) {
            Ok(files) => {
                for f in files {
                    println!("wrote {}", f.path);
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("xtask gen: {e}");
                ExitCode::FAILURE
            }
        },
        Some("check") => match xtask::stale(&root) {
            Ok(stale) if stale.is_empty() => ExitCode::SUCCESS,
            Ok(stale) => {
                for path in stale {
                    eprintln!("stale: {path}");
                }
                eprintln!("run `cargo run -p xtask -- gen`");
                ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("xtask check: {e}");
                ExitCode::FAILURE
            }
        },
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
