//! `restart-mid-position`: the engine is SIGKILLed with a position and an open order on the
//! venue, then started again on the same journal. It must verify the restored order with the
//! venue before placing anything new.

use std::path::Path;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use serde_json::Value;

use super::Checks;
use super::harness::{Rig, Setup, of_kind, position_from_fills, text, wait_bounded};

/// The capture diff at which the market drops through the resting order (~8 s in).
const DROP_AT: u64 = 700;

/// How long the first session may take to reach its position and open order.
const SETUP_TIMEOUT: Duration = Duration::from_secs(30);

/// Splits the journal into sessions (each starts at a `session` record).
fn sessions(recs: &[Value]) -> Vec<&[Value]> {
    let starts: Vec<usize> = recs
        .iter()
        .enumerate()
        .filter(|(_, r)| r["kind"] == "session")
        .map(|(i, _)| i)
        .collect();
    starts
        .iter()
        .enumerate()
        .map(|(k, &s)| &recs[s..starts.get(k + 1).copied().unwrap_or(recs.len())])
        .collect()
}

/// Runs the drill, recording its checks.
pub(crate) fn drill(bin: &Path, c: &mut Checks) -> Result<(), String> {
    let rig = Rig::new(
        "restart-mid-position",
        bin,
        &Setup {
            steps: &["buy 0.02 take", "buy 0.01 rest"],
            // Enough book updates for both sessions; while the engine is down (after the
            // kill, before the restart) the market drops through the resting buy.
            diffs: 3000,
            drop_at: Some(DROP_AT),
            ..Setup::default()
        },
    )?;
    let child = rig.spawn_run(60.0)?;
    // Wait (bounded) until the venue shows the position and the resting order.
    let deadline = Instant::now() + SETUP_TIMEOUT;
    let mut child = Some(child);
    loop {
        let pos = rig.venue_position()?;
        let locked = rig.venue_locked_quote()?;
        if pos == Decimal::new(2, 2) && locked > Decimal::ZERO {
            break;
        }
        if Instant::now() > deadline {
            let out = match child.take().map(|ch| wait_bounded(ch, Duration::ZERO)) {
                Some(Ok(o)) => text(&o),
                Some(Err(e)) => e,
                None => String::new(),
            };
            return Err(format!(
                "first session never reached its position and open order (venue position {pos}, locked {locked}):\n{out}"
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Let the acks and fills reach the journal, then kill without warning.
    std::thread::sleep(Duration::from_millis(700));
    let mut ch = child.take().ok_or("no child")?;
    ch.kill().map_err(|e| format!("SIGKILL: {e}"))?;
    let _ = ch.wait();
    // While the engine is down the venue fills the restored order (bounded wait).
    let deadline = Instant::now() + SETUP_TIMEOUT;
    loop {
        let pos = rig.venue_position()?;
        let locked = rig.venue_locked_quote()?;
        if pos == Decimal::new(3, 2) && locked.is_zero() {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the venue never filled the resting order while the engine was down (position {pos}, locked {locked})"
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }

    let out = rig.run(6.0)?;
    let recs = rig.records()?;
    let ss = sessions(&recs);
    c.check(
        "two sessions in the journal",
        ss.len() == 2,
        format!("{} session(s)", ss.len()),
    );
    let Some(second) = ss.get(1) else {
        return Ok(());
    };
    let pos_of = |r: &Value, kind: &str| r["kind"] == kind;
    let reconciled = second
        .iter()
        .position(|r| pos_of(r, "session-ctl") && r.to_string().contains("reconciled"));
    let first_new = second.iter().position(|r| pos_of(r, "new-order"));
    c.check(
        "reconciled with the venue before any new order",
        matches!((reconciled, first_new), (Some(a), Some(b)) if a < b),
        format!("reconciled at {reconciled:?}, first new order at {first_new:?} (record index in session 2)"),
    );
    let before = &second[..reconciled.unwrap_or(0)];
    let filled_status = before
        .iter()
        .any(|r| pos_of(r, "status") && r["record"]["status"] == "filled");
    let fill_booked = before.iter().any(|r| pos_of(r, "position"));
    c.check(
        "the restored order resolved per the venue before reconciled: filled while down, fill booked",
        filled_status && fill_booked && out.contains("verified 1 restored order(s)"),
        format!("filled status: {filled_status}, position change booked: {fill_booked}"),
    );
    let venue = rig.venue_position()?;
    let journal = position_from_fills(&recs)?;
    let printed = super::harness::printed_position(&out);
    c.check(
        "engine position = venue position across the restart",
        journal == venue && printed == venue,
        format!("venue {venue}, journal fills {journal}, engine {printed}"),
    );
    let fills = of_kind(&recs, "fill").count();
    c.check("fills journaled", fills >= 1, format!("{fills} fill(s)"));
    let verify = rig.replay_verify();
    c.check(
        "replay --verify reproduces both sessions",
        verify.is_ok(),
        verify.err().map_or_else(
            || "verify: OK".into(),
            |e| e.lines().last().unwrap_or("").to_owned(),
        ),
    );
    Ok(())
}
