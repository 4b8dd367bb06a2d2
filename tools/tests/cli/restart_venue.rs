//! Restart against a trading venue (must-show): a real `tickwire run` child trades against a
//! standalone simulator started in this process (`mode = "external"`, TLS on loopback), is
//! SIGKILLed holding a position and a resting order, the venue fills that order while the
//! engine is down, and a new `tickwire run` on the same journal verifies with the venue before
//! placing anything. Checked from the journal (see `tools/src/drill/restart.rs`): the venue's
//! answers (the missed fill, the order's `filled` status) and the `reconciled` input precede the
//! session's first new order; the engine's position (printed, and the sum of the journal's
//! distinct fills) equals the simulated account's balance change; `replay --verify` reproduces
//! both sessions.

use std::path::Path;

#[test]
fn restart_reconciles_with_the_venue_before_trading() {
    let outcome = tickwire::drill::run(
        "restart-mid-position",
        Path::new(env!("CARGO_BIN_EXE_tickwire")),
    )
    .expect("known drill");
    assert!(outcome.checks.len() >= 6, "{}", outcome.report());
    assert!(outcome.passed(), "{}", outcome.report());
}
