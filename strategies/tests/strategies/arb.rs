//! Cross-venue arbitrage on hand-built books: when it fires, how it sizes, and how an unhedged
//! leg is hedged or flattened within its bounds.

use crate::support;

use proptest::prelude::*;
use rust_decimal::Decimal;
use support::*;
use tickwire_core::engine::Engine;
use tickwire_core::event::{NewOrder, OrderType, Output, Side, TimeInForce};
use tickwire_core::ids::{InstrumentId, StrategyId};
use tickwire_core::num::{InstrumentSpec, Px, Qty};

const MS: u64 = 1_000_000;

fn config(fee_a: &str, fee_b: &str, threshold: &str, extra: &str) -> String {
    format!(
        r#"kind = "arb"
           name = "arb"
           instrument_a = "BTC-USDT"
           instrument_b = "BTCUSDT"
           taker_fee_a_bps = "{fee_a}"
           taker_fee_b_bps = "{fee_b}"
           threshold_bps = "{threshold}"
           max_order_qty = "0.5"
           max_position = "1"
           slippage_bps = "10"
           {extra}"#
    )
}

fn arb_engine(
    fee_a: &str,
    fee_b: &str,
    threshold: &str,
    extra: &str,
) -> (Engine, Vec<InstrumentSpec>) {
    let specs = two_venues();
    let extra = if extra.contains("max_unhedged_qty") {
        extra.to_owned()
    } else {
        format!("max_unhedged_qty = \"0.5\"\n{extra}")
    };
    let s = strategy(&config(fee_a, fee_b, threshold, &extra), &specs);
    (engine(&specs, vec![s]), specs)
}

fn pos(e: &Engine, i: u32) -> Qty {
    e.position(StrategyId(0), InstrumentId(i))
}

fn assert_ioc(n: &NewOrder, side: Side, inst: u32, price: &str, q: &str) {
    assert_eq!(n.side(), Some(side), "{n:?}");
    assert_eq!(n.meta.instrument, InstrumentId(inst), "{n:?}");
    assert_eq!(n.px, px(price), "{n:?}");
    assert_eq!(n.qty, qty(q), "{n:?}");
    assert_eq!(n.tif(), Some(TimeInForce::Ioc));
    assert_eq!(n.order_type(), Some(OrderType::Limit));
}

#[test]
fn fires_only_when_the_edge_exceeds_fees_plus_threshold() {
    // Buy A at 60000, sell B: needs (bid − 60000) > 60000 × (8 + 2) bps + bid × 10 bps, i.e.
    // bid − 60000 > 120.12..: 60120.1 is not enough, 60120.2 is.
    let (mut e, s) = arb_engine("8", "10", "2", "");
    assert!(news(e.process(&top(&s[0], 1, "59990", "1", "60000", "0.3"))).is_empty());
    assert!(news(e.process(&top(&s[1], 2, "60120.1", "0.4", "60130", "1"))).is_empty());
    let out = e
        .process(&top(&s[1], 3, "60120.2", "0.4", "60130", "1"))
        .to_vec();
    let n = news(&out);
    assert_eq!(n.len(), 2, "{out:?}");
    assert_ioc(&n[0], Side::Buy, 0, "60000", "0.3");
    assert_ioc(&n[1], Side::Sell, 1, "60120.2", "0.3");

    // An edge exactly equal to fees + threshold does not fire; one tick more does.
    let (mut e, s) = arb_engine("10", "0", "0", "");
    e.process(&top(&s[0], 1, "9990", "1", "10000", "1"));
    assert!(news(e.process(&top(&s[1], 2, "10010", "1", "10020", "1"))).is_empty());
    let n = news(e.process(&top(&s[1], 3, "10010.1", "1", "10020", "1")));
    assert_eq!(n.len(), 2);
    assert_ioc(&n[0], Side::Buy, 0, "10000", "0.5"); // capped by max_order_qty
    // The mirror direction: buy B, sell A.
    let (mut e, s) = arb_engine("10", "0", "0", "");
    e.process(&top(&s[1], 1, "9990", "1", "10000", "1"));
    let n = news(e.process(&top(&s[0], 2, "10020.1", "1", "10030", "1")));
    assert_eq!(n.len(), 2);
    assert_ioc(&n[0], Side::Buy, 1, "10000", "0.5");
    assert_ioc(&n[1], Side::Sell, 0, "10020.1", "0.5");
}

#[test]
fn never_fires_on_an_old_or_unhealthy_book() {
    let (mut e, s) = arb_engine("0", "0", "0", "max_book_age_ms = 100");
    e.process(&top(&s[0], MS, "99", "1", "100", "1"));
    // B shows a big edge, but A's book is 150 ms old.
    assert!(news(e.process(&top(&s[1], 151 * MS, "110", "1", "111", "1"))).is_empty());
    // A refreshed (same prices): fires.
    assert_eq!(
        news(e.process(&top(&s[0], 152 * MS, "99", "1", "100", "1"))).len(),
        2
    );

    let (mut e, s) = arb_engine("0", "0", "0", "");
    e.process(&top(&s[0], MS, "99", "1", "100", "1"));
    e.process(&status(
        &s[0],
        2 * MS,
        tickwire_core::event::FeedState::Stale,
    ));
    assert!(news(e.process(&top(&s[1], 3 * MS, "110", "1", "111", "1"))).is_empty());
}

#[test]
fn sized_to_the_levels_that_clear_and_to_the_limits() {
    let (mut e, s) = arb_engine("8", "10", "2", r#"max_unhedged_qty = "0.4""#);
    for input in depth(
        &s[0],
        1,
        &[
            (Side::Buy, "59990", "1"),
            (Side::Sell, "60000", "0.1"),
            (Side::Sell, "60050", "0.2"),
            (Side::Sell, "60200", "1"),
        ],
    ) {
        assert!(news(e.process(&input)).is_empty());
    }
    let mut out = Vec::new();
    for input in depth(
        &s[1],
        2,
        &[(Side::Buy, "60200", "1"), (Side::Sell, "60300", "1")],
    ) {
        out.extend(e.process(&input).to_vec());
    }
    // 60000 and 60050 clear against 60200 (edges 200 and 150 > ~120); 60200 does not.
    let n = news(&out);
    assert_eq!(n.len(), 2, "{out:?}");
    assert_ioc(&n[0], Side::Buy, 0, "60050", "0.3");
    assert_ioc(&n[1], Side::Sell, 1, "60200", "0.3");

    // The unhedged-size limit caps an arbitrage below the visible size and max_order_qty.
    let (mut e, s) = arb_engine("0", "0", "0", r#"max_unhedged_qty = "0.2""#);
    e.process(&top(&s[0], 1, "99", "5", "100", "5"));
    let n = news(e.process(&top(&s[1], 2, "101", "5", "102", "5")));
    assert_eq!(n[0].qty, qty("0.2"));
}

#[test]
fn inventory_limits_bound_each_venue() {
    let (mut e, s) = arb_engine("0", "0", "0", "");
    e.process(&top(&s[0], 1, "99", "5", "100", "5"));
    let mut t = 2;
    let mut sizes = Vec::new();
    // Each round fills both legs completely; positions grow +0.5 on A and −0.5 on B until the
    // limit of 1 leaves no room.
    for _ in 0..4 {
        let out = e.process(&top(&s[1], t, "101", "5", "102", "5")).to_vec();
        let n = news(&out);
        if n.is_empty() {
            break;
        }
        sizes.push(n[0].qty);
        for (k, o) in n.iter().enumerate() {
            let spec = &s[o.meta.instrument.0 as usize];
            let p = o.px.to_string();
            e.process(&fill(
                spec,
                t + 1,
                o,
                t * 10 + k as u64,
                &p,
                &o.qty.to_string(),
                "0",
            ));
        }
        t += 10;
    }
    assert_eq!(sizes, vec![qty("0.5"), qty("0.5")]);
    assert_eq!((pos(&e, 0), pos(&e, 1)), (qty("1"), qty("1").neg()));
}

/// Fires one arbitrage (buy A 0.3 at 60000, sell B at 60120.2) and fills only the buy leg.
fn one_legged(extra: &str) -> (Engine, Vec<InstrumentSpec>, Vec<Output>) {
    let (mut e, s) = arb_engine("8", "10", "2", extra);
    e.process(&top(&s[0], 1, "59990", "1", "60000", "0.3"));
    let n = news(e.process(&top(&s[1], 2 * MS, "60120.2", "0.4", "60130", "1")));
    assert_eq!(n.len(), 2);
    e.process(&fill(&s[0], 3 * MS, &n[0], 1, "60000", "0.3", "0.1"));
    let out = e
        .process(&cancel_ack(&s[1], 4 * MS, n[1].cl_ord_id))
        .to_vec();
    (e, s, out)
}

#[test]
fn unhedged_leg_is_hedged_at_once_within_the_slippage_band() {
    let (mut e, s, out) = one_legged("hedge_retries = 2\nflatten_retries = 2");
    // Hedge: sell the 0.3 on B, no lower than 60120.2 × (1 − 10 bps) = 60060.0798 → 60060.1.
    let n = news(&out);
    assert_eq!(n.len(), 1, "{out:?}");
    assert_ioc(&n[0], Side::Sell, 1, "60060.1", "0.3");
    let out = e
        .process(&fill(&s[1], 5 * MS, &n[0], 2, "60110", "0.3", "0.1"))
        .to_vec();
    assert!(news(&out).is_empty());
    assert_eq!((pos(&e, 0), pos(&e, 1)), (qty("0.3"), qty("0.3").neg()));
}

/// Lets every order the strategy sends expire unfilled; returns the orders, in order.
fn expire_all(
    e: &mut Engine,
    s: &[InstrumentSpec],
    first: Vec<NewOrder>,
    t0: u64,
) -> Vec<NewOrder> {
    let mut all = Vec::new();
    let mut pending = first;
    let mut t = t0;
    while let Some(o) = pending.pop() {
        all.push(o);
        assert!(all.len() < 50, "bounded: {all:?}");
        t += MS;
        let spec = &s[o.meta.instrument.0 as usize];
        pending.extend(news(e.process(&cancel_ack(spec, t, o.cl_ord_id))));
    }
    all
}

#[test]
fn failed_hedges_give_way_to_flattening_then_halting_bounded() {
    let (mut e, s, out) = one_legged("hedge_retries = 2\nflatten_retries = 3");
    let orders = expire_all(&mut e, &s, news(&out), 4 * MS);
    let on = |i: u32| {
        orders
            .iter()
            .filter(|o| o.meta.instrument == InstrumentId(i))
            .count()
    };
    // Two hedges on B, then three flattens on A, then nothing.
    assert_eq!((on(1), on(0)), (2, 3), "{orders:?}");
    assert!(
        orders[..2]
            .iter()
            .all(|o| o.meta.instrument == InstrumentId(1))
    );
    // Flatten: sell the filled 0.3 on A at A's bid 59990 × (1 − 10 bps) = 59930.01 → 59930.1.
    assert_ioc(&orders[2], Side::Sell, 0, "59930.1", "0.3");
    // Halted: a fresh opportunity does not fire.
    assert!(news(e.process(&top(&s[1], 100 * MS, "60500", "1", "60600", "1"))).is_empty());
    assert_eq!(
        pos(&e, 0),
        qty("0.3"),
        "left for the operator, never abandoned silently"
    );
}

#[test]
fn flatten_closes_the_filled_leg() {
    let (mut e, s, out) = one_legged("hedge_retries = 1\nflatten_retries = 2");
    let hedge = news(&out);
    let out = e
        .process(&cancel_ack(&s[1], 5 * MS, hedge[0].cl_ord_id))
        .to_vec();
    let flatten = news(&out);
    assert_ioc(&flatten[0], Side::Sell, 0, "59930.1", "0.3");
    let out = e
        .process(&fill(&s[0], 6 * MS, &flatten[0], 9, "59990", "0.3", "0.1"))
        .to_vec();
    assert!(news(&out).is_empty());
    assert_eq!((pos(&e, 0), pos(&e, 1)), (Qty::ZERO, Qty::ZERO));
    // Back to idle: the next opportunity fires.
    let n = news(e.process(&top(&s[1], 7 * MS, "60500", "1", "60600", "1")));
    assert_eq!(n.len(), 2);
}

#[test]
fn an_old_imbalance_is_flattened_not_hedged() {
    // max_unhedged_ms = 5: the first hedge is still out at 4 ms after the fill at 3 ms; it
    // expires at 20 ms, past the age bound, so the next order flattens although hedge
    // retries remain.
    let (mut e, s, out) = one_legged("hedge_retries = 5\nmax_unhedged_ms = 5");
    let hedge = news(&out);
    assert_eq!(hedge[0].meta.instrument, InstrumentId(1));
    let out = e
        .process(&cancel_ack(&s[1], 20 * MS, hedge[0].cl_ord_id))
        .to_vec();
    let n = news(&out);
    assert_eq!(n.len(), 1);
    assert_ioc(&n[0], Side::Sell, 0, "59930.1", "0.3");
}

#[test]
fn config_errors_are_reported_together() {
    let specs = two_venues();
    let errors = config_errors(
        r#"kind = "arb"
           name = "x"
           instrument_a = "BTC-USDT"
           instrument_b = "ETHUSDT"
           taker_fee_a_bps = "-1"
           max_order_qty = "0"
           max_position = "1"
           max_unhedged_qty = "1"
           hedge_retries = 1000
           colour = "blue""#,
        &specs,
    );
    let text = errors.join("\n");
    for want in [
        "strategy[0].instrument_b: no instrument \"ETHUSDT\"",
        "strategy[0].taker_fee_a_bps: -1 bps is out of range",
        "strategy[0].max_order_qty: must be > 0",
        "strategy[0].hedge_retries: 1000 is out of range",
        "strategy[0].colour: unknown key",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
}

/// The reference rule in decimals: profit per unit beyond both fees and the threshold.
fn reference_clears(ask: Px, bid: Px, fee_buy: i64, fee_sell: i64, threshold: i64) -> bool {
    let (ask, bid) = (ask.to_decimal(), bid.to_decimal());
    let bps = |b: i64| Decimal::from(b) / Decimal::from(10_000);
    bid - ask > ask * (bps(fee_buy) + bps(threshold)) + bid * bps(fee_sell)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    /// On random books and fees it fires exactly when the reference rule says the edge
    /// clears, and the legs it sends are priced at the books' touches.
    #[test]
    fn fires_exactly_when_the_reference_rule_clears(
        a_bid in 99_000i64..101_000, a_spread in 1i64..50,
        b_bid in 99_000i64..101_000, b_spread in 1i64..50,
        fee_a in 0i64..20, fee_b in 0i64..20, threshold in 0i64..20,
    ) {
        let tick = |t: i64| Px::from_raw(t * 100_000_000); // 0.1 ticks: 9900.0 .. 10100.0
        let (a_bid, a_ask) = (tick(a_bid), tick(a_bid + a_spread));
        let (b_bid, b_ask) = (tick(b_bid), tick(b_bid + b_spread));
        let (mut e, s) = arb_engine(&fee_a.to_string(), &fee_b.to_string(), &threshold.to_string(), "");
        let a = top(&s[0], 1, &a_bid.to_string(), "1", &a_ask.to_string(), "1");
        let b = top(&s[1], 2, &b_bid.to_string(), "1", &b_ask.to_string(), "1");
        let mut n = news(e.process(&a));
        n.extend(news(e.process(&b)));
        let ab = reference_clears(a_ask, b_bid, fee_a, fee_b, threshold);
        let ba = reference_clears(b_ask, a_bid, fee_b, fee_a, threshold);
        prop_assert_eq!(!n.is_empty(), ab || ba, "{:?}", n);
        if let [buy, sell] = n.as_slice() {
            let (buy_px, sell_px) = if buy.meta.instrument == InstrumentId(0) { (a_ask, b_bid) } else { (b_ask, a_bid) };
            prop_assert_eq!((buy.px, sell.px), (buy_px, sell_px));
            prop_assert_eq!(sell.side(), Some(Side::Sell));
        } else {
            prop_assert!(n.is_empty());
        }
    }
}
