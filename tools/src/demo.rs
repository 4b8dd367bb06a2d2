//! `tickwire demo`: the embedded simulator with Binance (the real BTCUSDT capture) and an OKX
//! venue derived from the same stream, cross-venue `arb` and `mm` trading both through the
//! full thread topology, a progress line each second, then the strategy and latency tables.

use std::path::{Path, PathBuf};

use crate::Failure;

/// The demo's config (also usable as `tickwire run --config examples/demo.toml`).
const DEMO_TOML: &str = include_str!("../../examples/demo.toml");

/// BTCUSDT's price tick in the demo's capture: the unit `noise_ticks` is counted in (the
/// derived venue shifts by whole source ticks).
const SOURCE_TICK: &str = "0.01";

/// One line naming how the OKX venue is derived, read from the config itself so the screen
/// never disagrees with what runs.
fn derived_line(text: &str) -> Result<String, Failure> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| Failure::new(format!("demo config: {}", e.message())))?;
    let venues = table
        .get("sim")
        .and_then(|s| s.get("venue"))
        .and_then(|v| v.as_array())
        .ok_or_else(|| Failure::new("demo config: no [[sim.venue]]"))?;
    let derived = venues
        .iter()
        .find(|v| v.get("derive_from").is_some())
        .ok_or_else(|| Failure::new("demo config: no derived venue"))?;
    let get = |k: &str| derived.get(k).map(|v| v.to_string()).unwrap_or("-".into());
    let fee = |k: &str| {
        derived
            .get("private")
            .and_then(|p| p.get(k))
            .and_then(|v| v.as_str())
            .unwrap_or("-")
            .to_owned()
    };
    let ticks = derived
        .get("noise_ticks")
        .and_then(toml::Value::as_integer)
        .unwrap_or(0);
    let tick: rust_decimal::Decimal = SOURCE_TICK.parse().unwrap_or_default();
    let noise = (tick * rust_decimal::Decimal::from(ticks)).normalize();
    Ok(format!(
        "OKX is derived from the Binance capture: lag {} ms, price noise up to ±{noise} USDT ({ticks} ticks of {SOURCE_TICK}; a new offset every {} ms, seed {}), fees maker {} / taker {}",
        get("lag_ms"),
        get("noise_period_ms"),
        get("seed"),
        fee("maker_fee"),
        fee("taker_fee"),
    ))
}

/// Runs the demo for `duration` seconds, journaling into `journal` (default: a fresh
/// `./tickwire-demo-<unix seconds>`).
pub fn demo(duration: f64, journal: Option<&Path>) -> Result<(), Failure> {
    if !(duration.is_finite() && duration > 0.0) {
        return Err(Failure::new(format!(
            "--duration must be a positive number of seconds, got {duration}"
        )));
    }
    let capture = Path::new("../shared/data/binance/btcusdt_20240808.gz");
    if !capture.is_file() {
        return Err(Failure::new(format!(
            "the demo replays {}; run it from the repository root",
            capture.display()
        )));
    }
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let journal: PathBuf = journal
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(format!("./tickwire-demo-{stamp}")));
    if journal.exists() {
        return Err(Failure::new(format!(
            "journal {} already exists; the demo writes a fresh one",
            journal.display()
        )));
    }
    // The progress line reads each strategy's P&L from the control socket.
    let socket = std::env::temp_dir().join(format!("tickwire-demo-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&socket);
    let text = format!(
        "{DEMO_TOML}\n[control]\nsocket = {:?}\nstatus_every_ticks = 5\n",
        socket.display().to_string()
    );
    outln!(
        "tickwire demo: {duration} s on the embedded venue simulator, journal {}",
        journal.display()
    );
    outln!(
        "Binance replays the real BTCUSDT capture ../shared/data/binance/btcusdt_20240808.gz at its recorded pace"
    );
    outln!("{}", derived_line(&text)?);
    outln!(
        "strategies: arb (OKX BTC-USDT vs Binance BTCUSDT, IOC legs), mm (post-only quotes on Binance); risk on; reconciliation poller on"
    );
    outln!("loading the capture into the simulator and connecting (seconds in a debug build)...");
    let plan = crate::run::RunPlan {
        duration: Some(duration),
        progress: true,
        ..Default::default()
    };
    let result = crate::run::run_text(&text, "demo config", Some(&journal), plan);
    let _ = std::fs::remove_file(&socket);
    result?;
    outln!(
        "next: tickwire replay {} --verify   (replays the journal through the engine and checks every decision)",
        journal.display()
    );
    Ok(())
}
