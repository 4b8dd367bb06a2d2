//! Risk on constructed input sequences: pre-trade refusals (journaled with the request),
//! data anomalies vs risk events, breakers, fill health, and the kill switch.

use crate::risk_support;

use risk_support::*;
use tickwire_core::engine::PlaceError;
use tickwire_core::event::{
    AlertCode, FeedState, OperatorAction, OrderCommand, OrderStatus, Output, RiskDecisionKind,
    RiskLevel, RiskReason, Side,
};
use tickwire_core::ids::{InstrumentId, StrategyId, VenueId};
use tickwire_core::num::Px;
use tickwire_core::risk::{FlattenPhase, RateBudget, RiskConfig};

const S0: StrategyId = StrategyId(0);

fn refused(r: &Result<tickwire_core::ids::ClientOrderId, PlaceError>, reason: RiskReason) {
    assert_eq!(
        r,
        &Err(PlaceError::Risk(reason)),
        "expected a {reason} refusal"
    );
}

fn one_refusal(out: &[Output], reason: RiskReason) -> tickwire_core::event::RiskDecision {
    let recs = risk(out);
    let d = recs
        .iter()
        .find(|d| d.kind() == Some(RiskDecisionKind::Reject))
        .unwrap_or_else(|| panic!("no refusal record in {out:?}"));
    assert_eq!(d.reason(), Some(reason));
    assert!(
        new_orders(out).is_empty(),
        "a refused order must not be sent"
    );
    *d
}

#[test]
fn size_notional_and_price_band_refusals_are_journaled_with_the_request() {
    let mut cfg = RiskConfig::permissive(1);
    cfg.instruments[0].max_order_qty = Some(qty("2"));
    cfg.instruments[0].max_order_notional = Some(px("150"));
    cfg.instruments[0].price_band_bps = Some(100);
    let mut h = Harness::new(cfg);
    h.top(0, "100", "100.2");

    let (r, out) = h.place(Side::Buy, "100", "3");
    refused(&r, RiskReason::MaxOrderQty);
    let d = one_refusal(&out, RiskReason::MaxOrderQty);
    assert_eq!(
        (d.qty, d.px, d.side),
        (qty("3"), px("100"), Side::Buy.code())
    );
    assert_eq!((d.value, d.limit), (qty("3").raw(), qty("2").raw()));

    let (r, out) = h.place(Side::Buy, "100", "1.6");
    refused(&r, RiskReason::MaxOrderNotional);
    one_refusal(&out, RiskReason::MaxOrderNotional);

    // Mid 100.1; 1% band = 1.001.
    let (r, out) = h.place(Side::Buy, "101.2", "1");
    refused(&r, RiskReason::PriceBand);
    one_refusal(&out, RiskReason::PriceBand);
    let (r, out) = h.place(Side::Sell, "99", "1");
    refused(&r, RiskReason::PriceBand);
    one_refusal(&out, RiskReason::PriceBand);

    let (r, out) = h.place(Side::Buy, "100", "1");
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(new_orders(&out).len(), 1);
    assert_eq!(h.e.risk().counts(), (5, 4));
}

#[test]
fn an_old_mid_is_no_mid_for_new_risk() {
    let mut cfg = RiskConfig::permissive(1);
    cfg.max_mid_age_ns = 500 * MS;
    let mut h = Harness::new(cfg);
    let (r, _) = h.place(Side::Buy, "100", "1");
    refused(&r, RiskReason::NoFreshMid);
    h.top(0, "100", "100.2");
    h.advance(600 * MS);
    let (r, out) = h.place(Side::Buy, "100", "1");
    refused(&r, RiskReason::NoFreshMid);
    let d = one_refusal(&out, RiskReason::NoFreshMid);
    assert!(d.value > d.limit);
    h.top(0, "100", "100.2");
    assert!(h.place(Side::Buy, "100", "1").0.is_ok());
}

#[test]
fn position_limit_counts_open_orders_in_the_worst_case() {
    let mut cfg = RiskConfig::permissive(1);
    cfg.instruments[0].max_position = Some(qty("2"));
    let mut h = Harness::new(cfg);
    h.top(0, "100", "100.2");
    let (a, _) = h.place(Side::Buy, "99", "1.5");
    assert!(a.is_ok());
    // 1.5 open + 1 = 2.5 > 2, although the position is still zero.
    let (r, out) = h.place(Side::Buy, "99", "1");
    refused(&r, RiskReason::InstrumentPosition);
    let d = one_refusal(&out, RiskReason::InstrumentPosition);
    assert_eq!(d.value, qty("2.5").raw());
    // A sell does not add to the worst case on the long side.
    assert!(h.place(Side::Sell, "101", "1").0.is_ok());
    // Once the buy fills, the position itself counts.
    let id = a.expect("placed");
    h.fill(id, Side::Buy, "99", "1.5");
    let (r, _) = h.place(Side::Buy, "98", "0.6");
    refused(&r, RiskReason::InstrumentPosition);
    assert!(h.place(Side::Buy, "98", "0.5").0.is_ok());
}

#[test]
fn venue_and_global_notional_limits() {
    let mut cfg = RiskConfig::permissive(2);
    cfg.max_venue_notional = Some(px("250"));
    cfg.max_global_notional = Some(px("350"));
    let specs = vec![
        spec(0, VenueId::OKX, "BTC-USDT"),
        spec(1, VenueId::BINANCE, "BTCUSDT"),
    ];
    let mut h = Harness::with(cfg, specs);
    h.top(0, "100", "100");
    h.top(1, "100", "100");
    assert!(h.place_on(0, Side::Buy, "99", "2").0.is_ok());
    let (r, _) = h.place_on(0, Side::Buy, "99", "1");
    refused(&r, RiskReason::VenueNotional);
    assert!(h.place_on(1, Side::Buy, "99", "1").0.is_ok());
    let (r, _) = h.place_on(1, Side::Buy, "99", "1");
    refused(&r, RiskReason::GlobalNotional);
}

#[test]
fn self_trade_open_order_count_and_rate_budget() {
    let mut cfg = RiskConfig::permissive(1);
    cfg.instruments[0].max_open_orders = Some(3);
    cfg.rate = Some(RateBudget {
        per_sec: 1,
        burst: 3,
    });
    let mut h = Harness::new(cfg);
    h.top(0, "100", "100.2");
    assert!(h.place(Side::Sell, "100.5", "1").0.is_ok());
    let (r, out) = h.place(Side::Buy, "100.5", "1");
    refused(&r, RiskReason::SelfTrade);
    one_refusal(&out, RiskReason::SelfTrade);
    assert!(h.place(Side::Buy, "100.4", "1").0.is_ok());
    assert!(h.place(Side::Buy, "100.3", "1").0.is_ok());
    let (r, _) = h.place(Side::Buy, "100.2", "1");
    refused(&r, RiskReason::OpenOrders);
    // The venue cancels one: the count frees up, but the venue budget (3 per burst, 1/s) is
    // spent by the three orders sent.
    let first_buy =
        h.e.orders()
            .iter()
            .find(|o| o.side == Side::Buy)
            .map(|o| o.id)
            .expect("open buy");
    h.status(first_buy, OrderStatus::Canceled, "0");
    let (r, _) = h.place(Side::Buy, "100.1", "1");
    refused(&r, RiskReason::RateLimit);
    h.advance(1_000 * MS);
    assert!(h.place(Side::Buy, "100.1", "1").0.is_ok());
}

#[test]
fn data_anomaly_blocks_new_risk_but_not_reduction_and_does_not_escalate() {
    let mut h = Harness::new(RiskConfig::permissive(1));
    h.top(0, "100", "100.2");
    let id = h.place(Side::Buy, "100.2", "1").0.expect("placed");
    h.fill(id, Side::Buy, "100.2", "1");
    let out = h.feed(0, FeedState::Gap);
    assert!(has_alert(&out, AlertCode::DataAnomaly));
    let d = risk(&out);
    assert!(d.iter().any(|d| d.kind() == Some(RiskDecisionKind::Anomaly)
        && d.reason() == Some(RiskReason::DataAnomaly)));
    // More risk: refused.
    let (r, _) = h.place(Side::Buy, "100", "1");
    refused(&r, RiskReason::DataAnomaly);
    // Reducing the open position: allowed, on the last known mid... which the gap cleared
    // from the book; the top of book remains.
    let (r, out) = h.place(Side::Sell, "100", "1");
    assert!(r.is_ok(), "reducing order refused: {r:?} {out:?}");
    assert_eq!(h.e.risk().level(S0), RiskLevel::Active, "no escalation");
    let out = h.feed(0, FeedState::Resynced);
    assert!(
        risk(&out)
            .iter()
            .any(|d| d.reason() == Some(RiskReason::Recovered))
    );
}

#[test]
fn reject_storm_pauses_the_instrument_before_the_tenth_reject_and_resume_resets() {
    let mut h = Harness::new(RiskConfig::permissive(1));
    h.top(0, "100", "100.2");
    let mut sent = 0;
    let mut tripped = false;
    for _ in 0..20 {
        let (r, out) = h.place(Side::Buy, "100", "0.01");
        let Ok(id) = r else {
            refused(&r, RiskReason::Breaker);
            break;
        };
        sent += 1;
        assert_eq!(new_orders(&out).len(), 1);
        let out = h.reject(id);
        if has_alert(&out, AlertCode::RejectStorm) {
            tripped = true;
            assert!(
                risk(&out)
                    .iter()
                    .any(|d| d.kind() == Some(RiskDecisionKind::Level)
                        && d.to == RiskLevel::ReduceOnly.code())
            );
        }
    }
    assert!(tripped);
    assert_eq!(sent, 9, "the 10th order must never be sent");
    assert!(h.e.risk().breaker_tripped(InstrumentId(0)));
    assert_eq!(h.e.risk().level(S0), RiskLevel::ReduceOnly);
    let out = h.operator(OperatorAction::Resume);
    assert!(
        risk(&out)
            .iter()
            .any(|d| d.kind() == Some(RiskDecisionKind::Breaker))
    );
    assert!(!h.e.risk().breaker_tripped(InstrumentId(0)));
    assert_eq!(h.e.risk().level(S0), RiskLevel::Active);
    assert!(h.place(Side::Buy, "100", "0.01").0.is_ok());
}

#[test]
fn fill_debt_is_chased_by_bounded_queries_and_settled_by_the_fill() {
    let mut cfg = RiskConfig::permissive(1);
    cfg.fill_debt_timeout_ns = 10 * MS;
    cfg.fill_debt_max_queries = 2;
    let mut h = Harness::new(cfg);
    h.top(0, "100", "100.2");
    let id = h.place(Side::Buy, "100", "1").0.expect("placed");
    h.ack(id);
    let out = h.status(id, OrderStatus::Filled, "1");
    assert!(
        risk(&out)
            .iter()
            .any(|d| d.reason() == Some(RiskReason::FillDebt))
    );
    assert!(h.e.risk().anomaly(InstrumentId(0)));
    assert!(
        h.position().is_zero(),
        "status alone never moves the position"
    );
    let mut queries = 0;
    let mut alerts = 0;
    for _ in 0..100 {
        h.advance(5 * MS);
        let out = h.tick();
        queries += out
            .iter()
            .filter(|o| matches!(o, Output::Command(OrderCommand::Query(q)) if q.cl_ord_id == id))
            .count();
        alerts += usize::from(has_alert(&out, AlertCode::FillDebt));
    }
    assert_eq!(queries, 2, "bounded re-queries");
    assert_eq!(
        alerts, 3,
        "each query alerts, and giving up alerts once more"
    );
    // New risk on the instrument stays blocked while the debt is open.
    let (r, _) = h.place(Side::Buy, "99", "1");
    refused(&r, RiskReason::DataAnomaly);
    let out = h.fill(id, Side::Buy, "100", "1");
    assert!(
        risk(&out)
            .iter()
            .any(|d| d.reason() == Some(RiskReason::Recovered))
    );
    assert!(!h.e.risk().anomaly(InstrumentId(0)));
    assert_eq!(h.position(), qty("1"));
}

fn long(h: &mut Harness, q: &str) {
    h.top(0, "100", "100.2");
    let id = h.place(Side::Buy, "100.2", q).0.expect("placed");
    h.fill(id, Side::Buy, "100.2", q);
    assert_eq!(h.position(), qty(q));
}

#[test]
fn kill_against_a_venue_that_rejects_everything_is_bounded_and_keeps_the_position() {
    let mut cfg = RiskConfig::permissive(1);
    cfg.flatten.max_orders = 5;
    cfg.flatten.backoff_ns = 10 * MS;
    cfg.flatten.max_backoff_ns = 40 * MS;
    let mut h = Harness::new(cfg);
    long(&mut h, "2");
    // A resting order to be cancelled first.
    let resting = h.place(Side::Buy, "99", "0.5").0.expect("placed");
    h.ack(resting);
    let out = h.operator(OperatorAction::Kill);
    assert!(
        out.iter().any(
            |o| matches!(o, Output::Command(OrderCommand::Cancel(c)) if c.cl_ord_id == resting)
        )
    );
    assert!(
        new_orders(&out).is_empty(),
        "no closing order before cancels are confirmed"
    );
    assert_eq!(h.e.risk().level(S0), RiskLevel::Flattening);
    let mut out = h.status(resting, OrderStatus::Canceled, "0");

    let mut closing = 0;
    let mut stuck_alerts = 0;
    for _ in 0..2_000 {
        for n in new_orders(&out) {
            closing += 1;
            assert_eq!(n.side(), Some(Side::Sell));
            // Inside the slippage band (1% of mid 100.1) and marketable.
            assert!(n.px >= px("99.099") && n.px <= px("100"), "{:?}", n.px);
            h.reject(n.cl_ord_id);
        }
        stuck_alerts += usize::from(has_alert(&out, AlertCode::FlattenStuck));
        h.advance(3 * MS);
        out = h.tick();
    }
    assert_eq!(closing, 5, "never more closing orders than the budget");
    assert_eq!(stuck_alerts, 1, "the operator is alerted once");
    assert_eq!(h.position(), qty("2"), "the position is still tracked");
    assert_eq!(
        h.e.risk().level(S0),
        RiskLevel::Flattening,
        "not abandoned as stopped"
    );
    // A fresh kill starts a fresh budget.
    let mut out = h.operator(OperatorAction::Kill);
    let mut more = 0;
    for _ in 0..50 {
        more += new_orders(&out).len();
        for n in new_orders(&out) {
            h.reject(n.cl_ord_id);
        }
        h.advance(50 * MS);
        out = h.tick();
    }
    assert_eq!(more, 5);
}

#[test]
fn partial_flatten_continues_until_flat_then_stops() {
    let mut cfg = RiskConfig::permissive(1);
    cfg.flatten.backoff_ns = 5 * MS;
    let mut h = Harness::new(cfg);
    long(&mut h, "3");
    let mut out = h.operator(OperatorAction::Flatten);
    let mut rounds = 0;
    for _ in 0..500 {
        for n in new_orders(&out) {
            rounds += 1;
            assert_eq!(
                n.qty,
                h.position(),
                "each closing order covers what is left"
            );
            // The venue fills one lot-rounded unit and expires the rest.
            h.fill(n.cl_ord_id, Side::Sell, "100", "1");
            if h.e.orders().get(n.cl_ord_id).is_some() {
                h.expired(n.cl_ord_id, "1");
            }
        }
        if h.e.risk().level(S0) == RiskLevel::Stopped {
            break;
        }
        h.advance(10 * MS);
        out = h.tick();
    }
    assert_eq!(rounds, 3);
    assert!(h.position().is_zero());
    assert_eq!(h.e.risk().level(S0), RiskLevel::Stopped);
    assert_eq!(
        h.e.risk().flatten_state(S0).map(|f| f.phase),
        Some(FlattenPhase::Done)
    );
    // Stopped: the strategy cannot trade until resumed.
    let (r, _) = h.place(Side::Buy, "100", "1");
    assert!(r.is_err());
    h.operator(OperatorAction::Resume);
    assert!(h.place(Side::Buy, "100", "1").0.is_ok());
}

#[test]
fn flatten_confirms_unanswered_cancels_by_query_then_closes_anyway() {
    let mut cfg = RiskConfig::permissive(1);
    cfg.flatten.confirm_timeout_ns = 20 * MS;
    cfg.flatten.max_queries = 2;
    let mut h = Harness::new(cfg);
    long(&mut h, "1");
    let resting = h.place(Side::Buy, "99", "0.5").0.expect("placed");
    h.ack(resting);
    let mut out = h.operator(OperatorAction::Kill);
    let mut queries = 0;
    let mut closing = Vec::new();
    for _ in 0..200 {
        queries += out
            .iter()
            .filter(|o| matches!(o, Output::Command(OrderCommand::Query(_))))
            .count();
        closing.extend(new_orders(&out));
        if !closing.is_empty() {
            break;
        }
        h.advance(5 * MS);
        out = h.tick();
    }
    assert_eq!(queries, 2);
    assert_eq!(
        closing.len(),
        1,
        "the position is closed even with a silent venue"
    );
}

#[test]
fn loss_limits_escalate_soft_then_hard() {
    let mut cfg = RiskConfig::permissive(1);
    cfg.daily_loss_soft = Some(px("5"));
    cfg.daily_loss_hard = Some(px("10"));
    let mut h = Harness::new(cfg);
    long(&mut h, "1");
    h.top(0, "94", "94.2");
    let out = h.tick();
    assert!(has_alert(&out, AlertCode::LossLimit));
    assert_eq!(h.e.risk().level(S0), RiskLevel::ReduceOnly);
    let (r, _) = h.place(Side::Buy, "94", "0.1");
    refused(&r, RiskReason::ReduceOnly);
    h.top(0, "89", "89.2");
    h.tick();
    assert_eq!(h.e.risk().level(S0), RiskLevel::Flattening);
}

#[test]
fn duplicate_close_and_flip_while_reducing() {
    let mut cfg = RiskConfig::permissive(1);
    cfg.daily_loss_soft = Some(px("0.5"));
    let mut h = Harness::new(cfg);
    long(&mut h, "2");
    h.top(0, "99", "99.2");
    h.tick();
    assert_eq!(h.e.risk().level(S0), RiskLevel::ReduceOnly);
    let close = h.place(Side::Sell, "99", "1").0.expect("a closing order");
    let (r, _) = h.place(Side::Sell, "99", "0.5");
    refused(&r, RiskReason::DuplicateClose);
    // The venue overfills the close (a bug or a duplicate we could not see): the position
    // flips while reducing.
    let out = h.fill(close, Side::Sell, "99", "3");
    assert!(has_alert(&out, AlertCode::PositionFlip), "{out:?}");
    assert_eq!(h.e.risk().level(S0), RiskLevel::Flattening);
}

#[test]
fn overdue_unhedged_leg_escalates_to_reduce_only() {
    let mut cfg = RiskConfig::permissive(1);
    cfg.max_leg_qty = Some(qty("1"));
    cfg.max_leg_age_ns = 50 * MS;
    let mut h = Harness::new(cfg);
    h.top(0, "100", "100.2");
    let (r, _) = h.act(Act::Leg(InstrumentId(0), qty("2")));
    refused(&r, RiskReason::UnhedgedLeg);
    assert!(h.act(Act::Leg(InstrumentId(0), qty("1"))).0.is_ok());
    let mut alerted = false;
    for _ in 0..10 {
        h.advance(10 * MS);
        alerted |= has_alert(&h.tick(), AlertCode::UnhedgedLeg);
    }
    assert!(alerted);
    assert_eq!(h.e.risk().level(S0), RiskLevel::ReduceOnly);
    // No new leg while one is overdue.
    let (r, _) = h.act(Act::Leg(InstrumentId(0), qty("0.5")));
    refused(&r, RiskReason::UnhedgedLeg);
}

#[test]
fn pnl_during_a_data_anomaly_is_attributed_to_the_incident() {
    use rust_decimal::Decimal;
    let mut h = Harness::new(RiskConfig::permissive(1));
    long(&mut h, "1"); // bought at 100.2, mid 100.1
    h.tick();
    let a = h.e.risk().attribution(S0);
    assert_eq!(a.strategy, Decimal::new(-1, 1));
    assert_eq!(a.incident, Decimal::ZERO);
    h.feed(0, FeedState::Stale);
    h.top(0, "90", "90.2"); // -10 while the feed is stale
    h.tick();
    h.feed(0, FeedState::Resynced);
    h.top(0, "95", "95.2"); // +5 once healthy again
    h.tick();
    let a = h.e.risk().attribution(S0);
    assert_eq!(a.incident, Decimal::from(-10));
    assert_eq!(a.strategy, Decimal::new(49, 1));
    assert_eq!(
        h.e.risk().pnl(S0),
        tickwire_core::num::Px::parse_signed("-5.1").expect("literal")
    );
}

mod flatten_props {
    use super::*;
    use proptest::prelude::*;

    /// What the venue does with each closing order.
    #[derive(Clone, Copy, Debug)]
    enum Venue {
        Reject,
        Expire,
        /// Fill this many lots (of 0.001) and expire the rest.
        Partial(u8),
        Full,
        Silent,
    }

    fn venue() -> impl Strategy<Value = Venue> {
        prop_oneof![
            Just(Venue::Reject),
            Just(Venue::Expire),
            (1u8..50).prop_map(Venue::Partial),
            Just(Venue::Full),
            Just(Venue::Silent),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever the venue does, the flattener never sends more than its budget, never
        /// has two closing orders working at once, and reports `stopped` only when flat.
        #[test]
        fn flattener_is_bounded_and_stops_only_when_flat(
            script in proptest::collection::vec(venue(), 1..40),
            lots in 1u32..200,
        ) {
            let mut cfg = RiskConfig::permissive(1);
            cfg.flatten.max_orders = 8;
            cfg.flatten.backoff_ns = 2 * MS;
            cfg.flatten.max_backoff_ns = 8 * MS;
            cfg.flatten.confirm_timeout_ns = 5 * MS;
            let mut h = Harness::new(cfg);
            let size = format!("{}", f64::from(lots) / 1000.0);
            long(&mut h, &size);
            let mut out = h.operator(OperatorAction::Kill);
            let mut sent = 0u32;
            let mut stuck_alerts = 0;
            let mut script = script.into_iter().cycle();
            for _ in 0..400 {
                let orders = new_orders(&out);
                prop_assert!(orders.len() <= 1, "two closing orders at once");
                for n in orders {
                    sent += 1;
                    let lot = qty("0.001").raw();
                    match script.next().unwrap_or(Venue::Full) {
                        Venue::Reject => { h.reject(n.cl_ord_id); }
                        Venue::Expire => { h.expired(n.cl_ord_id, "0"); }
                        Venue::Partial(k) => {
                            let q = (i64::from(k) * lot).min(n.qty.raw());
                            let qs = tickwire_core::num::Qty::from_raw(q).to_string();
                            h.fill(n.cl_ord_id, Side::Sell, "100", &qs);
                            if h.e.orders().get(n.cl_ord_id).is_some() {
                                h.expired(n.cl_ord_id, &qs);
                            }
                        }
                        Venue::Full => {
                            let qs = n.qty.to_string();
                            h.fill(n.cl_ord_id, Side::Sell, "100", &qs);
                        }
                        Venue::Silent => {}
                    }
                }
                let level = h.e.risk().level(S0);
                if level == RiskLevel::Stopped {
                    prop_assert!(h.position().is_zero(), "stopped with a position");
                    prop_assert_eq!(h.e.orders().len(), 0);
                }
                h.advance(3 * MS);
                out = h.tick();
                stuck_alerts += usize::from(has_alert(&out, AlertCode::FlattenStuck));
            }
            prop_assert!(sent <= 8, "sent {} closing orders, budget 8", sent);
            if h.e.risk().level(S0) != RiskLevel::Stopped {
                // Never silently stuck: still flattening means the operator was told, once.
                prop_assert_eq!(h.e.risk().level(S0), RiskLevel::Flattening);
                prop_assert!(!h.position().is_zero());
                prop_assert_eq!(stuck_alerts, 1);
            } else {
                prop_assert!(stuck_alerts <= 1);
            }
        }
    }
}

#[test]
fn orders_restored_after_a_restart_count_toward_open_orders_and_exposure() {
    let mut cfg = RiskConfig::permissive(1);
    cfg.instruments[0].max_open_orders = Some(3);
    cfg.instruments[0].max_position = Some(qty("2.5"));
    let mut h = Harness::new(cfg.clone());
    h.top(0, "100", "100.2");
    for p in ["99.9", "99.8"] {
        let id = h.place(Side::Buy, p, "1").0.expect("placed");
        h.ack(id);
    }
    let notional = h.e.risk().global_notional();
    assert!(notional > Px::ZERO);

    // Restart: the two working buys come back from the journal, and risk counts them.
    let mut r = h.restarted(cfg);
    assert_eq!(r.e.orders().len(), 2);
    assert_eq!(r.e.risk().open_orders(S0), 2);
    assert_eq!(r.e.risk().open_orders_on(S0, InstrumentId(0)), 2);
    // Valued at their limit until a mid arrives (2 x 99.9).
    assert_eq!(r.e.risk().global_notional(), px("199.8"));
    r.top(0, "100", "100.2");
    // Worst case: 2 open + 1 more = 3 > 2.5.
    let (res, _) = r.place(Side::Buy, "99.7", "1");
    refused(&res, RiskReason::InstrumentPosition);
    // Self-trade against a restored buy.
    let (res, _) = r.place(Side::Sell, "99.8", "0.1");
    refused(&res, RiskReason::SelfTrade);
    assert!(r.place(Side::Buy, "99.7", "0.4").0.is_ok());
    let (res, _) = r.place(Side::Sell, "100.5", "0.1");
    refused(&res, RiskReason::OpenOrders);
}

#[test]
fn a_breaker_the_operator_reset_stays_reset_after_a_restart() {
    let cfg = RiskConfig::permissive(1);
    let mut h = Harness::new(cfg.clone());
    h.top(0, "100", "100.2");
    for _ in 0..20 {
        let Ok(id) = h.place(Side::Buy, "100", "0.01").0 else {
            break;
        };
        h.reject(id);
    }
    assert!(h.e.risk().breaker_tripped(InstrumentId(0)));
    assert_eq!(h.e.risk().level(S0), RiskLevel::ReduceOnly);
    h.operator(OperatorAction::Resume);
    assert!(!h.e.risk().breaker_tripped(InstrumentId(0)));

    // Restart: the replayed rejects trip the breaker again unless the resume is restored too.
    let mut r = h.restarted(cfg.clone());
    assert!(!r.e.risk().breaker_tripped(InstrumentId(0)));
    assert_eq!(r.e.risk().level(S0), RiskLevel::Active);
    r.top(0, "100", "100.2");
    assert!(r.place(Side::Buy, "100", "0.01").0.is_ok());

    // A breaker still tripped at the end of the session stays tripped after the restart.
    let mut h = Harness::new(cfg.clone());
    h.top(0, "100", "100.2");
    for _ in 0..20 {
        let Ok(id) = h.place(Side::Buy, "100", "0.01").0 else {
            break;
        };
        h.reject(id);
    }
    // A shutdown ends its own session only.
    h.operator(OperatorAction::Shutdown);
    let mut r = h.restarted(cfg);
    assert!(r.e.risk().breaker_tripped(InstrumentId(0)));
    r.top(0, "100", "100.2");
    let (res, _) = r.place(Side::Buy, "100", "0.01");
    refused(&res, RiskReason::Breaker);
    r.operator(OperatorAction::Resume);
    assert!(r.place(Side::Buy, "100", "0.01").0.is_ok());
}
