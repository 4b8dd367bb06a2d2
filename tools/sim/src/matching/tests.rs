//! Matching tests: exact scenarios and the documented differences from the reference model,
//! a conservation and a determinism property, and the differential test of the adapter
//! against the reference model (`mod differential`).

use std::collections::BTreeMap;
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

/// The adapter refuses, with the venue's price and lot-size errors, what the one engine's
/// 9-decimal fixed point cannot hold; the Decimal reference model accepted it. (The one
/// documented difference on orders: rounding would trade at a price nobody sent.)
#[test]
fn prices_and_quantities_the_engine_cannot_hold_are_refused_not_rounded() {
    let fine = || SymbolRules {
        symbol: "FINE".into(),
        base: "B".into(),
        quote: "Q".into(),
        tick: d("0.0000000001"),
        lot: d("0.0000000001"),
        min_notional: Decimal::ZERO,
    };
    let money = [("B".into(), d("1e20")), ("Q".into(), d("1e20"))];
    let mut sim = Engine::new(Fees::default());
    sim.add_symbol(fine());
    let a = sim.add_account("a", &money);
    let mut old = reference::Engine::new(Fees::default());
    old.add_symbol(fine());
    let b = old.add_account("a", &money);
    let book = mk_book(&[("1", "1")], &[("200", "1")]);
    let order = |px: &str, qty: &str, cid: &str| NewOrder {
        symbol: "FINE".into(),
        side: Side::Buy,
        kind: OrderType::Limit,
        tif: TimeInForce::Gtc,
        qty: d(qty),
        price: Some(d(px)),
        client_id: cid.into(),
    };
    for (px, qty, want) in [
        ("100.0000000001", "1", Reject::PriceFilter),
        ("10000000000", "0.5", Reject::PriceFilter),
        ("100", "0.0000000001", Reject::LotSize),
        ("1", "10000000000", Reject::LotSize),
    ] {
        assert_eq!(
            sim.place(a, order(px, qty, px), &book, 1).err(),
            Some(want),
            "{px} × {qty}"
        );
        assert!(old.place(b, order(px, qty, px), &book, 1).is_ok());
    }
    assert!(sim.open_orders(a, None).is_empty());
    // An amend to such a price or quantity is refused the same way.
    let id = sim
        .place(a, order("100", "1", "ok"), &book, 2)
        .map(|ev| ev[0].order.id)
        .unwrap_or_else(|r| panic!("{r:?}"));
    let amend = |px: Option<&str>, qty: Option<&str>| Amend {
        qty: qty.map(d),
        price: px.map(d),
    };
    let r = OrderRef::Id(id);
    assert_eq!(
        sim.amend(a, "FINE", &r, amend(Some("99.0000000001"), None), &book, 3)
            .err(),
        Some(Reject::PriceFilter)
    );
    assert_eq!(
        sim.amend(a, "FINE", &r, amend(None, Some("1.0000000001")), &book, 3)
            .err(),
        Some(Reject::LotSize)
    );
    assert_eq!(sim.balance(a, "Q").locked, d("100"), "nothing changed");
}

/// A public level or trade the fixed point cannot hold is absent to the engine (the
/// reference model traded at it). Venue strings carry at most 8 decimals; this documents what
/// the adapter does if one did not.
#[test]
fn levels_and_trades_the_engine_cannot_hold_are_absent_to_it() {
    let (mut sim, a) = engine("0", "0");
    let mut old = reference::Engine::new(Fees::default());
    old.add_symbol(SymbolRules {
        symbol: "BTCUSDT".into(),
        base: "BTC".into(),
        quote: "USDT".into(),
        tick: d("0.01"),
        lot: d("0.00001"),
        min_notional: d("5"),
    });
    let b = old.add_account(
        "alice",
        &[("BTC".into(), d("10")), ("USDT".into(), d("1000000"))],
    );
    let book = mk_book(
        &[("99.00", "10000000000"), ("98.00", "1")],
        &[
            ("100.00", "0.0000000001"),
            ("100.5000000001", "1"),
            ("101.00", "1"),
        ],
    );
    let buy = limit(Side::Buy, "101.00", "0.5", TimeInForce::Ioc, "t");
    let fills = |ev: &[Execution]| -> Vec<(Decimal, Decimal)> {
        ev.iter()
            .filter_map(|x| x.fill.as_ref().map(|f| (f.price, f.qty)))
            .collect()
    };
    let ev = sim
        .place(a, buy.clone(), &book, 1)
        .unwrap_or_else(|r| panic!("{r:?}"));
    assert_eq!(fills(&ev), [(d("101"), d("0.5"))]);
    let ev = old
        .place(b, buy, &book, 1)
        .unwrap_or_else(|r| panic!("{r:?}"));
    assert_eq!(
        fills(&ev),
        [
            (d("100"), d("0.0000000001")),
            (d("100.5000000001"), d("0.4999999999"))
        ]
    );
    // The bid of 1e10 (past the fixed-point range) is not there: a resting bid at 99 queues
    // behind nothing, and a sell takes the next bid.
    let rest = limit(Side::Buy, "99.00", "0.1", TimeInForce::Gtc, "r");
    let id = sim
        .place(a, rest, &book, 2)
        .map(|ev| ev[0].order.id)
        .unwrap_or_else(|r| panic!("{r:?}"));
    let ahead = sim
        .order(a, "BTCUSDT", &OrderRef::Id(id))
        .map(|o| o.queue_ahead);
    assert_eq!(ahead, Some(Decimal::ZERO));
    let sell = limit(Side::Sell, "98.00", "0.2", TimeInForce::Ioc, "s");
    let ev = sim
        .place(a, sell, &book, 3)
        .unwrap_or_else(|r| panic!("{r:?}"));
    assert_eq!(fills(&ev), [(d("98"), d("0.2"))]);
    // A trade finer than 9 decimals reaches no order; the same trade rounded would.
    let t = |px: &str, qty: &str| PublicTrade {
        price: d(px),
        qty: d(qty),
        taker_side: Some(Side::Sell),
    };
    assert!(
        sim.on_trade("BTCUSDT", t("98.9999999999", "1"), 4)
            .is_empty()
    );
    assert!(
        sim.on_trade("BTCUSDT", t("98.00", "1.0000000001"), 4)
            .is_empty()
    );
    assert_eq!(sim.on_trade("BTCUSDT", t("98.00", "1"), 5).len(), 1);
}

/// The engine's tables are sized per symbol: past the limit a new order is refused (the
/// reference model had none), other symbols are unaffected, and a cancel makes room again.
#[test]
fn a_full_symbol_refuses_new_orders_until_one_leaves() {
    let mut e = Engine::new(Fees::default());
    e.max_open = 3;
    for (symbol, base) in [("BTCUSDT", "BTC"), ("ETHUSDT", "ETH")] {
        e.add_symbol(SymbolRules {
            symbol: symbol.into(),
            base: base.into(),
            quote: "USDT".into(),
            tick: d("0.01"),
            lot: d("0.001"),
            min_notional: Decimal::ZERO,
        });
    }
    let a = e.add_account("alice", &[("USDT".into(), d("1000"))]);
    let b = mk_book(&[("99.00", "1")], &[("100.00", "1")]);
    for i in 0..3 {
        let o = limit(
            Side::Buy,
            "90.00",
            "0.1",
            TimeInForce::Gtc,
            &format!("o{i}"),
        );
        assert!(e.place(a, o, &b, 1).is_ok());
    }
    let full = limit(Side::Buy, "90.00", "0.1", TimeInForce::Gtc, "full");
    assert_eq!(
        e.place(a, full.clone(), &b, 2).err(),
        Some(Reject::TooManyOrders)
    );
    assert_eq!(e.balance(a, "USDT").locked, d("27"), "nothing reserved");
    let mut eth = limit(Side::Buy, "90.00", "0.1", TimeInForce::Gtc, "eth");
    eth.symbol = "ETHUSDT".into();
    assert!(e.place(a, eth, &b, 2).is_ok());
    assert!(
        e.cancel(a, "BTCUSDT", &OrderRef::Client("o1".into()), &b, 3)
            .is_ok()
    );
    let ev = e.place(a, full, &b, 4).unwrap_or_else(|r| panic!("{r:?}"));
    // Ids stay the venue's: unique and increasing across symbols.
    assert_eq!(ev[0].order.id, 5);
}

/// One step of a random session. Orders are named by their position among the open orders
/// (`i`, modulo their number); `sym` 0–5 is `X`, 6–8 `Y`, 9 a symbol nobody trades; `rich`
/// picks the second account (balances that never refuse), else the first (small ones);
/// `kind`: 0–3 GTC, 4 IOC, 5 FOK, 6 market, 7–8 post-only, 9 a limit order without a
/// price; client ids come from a small pool, so duplicates happen.
#[derive(Clone, Debug)]
enum Op {
    Place {
        rich: bool,
        sym: u8,
        buy: bool,
        tick: i64,
        qty: i64,
        kind: u8,
        cid: u8,
    },
    Cancel {
        i: usize,
        by_client: bool,
    },
    CancelAll {
        rich: bool,
        sym: u8,
    },
    Amend {
        i: usize,
        qty: Option<i64>,
        tick: Option<i64>,
        by_client: bool,
    },
    Rename {
        i: usize,
        cid: u8,
    },
    Book {
        sym: u8,
        mid: i64,
        size: i64,
    },
    /// A public trade; `taker`: the aggressor sold (`Some(true)`), bought, or is unknown.
    Trade {
        sym: u8,
        tick: i64,
        qty: i64,
        taker: Option<bool>,
    },
}

/// Client ids in the pool.
const CIDS: u8 = 12;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (any::<bool>(), 0u8..10, any::<bool>(), 90i64..110, 1i64..400, 0u8..10, 0..CIDS)
            .prop_map(|(rich, sym, buy, tick, qty, kind, cid)| Op::Place {
                rich,
                sym,
                buy,
                tick,
                qty,
                kind,
                cid,
            }),
        2 => (0usize..50, any::<bool>()).prop_map(|(i, by_client)| Op::Cancel { i, by_client }),
        1 => (any::<bool>(), 0u8..10).prop_map(|(rich, sym)| Op::CancelAll { rich, sym }),
        3 => (
            0usize..50,
            proptest::option::of(1i64..400),
            proptest::option::of(90i64..110),
            any::<bool>()
        )
            .prop_map(|(i, qty, tick, by_client)| Op::Amend {
                i,
                qty,
                tick,
                by_client,
            }),
        1 => (0usize..50, 0..CIDS).prop_map(|(i, cid)| Op::Rename { i, cid }),
        3 => (0u8..10, 95i64..105, 1i64..300).prop_map(|(sym, mid, size)| Op::Book {
            sym,
            mid,
            size
        }),
        4 => (
            0u8..10,
            90i64..110,
            1i64..500,
            proptest::option::of(any::<bool>())
        )
            .prop_map(|(sym, tick, qty, taker)| Op::Trade {
                sym,
                tick,
                qty,
                taker
            }),
    ]
}

fn sym_name(sym: u8) -> &'static str {
    match sym {
        0..=5 => "X",
        6..=8 => "Y",
        _ => "Z",
    }
}

fn new_order(sym: u8, buy: bool, tick: i64, qty: i64, kind: u8, cid: u8) -> NewOrder {
    let (kind, tif, priced) = match kind {
        0..=3 => (OrderType::Limit, TimeInForce::Gtc, true),
        4 => (OrderType::Limit, TimeInForce::Ioc, true),
        5 => (OrderType::Limit, TimeInForce::Fok, true),
        6 => (OrderType::Market, TimeInForce::Gtc, false),
        7 | 8 => (OrderType::LimitMaker, TimeInForce::Gtc, true),
        _ => (OrderType::Limit, TimeInForce::Gtc, false),
    };
    NewOrder {
        symbol: sym_name(sym).into(),
        side: if buy { Side::Buy } else { Side::Sell },
        kind,
        tif,
        qty: Decimal::new(qty, 2),
        price: priced.then(|| Decimal::from(tick)),
        client_id: format!("k{cid}"),
    }
}

fn trade(tick: i64, qty: i64, taker: Option<bool>) -> PublicTrade {
    PublicTrade {
        price: Decimal::from(tick),
        qty: Decimal::new(qty, 2),
        taker_side: taker.map(|sell| if sell { Side::Sell } else { Side::Buy }),
    }
}

fn amend_of(qty: Option<i64>, tick: Option<i64>) -> Amend {
    Amend {
        qty: qty.map(|q| Decimal::new(q, 2)),
        price: tick.map(Decimal::from),
    }
}

fn ladder(mid: i64, size: i64) -> Book<Level> {
    let q = |i: i64| format!("{}", Decimal::new(size * (i + 1), 2));
    let bids: Vec<(String, String)> = (1..=5).map(|i| (format!("{}", mid - i), q(i))).collect();
    let asks: Vec<(String, String)> = (1..=5).map(|i| (format!("{}", mid + i), q(i))).collect();
    let b: Vec<(&str, &str)> = bids.iter().map(|(p, q)| (p.as_str(), q.as_str())).collect();
    let a: Vec<(&str, &str)> = asks.iter().map(|(p, q)| (p.as_str(), q.as_str())).collect();
    mk_book(&b, &a)
}

/// What one step returned.
#[derive(Debug, PartialEq)]
enum Out {
    /// Executions (a cancel's one), or the refusal.
    Events(Result<Vec<Execution>, Reject>),
    /// A rename's answer.
    Unit(Result<(), Reject>),
}

/// Runs `op` on engine `e` (the adapter or the reference model: the same method names) with
/// `open` the open orders before it, both accounts, by id; `books` are X's, Y's and an empty
/// one. Returns what the step returned.
macro_rules! step {
    ($e:expr, $op:expr, $open:expr, $books:expr, $now:expr) => {{
        let e = &mut $e;
        let open: &[Order] = $open;
        let books: &[Book<Level>; 3] = $books;
        let book = |sym: &str| match sym {
            "X" => &books[0],
            "Y" => &books[1],
            _ => &books[2],
        };
        let pick = |i: usize| open.get(i % open.len().max(1));
        let by = |o: &Order, by_client: bool| {
            if by_client {
                OrderRef::Client(o.client_id.clone())
            } else {
                OrderRef::Id(o.id)
            }
        };
        match $op {
            Op::Place {
                rich,
                sym,
                buy,
                tick,
                qty,
                kind,
                cid,
            } => {
                let o = new_order(*sym, *buy, *tick, *qty, *kind, *cid);
                let b = book(&o.symbol);
                Out::Events(e.place(usize::from(*rich), o, b, $now))
            }
            Op::Cancel { i, by_client } => {
                let r = match pick(*i) {
                    Some(o) => {
                        e.cancel(o.account, &o.symbol, &by(o, *by_client), book(&o.symbol), $now)
                    }
                    None => e.cancel(0, "X", &OrderRef::Id(999), book("X"), $now),
                };
                Out::Events(r.map(|x| vec![x]))
            }
            Op::CancelAll { rich, sym } => {
                let s = sym_name(*sym);
                Out::Events(Ok(e.cancel_all(usize::from(*rich), s, book(s), $now)))
            }
            Op::Amend {
                i,
                qty,
                tick,
                by_client,
            } => Out::Events(match pick(*i) {
                Some(o) => e.amend(
                    o.account,
                    &o.symbol,
                    &by(o, *by_client),
                    amend_of(*qty, *tick),
                    book(&o.symbol),
                    $now,
                ),
                None => {
                    let r = OrderRef::Id(999);
                    e.amend(0, "X", &r, amend_of(*qty, *tick), book("X"), $now)
                }
            }),
            Op::Rename { i, cid } => Out::Unit(match pick(*i) {
                Some(o) => {
                    let r = OrderRef::Id(o.id);
                    e.set_client_id(o.account, &o.symbol, &r, &format!("k{cid}"))
                }
                None => e.set_client_id(0, "X", &OrderRef::Id(999), "k0"),
            }),
            Op::Book { sym, .. } => {
                let s = sym_name(*sym);
                Out::Events(Ok(e.on_book(s, book(s), $now)))
            }
            Op::Trade {
                sym,
                tick,
                qty,
                taker,
            } => Out::Events(Ok(e.on_trade(sym_name(*sym), trade(*tick, *qty, *taker), $now))),
        }
    }};
}

/// The books after `op` (a book move replaces X's or Y's ladder).
fn move_books(books: &mut [Book<Level>; 3], op: &Op) {
    if let Op::Book { sym, mid, size } = op {
        match sym_name(*sym) {
            "X" => books[0] = ladder(*mid, *size),
            "Y" => books[1] = ladder(*mid, *size),
            _ => {}
        }
    }
}

fn start_books() -> [Book<Level>; 3] {
    [ladder(100, 100), ladder(100, 100), Book::new()]
}

/// Every open order of the two accounts, by id.
fn all_open(e: &Engine) -> Vec<Order> {
    let mut v: Vec<Order> = (0..2)
        .flat_map(|a| e.open_orders(a, None))
        .cloned()
        .collect();
    v.sort_by_key(|o| o.id);
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn conservation(ops in proptest::collection::vec(op(), 1..60), shave in any::<bool>()) {
        let mut e = Engine::new(Fees { maker: d("-0.0002"), taker: d("0.001") });
        if shave {
            e.set_short_fill(d("0.001"), 1, 0);
        }
        for (symbol, base) in [("X", "B"), ("Y", "C")] {
            e.add_symbol(SymbolRules {
                symbol: symbol.into(), base: base.into(), quote: "Q".into(),
                tick: d("1"), lot: d("0.01"), min_notional: Decimal::ZERO,
            });
        }
        let start = [("B", d("20")), ("C", d("5")), ("Q", d("3000"))];
        let a = e.add_account("p", &start.map(|(s, v)| (s.to_owned(), v)));
        prop_assert_eq!(e.add_account("r", &[]), a + 1);
        let mut books = start_books();
        for (n, op) in ops.iter().enumerate() {
            let now = n as u64 + 1;
            // Only the first account trades (the second has nothing).
            let op = match op.clone() {
                Op::Place { sym, buy, tick, qty, kind, cid, .. } =>
                    Op::Place { rich: false, sym, buy, tick, qty, kind, cid },
                Op::CancelAll { sym, .. } => Op::CancelAll { rich: false, sym },
                other => other,
            };
            move_books(&mut books, &op);
            let open = all_open(&e);
            let out = step!(e, &op, &open, &books, now);
            // Each fill is within the order's limit at the time (an amend may move it later).
            if let Out::Events(Ok(ev)) = &out {
                for x in ev {
                    if let (Some(f), Some(p)) = (&x.fill, x.order.price) {
                        match x.order.side {
                            Side::Buy => prop_assert!(f.price <= p),
                            Side::Sell => prop_assert!(f.price >= p),
                        }
                    }
                }
            }
            // Invariants after every step: balances are the start plus what the fills moved.
            let base_of = |s: &str| if s == "Y" { "C" } else { "B" };
            let mut flow: BTreeMap<&str, Decimal> = start.into_iter().collect();
            let mut last_trade = 0;
            for f in e.fills() {
                prop_assert!(f.trade_id > last_trade);
                last_trade = f.trade_id;
                prop_assert!(f.qty > Decimal::ZERO);
                let base = base_of(&f.symbol);
                match f.side {
                    Side::Buy => {
                        *flow.entry(base).or_default() += f.qty - f.commission;
                        *flow.entry("Q").or_default() -= f.quote_qty;
                    }
                    Side::Sell => {
                        *flow.entry(base).or_default() -= f.qty;
                        *flow.entry("Q").or_default() += f.quote_qty - f.commission;
                    }
                }
            }
            for (asset, want) in &flow {
                let b = e.balance(a, asset);
                prop_assert_eq!(b.free + b.locked, *want, "{}", asset);
                prop_assert!(b.free >= Decimal::ZERO && b.locked >= Decimal::ZERO);
            }
            let mut locks: BTreeMap<&str, Decimal> = BTreeMap::new();
            for o in e.orders() {
                let fills: Decimal = e.order_fills(o.id).iter().map(|f| f.qty).sum();
                let quote: Decimal = e.order_fills(o.id).iter().map(|f| f.quote_qty).sum();
                prop_assert_eq!(fills, o.executed);
                prop_assert_eq!(quote, o.cum_quote);
                prop_assert!(o.executed <= o.qty);
                prop_assert_eq!(o.status == OrderStatus::Filled, o.matched == o.qty);
                prop_assert!(o.executed <= o.matched);
                if o.status.is_open() {
                    let asset = match o.side { Side::Buy => "Q", Side::Sell => base_of(&o.symbol) };
                    *locks.entry(asset).or_default() += o.locked;
                } else {
                    prop_assert_eq!(o.locked, Decimal::ZERO);
                }
            }
            for asset in ["B", "C", "Q"] {
                let want = locks.get(asset).copied().unwrap_or_default();
                prop_assert_eq!(e.balance(a, asset).locked, want, "{}", asset);
            }
        }
    }

    #[test]
    fn deterministic(ops in proptest::collection::vec(op(), 1..40)) {
        let run = |ops: &[Op]| {
            let mut e = Engine::new(Fees { maker: d("0.0001"), taker: d("0.001") });
            for symbol in ["X", "Y"] {
                e.add_symbol(SymbolRules {
                    symbol: symbol.into(), base: symbol.into(), quote: "Q".into(),
                    tick: d("1"), lot: d("0.01"), min_notional: Decimal::ZERO,
                });
            }
            let rich = [("X".into(), d("1e9")), ("Y".into(), d("1e9")), ("Q".into(), d("1e12"))];
            e.add_account("p", &rich);
            e.add_account("r", &rich);
            let mut books = start_books();
            let mut out = Vec::new();
            for (n, op) in ops.iter().enumerate() {
                move_books(&mut books, op);
                let open = all_open(&e);
                out.push(format!("{:?}", step!(e, op, &open, &books, n as u64)));
            }
            out
        };
        prop_assert_eq!(run(&ops), run(&ops));
    }
}

/// The differential test: the adapter the simulator runs (the venue's account layer over the
/// one matching engine, `tickwire-matching`, fixed point) against the reference model (the
/// simulator's former engine, `rust_decimal` throughout, `reference.rs`) on the same random
/// sessions: two symbols, two accounts (one with small balances, so orders are refused for
/// balance, and market buys for what they would cost), placements of every type (limit
/// GTC/IOC/FOK, market, post-only, a limit order without a price, duplicate client ids, an
/// unknown symbol), cancels by id and client id, cancel-all, amends of price and/or quantity
/// (priority kept or lost, crossing, refused), renames, book moves, and public trades with a
/// known or unknown aggressor; maker rebates or fees, a minimum notional, and the short-fill
/// fault. After every step everything either one says must be the same: what the step
/// returned (executions with their order snapshots and fills, or the refusal), every order
/// (status, filled, booked, quote, locks, time priority, queue position), every fill
/// (prices, quantities, maker or taker, commissions), balances, open orders, and lookups by
/// client id.
mod differential {
    use super::super::reference;
    use super::*;

    /// One session's configuration.
    #[derive(Clone, Debug)]
    struct Setup {
        /// Fee rates: none, maker rebate and taker fee, or both charged.
        fees: u8,
        /// A minimum notional of 150 (prices are about 100, quantities up to 4).
        min_notional: bool,
        /// The short-fill fault: by (thousandths), after, count.
        shave: Option<(i64, u64, u64)>,
    }

    fn setup() -> impl Strategy<Value = Setup> {
        (
            0u8..3,
            any::<bool>(),
            proptest::option::of((1i64..6, 0u64..6, 0u64..4)),
        )
            .prop_map(|(fees, min_notional, shave)| Setup {
                fees,
                min_notional,
                shave,
            })
    }

    /// Both engines configured alike (the same method names on either type).
    macro_rules! engine_for {
        ($ty:ty, $s:expr) => {{
            let s: &Setup = $s;
            let fees = match s.fees {
                0 => Fees::default(),
                1 => Fees {
                    maker: d("-0.0002"),
                    taker: d("0.001"),
                },
                _ => Fees {
                    maker: d("0.0001"),
                    taker: d("0.00075"),
                },
            };
            let mut e = <$ty>::new(fees);
            if let Some((by, after, count)) = s.shave {
                e.set_short_fill(Decimal::new(by, 3), after, count);
            }
            for (symbol, base) in [("X", "B"), ("Y", "C")] {
                e.add_symbol(SymbolRules {
                    symbol: symbol.into(),
                    base: base.into(),
                    quote: "Q".into(),
                    tick: d("1"),
                    lot: d("0.01"),
                    min_notional: if s.min_notional {
                        d("150")
                    } else {
                        Decimal::ZERO
                    },
                });
            }
            let small = [("B", "6"), ("C", "3"), ("Q", "1200")];
            let rich = [("B", "1e9"), ("C", "1e9"), ("Q", "1e12")];
            for (name, money) in [("p", small), ("r", rich)] {
                let money: Vec<(String, Decimal)> =
                    money.iter().map(|(a, v)| ((*a).to_owned(), d(v))).collect();
                e.add_account(name, &money);
            }
            e
        }};
    }

    /// Everything the two engines say after a step must be the same.
    fn same_state(sim: &Engine, old: &reference::Engine) -> Result<(), TestCaseError> {
        let orders: Vec<&Order> = sim.orders().collect();
        let old_orders: Vec<&Order> = old.orders().collect();
        prop_assert_eq!(orders, old_orders);
        prop_assert_eq!(sim.fills(), old.fills());
        for o in old.orders() {
            prop_assert_eq!(sim.order_fills(o.id), old.order_fills(o.id));
        }
        for a in 0..2 {
            prop_assert_eq!(sim.balances(a), old.balances(a));
            prop_assert_eq!(sim.open_orders(a, None), old.open_orders(a, None));
            for symbol in ["X", "Y"] {
                prop_assert_eq!(
                    sim.open_orders(a, Some(symbol)),
                    old.open_orders(a, Some(symbol))
                );
                prop_assert_eq!(sim.trades(a, symbol), old.trades(a, symbol));
                for cid in 0..CIDS {
                    let r = OrderRef::Client(format!("k{cid}"));
                    prop_assert_eq!(sim.order(a, symbol, &r), old.order(a, symbol, &r));
                }
            }
        }
        Ok(())
    }

    fn run(s: &Setup, ops: &[Op]) -> Result<(), TestCaseError> {
        let mut sim = engine_for!(Engine, s);
        let mut old = engine_for!(reference::Engine, s);
        prop_assert_eq!(sim.fees(), old.fees());
        prop_assert_eq!(sim.rules("X"), old.rules("X"));
        prop_assert_eq!(sim.account_id("r"), old.account_id("r"));
        let mut books = start_books();
        for (n, op) in ops.iter().enumerate() {
            let now = n as u64 + 1;
            move_books(&mut books, op);
            let open = all_open(&sim);
            let got = step!(sim, op, &open, &books, now);
            let want = step!(old, op, &open, &books, now);
            prop_assert_eq!(got, want, "step {}: {:?}", n, op);
            same_state(&sim, &old)
                .map_err(|e| TestCaseError::fail(format!("after step {n} ({op:?}): {e}")))?;
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]
        #[test]
        fn the_adapter_on_the_one_engine_agrees_with_the_reference_model(
            s in setup(),
            ops in proptest::collection::vec(op(), 1..150),
        ) {
            run(&s, &ops)?;
        }
    }
}
