//! The drills themselves: setup (faults, script, limits), one or more engine runs, checks.

use std::path::Path;

use rust_decimal::Decimal;
use serde_json::Value;

use super::Checks;
use super::harness::{Rig, Setup, of_kind, position_from_fills, printed_position};

/// A drill: runs against `bin`, records checks; `Err` when it could not run at all.
pub(crate) type Runner = fn(&Path, &mut Checks) -> Result<(), String>;

/// Names and what each proves (same order as [`RUNNERS`]).
pub(crate) const DRILLS: &[(&str, &str)] = &[
    (
        "fill-qty-rounding",
        "an order of 0.0241 reported filled 0.024098: fill accepted, order closed, position = venue's, no kill",
    ),
    (
        "status-without-fills",
        "a maker fill is pushed as a status without its fill record: the fill is recovered by query, counted once",
    ),
    (
        "duplicate-fill",
        "the venue pushes a fill twice: counted once, position = venue's",
    ),
    (
        "reject-storm",
        "the venue rejects every order: the breaker pauses the instrument before the 10th order is sent",
    ),
    (
        "5xx-order-live",
        "the venue answers 503 but placed the order: resolved by query as live, never placed twice",
    ),
    (
        "disconnect-mid-order",
        "the connection drops right after an order is placed: unknown, then resolved by query; position = venue's",
    ),
    (
        "rate-limit-429",
        "private calls answered 429: the session backs off per Retry-After (local refusals, no spin), venue requests bounded",
    ),
    (
        "stale-feed",
        "the market feed stalls: open quotes pulled, no order placed until the feed is back",
    ),
    (
        "sequence-gap",
        "a book diff is missing: no order on the broken book until it is resynced, trading resumes after",
    ),
    (
        "kill-degraded-venue",
        "kill while the venue rejects everything: closing orders within budget, one flatten-stuck alert, no loop, position still tracked",
    ),
    (
        "restart-mid-position",
        "SIGKILL with an open order and a position, restart: reconciled with the venue before any new order, position = venue's",
    ),
];

/// Drill functions, in [`DRILLS`] order.
pub(crate) const RUNNERS: &[Runner] = &[
    fill_qty_rounding,
    status_without_fills,
    duplicate_fill,
    reject_storm,
    five_xx_order_live,
    disconnect_mid_order,
    rate_limit_429,
    stale_feed,
    sequence_gap,
    kill_degraded_venue,
    restart_mid_position,
];

/// Run length of a single-session drill, seconds.
const RUN_SECS: f64 = 5.0;

/// Journal field `record.<a>.<b>` as text.
fn field(r: &Value, path: &[&str]) -> String {
    let mut v = &r["record"];
    for p in path {
        v = &v[*p];
    }
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Checks every drill makes: the engine's position (printed and from the journal's distinct
/// fills) equals the venue's balance change, and the journal replays exactly.
fn common(rig: &Rig, out: &str, recs: &[Value], c: &mut Checks) -> Result<(), String> {
    let venue = rig.venue_position()?;
    let journal = position_from_fills(recs)?;
    let printed = printed_position(out);
    c.check(
        "engine position = venue position",
        journal == venue && printed == venue,
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

/// Distinct fills in the journal vs fill inputs (duplicates included).
fn fill_counts(recs: &[Value]) -> (usize, usize) {
    let all: Vec<String> = of_kind(recs, "fill")
        .map(|r| field(r, &["trade_id"]))
        .collect();
    let mut distinct = all.clone();
    distinct.sort();
    distinct.dedup();
    (distinct.len(), all.len())
}

/// Kill-switch activity: flatten records or a level above reduce-only.
fn killed(recs: &[Value]) -> bool {
    of_kind(recs, "risk").any(|r| {
        let s = r["record"].to_string();
        s.contains("flatten") || s.contains("stopped")
    })
}

fn fill_qty_rounding(bin: &Path, c: &mut Checks) -> Result<(), String> {
    let rig = Rig::new(
        "fill-qty-rounding",
        bin,
        &Setup {
            sim_faults: "[[venue.private.fault]]\nkind = \"short_fill\"\nby = \"0.000002\"\ncount = 1\n",
            steps: &["buy 0.0241 take"],
            ..Setup::default()
        },
    )?;
    let out = rig.run(RUN_SECS)?;
    let recs = rig.records()?;
    let fills: Vec<String> = of_kind(&recs, "fill").map(|r| field(r, &["qty"])).collect();
    c.check(
        "short fill 0.024098 accepted",
        fills
            .iter()
            .any(|q| q.parse::<Decimal>().ok() == Some(Decimal::new(24098, 6))),
        format!("fills {fills:?}"),
    );
    let news = of_kind(&recs, "new-order").count();
    let open = out
        .lines()
        .find(|l| l.contains("open order"))
        .unwrap_or("")
        .to_owned();
    c.check(
        "order closed (no open order left, one order sent)",
        news == 1 && !out.contains("open orders: 1"),
        format!("{news} new-order(s); {open}"),
    );
    c.check(
        "no kill / flatten",
        !killed(&recs),
        "no flatten or stopped risk record",
    );
    common(&rig, &out, &recs, c)
}

fn status_without_fills(bin: &Path, c: &mut Checks) -> Result<(), String> {
    // A resting buy filled later by the market dropping through it (a maker fill): it is
    // reported only by the user-data push, which carries the status but no fill record.
    let rig = Rig::new(
        "status-without-fills",
        bin,
        &Setup {
            sim_faults: "[[venue.private.fault]]\nkind = \"no_fill_reports\"\ncount = 0\n",
            steps: &["buy 0.01 rest"],
            risk: "fill_debt_timeout_ms = 500\nfill_debt_max_queries = 5",
            drop_at: Some(350),
            diffs: 700,
            ..Setup::default()
        },
    )?;
    let out = rig.run(RUN_SECS + 2.0)?;
    let recs = rig.records()?;
    let (distinct, all) = fill_counts(&recs);
    let venue = rig.venue_position()?;
    let first_fill = recs.iter().position(|r| r["kind"] == "fill");
    let first_status = recs.iter().position(|r| {
        r["kind"] == "status"
            && matches!(
                field(r, &["status"]).as_str(),
                "filled" | "partially-filled"
            )
    });
    c.check(
        "the venue reported the fill as a status without a fill record first",
        matches!((first_status, first_fill), (Some(s), Some(f)) if s < f),
        format!("first fill-bearing status at {first_status:?}, first fill at {first_fill:?}"),
    );
    c.check(
        "the fill was recovered by query, counted once",
        distinct == 1 && venue == Decimal::new(1, 2),
        format!("{distinct} distinct fill(s) of {all} fill input(s); venue position {venue}"),
    );
    common(&rig, &out, &recs, c)
}

fn duplicate_fill(bin: &Path, c: &mut Checks) -> Result<(), String> {
    let rig = Rig::new(
        "duplicate-fill",
        bin,
        &Setup {
            sim_faults: "[[venue.private.fault]]\nkind = \"duplicate_fill\"\ncount = 1\n",
            steps: &["buy 0.01 take"],
            ..Setup::default()
        },
    )?;
    let out = rig.run(RUN_SECS)?;
    let recs = rig.records()?;
    let (distinct, all) = fill_counts(&recs);
    c.check(
        "the duplicated fill arrived twice and is counted once",
        distinct == 1 && all >= 2,
        format!("{all} fill input(s), {distinct} distinct"),
    );
    common(&rig, &out, &recs, c)
}

fn reject_storm(bin: &Path, c: &mut Checks) -> Result<(), String> {
    let rig = Rig::new(
        "reject-storm",
        bin,
        &Setup {
            sim_faults: "[[venue.private.fault]]\nkind = \"reject\"\ncount = 0\n",
            steps: &["buy 0.01 rest"],
            repeat: true,
            risk: "reject_max_consecutive = 9",
            ..Setup::default()
        },
    )?;
    let out = rig.run(RUN_SECS)?;
    let recs = rig.records()?;
    let news = of_kind(&recs, "new-order").count();
    let rejects = of_kind(&recs, "reject").count();
    c.check(
        "paused before the 10th reject: exactly 9 orders sent",
        news == 9,
        format!("{news} new-order(s), {rejects} venue reject(s)"),
    );
    let alert = of_kind(&recs, "alert").any(|r| r.to_string().contains("reject-storm"));
    c.check(
        "reject-storm alert raised",
        alert,
        "alert record in the journal",
    );
    common(&rig, &out, &recs, c)
}

fn five_xx_order_live(bin: &Path, c: &mut Checks) -> Result<(), String> {
    let rig = Rig::new(
        "5xx-order-live",
        bin,
        &Setup {
            sim_faults: "[[venue.private.fault]]\nkind = \"http_503\"\ncount = 1\n",
            steps: &["buy 0.01 rest"],
            ..Setup::default()
        },
    )?;
    let out = rig.run(RUN_SECS)?;
    let recs = rig.records()?;
    let news = of_kind(&recs, "new-order").count();
    let unknown = of_kind(&recs, "unknown").count();
    let resolved = of_kind(&recs, "status").any(|r| field(r, &["status"]) == "new");
    c.check(
        "503 → unknown → resolved live by query",
        unknown >= 1 && resolved,
        format!("{unknown} unknown report(s), status new seen: {resolved}"),
    );
    let locked = rig.venue_locked_quote()?;
    let one: Decimal = of_kind(&recs, "new-order")
        .map(|r| {
            let px: Decimal = field(r, &["px"]).parse().unwrap_or_default();
            let qty: Decimal = field(r, &["qty"]).parse().unwrap_or_default();
            px * qty
        })
        .sum();
    // The run's shutdown cancels its open orders, and whether that cancel reaches the venue
    // before the run ends depends on timing: the order is either still live (one order's worth
    // locked) or cancelled by us (nothing locked, and the journal has its cancel ack). A
    // duplicate placed by a blind retry would stay locked either way, unknown to the engine.
    let cancelled = of_kind(&recs, "cancel-ack").count() >= 1;
    c.check(
        "not duplicated: one order sent, exactly one order's worth at the venue",
        news == 1
            && one > Decimal::ZERO
            && (locked == one || (locked == Decimal::ZERO && cancelled)),
        format!(
            "{news} new-order(s); venue locks {locked} USDT, one order is {one}, cancelled at shutdown: {cancelled}"
        ),
    );
    common(&rig, &out, &recs, c)
}

fn disconnect_mid_order(bin: &Path, c: &mut Checks) -> Result<(), String> {
    let rig = Rig::new(
        "disconnect-mid-order",
        bin,
        &Setup {
            sim_faults: "[[venue.private.fault]]\nkind = \"disconnect\"\nplaced = true\ncount = 1\n",
            steps: &["buy 0.01 take"],
            ..Setup::default()
        },
    )?;
    let out = rig.run(RUN_SECS)?;
    let recs = rig.records()?;
    let news = of_kind(&recs, "new-order").count();
    let unknown = of_kind(&recs, "unknown").count();
    let venue = rig.venue_position()?;
    let queried = of_kind(&recs, "status").any(|r| field(r, &["status"]) == "filled");
    // An order whose bytes may have left is never guessed as rejected.
    let rejects = of_kind(&recs, "reject").count();
    c.check(
        "order in doubt after the disconnect, resolved as filled by query, not re-sent",
        unknown >= 1 && queried && venue == Decimal::new(1, 2) && news == 1 && rejects == 0,
        format!(
            "{unknown} unknown report(s), filled status from the query: {queried}, {news} new-order(s), {rejects} reject(s), venue position {venue}"
        ),
    );
    common(&rig, &out, &recs, c)
}

fn restart_mid_position(bin: &Path, c: &mut Checks) -> Result<(), String> {
    super::restart::drill(bin, c)
}

fn rate_limit_429(bin: &Path, c: &mut Checks) -> Result<(), String> {
    let rig = Rig::new(
        "rate-limit-429",
        bin,
        &Setup {
            // Every private call after the session's start-up ones is answered 429 for a while.
            sim_faults: "[[venue.private.fault]]\nkind = \"rate_limit\"\nafter = 2\ncount = 6\n",
            steps: &["buy 0.01 rest"],
            repeat: true,
            // Rate-limit refusals are not the venue rejecting orders: keep the breaker out.
            risk: "reject_max_consecutive = 100000\nreject_max_per_window = 100000",
            ..Setup::default()
        },
    )?;
    let out = rig.run(RUN_SECS)?;
    let recs = rig.records()?;
    let news = of_kind(&recs, "new-order").count();
    let limited: Vec<String> = of_kind(&recs, "reject")
        .filter(|r| field(r, &["reason"]) == "rate-limited")
        .map(|r| field(r, &["venue_code"]))
        .collect();
    let at_venue = limited.iter().filter(|c| *c != "0").count();
    let local = limited.len() - at_venue;
    // Retry-After is 1 s: at most one venue request per second of the run, plus the first.
    let bound = RUN_SECS as usize + 2;
    c.check(
        "backs off: requests reaching the venue bounded by Retry-After",
        at_venue >= 1 && at_venue <= bound,
        format!("{at_venue} 429 answer(s) from the venue (bound {bound})"),
    );
    c.check(
        "no spin: orders during the back-off refused locally",
        local >= 1 && local + at_venue <= news,
        format!("{news} order(s), {local} refused locally, {at_venue} by the venue"),
    );
    common(&rig, &out, &recs, c)
}

/// Index ranges (in `recs`) from a feed-status in `bad` to the next `resynced`/`connected`.
fn unhealthy_windows(recs: &[Value], bad: &[&str]) -> Vec<(usize, usize)> {
    let mut windows = Vec::new();
    let mut open = None;
    for (i, r) in recs.iter().enumerate() {
        if r["kind"] != "feed-status" {
            continue;
        }
        let state = field(r, &["state"]);
        if bad.contains(&state.as_str()) {
            open.get_or_insert(i);
        } else if (state == "resynced" || state == "connected")
            && let Some(s) = open.take()
        {
            windows.push((s, i));
        }
    }
    if let Some(s) = open {
        windows.push((s, recs.len()));
    }
    windows
}

/// Shared by the feed drills: alternating taker orders (flat on average), a public fault.
/// `pull`: also require the resting quotes to be cancelled inside the window (a stale feed
/// still delivers the strategy's turns; a gapped book is not shown to it until resynced).
fn feed_fault(
    bin: &Path,
    c: &mut Checks,
    name: &str,
    fault: &str,
    bad: &[&str],
    pull: bool,
) -> Result<(), String> {
    let rig = Rig::new(
        name,
        bin,
        &Setup {
            sim_faults: fault,
            steps: &["buy 0.01 rest", "buy 0.01 take", "sell 0.01 take"],
            repeat: true,
            venue: "stale_ms = 300",
            diffs: 800,
            ..Setup::default()
        },
    )?;
    let out = rig.run(RUN_SECS + 2.0)?;
    let recs = rig.records()?;
    let windows = unhealthy_windows(&recs, bad);
    let during: usize = windows
        .iter()
        .map(|&(a, b)| {
            recs[a..b]
                .iter()
                .filter(|r| r["kind"] == "new-order")
                .count()
        })
        .sum();
    c.check(
        "the fault was seen",
        !windows.is_empty(),
        format!("{} unhealthy window(s) {windows:?}", windows.len()),
    );
    c.check(
        "no order placed while the book was untrusted",
        during == 0,
        format!("{during} new-order(s) inside the window(s)"),
    );
    let pulled = windows.iter().any(|&(a, b)| {
        recs[a..b]
            .iter()
            .any(|r| r["kind"] == "cancel" || r["kind"] == "cancel-all")
    });
    if pull {
        c.check(
            "resting quotes pulled",
            pulled,
            format!("cancel inside the window: {pulled}"),
        );
    }
    let after = windows.first().map_or(0, |&(_, b)| {
        recs[b.min(recs.len())..]
            .iter()
            .filter(|r| r["kind"] == "new-order")
            .count()
    });
    c.check(
        "trading resumed once the feed recovered",
        after >= 1,
        format!("{after} new-order(s) after recovery"),
    );
    common(&rig, &out, &recs, c)
}

fn stale_feed(bin: &Path, c: &mut Checks) -> Result<(), String> {
    feed_fault(
        bin,
        c,
        "stale-feed",
        "[[venue.fault]]\nkind = \"pause\"\nat = 350\nms = 1500\n",
        &["stale"],
        true,
    )
}

fn sequence_gap(bin: &Path, c: &mut Checks) -> Result<(), String> {
    feed_fault(
        bin,
        c,
        "sequence-gap",
        "[[venue.fault]]\nkind = \"gap\"\nat = 350\n",
        &["gap", "disconnected"],
        false,
    )
}

fn kill_degraded_venue(bin: &Path, c: &mut Checks) -> Result<(), String> {
    super::kill::drill(bin, c)
}
