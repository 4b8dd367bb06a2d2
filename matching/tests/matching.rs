//! The matching rules of the crate docs, scenario by scenario, and a conservation property.

use proptest::prelude::*;
use tickwire_core::book::L2Book;
use tickwire_core::event::Side;
use tickwire_core::ids::{InstrumentId, VenueId};
use tickwire_core::num::{InstrumentSpec, Px, Qty};
use tickwire_matching::{
    Engine, EngineConfig, Event, EventKind, Fees, Kind, OrderSpec, Reject, Status, Tif,
};

const I: InstrumentId = InstrumentId(0);

fn px(s: &str) -> Px {
    Px::parse_signed(s).expect("literal")
}
fn qty(s: &str) -> Qty {
    Qty::parse(s).expect("literal")
}

fn spec() -> InstrumentSpec {
    InstrumentSpec {
        id: I,
        venue: VenueId::SYNTHETIC,
        symbol: "BTCUSDT".into(),
        tick: px("0.01"),
        lot: qty("0.00001"),
        min_qty: qty("0.00001"),
        min_notional: px("5"),
    }
}

fn engine(maker_ppb: i64, taker_ppb: i64) -> Engine {
    Engine::new(EngineConfig {
        instruments: vec![spec()],
        max_orders: 64,
        fees: Fees {
            maker_ppb,
            taker_ppb,
        },
    })
}

fn book(bids: &[(&str, &str)], asks: &[(&str, &str)]) -> L2Book {
    let mut b = L2Book::with_capacity(16);
    for (p, q) in bids {
        b.set(Side::Buy, px(p), qty(q));
    }
    for (p, q) in asks {
        b.set(Side::Sell, px(p), qty(q));
    }
    b
}

fn order(side: Side, kind: Kind, tif: Tif, p: &str, q: &str) -> OrderSpec {
    OrderSpec {
        instrument: I,
        client: 7,
        side,
        kind,
        tif,
        px: if kind == Kind::Market {
            Px::ZERO
        } else {
            px(p)
        },
        qty: qty(q),
    }
}

fn limit(side: Side, p: &str, q: &str) -> OrderSpec {
    order(side, Kind::Limit, Tif::Gtc, p, q)
}

/// Places and collects the events.
fn place(e: &mut Engine, o: &OrderSpec, b: &L2Book) -> (Result<u64, Reject>, Vec<Event>) {
    let mut ev = Vec::new();
    let r = e.place(o, b, 1, &mut |x| ev.push(*x));
    (r, ev)
}

fn kinds(ev: &[Event]) -> Vec<EventKind> {
    ev.iter().map(|e| e.kind).collect()
}

fn fills(ev: &[Event]) -> Vec<(Px, Qty, bool)> {
    ev.iter()
        .filter_map(|e| e.fill)
        .map(|f| (f.px, f.qty, f.maker))
        .collect()
}

#[test]
fn taker_walks_levels_one_fill_per_level_with_taker_fees() {
    let mut e = engine(100_000, 200_000); // 1 bp maker, 2 bp taker
    let b = book(
        &[("99", "1")],
        &[("100", "0.5"), ("100.5", "1"), ("101", "3")],
    );
    let (r, ev) = place(&mut e, &limit(Side::Buy, "100.5", "2"), &b);
    let id = r.expect("accepted");
    assert_eq!(
        kinds(&ev),
        [EventKind::New, EventKind::Trade, EventKind::Trade]
    );
    assert_eq!(
        fills(&ev),
        [
            (px("100"), qty("0.5"), false),
            (px("100.5"), qty("1"), false)
        ]
    );
    assert_eq!(ev[1].fill.map(|f| f.fee), Some(px("0.01")), "2 bp of 50");
    // The remainder rests behind nothing (no public bid at 100.5).
    let o = e.order(id).copied().expect("resting");
    assert_eq!(
        (o.status, o.leaves(), o.queue_ahead),
        (Status::PartiallyFilled, qty("0.5"), Qty::ZERO)
    );
    assert!(o.working);
}

#[test]
fn market_impact_lasts_until_the_feed_rewrites_the_level() {
    let mut e = engine(0, 0);
    let mut b = book(&[], &[("100", "1")]);
    let (_, ev) = place(
        &mut e,
        &order(Side::Buy, Kind::Limit, Tif::Ioc, "100", "0.6"),
        &b,
    );
    assert_eq!(fills(&ev), [(px("100"), qty("0.6"), false)]);
    // The same level right after: only what we left of it.
    let (_, ev) = place(
        &mut e,
        &order(Side::Buy, Kind::Limit, Tif::Ioc, "100", "1"),
        &b,
    );
    assert_eq!(fills(&ev), [(px("100"), qty("0.4"), false)]);
    assert_eq!(ev.last().map(|x| x.kind), Some(EventKind::Expired));
    // Nothing left for a third one.
    let (_, ev) = place(
        &mut e,
        &order(Side::Buy, Kind::Limit, Tif::Ioc, "100", "1"),
        &b,
    );
    assert!(fills(&ev).is_empty());
    // The feed rewrites the level (another quantity): its number is the truth again.
    b.set(Side::Sell, px("100"), qty("2"));
    e.on_book(I, &b, 2, &mut |_| {});
    let (_, ev) = place(
        &mut e,
        &order(Side::Buy, Kind::Limit, Tif::Ioc, "100", "5"),
        &b,
    );
    assert_eq!(fills(&ev), [(px("100"), qty("2"), false)]);
}

#[test]
fn takeable_shows_what_an_order_would_walk_after_our_consumption() {
    let mut e = engine(0, 0);
    let b = book(&[("99", "1")], &[("100", "1"), ("101", "2"), ("102", "3")]);
    let walk = |e: &Engine, side, limit| {
        let mut v = Vec::new();
        e.takeable(I, side, limit, &b, &mut |p, q| v.push((p, q)));
        v
    };
    assert_eq!(
        walk(&e, Side::Buy, Some(px("101"))),
        [(px("100"), qty("1")), (px("101"), qty("2"))]
    );
    assert_eq!(walk(&e, Side::Sell, None), [(px("99"), qty("1"))]);
    assert!(walk(&e, Side::Sell, Some(px("99.5"))).is_empty());
    let _ = place(
        &mut e,
        &order(Side::Buy, Kind::Limit, Tif::Ioc, "100", "1"),
        &b,
    );
    // The level we took is gone from our view; a market order walks the rest.
    assert_eq!(
        walk(&e, Side::Buy, None),
        [(px("101"), qty("2")), (px("102"), qty("3"))]
    );
    let mut none = Vec::new();
    e.takeable(InstrumentId(9), Side::Buy, None, &b, &mut |p, q| {
        none.push((p, q))
    });
    assert!(none.is_empty(), "unknown instrument");
}

#[test]
fn fok_is_all_or_nothing_and_market_expires_its_rest() {
    let mut e = engine(0, 0);
    let b = book(&[("99", "1")], &[("100", "1"), ("101", "1")]);
    let (_, ev) = place(
        &mut e,
        &order(Side::Buy, Kind::Limit, Tif::Fok, "100", "1.5"),
        &b,
    );
    assert_eq!(kinds(&ev), [EventKind::New, EventKind::Expired]);
    let (_, ev) = place(
        &mut e,
        &order(Side::Buy, Kind::Limit, Tif::Fok, "101", "1.5"),
        &b,
    );
    assert_eq!(
        fills(&ev),
        [(px("100"), qty("1"), false), (px("101"), qty("0.5"), false)]
    );
    assert_eq!(ev.last().map(|x| x.order.status), Some(Status::Filled));
    let (_, ev) = place(
        &mut e,
        &order(Side::Sell, Kind::Market, Tif::Gtc, "0", "3"),
        &b,
    );
    assert_eq!(fills(&ev), [(px("99"), qty("1"), false)]);
    assert_eq!(ev.last().map(|x| x.kind), Some(EventKind::Expired));
    assert_eq!(e.open_count(), 0);
}

#[test]
fn rejections() {
    let mut e = engine(0, 0);
    let b = book(&[("99", "1")], &[("100", "1")]);
    let cases = [
        (limit(Side::Buy, "99.001", "1"), Reject::PriceFilter),
        (limit(Side::Buy, "0", "1"), Reject::PriceFilter),
        (limit(Side::Buy, "99", "0.000001"), Reject::LotSize),
        (limit(Side::Buy, "99", "0"), Reject::LotSize),
        (limit(Side::Buy, "99", "0.01"), Reject::MinNotional),
        (
            order(Side::Buy, Kind::PostOnly, Tif::Gtc, "100", "1"),
            Reject::WouldTake,
        ),
    ];
    for (o, want) in cases {
        assert_eq!(place(&mut e, &o, &b).0, Err(want), "{o:?}");
    }
    let empty = book(&[], &[]);
    let m = order(Side::Buy, Kind::Market, Tif::Gtc, "0", "1");
    assert_eq!(place(&mut e, &m, &empty).0, Err(Reject::NoLiquidity));
    let other = OrderSpec {
        instrument: InstrumentId(3),
        ..limit(Side::Buy, "99", "1")
    };
    assert_eq!(place(&mut e, &other, &b).0, Err(Reject::UnknownInstrument));
    assert_eq!(e.cancel(42, &b, 1, &mut |_| {}), Err(Reject::UnknownOrder));
    assert_eq!(e.open_count(), 0, "a refused order leaves nothing behind");
}

#[test]
fn table_full_is_refused_and_frees_up_again() {
    let mut e = Engine::new(EngineConfig {
        instruments: vec![spec()],
        max_orders: 2,
        fees: Fees::default(),
    });
    let b = book(&[("99", "1")], &[("100", "1")]);
    let a = place(&mut e, &limit(Side::Buy, "98", "1"), &b)
        .0
        .expect("one");
    place(&mut e, &limit(Side::Buy, "97", "1"), &b)
        .0
        .expect("two");
    assert_eq!(
        place(&mut e, &limit(Side::Buy, "96", "1"), &b).0,
        Err(Reject::TableFull)
    );
    e.cancel(a, &b, 2, &mut |_| {}).expect("cancel");
    place(&mut e, &limit(Side::Buy, "96", "1"), &b)
        .0
        .expect("room again");
}

#[test]
fn queue_position_trades_then_fill_and_cancellations_move_us_up() {
    let mut e = engine(0, 0);
    let mut b = book(&[("99", "2")], &[("100", "1")]);
    let id = place(&mut e, &limit(Side::Buy, "99", "1"), &b)
        .0
        .expect("rests");
    assert_eq!(e.order(id).map(|o| o.queue_ahead), Some(qty("2")));
    // A sell trade of 1.5 at 99 eats the queue ahead.
    let mut ev = Vec::new();
    e.on_trade(I, px("99"), qty("1.5"), Some(Side::Sell), 2, &mut |x| {
        ev.push(*x)
    });
    assert!(ev.is_empty());
    assert_eq!(e.order(id).map(|o| o.queue_ahead), Some(qty("0.5")));
    // A buy aggressor does not reach our bid.
    e.on_trade(I, px("99"), qty("5"), Some(Side::Buy), 3, &mut |x| {
        ev.push(*x)
    });
    assert!(ev.is_empty());
    // The level shrinks to 0.2: cancellations ahead of us.
    b.set(Side::Buy, px("99"), qty("0.2"));
    e.on_book(I, &b, 4, &mut |x| ev.push(*x));
    assert_eq!(e.order(id).map(|o| o.queue_ahead), Some(qty("0.2")));
    // 0.5 more at 99: 0.2 ahead, 0.3 to us, as maker at our price.
    e.on_trade(I, px("99"), qty("0.5"), Some(Side::Sell), 5, &mut |x| {
        ev.push(*x)
    });
    assert_eq!(fills(&ev), [(px("99"), qty("0.3"), true)]);
    // A trade through our price fills without queue, for at most its quantity.
    ev.clear();
    e.on_trade(I, px("98.5"), qty("0.4"), None, 6, &mut |x| ev.push(*x));
    assert_eq!(fills(&ev), [(px("99"), qty("0.4"), true)]);
    ev.clear();
    e.on_trade(I, px("98"), qty("10"), None, 7, &mut |x| ev.push(*x));
    assert_eq!(fills(&ev), [(px("99"), qty("0.3"), true)]);
    assert_eq!(ev.last().map(|x| x.order.status), Some(Status::Filled));
    assert_eq!(e.open_count(), 0);
}

#[test]
fn our_orders_queue_behind_each_other_and_the_book_moving_through_fills_them() {
    let mut e = engine(0, 0);
    let mut b = book(&[("99", "1")], &[("100", "1")]);
    let first = place(&mut e, &limit(Side::Buy, "99", "1"), &b)
        .0
        .expect("rests");
    let second = place(&mut e, &limit(Side::Buy, "99", "1"), &b)
        .0
        .expect("rests");
    assert_eq!(
        e.order(second).map(|o| o.queue_ahead),
        Some(qty("2")),
        "public 1 + ours 1"
    );
    // The asks come down through our bids: maker fills at our price against what is visible.
    b.set(Side::Sell, px("100"), Qty::ZERO);
    b.set(Side::Sell, px("98.5"), qty("1.5"));
    let mut ev = Vec::new();
    e.on_book(I, &b, 2, &mut |x| ev.push(*x));
    assert_eq!(
        fills(&ev),
        [(px("99"), qty("1"), true), (px("99"), qty("0.5"), true)]
    );
    assert_eq!(ev[0].fill.map(|f| f.order_id), Some(first));
    assert_eq!(e.order(second).map(|o| o.leaves()), Some(qty("0.5")));
    // The consumed ask stays consumed until the feed changes it.
    ev.clear();
    e.on_book(I, &b, 3, &mut |x| ev.push(*x));
    assert!(ev.is_empty(), "{ev:?}");
}

#[test]
fn a_level_at_our_price_eats_the_queue_ahead_first_and_one_through_it_does_not() {
    let mut e = engine(0, 0);
    let mut b = book(&[("99", "0.3")], &[("100", "1")]);
    let id = place(&mut e, &limit(Side::Buy, "99", "1"), &b)
        .0
        .expect("rests");
    assert_eq!(e.order(id).map(|o| o.queue_ahead), Some(qty("0.3")));
    // A seller of 1 at our price (the recorded book shows it locked against the bids we
    // queued behind): 0.3 goes to the queue ahead, 0.7 to us.
    b.set(Side::Sell, px("100"), Qty::ZERO);
    b.set(Side::Sell, px("99"), qty("1"));
    let mut ev = Vec::new();
    e.on_book(I, &b, 2, &mut |x| ev.push(*x));
    assert_eq!(fills(&ev), [(px("99"), qty("0.7"), true)]);
    assert_eq!(e.order(id).map(|o| o.queue_ahead), Some(Qty::ZERO));
    // The same book again: that level is used up in our view, nothing more fills.
    ev.clear();
    e.on_book(I, &b, 3, &mut |x| ev.push(*x));
    assert!(ev.is_empty(), "{ev:?}");
    // A level through our price reaches us whatever the queue.
    b.set(Side::Sell, px("98.9"), qty("5"));
    e.on_book(I, &b, 4, &mut |x| ev.push(*x));
    assert_eq!(fills(&ev), [(px("99"), qty("0.3"), true)]);
    assert_eq!(e.open_count(), 0);
}

#[test]
fn amend_keeps_priority_only_when_the_quantity_shrinks_at_the_same_price() {
    let mut e = engine(0, 0);
    let b = book(&[("99", "1")], &[("101", "1")]);
    let a = place(&mut e, &limit(Side::Buy, "99", "2"), &b)
        .0
        .expect("a");
    let c = place(&mut e, &limit(Side::Buy, "99", "1"), &b)
        .0
        .expect("c");
    let seq_a = e.order(a).map(|o| o.seq);
    let mut ev = Vec::new();
    e.amend(a, Some(qty("1.5")), None, &b, 2, &mut |x| ev.push(*x))
        .expect("smaller");
    assert_eq!(kinds(&ev), [EventKind::Amended]);
    assert_eq!(e.order(a).map(|o| o.seq), seq_a, "priority kept");
    e.amend(a, Some(qty("3")), None, &b, 3, &mut |_| {})
        .expect("larger");
    assert!(
        e.order(a).map(|o| o.seq) > e.order(c).map(|o| o.seq),
        "to the back"
    );
    assert_eq!(
        e.amend(a, Some(qty("3")), None, &b, 4, &mut |_| {}),
        Err(Reject::BadAmend),
        "nothing changes"
    );
    // A new price that crosses takes like a new order.
    ev.clear();
    e.amend(c, None, Some(px("101")), &b, 5, &mut |x| ev.push(*x))
        .expect("crossing");
    assert_eq!(kinds(&ev), [EventKind::Amended, EventKind::Trade]);
    assert_eq!(fills(&ev), [(px("101"), qty("1"), false)]);
    // Post-only cannot be amended into a cross.
    let p = place(
        &mut e,
        &order(Side::Sell, Kind::PostOnly, Tif::Gtc, "102", "1"),
        &b,
    )
    .0
    .expect("post-only rests");
    assert_eq!(
        e.amend(p, None, Some(px("99")), &b, 6, &mut |_| {}),
        Err(Reject::WouldTake)
    );
}

#[test]
fn a_trade_through_is_shared_best_price_first_then_time() {
    let mut e = engine(0, 0);
    let b = book(&[("95", "1")], &[("105", "1")]);
    let low = place(&mut e, &limit(Side::Buy, "98", "1"), &b)
        .0
        .expect("low");
    let high = place(&mut e, &limit(Side::Buy, "99", "1"), &b)
        .0
        .expect("high");
    let mut ev = Vec::new();
    e.on_trade(I, px("97"), qty("1.5"), Some(Side::Sell), 2, &mut |x| {
        ev.push(*x)
    });
    let by_order: Vec<_> = ev
        .iter()
        .filter_map(|x| x.fill)
        .map(|f| (f.order_id, f.qty))
        .collect();
    assert_eq!(by_order, [(high, qty("1")), (low, qty("0.5"))]);
}

#[test]
fn after_a_trade_through_our_older_orders_at_the_price_are_still_ahead() {
    let mut e = engine(0, 0);
    let b = book(&[], &[]);
    let first = place(&mut e, &limit(Side::Buy, "99.7", "0.73"), &b)
        .0
        .expect("first");
    let second = place(&mut e, &limit(Side::Buy, "99.7", "1.769"), &b)
        .0
        .expect("second");
    assert_eq!(e.order(second).map(|o| o.queue_ahead), Some(qty("0.73")));
    let mut ev = Vec::new();
    // Through both: the first (older) gets what the trade printed.
    e.on_trade(I, px("99.5"), qty("0.001"), Some(Side::Sell), 2, &mut |x| {
        ev.push(*x)
    });
    assert_eq!(fills(&ev), [(px("99.7"), qty("0.001"), true)]);
    assert_eq!(ev[0].fill.map(|f| f.order_id), Some(first));
    // Nothing public is ahead any more, but the first order still is.
    assert_eq!(e.order(first).map(|o| o.queue_ahead), Some(Qty::ZERO));
    assert_eq!(e.order(second).map(|o| o.queue_ahead), Some(qty("0.729")));
    // So a trade at the price fills the first only, never both for more than it printed.
    ev.clear();
    e.on_trade(I, px("99.7"), qty("0.001"), Some(Side::Sell), 3, &mut |x| {
        ev.push(*x)
    });
    assert_eq!(fills(&ev), [(px("99.7"), qty("0.001"), true)]);
    assert_eq!(ev[0].fill.map(|f| f.order_id), Some(first));
}

#[test]
fn taking_the_public_quantity_ahead_of_our_resting_order_moves_it_up() {
    let mut e = engine(0, 0);
    let b = book(&[], &[("100.1", "0.001")]);
    let resting = place(&mut e, &limit(Side::Sell, "100.1", "1.71"), &b)
        .0
        .expect("rests");
    assert_eq!(e.order(resting).map(|o| o.queue_ahead), Some(qty("0.001")));
    // Our own buy takes the public 0.001 ahead of our sell (never our sell itself).
    let (_, ev) = place(
        &mut e,
        &order(Side::Buy, Kind::Limit, Tif::Ioc, "100.1", "1"),
        &b,
    );
    assert_eq!(fills(&ev), [(px("100.1"), qty("0.001"), false)]);
    assert_eq!(e.order(resting).map(|o| o.queue_ahead), Some(Qty::ZERO));
}

#[test]
fn fees_are_per_fill_on_notional_and_rebates_are_negative() {
    let f = Fees {
        maker_ppb: -100_000,
        taker_ppb: 500_000,
    };
    assert_eq!(f.fee(px("100.1"), qty("1"), false), px("0.05005"));
    assert_eq!(f.fee(px("100.1"), qty("0.5"), true), px("-0.005005"));
}

#[derive(Clone, Debug)]
enum Op {
    Place {
        buy: bool,
        tick: i64,
        qty: i64,
        kind: u8,
    },
    Cancel(usize),
    Book {
        mid: i64,
        size: i64,
    },
    Trade {
        tick: i64,
        qty: i64,
        sell: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<bool>(), 90i64..110, 1i64..400, 0u8..5).prop_map(|(buy, tick, qty, kind)| {
            Op::Place {
                buy,
                tick,
                qty,
                kind,
            }
        }),
        (0usize..50).prop_map(Op::Cancel),
        (95i64..105, 0i64..300).prop_map(|(mid, size)| Op::Book { mid, size }),
        (90i64..110, 1i64..500, any::<bool>()).prop_map(|(tick, qty, sell)| Op::Trade {
            tick,
            qty,
            sell
        }),
    ]
}

fn ladder(b: &mut L2Book, mid: i64, size: i64) {
    b.clear();
    for i in 1..=5 {
        let q = Qty::from_raw(size * (i + 1) * 10_000_000);
        b.set(Side::Buy, Px::from_raw((mid - i) * 1_000_000_000), q);
        b.set(Side::Sell, Px::from_raw((mid + i) * 1_000_000_000), q);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]
    /// Whatever happens: fills never exceed an order, a trade never fills us for more than it
    /// printed, prices respect limits, an order's filled quantity is the sum of its fills,
    /// statuses match quantities, trade ids increase, and only open orders stay in the table.
    #[test]
    fn conservation(ops in proptest::collection::vec(op(), 1..80)) {
        let mut e = Engine::new(EngineConfig {
            instruments: vec![InstrumentSpec {
                tick: Px::ONE, lot: qty("0.01"), min_qty: qty("0.01"), min_notional: Px::ZERO,
                ..spec()
            }],
            max_orders: 32,
            fees: Fees { maker_ppb: -20_000, taker_ppb: 100_000 },
        });
        let mut b = L2Book::with_capacity(16);
        ladder(&mut b, 100, 100);
        let mut events = Vec::new();
        let mut ids = Vec::new();
        for (n, op) in ops.into_iter().enumerate() {
            let now = n as u64;
            let mut out = |x: &Event| events.push(*x);
            match op {
                Op::Place { buy, tick, qty, kind } => {
                    let (kind, tif) = match kind {
                        0 => (Kind::Limit, Tif::Gtc),
                        1 => (Kind::Limit, Tif::Ioc),
                        2 => (Kind::Limit, Tif::Fok),
                        3 => (Kind::Market, Tif::Gtc),
                        _ => (Kind::PostOnly, Tif::Gtc),
                    };
                    let o = OrderSpec {
                        instrument: I, client: n as u64,
                        side: if buy { Side::Buy } else { Side::Sell }, kind, tif,
                        px: Px::from_raw(tick * 1_000_000_000), qty: Qty::from_raw(qty * 10_000_000),
                    };
                    if let Ok(id) = e.place(&o, &b, now, &mut out) { ids.push(id); }
                }
                Op::Cancel(i) => {
                    let open: Vec<u64> = e.open_orders().map(|o| o.id).collect();
                    if let Some(id) = open.get(i % open.len().max(1)) {
                        prop_assert!(e.cancel(*id, &b, now, &mut out).is_ok());
                    }
                }
                Op::Book { mid, size } => { ladder(&mut b, mid, size); e.on_book(I, &b, now, &mut out); }
                Op::Trade { tick, qty, sell } => {
                    // A trade never fills our orders for more than it printed.
                    let printed = Qty::from_raw(qty * 10_000_000);
                    let mut filled = Qty::ZERO;
                    e.on_trade(
                        I, Px::from_raw(tick * 1_000_000_000), printed,
                        Some(if sell { Side::Sell } else { Side::Buy }), now,
                        &mut |x: &Event| {
                            if let Some(f) = x.fill { filled = filled.saturating_add(f.qty); }
                            out(x);
                        });
                    prop_assert!(filled <= printed, "step {}: {:?} > {:?}", n, filled, printed);
                }
            }
        }
        let mut last_trade = 0;
        let mut filled: std::collections::BTreeMap<u64, Qty> = Default::default();
        for ev in &events {
            let o = ev.order;
            if let Some(f) = ev.fill {
                prop_assert!(f.trade_id > last_trade);
                last_trade = f.trade_id;
                prop_assert!(f.qty.is_positive());
                if o.kind != Kind::Market {
                    match o.side {
                        Side::Buy => prop_assert!(f.px <= o.px),
                        Side::Sell => prop_assert!(f.px >= o.px),
                    }
                }
                let sum = filled.entry(o.id).or_insert(Qty::ZERO);
                *sum = sum.saturating_add(f.qty);
                prop_assert_eq!(*sum, o.filled);
            }
            prop_assert!(o.filled <= o.qty);
            prop_assert_eq!(o.status == Status::Filled, o.filled == o.qty && ev.kind == EventKind::Trade);
        }
        for o in e.open_orders() {
            prop_assert!(o.status.is_open());
            prop_assert!(o.tif == Tif::Gtc && o.kind != Kind::Market);
        }
    }
}
