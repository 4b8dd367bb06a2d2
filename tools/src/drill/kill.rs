//! `kill-degraded-venue`: the operator kills a strategy holding a position while the venue
//! rejects every order. The flattener must try within its budget, alert once, stop, and keep
//! the position tracked.

use std::path::Path;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;

use super::Checks;
use super::harness::{
    Rig, Setup, of_kind, position_from_fills, printed_position, text, wait_bounded,
};

/// Closing orders the flattener may send.
const BUDGET: usize = 3;

/// Runs the drill, recording its checks.
pub(crate) fn drill(bin: &Path, c: &mut Checks) -> Result<(), String> {
    let risk = format!(
        "[risk.flatten]\nmax_orders = {BUDGET}\nbackoff_ms = 100\nmax_backoff_ms = 200\nconfirm_timeout_ms = 500"
    );
    let rig = Rig::new(
        "kill-degraded-venue",
        bin,
        &Setup {
            // The first order trades; every later one is rejected.
            sim_faults: "[[venue.private.fault]]\nkind = \"reject\"\nafter = 1\ncount = 0\n",
            steps: &["buy 0.02 take"],
            risk: &risk,
            diffs: 900,
            ..Setup::default()
        },
    )?;
    let child = rig.spawn_run(8.0)?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let pos = rig.venue_position()?;
        if pos == Decimal::new(2, 2) && rig.socket.exists() {
            break;
        }
        if Instant::now() > deadline {
            let out = match wait_bounded(child, Duration::ZERO) {
                Ok(o) => text(&o),
                Err(e) => e,
            };
            return Err(format!(
                "never reached the position to kill (venue {pos}): {out}"
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let ctl = rig.ctl("kill");
    c.check(
        "kill accepted on the control socket",
        ctl.as_ref().is_ok_and(|t| t.starts_with("ok")),
        ctl.clone().unwrap_or_else(|e| e),
    );
    let out = wait_bounded(child, Duration::from_secs(40))?;
    let out = text(&out);
    let recs = rig.records()?;
    let kill_at = recs
        .iter()
        .position(|r| r["kind"] == "operator" && r.to_string().contains("kill"))
        .ok_or("no kill operator record in the journal")?;
    let closing = recs[kill_at..]
        .iter()
        .filter(|r| r["kind"] == "new-order")
        .count();
    c.check(
        "closing orders within the budget (each rejected), then it stops",
        closing == BUDGET,
        format!("{closing} closing order(s), budget {BUDGET}"),
    );
    let stuck = of_kind(&recs, "alert")
        .filter(|r| r.to_string().contains("flatten-stuck"))
        .count();
    c.check(
        "one flatten-stuck alert",
        stuck == 1,
        format!("{stuck} alert(s)"),
    );
    let venue = rig.venue_position()?;
    let journal = position_from_fills(&recs)?;
    let printed = printed_position(&out);
    c.check(
        "position still tracked and equal to the venue's",
        venue == Decimal::new(2, 2) && journal == venue && printed == venue,
        format!("venue {venue}, journal fills {journal}, engine {printed}"),
    );
    let verify = rig.replay_verify();
    c.check(
        "replay --verify reproduces the session",
        verify.is_ok(),
        verify.err().map_or_else(
            || "verify: OK".into(),
            |e| e.lines().last().unwrap_or("").to_owned(),
        ),
    );
    Ok(())
}
