//! Paper fills through the in-process exchange (the one matching engine): queue position,
//! partial taker fills, fees, conservation and determinism.

use proptest::prelude::*;
use tickwire_core::event::{
    BookDelta, CancelOrder, ExecReport, Liquidity, MarketEvent, Meta, NewOrder, OrderCommand,
    OrderType, Side, TimeInForce, Trade,
};
use tickwire_core::ids::{ClientOrderId, InstrumentId, StrategyId, VenueId};
use tickwire_core::num::{InstrumentSpec, Px, Qty};
use tickwire_exec::sim_exchange::{FeeSchedule, SimExchange};

fn px(s: &str) -> Px {
    Px::parse(s).expect("literal")
}
fn qty(s: &str) -> Qty {
    Qty::parse(s).expect("literal")
}
fn spec() -> InstrumentSpec {
    InstrumentSpec {
        id: InstrumentId(0),
        venue: VenueId::BINANCE,
        symbol: "BTCUSDT".into(),
        tick: px("0.1"),
        lot: qty("0.001"),
        min_qty: qty("0.001"),
        min_notional: Px::ZERO,
    }
}
fn meta() -> Meta {
    Meta::new(VenueId::BINANCE, InstrumentId(0), 1)
}
const FEES: FeeSchedule = FeeSchedule {
    maker_ppb: -100_000,
    taker_ppb: 400_000,
};

fn level(side: Side, p: Px, q: Qty) -> MarketEvent {
    MarketEvent::Delta(BookDelta::new(
        meta(),
        side,
        p,
        q,
        1,
        BookDelta::BATCH_BEGIN | BookDelta::BATCH_END,
    ))
}
fn trade(p: Px, q: Qty, aggressor: Side, id: u64) -> MarketEvent {
    MarketEvent::Trade(Trade::new(meta(), p, q, id, aggressor))
}
fn id(seq: u64) -> ClientOrderId {
    ClientOrderId::new(StrategyId(0), seq).expect("id")
}
fn order(seq: u64, side: Side, p: Px, q: Qty, tif: TimeInForce) -> OrderCommand {
    OrderCommand::New(NewOrder::new(
        meta(),
        id(seq),
        side,
        OrderType::Limit,
        tif,
        p,
        q,
    ))
}
fn market(x: &mut SimExchange, ev: &MarketEvent) -> Vec<ExecReport> {
    let mut v = Vec::new();
    x.on_market(ev, 2, &mut |r| v.push(r));
    v
}
fn command(x: &mut SimExchange, c: &OrderCommand) -> Vec<ExecReport> {
    let mut v = Vec::new();
    x.on_command(c, 3, &mut |r| v.push(r));
    v
}
fn fills(r: &[ExecReport]) -> Vec<(Px, Qty, Liquidity)> {
    r.iter()
        .filter_map(|r| match r {
            ExecReport::Fill(f) => Some((
                f.px,
                f.qty,
                Liquidity::from_code(f.liquidity).expect("liquidity"),
            )),
            _ => None,
        })
        .collect()
}

/// A two-sided book: bids 100 (2.0), 99.9 (1.0); asks 100.1 (1.0), 100.2 (2.0).
fn book(x: &mut SimExchange) {
    for ev in [
        level(Side::Buy, px("100"), qty("2")),
        level(Side::Buy, px("99.9"), qty("1")),
        level(Side::Sell, px("100.1"), qty("1")),
        level(Side::Sell, px("100.2"), qty("2")),
    ] {
        assert!(market(x, &ev).is_empty());
    }
}

#[test]
fn resting_order_waits_behind_the_visible_queue_then_fills_from_trades() {
    let mut x = SimExchange::new(&[spec()], FEES, 8);
    book(&mut x);
    let r = command(
        &mut x,
        &order(1, Side::Buy, px("100"), qty("1"), TimeInForce::Gtc),
    );
    assert!(matches!(r[..], [ExecReport::Ack(_)]), "{r:?}");
    assert_eq!(x.queue_ahead(id(1)), Some(qty("2")));
    // 1.5 traded at our price: all of it was ahead of us.
    assert!(market(&mut x, &trade(px("100"), qty("1.5"), Side::Sell, 1)).is_empty());
    assert_eq!(x.queue_ahead(id(1)), Some(qty("0.5")));
    // 1.0 more: 0.5 clears the queue, 0.5 fills us.
    let r = market(&mut x, &trade(px("100"), qty("1"), Side::Sell, 2));
    assert_eq!(fills(&r), vec![(px("100"), qty("0.5"), Liquidity::Maker)]);
    // A trade on the other side or at another price does nothing.
    assert!(market(&mut x, &trade(px("100"), qty("5"), Side::Buy, 3)).is_empty());
    assert!(market(&mut x, &trade(px("100.1"), qty("5"), Side::Sell, 4)).is_empty());
    // A trade through our price reaches us first, for at most its own quantity.
    let r = market(&mut x, &trade(px("99.9"), qty("0.1"), Side::Sell, 5));
    assert_eq!(fills(&r), vec![(px("100"), qty("0.1"), Liquidity::Maker)]);
    let r = market(&mut x, &trade(px("99.9"), qty("1"), Side::Sell, 6));
    assert_eq!(fills(&r), vec![(px("100"), qty("0.4"), Liquidity::Maker)]);
    let ExecReport::Fill(f) = r[0] else {
        panic!("fill")
    };
    assert_eq!(f.fee, px("0.004").neg(), "1 bp rebate on 40");
    assert_eq!(x.resting(), 0);
}

#[test]
fn cancellations_ahead_shorten_the_queue_and_a_seller_at_our_price_meets_the_queue_first() {
    let mut x = SimExchange::new(&[spec()], FEES, 8);
    book(&mut x);
    command(
        &mut x,
        &order(1, Side::Buy, px("100"), qty("1"), TimeInForce::Gtc),
    );
    assert!(market(&mut x, &level(Side::Buy, px("100"), qty("0.3"))).is_empty());
    assert_eq!(x.queue_ahead(id(1)), Some(qty("0.3")));
    // Growth behind us does not put anything ahead.
    assert!(market(&mut x, &level(Side::Buy, px("100"), qty("4"))).is_empty());
    assert_eq!(x.queue_ahead(id(1)), Some(qty("0.3")));
    // A seller of 1 shows at our price while 0.3 is still ahead: 0.3 goes to the queue
    // ahead of us, 0.7 to us.
    let r = market(&mut x, &level(Side::Sell, px("100"), qty("1")));
    assert_eq!(fills(&r), vec![(px("100"), qty("0.7"), Liquidity::Maker)]);
    assert_eq!(x.queue_ahead(id(1)), Some(Qty::ZERO));
    // That seller is used up in the exchange's view until the feed changes the level.
    assert!(market(&mut x, &level(Side::Buy, px("100"), Qty::ZERO)).is_empty());
    let r = market(&mut x, &level(Side::Sell, px("100"), qty("2")));
    assert_eq!(fills(&r), vec![(px("100"), qty("0.3"), Liquidity::Maker)]);
    assert_eq!(x.resting(), 0);
}

#[test]
fn taker_fills_level_by_level_and_ioc_remainder_expires() {
    let mut x = SimExchange::new(&[spec()], FEES, 8);
    book(&mut x);
    let r = command(
        &mut x,
        &order(1, Side::Buy, px("100.2"), qty("3.5"), TimeInForce::Ioc),
    );
    assert_eq!(
        fills(&r),
        vec![
            (px("100.1"), qty("1"), Liquidity::Taker),
            (px("100.2"), qty("2"), Liquidity::Taker)
        ]
    );
    assert!(matches!(r.last(), Some(ExecReport::CancelAck(_))), "{r:?}");
    let ExecReport::Fill(f) = r[1] else {
        panic!("fill")
    };
    assert_eq!(f.fee, px("0.04004"), "4 bp of 100.1");
}

/// One step of a random session.
#[derive(Clone, Debug)]
enum Step {
    Level(bool, i64, i64),
    Trade(i64, i64, bool),
    Place(bool, i64, i64, bool),
    Cancel(u64),
}

fn step() -> impl Strategy<Value = Step> {
    // Prices 99.5..100.5 in ticks of 0.1; quantities 0.001..3 in lots.
    let p = 995i64..1005;
    let q = 1i64..3000;
    prop_oneof![
        (any::<bool>(), p.clone(), 0i64..3000).prop_map(|(b, p, q)| Step::Level(b, p, q)),
        (p.clone(), q.clone(), any::<bool>()).prop_map(|(p, q, b)| Step::Trade(p, q, b)),
        (any::<bool>(), p, q, any::<bool>()).prop_map(|(b, p, q, g)| Step::Place(b, p, q, g)),
        (1u64..20).prop_map(Step::Cancel),
    ]
}

fn run(steps: &[Step]) -> (Vec<ExecReport>, Vec<(usize, Qty, Qty)>) {
    let mut x = SimExchange::new(&[spec()], FEES, 64);
    let mut all = Vec::new();
    // Per step that was a trade: (index, trade qty, maker qty filled at the trade price).
    let mut per_trade = Vec::new();
    let mut seq = 0;
    for (i, s) in steps.iter().enumerate() {
        let p = |t: i64| Px::from_raw(t * 100_000_000);
        let q = |l: i64| Qty::from_raw(l * 1_000_000);
        let r = match *s {
            Step::Level(buy, t, l) => {
                let side = if buy { Side::Buy } else { Side::Sell };
                market(&mut x, &level(side, p(t), q(l)))
            }
            Step::Trade(t, l, sell) => {
                let aggr = if sell { Side::Sell } else { Side::Buy };
                let r = market(&mut x, &trade(p(t), q(l), aggr, i as u64));
                let at: i64 = fills(&r)
                    .iter()
                    .filter(|f| f.0 == p(t))
                    .map(|f| f.1.raw())
                    .sum();
                per_trade.push((i, q(l), Qty::from_raw(at)));
                r
            }
            Step::Place(buy, t, l, gtc) => {
                seq += 1;
                let side = if buy { Side::Buy } else { Side::Sell };
                let tif = if gtc {
                    TimeInForce::Gtc
                } else {
                    TimeInForce::Ioc
                };
                command(&mut x, &order(seq, side, p(t), q(l), tif))
            }
            Step::Cancel(n) => command(
                &mut x,
                &OrderCommand::Cancel(CancelOrder {
                    meta: meta(),
                    cl_ord_id: id(n),
                }),
            ),
        };
        all.extend(r);
    }
    (all, per_trade)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn fills_are_conserved_and_deterministic(steps in prop::collection::vec(step(), 1..120)) {
        let (reports, per_trade) = run(&steps);
        prop_assert_eq!(&run(&steps).0, &reports, "same inputs, same reports");
        // A trade never fills us for more than it printed.
        for (i, printed, filled) in per_trade {
            prop_assert!(filled <= printed, "trade at step {}: {:?} > {:?}", i, filled, printed);
        }
        // Per order: filled never exceeds the order; a closed order is fully accounted for.
        let mut ordered = std::collections::HashMap::new();
        for s in &steps {
            if let Step::Place(_, _, l, _) = s {
                let n = ordered.len() as u64 + 1;
                ordered.insert(id(n), Qty::from_raw(l * 1_000_000));
            }
        }
        let mut filled: std::collections::HashMap<ClientOrderId, Qty> = Default::default();
        let mut trade_ids = std::collections::HashSet::new();
        for r in &reports {
            if let ExecReport::Fill(f) = r {
                prop_assert!(trade_ids.insert(f.trade_id), "trade ids are unique");
                let e = filled.entry(f.cl_ord_id).or_insert(Qty::ZERO);
                *e = e.saturating_add(f.qty);
                let liq = Liquidity::from_code(f.liquidity).expect("liquidity");
                prop_assert_eq!(f.fee, FEES.fee(f.px, f.qty, liq == Liquidity::Maker));
            }
        }
        for (id, q) in &filled {
            prop_assert!(*q <= ordered[id], "{:?} filled {:?} of {:?}", id, q, ordered[id]);
        }
    }
}
