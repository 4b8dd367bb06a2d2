//! The market maker on hand-built books: inventory skew, queue priority, the action budget,
//! and pulling quotes on stale data, gaps and volatility spikes.

use crate::support;

use support::*;
use tickwire_core::engine::Engine;
use tickwire_core::event::{ExecReport, Fill, Input};
use tickwire_core::event::{FeedState, Liquidity, NewOrder, Output, Side, TimeInForce};
use tickwire_core::ids::VenueId;
use tickwire_core::num::InstrumentSpec;

const MS: u64 = 1_000_000;

fn mm(extra: &str) -> (Engine, InstrumentSpec) {
    let s = spec(0, VenueId::BINANCE, "SOLUSDT", "0.01", "0.001");
    let text = format!(
        r#"kind = "mm"
           name = "mm"
           instrument = "SOLUSDT"
           order_qty = "1"
           max_position = "3"
           gamma = 0.5
           kappa = 10
           horizon_s = 1
           initial_vol_bps = 100
           stale_ms = 500
           vol_sample_ms = 100
           {extra}"#
    );
    let strat = strategy(&text, std::slice::from_ref(&s));
    (engine(std::slice::from_ref(&s), vec![strat]), s)
}

fn book(s: &InstrumentSpec, t: u64, bid: &str, ask: &str) -> Input {
    top(s, t, bid, "10", ask, "10")
}

fn quotes(out: &[Output]) -> (Option<NewOrder>, Option<NewOrder>) {
    let n = news(out);
    for o in &n {
        assert_eq!(o.tif(), Some(TimeInForce::PostOnly), "post-only: {o:?}");
    }
    let side = |sd| n.iter().find(|o| o.side() == Some(sd)).copied();
    (side(Side::Buy), side(Side::Sell))
}

/// Places the first quotes at mid 100 (a wide market, so the post-only clamp is not binding)
/// and acknowledges them.
fn quoted(e: &mut Engine, s: &InstrumentSpec) -> (NewOrder, NewOrder) {
    let out = e.process(&book(s, MS, "99", "101")).to_vec();
    let (Some(bid), Some(ask)) = quotes(&out) else {
        panic!("two quotes expected: {out:?}")
    };
    e.process(&ack(s, 2 * MS, bid.cl_ord_id));
    e.process(&ack(s, 2 * MS, ask.cl_ord_id));
    (bid, ask)
}

fn maker_fill(s: &InstrumentSpec, t: u64, o: &NewOrder, trade: u64) -> Input {
    Input::Exec(ExecReport::Fill(Fill::new(
        meta(s, t),
        o.cl_ord_id,
        1,
        trade,
        o.side().expect("side"),
        o.px,
        o.qty,
        px("0"),
        Liquidity::Maker,
    )))
}

#[test]
fn quotes_follow_the_model_and_long_inventory_lowers_both() {
    let (mut e, s) = mm("");
    // σ = 1%/√s at mid 100: σ² = 1 per second; spread = 0.5 + 4·ln(1.05) = 0.695..,
    // so quotes at 100 ∓ 0.3476 → 99.65 / 100.35 (rounded away from the reservation price).
    let (bid, ask) = quoted(&mut e, &s);
    assert_eq!((bid.px, ask.px), (px("99.65"), px("100.35")));
    assert_eq!((bid.qty, ask.qty), (qty("1"), qty("1")));

    // The bid fills: long one quote, r = 100 − 1·0.5·1·1 = 99.5 → 99.15 / 99.85.
    let out = e.process(&maker_fill(&s, 3 * MS, &bid, 1)).to_vec();
    let (new_bid, none) = quotes(&out);
    assert!(none.is_none());
    let new_bid = new_bid.expect("bid replaced");
    assert_eq!(new_bid.px, px("99.15"));
    assert_eq!(
        cancels(&out),
        vec![ask.cl_ord_id],
        "the ask must move: cancel first"
    );
    let out = e.process(&cancel_ack(&s, 4 * MS, ask.cl_ord_id)).to_vec();
    let (_, new_ask) = quotes(&out);
    let new_ask = new_ask.expect("ask replaced");
    assert_eq!(new_ask.px, px("99.85"));
    assert!(
        new_bid.px < bid.px && new_ask.px < ask.px,
        "long → both quotes lower"
    );

    // In a tight market the skewed ask is held one tick above the bid so it still rests.
    let (mut e, s) = mm("");
    let (bid, _) = quoted(&mut e, &s);
    e.process(&book(&s, 3 * MS, "99.99", "100.01"));
    let out = e.process(&maker_fill(&s, 4 * MS, &bid, 1)).to_vec();
    let ask = cancels(&out)[0];
    let out = e.process(&cancel_ack(&s, 5 * MS, ask)).to_vec();
    assert_eq!(quotes(&out).1.map(|o| o.px), Some(px("100")));
}

#[test]
fn a_partial_fill_requotes_at_once() {
    let (mut e, s) = mm("");
    let (bid, ask) = quoted(&mut e, &s);
    // Half the bid fills: q = 0.5, r = 99.75 → 99.40 / 100.10: both quotes must move.
    let half = Input::Exec(ExecReport::Fill(Fill::new(
        meta(&s, 3 * MS),
        bid.cl_ord_id,
        1,
        1,
        Side::Buy,
        bid.px,
        qty("0.5"),
        px("0"),
        Liquidity::Maker,
    )));
    let out = e.process(&half).to_vec();
    let mut c = cancels(&out);
    c.sort();
    let mut want = vec![bid.cl_ord_id, ask.cl_ord_id];
    want.sort();
    assert_eq!(c, want, "{out:?}");
    let out = e.process(&cancel_ack(&s, 4 * MS, bid.cl_ord_id)).to_vec();
    let (new_bid, _) = quotes(&out);
    let new_bid = new_bid.expect("bid replaced");
    assert_eq!((new_bid.px, new_bid.qty), (px("99.4"), qty("1")));
}

#[test]
fn unchanged_quotes_keep_their_place_and_moves_respect_requote_ticks() {
    let (mut e, s) = mm("");
    let (bid, ask) = quoted(&mut e, &s);
    // Same mid, different sizes at the touch: the quotes are left alone.
    let out = e
        .process(&top(&s, 3 * MS, "99.99", "4", "100.01", "7"))
        .to_vec();
    assert!(out.is_empty(), "queue priority kept: {out:?}");
    // Mid up one tick: both quotes must move one tick.
    let out = e.process(&book(&s, 4 * MS, "100", "100.02")).to_vec();
    let mut c = cancels(&out);
    c.sort();
    let mut want = vec![bid.cl_ord_id, ask.cl_ord_id];
    want.sort();
    assert_eq!(c, want);

    let (mut e, s) = mm("requote_ticks = 3");
    quoted(&mut e, &s);
    assert!(
        e.process(&book(&s, 3 * MS, "100", "100.02")).is_empty(),
        "1 tick < 3"
    );
    assert_eq!(
        cancels(e.process(&book(&s, 4 * MS, "100.02", "100.04"))).len(),
        2
    );
}

#[test]
fn replacing_is_held_to_the_action_budget() {
    // Two tokens, refilled at one a second: after the first two quotes nothing moves for a
    // second however much the mid does.
    let (mut e, s) = mm("action_burst = 2\nmax_actions_per_sec = 1");
    quoted(&mut e, &s);
    let mut actions = 0;
    for k in 0..400u64 {
        let mid_ticks = 10_000 + (k % 7) as i64 * 3;
        let b = format!(
            "{}",
            tickwire_core::num::Px::from_raw((mid_ticks - 1) * 10_000_000)
        );
        let a = format!(
            "{}",
            tickwire_core::num::Px::from_raw((mid_ticks + 1) * 10_000_000)
        );
        let out = e.process(&book(&s, (3 + k) * MS, &b, &a)).to_vec();
        actions += news(&out).len() + cancels(&out).len();
    }
    // 400 ms: the bucket was empty after the first quotes and refilled less than one token.
    assert_eq!(actions, 0);
    let out = e.process(&book(&s, 1_200 * MS, "100.2", "100.22")).to_vec();
    assert_eq!(cancels(&out).len(), 1, "one token after a second: {out:?}");
}

#[test]
fn quotes_are_pulled_on_stale_feed_gap_silence_and_spikes() {
    let mut pulled = 0;
    for state in [FeedState::Stale, FeedState::Gap, FeedState::Disconnected] {
        let (mut e, s) = mm("");
        let (bid, ask) = quoted(&mut e, &s);
        let out = e.process(&status(&s, 3 * MS, state)).to_vec();
        assert_eq!(
            cancels(&out),
            vec![bid.cl_ord_id, ask.cl_ord_id],
            "{state:?}"
        );
        e.process(&cancel_ack(&s, 4 * MS, bid.cl_ord_id));
        e.process(&cancel_ack(&s, 4 * MS, ask.cl_ord_id));
        // Market data alone does not make a bad feed good again.
        assert!(news(e.process(&book(&s, 5 * MS, "99.99", "100.01"))).is_empty());
        // A resync does.
        let mut out = e.process(&status(&s, 6 * MS, FeedState::Resynced)).to_vec();
        out.extend(e.process(&book(&s, 7 * MS, "99.99", "100.01")).to_vec());
        assert_eq!(news(&out).len(), 2, "{state:?}: quoting again after resync");
        pulled += 1;
    }
    assert_eq!(pulled, 3);

    // No update for more than stale_ms of engine time (a timer notices).
    let (mut e, s) = mm("");
    let (bid, ask) = quoted(&mut e, &s);
    assert!(
        e.process(&timer(400 * MS)).is_empty(),
        "400 ms of silence is fine"
    );
    let out = e.process(&timer(502 * MS)).to_vec();
    assert_eq!(cancels(&out), vec![bid.cl_ord_id, ask.cl_ord_id]);

    // A 5% jump in 300 ms is tens of sigmas: pulled, and kept off for the cooldown.
    let (mut e, s) = mm("vol_warmup_samples = 0\nvol_spike_sigmas = 4\nspike_cooldown_ms = 1000");
    let (bid, ask) = quoted(&mut e, &s);
    assert!(e.process(&book(&s, 200 * MS, "99.99", "100.01")).is_empty());
    let out = e.process(&book(&s, 400 * MS, "104.99", "105.01")).to_vec();
    assert_eq!(cancels(&out), vec![bid.cl_ord_id, ask.cl_ord_id]);
    e.process(&cancel_ack(&s, 401 * MS, bid.cl_ord_id));
    e.process(&cancel_ack(&s, 401 * MS, ask.cl_ord_id));
    assert!(news(e.process(&book(&s, 900 * MS, "104.99", "105.01"))).is_empty());
    assert_eq!(
        news(e.process(&book(&s, 1_450 * MS, "104.99", "105.01"))).len(),
        2
    );
}

#[test]
fn position_limit_and_negative_maker_fee() {
    // At the limit (3 long) no bid is quoted.
    let (mut e, s) = mm("");
    let (mut bid, _) = quoted(&mut e, &s);
    for k in 0..3u64 {
        let out = e
            .process(&maker_fill(&s, (10 + k) * MS, &bid, k + 1))
            .to_vec();
        match quotes(&out).0 {
            Some(b) => {
                e.process(&ack(&s, (10 + k) * MS + 1, b.cl_ord_id));
                bid = b;
            }
            None => {
                assert_eq!(k, 2, "no bid only once the position is at the limit");
            }
        }
    }
    assert_eq!(
        e.position(tickwire_core::ids::StrategyId(0), s.id),
        qty("3")
    );

    // The minimum edge floor: 40 bps + 10 bps fee at mid 100 is 0.5 from r; a 5 bps rebate
    // takes it to 0.35.
    let (mut e, s) = mm("min_edge_bps = \"40\"\nmaker_fee_bps = \"10\"");
    let (bid, ask) = quoted(&mut e, &s);
    assert_eq!((bid.px, ask.px), (px("99.5"), px("100.5")));
    let (mut e, s) = mm("min_edge_bps = \"40\"\nmaker_fee_bps = \"-5\"");
    let (bid, ask) = quoted(&mut e, &s);
    assert_eq!((bid.px, ask.px), (px("99.65"), px("100.35")));
}

#[test]
fn config_is_validated() {
    let s = [spec(0, VenueId::BINANCE, "SOLUSDT", "0.01", "0.001")];
    let errors = config_errors(
        r#"kind = "mm"
           name = "mm"
           instrument = "SOLUSDT"
           order_qty = "5"
           max_position = "3"
           gamma = -1
           stale_ms = 0
           maker_fee_bps = "x""#,
        &s,
    )
    .join("\n");
    for want in [
        "gamma: -1 is out of range",
        "stale_ms: 0 is out of range",
        "maker_fee_bps: \"x\" is not a valid number of basis points",
        "order_qty: must not exceed max_position",
    ] {
        assert!(errors.contains(want), "missing {want:?} in:\n{errors}");
    }
}
