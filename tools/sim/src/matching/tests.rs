//! Matching engine tests: exact scenarios and a conservation proptest.

use std::str::FromStr;

use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;
use crate::book::{self, Book, Level};

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap_or_else(|e| panic!("bad decimal {s:?}: {e}"))
}

/// A book from `(price, qty)` bids and asks.
fn mk_book(bids: &[(&str, &str)], asks: &[(&str, &str)]) -> Book<Level> {
    let lv = |l: &[(&str, &str)]| -> Vec<Vec<String>> {
        l.iter()
            .map(|(p, q)| vec![p.to_string(), q.to_string()])
            .collect()
    };
    let mut c = book::changes(true, &lv(bids)).unwrap_or_default();
    c.extend(book::changes(false, &lv(asks)).unwrap_or_default());
    Book::from_changes(&c)
}

fn engine(maker: &str, taker: &str) -> (Engine, AccountId) {
    let mut e = Engine::new(Fees {
        maker: d(maker),
        taker: d(taker),
    });
    e.add_symbol(SymbolRules {
        symbol: "BTCUSDT".into(),
        base: "BTC".into(),
        quote: "USDT".into(),
        tick: d("0.01"),
        lot: d("0.00001"),
        min_notional: d("5"),
    });
    let a = e.add_account(
        "alice",
        &[("BTC".into(), d("10")), ("USDT".into(), d("1000000"))],
    );
    (e, a)
}

fn limit(side: Side, px: &str, qty: &str, tif: TimeInForce, cid: &str) -> NewOrder {
    NewOrder {
        symbol: "BTCUSDT".into(),
        side,
        kind: OrderType::Limit,
        tif,
        qty: d(qty),
        price: Some(d(px)),
        client_id: cid.into(),
    }
}

fn kinds(ev: &[Execution]) -> Vec<ExecKind> {
    ev.iter().map(|e| e.kind).collect()
}

#[test]
fn taker_walks_levels_one_fill_per_level_and_consumes_them() {
    let (mut e, a) = engine("0.001", "0.002");
    let b = mk_book(
        &[("99.00", "1")],
        &[("100.00", "0.5"), ("100.50", "1"), ("101.00", "3")],
    );
    let ev = e
        .place(
            a,
            limit(Side::Buy, "100.50", "2", TimeInForce::Gtc, "c1"),
            &b,
            7,
        )
        .unwrap_or_else(|r| panic!("{r:?}"));
    assert_eq!(
        kinds(&ev),
        [ExecKind::New, ExecKind::Trade, ExecKind::Trade]
    );
    let f: Vec<_> = ev.iter().filter_map(|x| x.fill.clone()).collect();
    assert_eq!(
        (f[0].price, f[0].qty, f[0].trade_id),
        (d("100.00"), d("0.5"), 1)
    );
    assert_eq!(
        (f[1].price, f[1].qty, f[1].trade_id),
        (d("100.50"), d("1"), 2)
    );
    assert!(!f[0].maker);
    assert_eq!(f[0].commission, d("0.001")); // 0.5 * 0.002, in BTC
    assert_eq!(f[0].commission_asset, "BTC");
    let o = &ev[2].order;
    assert_eq!(o.status, OrderStatus::PartiallyFilled);
    assert_eq!(o.executed, d("1.5"));
    assert_eq!(o.cum_quote, d("150.50"));
    // The rest (0.5) rests at 100.50, with nothing visible ahead (the level was taken).
    let rest = e
        .order(a, "BTCUSDT", &OrderRef::Id(o.id))
        .map(|o| (o.queue_ahead, o.working));
    assert_eq!(rest, Some((Decimal::ZERO, true)));
    // Balances: paid 150.5, reserved 0.5 * 100.5 for the rest; got 1.5 BTC minus 0.003 fee.
    assert_eq!(
        e.balance(a, "USDT").free,
        d("1000000") - d("150.5") - d("50.25")
    );
    assert_eq!(e.balance(a, "USDT").locked, d("50.25"));
    assert_eq!(e.balance(a, "BTC").free, d("11.497"));
    // A second buy sees the consumed levels gone: the next ask is 101.
    let ev = e
        .place(
            a,
            limit(Side::Buy, "101.00", "0.1", TimeInForce::Ioc, "c2"),
            &b,
            8,
        )
        .unwrap_or_else(|r| panic!("{r:?}"));
    assert_eq!(ev[1].fill.as_ref().map(|f| f.price), Some(d("101.00")));
    assert_eq!(ev[1].fill.as_ref().map(|f| f.trade_id), Some(3));
}

#[test]
fn consumption_is_forgotten_when_the_tape_rewrites_the_level() {
    let (mut e, a) = engine("0", "0");
    let b = mk_book(&[], &[("100.00", "1")]);
    let ev = e
        .place(
            a,
            limit(Side::Buy, "100.00", "1", TimeInForce::Ioc, "x"),
            &b,
            1,
        )
        .unwrap_or_else(|r| panic!("{r:?}"));
    assert_eq!(ev.last().map(|x| x.order.status), Some(OrderStatus::Filled));
    // Same public book: nothing left for us.
    let ev = e
        .place(
            a,
            limit(Side::Buy, "100.00", "1", TimeInForce::Ioc, "y"),
            &b,
            2,
        )
        .unwrap_or_else(|r| panic!("{r:?}"));
    assert_eq!(kinds(&ev), [ExecKind::New, ExecKind::Expired]);
    // The tape changes the level to 2: visible again.
    let b2 = mk_book(&[], &[("100.00", "2")]);
    assert!(e.on_book("BTCUSDT", &b2, 3).is_empty());
    let ev = e
        .place(
            a,
            limit(Side::Buy, "100.00", "3", TimeInForce::Ioc, "z"),
            &b2,
            4,
        )
        .unwrap_or_else(|r| panic!("{r:?}"));
    assert_eq!(ev[1].fill.as_ref().map(|f| f.qty), Some(d("2")));
    assert_eq!(
        ev.last().map(|x| x.order.status),
        Some(OrderStatus::Expired)
    );
}

#[test]
fn fok_is_all_or_nothing_and_market_expires_its_rest() {
    let (mut e, a) = engine("0", "0");
    let b = mk_book(&[("99.00", "1")], &[("100.00", "1"), ("101.00", "1")]);
    let ev = e
        .place(
            a,
            limit(Side::Buy, "100.00", "1.5", TimeInForce::Fok, "f"),
            &b,
            1,
        )
        .unwrap_or_else(|r| panic!("{r:?}"));
    assert_eq!(kinds(&ev), [ExecKind::New, ExecKind::Expired]);
    assert_eq!(ev[1].order.executed, Decimal::ZERO);
    assert_eq!(e.balance(a, "USDT").locked, Decimal::ZERO);
    let ev = e
        .place(
            a,
            limit(Side::Buy, "101.00", "1.5", TimeInForce::Fok, "g"),
            &b,
            1,
        )
        .unwrap_or_else(|r| panic!("{r:?}"));
    assert_eq!(ev.last().map(|x| x.order.status), Some(OrderStatus::Filled));
    let mut m = limit(Side::Sell, "1", "3", TimeInForce::Gtc, "m");
    m.kind = OrderType::Market;
    m.price = None;
    let ev = e.place(a, m, &b, 2).unwrap_or_else(|r| panic!("{r:?}"));
    assert_eq!(
        kinds(&ev),
        [ExecKind::New, ExecKind::Trade, ExecKind::Expired]
    );
    assert_eq!(ev[2].order.executed, d("1"));
    assert_eq!(e.balance(a, "BTC").locked, Decimal::ZERO);
}

#[test]
fn rejections() {
    let (mut e, a) = engine("0", "0");
    let b = mk_book(&[("99.00", "1")], &[("100.00", "1")]);
    let mut place = |o: NewOrder| e.place(a, o, &b, 1).err();
    let mut maker = limit(Side::Buy, "100.00", "0.1", TimeInForce::Gtc, "pm");
    maker.kind = OrderType::LimitMaker;
    assert_eq!(place(maker), Some(Reject::WouldTake));
    assert_eq!(
        place(limit(Side::Buy, "99.001", "1", TimeInForce::Gtc, "t")),
        Some(Reject::PriceFilter)
    );
    assert_eq!(
        place(limit(Side::Buy, "99.00", "0.000001", TimeInForce::Gtc, "l")),
        Some(Reject::LotSize)
    );
    assert_eq!(
        place(limit(Side::Buy, "99.00", "0.01", TimeInForce::Gtc, "n")),
        Some(Reject::MinNotional)
    );
    assert_eq!(
        place(limit(Side::Sell, "200.00", "11", TimeInForce::Gtc, "s")),
        Some(Reject::InsufficientBalance)
    );
    assert_eq!(
        place(limit(Side::Buy, "99.00", "1", TimeInForce::Gtc, "dup")),
        None
    );
    assert_eq!(
        place(limit(Side::Buy, "98.00", "1", TimeInForce::Gtc, "dup")),
        Some(Reject::DuplicateClientId)
    );
    let mut m = limit(Side::Sell, "1", "1", TimeInForce::Gtc, "m");
    m.kind = OrderType::Market;
    m.symbol = "ETHUSDT".into();
    assert_eq!(place(m), Some(Reject::UnknownSymbol));
    let empty = mk_book(&[], &[]);
    let mut m = limit(Side::Buy, "1", "1", TimeInForce::Gtc, "m2");
    m.kind = OrderType::Market;
    assert_eq!(e.place(a, m, &empty, 1).err(), Some(Reject::NoLiquidity));
    assert_eq!(
        e.cancel(a, "BTCUSDT", &OrderRef::Id(999), &b, 1).err(),
        Some(Reject::UnknownOrder)
    );
    // Nothing was rejected after reserving: only the one accepted order holds a lock.
    assert_eq!(e.balance(a, "USDT").locked, d("99"));
}

#[test]
fn queue_position_trades_then_fill_and_cancellations_move_us_up() {
    let (mut e, a) = engine("-0.0001", "0.001");
    let b = mk_book(&[("99.00", "3")], &[("100.00", "1")]);
    let ev = e
        .place(
            a,
            limit(Side::Buy, "99.00", "2", TimeInForce::Gtc, "q"),
            &b,
            1,
        )
        .unwrap_or_else(|r| panic!("{r:?}"));
    let id = ev[0].order.id;
    let ahead = |e: &Engine| {
        e.order(a, "BTCUSDT", &OrderRef::Id(id))
            .map(|o| o.queue_ahead)
    };
    assert_eq!(ahead(&e), Some(d("3")));
    // A buyer-aggressor trade does not touch resting bids.
    let t = |px: &str, q: &str, s| PublicTrade {
        price: d(px),
        qty: d(q),
        taker_side: Some(s),
    };
    assert!(
        e.on_trade("BTCUSDT", t("99.00", "5", Side::Buy), 2)
            .is_empty()
    );
    // A seller hits 2 at 99: queue 3 → 1.
    assert!(
        e.on_trade("BTCUSDT", t("99.00", "2", Side::Sell), 3)
            .is_empty()
    );
    assert_eq!(ahead(&e), Some(d("1")));
    // The level shrinks to 0.5 (cancellations ahead): queue 0.5.
    let b2 = mk_book(&[("99.00", "0.5")], &[("100.00", "1")]);
    assert!(e.on_book("BTCUSDT", &b2, 4).is_empty());
    assert_eq!(ahead(&e), Some(d("0.5")));
    // A trade of 1.2 at 99: 0.5 ahead, then 0.7 to us, as maker with a rebate.
    let ev = e.on_trade("BTCUSDT", t("99.00", "1.2", Side::Sell), 5);
    assert_eq!(ev.len(), 1);
    let f = ev[0].fill.clone().unwrap_or_else(|| panic!("no fill"));
    assert_eq!((f.price, f.qty, f.maker), (d("99.00"), d("0.7"), true));
    assert_eq!(f.commission, d("-0.00007"));
    assert_eq!(ev[0].order.status, OrderStatus::PartiallyFilled);
    // A trade through our price fills without queue.
    let ev = e.on_trade("BTCUSDT", t("98.50", "5", Side::Sell), 6);
    assert_eq!(
        ev[0].fill.as_ref().map(|f| (f.price, f.qty)),
        Some((d("99.00"), d("1.3")))
    );
    assert_eq!(ev[0].order.status, OrderStatus::Filled);
    assert!(e.open_orders(a, None).is_empty());
    assert_eq!(e.balance(a, "USDT").locked, Decimal::ZERO);
}

#[test]
fn our_orders_queue_behind_each_other_and_book_moving_through_fills() {
    let (mut e, a) = engine("0", "0");
    let b = mk_book(&[("99.00", "1")], &[("100.00", "1")]);
    let first = e
        .place(
            a,
            limit(Side::Sell, "100.00", "0.5", TimeInForce::Gtc, "x"),
            &b,
            1,
        )
        .map(|v| v[0].order.id);
    // Can't: a sell at 100 does not cross bids at 99; it rests behind 1.
    let first = first.unwrap_or_else(|r| panic!("{r:?}"));
    let second = e
        .place(
            a,
            limit(Side::Sell, "100.00", "0.5", TimeInForce::Gtc, "y"),
            &b,
            2,
        )
        .map(|v| v[0].order.id)
        .unwrap_or_else(|r| panic!("{r:?}"));
    let ahead = |e: &Engine, id| {
        e.order(a, "BTCUSDT", &OrderRef::Id(id))
            .map(|o| o.queue_ahead)
    };
    assert_eq!(ahead(&e, first), Some(d("1")));
    assert_eq!(ahead(&e, second), Some(d("1.5")));
    // Cancelling the first moves the second up.
    let c = e
        .cancel(a, "BTCUSDT", &OrderRef::Client("x".into()), &b, 3)
        .unwrap_or_else(|r| panic!("{r:?}"));
    assert_eq!(c.order.status, OrderStatus::Canceled);
    assert_eq!(ahead(&e, second), Some(d("1")));
    // Bids move up through 100: 0.3 at 100.5 and 2 at 100 fill the sell as maker at 100.
    let b2 = mk_book(&[("100.50", "0.3"), ("100.00", "2")], &[("101.00", "1")]);
    let ev = e.on_book("BTCUSDT", &b2, 4);
    let fills: Vec<_> = ev.iter().filter_map(|x| x.fill.clone()).collect();
    assert_eq!(fills.len(), 2);
    assert!(fills.iter().all(|f| f.maker && f.price == d("100.00")));
    assert_eq!(fills[0].qty + fills[1].qty, d("0.5"));
    assert_eq!(ev.last().map(|x| x.order.status), Some(OrderStatus::Filled));
}

#[test]
fn amend_keeps_priority_only_when_qty_decreases() {
    let (mut e, a) = engine("0", "0");
    let b = mk_book(&[("99.00", "1")], &[("100.00", "1")]);
    let o1 = e
        .place(
            a,
            limit(Side::Buy, "99.00", "2", TimeInForce::Gtc, "a1"),
            &b,
            1,
        )
        .map(|v| v[0].order.clone())
        .unwrap_or_else(|r| panic!("{r:?}"));
    let r = OrderRef::Id(o1.id);
    let ev = e
        .amend(
            a,
            "BTCUSDT",
            &r,
            Amend {
                qty: Some(d("1")),
                price: None,
            },
            &b,
            2,
        )
        .unwrap_or_else(|r| panic!("{r:?}"));
    assert_eq!(ev[0].kind, ExecKind::Amended);
    assert_eq!(ev[0].order.seq, o1.seq);
    assert_eq!(ev[0].order.queue_ahead, d("1"));
    assert_eq!(e.balance(a, "USDT").locked, d("99"));
    let ev = e
        .amend(
            a,
            "BTCUSDT",
            &r,
            Amend {
                qty: Some(d("3")),
                price: None,
            },
            &b,
            3,
        )
        .unwrap_or_else(|r| panic!("{r:?}"));
    assert!(ev[0].order.seq > o1.seq);
    assert_eq!(e.balance(a, "USDT").locked, d("297"));
    // A price through the ask takes like a new order.
    let ev = e
        .amend(
            a,
            "BTCUSDT",
            &r,
            Amend {
                qty: None,
                price: Some(d("100.00")),
            },
            &b,
            4,
        )
        .unwrap_or_else(|r| panic!("{r:?}"));
    assert_eq!(kinds(&ev), [ExecKind::Amended, ExecKind::Trade]);
    assert_eq!(ev[1].fill.as_ref().map(|f| f.qty), Some(d("1")));
    assert_eq!(
        e.amend(
            a,
            "BTCUSDT",
            &r,
            Amend {
                qty: Some(d("1")),
                price: None
            },
            &b,
            5
        )
        .err(),
        Some(Reject::BadAmend)
    );
}

/// One step of a random session.
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
        (95i64..105, 1i64..300).prop_map(|(mid, size)| Op::Book { mid, size }),
        (90i64..110, 1i64..500, any::<bool>()).prop_map(|(tick, qty, sell)| Op::Trade {
            tick,
            qty,
            sell
        }),
    ]
}

fn ladder(mid: i64, size: i64) -> Book<Level> {
    let q = |i: i64| format!("{}", Decimal::new(size * (i + 1), 2));
    let bids: Vec<(String, String)> = (1..=5).map(|i| (format!("{}", mid - i), q(i))).collect();
    let asks: Vec<(String, String)> = (1..=5).map(|i| (format!("{}", mid + i), q(i))).collect();
    let b: Vec<(&str, &str)> = bids.iter().map(|(p, q)| (p.as_str(), q.as_str())).collect();
    let a: Vec<(&str, &str)> = asks.iter().map(|(p, q)| (p.as_str(), q.as_str())).collect();
    mk_book(&b, &a)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn conservation(ops in proptest::collection::vec(op(), 1..60), shave in any::<bool>()) {
        let mut e = Engine::new(Fees { maker: d("-0.0002"), taker: d("0.001") });
        if shave {
            e.set_short_fill(d("0.001"), 1, 0);
        }
        e.add_symbol(SymbolRules {
            symbol: "X".into(), base: "B".into(), quote: "Q".into(),
            tick: d("1"), lot: d("0.01"), min_notional: Decimal::ZERO,
        });
        let start_b = d("20");
        let start_q = d("3000");
        let a = e.add_account("p", &[("B".into(), start_b), ("Q".into(), start_q)]);
        let mut book = ladder(100, 100);
        let mut now = 0;
        for op in ops {
            now += 1;
            match op {
                Op::Place { buy, tick, qty, kind } => {
                    let side = if buy { Side::Buy } else { Side::Sell };
                    let (kind, tif) = match kind {
                        0 => (OrderType::Limit, TimeInForce::Gtc),
                        1 => (OrderType::Limit, TimeInForce::Ioc),
                        2 => (OrderType::Limit, TimeInForce::Fok),
                        3 => (OrderType::Market, TimeInForce::Gtc),
                        _ => (OrderType::LimitMaker, TimeInForce::Gtc),
                    };
                    let o = NewOrder {
                        symbol: "X".into(), side, kind, tif,
                        qty: Decimal::new(qty, 2),
                        price: (kind != OrderType::Market).then(|| Decimal::from(tick)),
                        client_id: format!("c{now}"),
                    };
                    let _ = e.place(a, o, &book, now);
                }
                Op::Cancel(i) => {
                    let ids: Vec<u64> = e.open_orders(a, None).iter().map(|o| o.id).collect();
                    if let Some(id) = ids.get(i % ids.len().max(1)) {
                        prop_assert!(e.cancel(a, "X", &OrderRef::Id(*id), &book, now).is_ok());
                    }
                }
                Op::Book { mid, size } => {
                    book = ladder(mid, size);
                    let _ = e.on_book("X", &book, now);
                }
                Op::Trade { tick, qty, sell } => {
                    let t = PublicTrade {
                        price: Decimal::from(tick),
                        qty: Decimal::new(qty, 2),
                        taker_side: Some(if sell { Side::Sell } else { Side::Buy }),
                    };
                    let _ = e.on_trade("X", t, now);
                }
            }
            // Invariants after every step.
            let mut flow_b = start_b;
            let mut flow_q = start_q;
            let mut last_trade = 0;
            for f in e.fills() {
                prop_assert!(f.trade_id > last_trade);
                last_trade = f.trade_id;
                prop_assert!(f.qty > Decimal::ZERO);
                match f.side {
                    Side::Buy => { flow_b += f.qty - f.commission; flow_q -= f.quote_qty; }
                    Side::Sell => { flow_b -= f.qty; flow_q += f.quote_qty - f.commission; }
                }
            }
            let (bb, bq) = (e.balance(a, "B"), e.balance(a, "Q"));
            prop_assert_eq!(bb.free + bb.locked, flow_b);
            prop_assert_eq!(bq.free + bq.locked, flow_q);
            prop_assert!(bb.free >= Decimal::ZERO && bb.locked >= Decimal::ZERO);
            prop_assert!(bq.free >= Decimal::ZERO && bq.locked >= Decimal::ZERO);
            let mut lock_b = Decimal::ZERO;
            let mut lock_q = Decimal::ZERO;
            for o in e.orders() {
                let fills: Decimal = e.order_fills(o.id).iter().map(|f| f.qty).sum();
                let quote: Decimal = e.order_fills(o.id).iter().map(|f| f.quote_qty).sum();
                prop_assert_eq!(fills, o.executed);
                prop_assert_eq!(quote, o.cum_quote);
                prop_assert!(o.executed <= o.qty);
                prop_assert_eq!(o.status == OrderStatus::Filled, o.matched == o.qty);
                prop_assert!(o.executed <= o.matched);
                if o.status.is_open() {
                    match o.side { Side::Buy => lock_q += o.locked, Side::Sell => lock_b += o.locked }
                } else {
                    prop_assert_eq!(o.locked, Decimal::ZERO);
                }
                if let Some(p) = o.price {
                    for f in e.order_fills(o.id) {
                        match o.side {
                            Side::Buy => prop_assert!(f.price <= p),
                            Side::Sell => prop_assert!(f.price >= p),
                        }
                    }
                }
            }
            prop_assert_eq!(lock_b, bb.locked);
            prop_assert_eq!(lock_q, bq.locked);
        }
    }

    #[test]
    fn deterministic(ops in proptest::collection::vec(op(), 1..40)) {
        let run = |ops: &[Op]| {
            let (mut e, a) = engine("0.0001", "0.001");
            let mut book = ladder(100, 50);
            let mut out = Vec::new();
            for (n, op) in ops.iter().enumerate() {
                let now = n as u64;
                match op {
                    Op::Place { buy, tick, qty, .. } => {
                        let side = if *buy { Side::Buy } else { Side::Sell };
                        let o = NewOrder { symbol: "BTCUSDT".into(), side, kind: OrderType::Limit,
                            tif: TimeInForce::Gtc, qty: Decimal::new(*qty, 2),
                            price: Some(Decimal::from(*tick)), client_id: format!("c{n}") };
                        out.push(format!("{:?}", e.place(a, o, &book, now)));
                    }
                    Op::Cancel(i) => out.push(format!("{:?}", e.cancel(a, "BTCUSDT", &OrderRef::Id(*i as u64), &book, now))),
                    Op::Book { mid, size } => { book = ladder(*mid, *size); out.push(format!("{:?}", e.on_book("BTCUSDT", &book, now))); }
                    Op::Trade { tick, qty, sell } => {
                        let t = PublicTrade { price: Decimal::from(*tick), qty: Decimal::new(*qty, 2), taker_side: None.or(Some(if *sell { Side::Sell } else { Side::Buy })) };
                        out.push(format!("{:?}", e.on_trade("BTCUSDT", t, now)));
                    }
                }
            }
            out
        };
        prop_assert_eq!(run(&ops), run(&ops));
    }
}

#[test]
fn short_fill_books_the_reported_quantity_and_completes_the_order() {
    let (mut e, a) = engine("0", "0");
    e.set_short_fill(d("0.000002"), 0, 1);
    let b = mk_book(&[], &[("1000.00", "1")]);
    let ev = e
        .place(
            a,
            limit(Side::Buy, "1000.00", "0.0241", TimeInForce::Gtc, "s"),
            &b,
            1,
        )
        .unwrap_or_else(|r| panic!("{r:?}"));
    let last = ev
        .last()
        .map(|x| x.order.clone())
        .unwrap_or_else(|| panic!("no events"));
    assert_eq!(last.status, OrderStatus::Filled);
    assert_eq!(last.executed, d("0.024098"));
    assert_eq!(ev[1].fill.as_ref().map(|f| f.qty), Some(d("0.024098")));
    assert_eq!(e.balance(a, "BTC").free, d("10.024098"));
    assert_eq!(e.balance(a, "USDT").free, d("1000000") - d("24.098"));
    assert_eq!(e.balance(a, "USDT").locked, Decimal::ZERO);
    // Only one fill was shaved.
    let ev = e
        .place(
            a,
            limit(Side::Buy, "1000.00", "0.01", TimeInForce::Ioc, "t"),
            &b,
            2,
        )
        .unwrap_or_else(|r| panic!("{r:?}"));
    assert_eq!(ev[1].fill.as_ref().map(|f| f.qty), Some(d("0.01")));
}

/// The differential test of the one matching engine (`tickwire-matching`, fixed point) against
/// this simulator engine (`rust_decimal`, with balances): the same books, trades and orders
/// give the same events — the same fills at the same prices and quantities, maker or taker,
/// the same expiries and cancels, the same open orders with the same queue position after
/// every step. (Balances are this engine's only extra; they are set high enough never to
/// refuse an order here.)
mod differential {
    use super::*;
    use tickwire_core::book::L2Book;
    use tickwire_core::event::Side as CoreSide;
    use tickwire_core::ids::{InstrumentId, VenueId};
    use tickwire_core::num::{InstrumentSpec, Px, Qty};
    use tickwire_matching as m;

    const I: InstrumentId = InstrumentId(0);

    /// Integer ticks and hundredths, as both sides spell them.
    fn fx_px(ticks: i64) -> Px {
        Px::from_raw(ticks * 1_000_000_000)
    }
    fn fx_qty(hundredths: i64) -> Qty {
        Qty::from_raw(hundredths * 10_000_000)
    }
    /// A Decimal from the simulator as fixed point (exact for these values).
    fn to_px(v: Decimal) -> Px {
        Px::parse_signed(&v.normalize().to_string()).unwrap_or_else(|e| panic!("{v}: {e:?}"))
    }
    fn to_qty(v: Decimal) -> Qty {
        Qty::parse(&v.normalize().to_string()).unwrap_or_else(|e| panic!("{v}: {e:?}"))
    }
    fn core_side(s: Side) -> CoreSide {
        match s {
            Side::Buy => CoreSide::Buy,
            Side::Sell => CoreSide::Sell,
        }
    }

    /// What both engines say about one event: kind, order id, status, filled, and the fill.
    type Seen = (
        &'static str,
        u64,
        &'static str,
        Qty,
        Option<(Px, Qty, bool)>,
    );

    fn sim_seen(ev: &[Execution]) -> Vec<Seen> {
        ev.iter()
            .map(|x| {
                let kind = match x.kind {
                    ExecKind::New => "new",
                    ExecKind::Trade => "trade",
                    ExecKind::Canceled => "canceled",
                    ExecKind::Expired => "expired",
                    ExecKind::Amended => "amended",
                };
                let fill = x
                    .fill
                    .as_ref()
                    .map(|f| (to_px(f.price), to_qty(f.qty), f.maker));
                (
                    kind,
                    x.order.id,
                    x.order.status.binance(),
                    to_qty(x.order.matched),
                    fill,
                )
            })
            .collect()
    }

    fn fx_seen(ev: &[m::Event]) -> Vec<Seen> {
        ev.iter()
            .map(|x| {
                let kind = match x.kind {
                    m::EventKind::New => "new",
                    m::EventKind::Trade => "trade",
                    m::EventKind::Canceled => "canceled",
                    m::EventKind::Expired => "expired",
                    m::EventKind::Amended => "amended",
                };
                let status = match x.order.status {
                    m::Status::New => OrderStatus::New,
                    m::Status::PartiallyFilled => OrderStatus::PartiallyFilled,
                    m::Status::Filled => OrderStatus::Filled,
                    m::Status::Canceled => OrderStatus::Canceled,
                    m::Status::Expired => OrderStatus::Expired,
                };
                let fill = x.fill.map(|f| (f.px, f.qty, f.maker));
                (kind, x.order.id, status.binance(), x.order.filled, fill)
            })
            .collect()
    }

    fn reject_name(r: &Reject) -> &'static str {
        match r {
            Reject::PriceFilter => "price",
            Reject::LotSize => "lot",
            Reject::MinNotional => "notional",
            Reject::WouldTake => "would-take",
            Reject::NoLiquidity => "no-liquidity",
            other => panic!("the differential setup never causes {other:?}"),
        }
    }

    fn fx_reject_name(r: m::Reject) -> &'static str {
        match r {
            m::Reject::PriceFilter => "price",
            m::Reject::LotSize => "lot",
            m::Reject::MinNotional => "notional",
            m::Reject::WouldTake => "would-take",
            m::Reject::NoLiquidity => "no-liquidity",
            other => panic!("the differential setup never causes {other:?}"),
        }
    }

    fn fx_ladder(b: &mut L2Book, mid: i64, size: i64) {
        b.clear();
        for i in 1..=5 {
            let q = fx_qty(size * (i + 1));
            b.set(CoreSide::Buy, fx_px(mid - i), q);
            b.set(CoreSide::Sell, fx_px(mid + i), q);
        }
    }

    fn run(ops: &[Op], taker_known: &[bool]) -> Result<(), TestCaseError> {
        let mut sim = Engine::new(Fees::default());
        sim.add_symbol(SymbolRules {
            symbol: "X".into(),
            base: "B".into(),
            quote: "Q".into(),
            tick: d("1"),
            lot: d("0.01"),
            min_notional: Decimal::ZERO,
        });
        let a = sim.add_account(
            "p",
            &[
                ("B".into(), d("1000000000")),
                ("Q".into(), d("1000000000000")),
            ],
        );
        let mut fx = m::Engine::new(m::EngineConfig {
            instruments: vec![InstrumentSpec {
                id: I,
                venue: VenueId::SYNTHETIC,
                symbol: "X".into(),
                tick: fx_px(1),
                lot: fx_qty(1),
                min_qty: fx_qty(1),
                min_notional: Px::ZERO,
            }],
            max_orders: 256,
            fees: m::Fees::default(),
        });
        let mut book = ladder(100, 100);
        let mut fx_book = L2Book::with_capacity(16);
        fx_ladder(&mut fx_book, 100, 100);
        for (n, op) in ops.iter().enumerate() {
            let now = n as u64;
            let mut got = Vec::new();
            let mut out = |x: &m::Event| got.push(*x);
            let want = match op {
                Op::Place {
                    buy,
                    tick,
                    qty,
                    kind,
                } => {
                    let side = if *buy { Side::Buy } else { Side::Sell };
                    let (kind, tif, fk, ft) = match kind {
                        0 => (
                            OrderType::Limit,
                            TimeInForce::Gtc,
                            m::Kind::Limit,
                            m::Tif::Gtc,
                        ),
                        1 => (
                            OrderType::Limit,
                            TimeInForce::Ioc,
                            m::Kind::Limit,
                            m::Tif::Ioc,
                        ),
                        2 => (
                            OrderType::Limit,
                            TimeInForce::Fok,
                            m::Kind::Limit,
                            m::Tif::Fok,
                        ),
                        3 => (
                            OrderType::Market,
                            TimeInForce::Gtc,
                            m::Kind::Market,
                            m::Tif::Gtc,
                        ),
                        _ => (
                            OrderType::LimitMaker,
                            TimeInForce::Gtc,
                            m::Kind::PostOnly,
                            m::Tif::Gtc,
                        ),
                    };
                    let o = NewOrder {
                        symbol: "X".into(),
                        side,
                        kind,
                        tif,
                        qty: Decimal::new(*qty, 2),
                        price: (kind != OrderType::Market).then(|| Decimal::from(*tick)),
                        client_id: format!("c{n}"),
                    };
                    let spec = m::OrderSpec {
                        instrument: I,
                        client: now,
                        side: core_side(side),
                        kind: fk,
                        tif: ft,
                        px: if fk == m::Kind::Market {
                            Px::ZERO
                        } else {
                            fx_px(*tick)
                        },
                        qty: fx_qty(*qty),
                    };
                    let s = sim.place(a, o, &book, now);
                    let f = fx.place(&spec, &fx_book, now, &mut out);
                    match (&s, f) {
                        (Ok(_), Ok(_)) => {}
                        (Err(r), Err(fr)) => prop_assert_eq!(reject_name(r), fx_reject_name(fr)),
                        _ => prop_assert!(false, "step {}: sim {:?} vs fixed {:?}", n, s, f),
                    }
                    s.map(|ev| sim_seen(&ev)).unwrap_or_default()
                }
                Op::Cancel(i) => {
                    let ids: Vec<u64> = sim.open_orders(a, None).iter().map(|o| o.id).collect();
                    match ids.get(i % ids.len().max(1)) {
                        Some(id) => {
                            let s = sim.cancel(a, "X", &OrderRef::Id(*id), &book, now);
                            prop_assert!(fx.cancel(*id, &fx_book, now, &mut out).is_ok());
                            s.map(|ev| sim_seen(&[ev])).unwrap_or_default()
                        }
                        None => Vec::new(),
                    }
                }
                Op::Book { mid, size } => {
                    book = ladder(*mid, *size);
                    fx_ladder(&mut fx_book, *mid, *size);
                    let s = sim.on_book("X", &book, now);
                    fx.on_book(I, &fx_book, now, &mut out);
                    sim_seen(&s)
                }
                Op::Trade { tick, qty, sell } => {
                    let side = if *sell { Side::Sell } else { Side::Buy };
                    let known = taker_known.get(n).copied().unwrap_or(true);
                    let t = PublicTrade {
                        price: Decimal::from(*tick),
                        qty: Decimal::new(*qty, 2),
                        taker_side: known.then_some(side),
                    };
                    let s = sim.on_trade("X", t, now);
                    fx.on_trade(
                        I,
                        fx_px(*tick),
                        fx_qty(*qty),
                        known.then_some(core_side(side)),
                        now,
                        &mut out,
                    );
                    sim_seen(&s)
                }
            };
            prop_assert_eq!(&want, &fx_seen(&got), "step {}: {:?}", n, op);
            // The same open orders, with the same queue position.
            let open: Vec<(u64, Qty, Qty)> = sim
                .open_orders(a, None)
                .iter()
                .map(|o| (o.id, to_qty(o.remaining()), to_qty(o.queue_ahead)))
                .collect();
            let mut fx_open: Vec<(u64, Qty, Qty)> = fx
                .open_orders()
                .map(|o| (o.id, o.leaves(), o.queue_ahead))
                .collect();
            fx_open.sort();
            prop_assert_eq!(open, fx_open, "step {}", n);
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn the_fixed_point_engine_agrees_with_the_simulator(
            ops in proptest::collection::vec(op(), 1..80),
            taker_known in proptest::collection::vec(any::<bool>(), 80),
        ) {
            run(&ops, &taker_known)?;
        }
    }
}
