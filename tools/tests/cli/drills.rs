//! Every `tickwire drill` as a cargo test: the same drill code the CLI runs, against the real
//! `tickwire` binary and the simulator over TLS on loopback; each test fails with the drill's
//! PASS/FAIL report.

use std::path::Path;

fn drill(name: &str) {
    let outcome =
        tickwire::drill::run(name, Path::new(env!("CARGO_BIN_EXE_tickwire"))).expect("known drill");
    assert!(outcome.passed(), "drill {name}:\n{}", outcome.report());
}

#[test]
fn fill_qty_rounding() {
    drill("fill-qty-rounding");
}

#[test]
fn status_without_fills() {
    drill("status-without-fills");
}

#[test]
fn duplicate_fill() {
    drill("duplicate-fill");
}

#[test]
fn reject_storm() {
    drill("reject-storm");
}

#[test]
fn five_xx_order_live() {
    drill("5xx-order-live");
}

#[test]
fn disconnect_mid_order() {
    drill("disconnect-mid-order");
}

#[test]
fn rate_limit_429() {
    drill("rate-limit-429");
}

#[test]
fn stale_feed() {
    drill("stale-feed");
}

#[test]
fn sequence_gap() {
    drill("sequence-gap");
}

#[test]
fn kill_degraded_venue() {
    drill("kill-degraded-venue");
}

#[test]
fn restart_mid_position() {
    drill("restart-mid-position");
}

#[test]
fn every_drill_has_a_test_here() {
    let names: Vec<&str> = tickwire::drill::DRILLS.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names.len(),
        11,
        "add a #[test] for each new drill: {names:?}"
    );
    assert!(tickwire::drill::run("no-such-drill", Path::new("/nonexistent")).is_err());
}
