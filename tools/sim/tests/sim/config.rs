//! Simulator configuration: every error at once; the documented examples parse.

use crate::sim_support;

use std::time::Duration;

use sim_support::toml_path;
use tickwire_sim::{FaultKind, FaultSpec, Pace, SimConfig, SimError, StartMode, VenueKind, start};

#[test]
fn bad_config_lists_every_error() {
    let text = format!(
        r#"
bind = "localhost:x"
colour = "blue"

[[venue]]
venue = "kraken"
captures = [{good}]

[[venue]]
venue = "binance"
captures = ["does/not/exist.gz", 5]
pace = "warp"
speed = 3
ws_port = 70000
typo = 1

[[venue.fault]]
kind = "pause"
at = 3

[[venue.fault]]
kind = "explode"
at = -1

[[venue.fault]]
kind = "gap"
ms = 5

[[venue]]
venue = "okx"
pace = "scaled"
exchange_info = {good}
"#,
        good = toml_path("okx/cryptofeed_OKX.ws.1.0")
    );
    let Err(SimError::Config(errors)) = SimConfig::parse(&text) else {
        panic!("expected config errors");
    };
    let want = [
        "bind: \"localhost:x\" is not an IP address",
        "colour: unknown key",
        "venue[0].venue: unknown venue \"kraken\"",
        "venue[1].captures: \"does/not/exist.gz\": no such file",
        "venue[1].captures[1]: expected a string, found integer",
        "venue[1].pace: unknown pace \"warp\"",
        "venue[1].speed: only meaningful with pace = \"scaled\"",
        "venue[1].ws_port: 70000 is out of range",
        "venue[1].typo: unknown key",
        "venue[1].fault[0].ms: missing (required by kind = \"pause\")",
        "venue[1].fault[1].at: -1 is out of range",
        "venue[1].fault[1].kind: unknown fault \"explode\"",
        "venue[1].fault[2].at: missing",
        "venue[1].fault[2].ms: only meaningful with kind = \"pause\"",
        "venue[2].captures: at least one capture file is required",
        "venue[2].speed: missing (required by pace = \"scaled\")",
        "venue[2].exchange_info: only Binance venues serve exchangeInfo",
    ];
    for w in want {
        assert!(
            errors.iter().any(|e| e.starts_with(w)),
            "missing {w:?} in:\n{}",
            errors.join("\n")
        );
    }
    assert_eq!(errors.len(), want.len(), "{}", errors.join("\n"));
    // The Display form lists them all, one per line.
    let shown = SimError::Config(errors).to_string();
    assert_eq!(shown.lines().count(), want.len() + 1);
}

#[test]
fn documented_examples_parse() {
    // The same shape as the examples in the simulator's docs (paths made absolute here, since
    // tests run from the crate directory).
    let text = format!(
        r#"
bind = "127.0.0.1"

[[venue]]
venue = "binance"
captures = [{a}, {b}]
pace = "scaled"
speed = 10
ping_interval_ms = 20000
pong_timeout_ms = 60000

[[venue.fault]]
kind = "gap"
at = 5000

[[venue.fault]]
kind = "pause"
at = 9000
ms = 1500

[[venue]]
venue = "okx"
captures = [{o}]
pace = "recorded"
start = "immediate"
start_delay_ms = 0
"#,
        a = toml_path("binance/btcusdt_20240808.gz"),
        b = toml_path("binance/btcusdt_20240809.gz"),
        o = toml_path("okx/cryptofeed_OKX.ws.1.0"),
    );
    let cfg = SimConfig::parse(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.venues.len(), 2);
    let b = &cfg.venues[0];
    assert_eq!((b.venue, b.name.as_str()), (VenueKind::Binance, "binance"));
    assert_eq!(b.pace, Pace::Scaled(10.0));
    assert_eq!(
        b.faults,
        vec![
            FaultSpec {
                at: 5000,
                kind: FaultKind::Gap
            },
            FaultSpec {
                at: 9000,
                kind: FaultKind::Pause(Duration::from_millis(1500))
            },
        ]
    );
    let o = &cfg.venues[1];
    assert_eq!(
        (o.venue, o.pace, o.start),
        (VenueKind::Okx, Pace::Recorded, StartMode::Immediate)
    );

    // Under a run config's [sim] table, errors carry the prefix.
    let table: toml::Table = "[sim]\nnope = 1\n".parse().expect("toml");
    let sim = table["sim"].as_table().expect("table");
    let Err(SimError::Config(errors)) = SimConfig::from_table(sim, "sim") else {
        panic!("expected errors");
    };
    assert!(
        errors.contains(&"sim.nope: unknown key".to_owned()),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("sim.venue: at least one")),
        "{errors:?}"
    );
}

#[test]
fn endpoints_and_ca_file() {
    let cfg = SimConfig::parse(&format!(
        "[[venue]]\nvenue = \"okx\"\nname = \"okx-a\"\ncaptures = [{}]\n",
        toml_path("okx/cryptofeed_OKX.ws.1.0")
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let sim = start(&cfg).unwrap_or_else(|e| panic!("{e}"));
    let eps = sim.endpoints().to_vec();
    assert_eq!(eps.len(), 2);
    assert!(eps.iter().all(|e| e.venue == "okx-a"));
    assert!(eps[0].url.starts_with("wss://127.0.0.1:"));
    assert!(eps[1].url.starts_with("https://127.0.0.1:"));
    let ca = sim.ca_path().to_owned();
    let pem = std::fs::read_to_string(&ca).expect("CA file");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(pem, sim.ca_pem());
    assert!(sim.progress("nope").is_err());
    sim.shutdown();
    // The fresh temporary directory goes away with the simulator.
    assert!(!ca.exists());
}
