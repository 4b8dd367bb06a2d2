//! `tickwire sim --config FILE`: the venue simulator, standalone.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tickwire_sim::{EndpointKind, SimConfig, SimHandle, start};

use crate::Failure;

/// Reads a simulator config: a file whose `[sim]` section describes it (so one file can serve
/// `run` and `sim`), or a standalone file with the keys at its root.
pub fn load(path: &Path) -> Result<SimConfig, Failure> {
    let text = crate::config::read_config(path)?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        Failure::new(format!(
            "{}: {}",
            path.display(),
            e.message().replace('\n', " ")
        ))
    })?;
    let parsed = match table.get("sim") {
        Some(toml::Value::Table(t)) => SimConfig::from_table(t, "sim"),
        _ => SimConfig::from_table(&table, ""),
    };
    parsed.map_err(|e| Failure::new(format!("{}: {e}", path.display())))
}

/// Prints one `READY <venue> <kind> <url>` line per endpoint and the CA path.
pub fn announce(sim: &SimHandle) {
    for e in sim.endpoints() {
        let kind = match e.kind {
            EndpointKind::Ws => "ws",
            EndpointKind::Rest => "rest",
        };
        outln!("READY {} {kind} {}", e.venue, e.url);
    }
    outln!("CA {}", sim.ca_path().display());
    for w in sim.warnings() {
        errln!("warning: {w}");
    }
}

/// Runs the simulator until SIGINT/SIGTERM, or until every capture has been served when
/// `until_finished` is set.
pub fn sim(path: &Path, until_finished: bool) -> Result<(), Failure> {
    let cfg = load(path)?;
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .map_err(|e| Failure::new(format!("installing signal handler: {e}")))?;
    }
    let handle = start(&cfg).map_err(|e| Failure::new(e.to_string()))?;
    announce(&handle);
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    while !(stop.load(Ordering::Relaxed) || until_finished && handle.is_finished()) {
        std::thread::sleep(Duration::from_millis(20));
    }
    handle.shutdown();
    outln!("simulator stopped");
    Ok(())
}
