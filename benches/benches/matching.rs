//! The matching engine's cost per market event, against the book update alone, measured in the
//! same run — the backtest's inner loop (goal: ≥ 5M events/s for the whole backtest step).
//!
//! `cargo bench -p tickwire-benches --bench matching -- --warm-up-time 1 --measurement-time 3`
//!
//! A deep book (1000 levels a side) moves near the touch; every event is a level update or a
//! public trade, and every 16th event our strategy places an order (a post-only quote near the
//! touch, an IOC that takes, or a cancel of the oldest resting order), so the engine always
//! has a handful of resting orders with queue positions to maintain:
//!
//! - `book only`: the `L2Book` update (the floor: what any backtest pays);
//! - `book + matching`: the same update, then the engine's `on_book` / `on_trade` and the
//!   orders — what tickwire's backtest pays per event;
//! - `decimal book only` and `decimal book + matching`: the same events through the TLS
//!   simulator's own book (`rust_decimal` keys, wire strings) and its venue account layer
//!   (balances, client ids, history in `rust_decimal`) over the one engine. Its book keeps the
//!   venue's strings, so its floor is higher too; compare the matching increments. (Before the
//!   simulator moved onto the one engine, its own `rust_decimal` engine took ~25 µs an event
//!   here: the measurement that decided for fixed point.)

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rust_decimal::Decimal;
use tickwire_core::book::L2Book;
use tickwire_core::event::Side;
use tickwire_core::ids::{InstrumentId, VenueId};
use tickwire_core::num::{InstrumentSpec, Px, Qty};
use tickwire_matching::{Engine, EngineConfig, Event, Fees, Kind, OrderSpec, Tif};
use tickwire_sim::book::{Book, Level};
use tickwire_sim::matching as dec;

const I: InstrumentId = InstrumentId(0);
const LEVELS: i64 = 1000;
const TICK: i64 = 10_000_000; // 0.01
const MID: i64 = 60_000_000_000_000; // 60000

#[derive(Clone, Copy)]
enum Ev {
    Level(Side, i64, i64),
    Trade(Side, i64, i64),
}

/// A fixed pseudo-random cycle of events near the touch.
fn events() -> Vec<Ev> {
    let mut v = Vec::new();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..8192 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let side = if x & 1 == 0 { Side::Buy } else { Side::Sell };
        let depth = ((x >> 8) % 6) as i64;
        let qty = 1 + ((x >> 20) % 1000) as i64 * 1_000_000;
        if (x >> 40).is_multiple_of(5) {
            v.push(Ev::Trade(side, depth.min(1), qty));
        } else {
            v.push(Ev::Level(side, depth, qty));
        }
    }
    v
}

fn px_at(side: Side, depth: i64) -> Px {
    match side {
        Side::Buy => Px::from_raw(MID - TICK - depth * TICK),
        Side::Sell => Px::from_raw(MID + depth * TICK),
    }
}

fn deep_book() -> L2Book {
    let mut b = L2Book::with_capacity(2048);
    for d in 0..LEVELS {
        b.set(Side::Buy, px_at(Side::Buy, d), Qty::ONE);
        b.set(Side::Sell, px_at(Side::Sell, d), Qty::ONE);
    }
    b
}

fn engine() -> Engine {
    Engine::new(EngineConfig {
        instruments: vec![InstrumentSpec {
            id: I,
            venue: VenueId::SYNTHETIC,
            symbol: "BTCUSDT".into(),
            tick: Px::from_raw(TICK),
            lot: Qty::from_raw(1_000),
            min_qty: Qty::from_raw(1_000),
            min_notional: Px::ZERO,
        }],
        max_orders: 64,
        fees: Fees {
            maker_ppb: -10_000,
            taker_ppb: 100_000,
        },
    })
}

fn matching(c: &mut Criterion) {
    let evs = events();
    let mut g = c.benchmark_group("matching/per market event");
    g.sample_size(30);
    g.throughput(Throughput::Elements(1));

    let mut book = deep_book();
    let mut i = 0usize;
    g.bench_function("book only", |b| {
        b.iter(|| {
            let ev = evs[i % evs.len()];
            i += 1;
            if let Ev::Level(side, d, q) = ev {
                book.set(side, px_at(side, d), Qty::from_raw(q));
            }
            black_box(book.best_bid())
        })
    });

    let mut book = deep_book();
    let mut e = engine();
    let mut i = 0usize;
    let mut n_events = 0u64;
    g.bench_function("book + matching", |b| {
        b.iter(|| {
            let ev = evs[i % evs.len()];
            i += 1;
            let mut out = |x: &Event| n_events = n_events.wrapping_add(x.order.id);
            match ev {
                Ev::Level(side, d, q) => {
                    book.set(side, px_at(side, d), Qty::from_raw(q));
                    e.on_book(I, &book, i as u64, &mut out);
                }
                Ev::Trade(aggr, d, q) => {
                    e.on_trade(
                        I,
                        px_at(aggr.opposite(), d),
                        Qty::from_raw(q),
                        Some(aggr),
                        i as u64,
                        &mut out,
                    );
                }
            }
            if i.is_multiple_of(16) {
                let side = if (i / 16).is_multiple_of(2) {
                    Side::Buy
                } else {
                    Side::Sell
                };
                let order = |kind, tif, px| OrderSpec {
                    instrument: I,
                    client: i as u64,
                    side,
                    kind,
                    tif,
                    px,
                    qty: Qty::from_raw(5_000_000),
                };
                match (i / 16) % 3 {
                    0 => {
                        let _ = e.place(
                            &order(Kind::PostOnly, Tif::Gtc, px_at(side, 1)),
                            &book,
                            i as u64,
                            &mut out,
                        );
                    }
                    1 => {
                        let _ = e.place(
                            &order(Kind::Limit, Tif::Ioc, px_at(side.opposite(), 0)),
                            &book,
                            i as u64,
                            &mut out,
                        );
                    }
                    _ => {
                        if e.open_count() > 8
                            && let Some(id) = e.open_orders().map(|o| o.id).min()
                        {
                            let _ = e.cancel(id, &book, i as u64, &mut out);
                        }
                    }
                }
            }
            black_box(n_events)
        })
    });
    decimal(&mut g, &evs);
    g.finish();
}

/// A price in ticks as the simulator's decimal and wire string.
fn dec_px(side: Side, depth: i64) -> Decimal {
    Decimal::new(px_at(side, depth).raw(), 9).normalize()
}

fn dec_level(side: Side, depth: i64, qty_raw: i64) -> (bool, Decimal, Option<Level>) {
    let px = dec_px(side, depth);
    let q = Decimal::new(qty_raw, 9).normalize();
    (
        side == Side::Buy,
        px,
        Some(vec![px.to_string(), q.to_string()]),
    )
}

fn decimal(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>, evs: &[Ev]) {
    let deep = || {
        let mut b: Book<Level> = Book::new();
        for d in 0..LEVELS {
            for side in [Side::Buy, Side::Sell] {
                let (bid, px, l) = dec_level(side, d, 1_000_000_000);
                b.set(bid, px, l);
            }
        }
        b
    };
    // The wire strings of every event, made before the clock starts.
    let levels: Vec<(bool, Decimal, Option<Level>)> = evs
        .iter()
        .map(|ev| match *ev {
            Ev::Level(side, d, q) => dec_level(side, d, q),
            Ev::Trade(aggr, d, q) => (
                aggr == Side::Sell,
                dec_px(aggr.opposite(), d),
                Some(vec![
                    String::new(),
                    Decimal::new(q, 9).normalize().to_string(),
                ]),
            ),
        })
        .collect();

    let mut book = deep();
    let mut i = 0usize;
    g.bench_function("decimal book only", |b| {
        b.iter(|| {
            let k = i % evs.len();
            i += 1;
            if let Ev::Level(..) = evs[k] {
                let (bid, px, l) = &levels[k];
                book.set(*bid, *px, l.clone());
            }
            black_box(book.bids.len())
        })
    });

    let mut book = deep();
    let mut e = dec::Engine::new(dec::Fees {
        maker: Decimal::new(-1, 5),
        taker: Decimal::new(1, 4),
    });
    e.add_symbol(dec::SymbolRules {
        symbol: "BTCUSDT".into(),
        base: "BTC".into(),
        quote: "USDT".into(),
        tick: Decimal::new(1, 2),
        lot: Decimal::new(1, 6),
        min_notional: Decimal::ZERO,
    });
    let a = e.add_account(
        "bench",
        &[
            (
                "BTC".into(),
                Decimal::new(1, 0) * Decimal::from(1_000_000_000),
            ),
            ("USDT".into(), Decimal::from(1_000_000_000_000_000i64)),
        ],
    );
    let mut i = 0usize;
    let mut n_events = 0usize;
    g.bench_function("decimal book + matching", |b| {
        b.iter(|| {
            let k = i % evs.len();
            i += 1;
            let now = i as u64;
            match evs[k] {
                Ev::Level(..) => {
                    let (bid, px, l) = &levels[k];
                    book.set(*bid, *px, l.clone());
                    n_events += e.on_book("BTCUSDT", &book, now).len();
                }
                Ev::Trade(aggr, ..) => {
                    let (_, px, l) = &levels[k];
                    let qty = l
                        .as_ref()
                        .and_then(|l| l.get(1))
                        .and_then(|q| q.parse().ok())
                        .unwrap_or(Decimal::ZERO);
                    let taker = if aggr == Side::Buy {
                        dec::Side::Buy
                    } else {
                        dec::Side::Sell
                    };
                    let t = dec::PublicTrade {
                        price: *px,
                        qty,
                        taker_side: Some(taker),
                    };
                    n_events += e.on_trade("BTCUSDT", t, now).len();
                }
            }
            if i.is_multiple_of(16) {
                let buy = (i / 16).is_multiple_of(2);
                let (side, core_side) = if buy {
                    (dec::Side::Buy, Side::Buy)
                } else {
                    (dec::Side::Sell, Side::Sell)
                };
                let order = |kind, tif, px| dec::NewOrder {
                    symbol: "BTCUSDT".into(),
                    side,
                    kind,
                    tif,
                    qty: Decimal::new(5, 3),
                    price: Some(px),
                    client_id: format!("c{i}"),
                };
                match (i / 16) % 3 {
                    0 => {
                        let o = order(
                            dec::OrderType::LimitMaker,
                            dec::TimeInForce::Gtc,
                            dec_px(core_side, 1),
                        );
                        n_events += e.place(a, o, &book, now).map_or(0, |v| v.len());
                    }
                    1 => {
                        let o = order(
                            dec::OrderType::Limit,
                            dec::TimeInForce::Ioc,
                            dec_px(core_side.opposite(), 0),
                        );
                        n_events += e.place(a, o, &book, now).map_or(0, |v| v.len());
                    }
                    _ => {
                        let open = e.open_orders(a, Some("BTCUSDT"));
                        if open.len() > 8 {
                            let id = open.first().map(|o| o.id);
                            if let Some(id) = id {
                                let r = dec::OrderRef::Id(id);
                                n_events +=
                                    usize::from(e.cancel(a, "BTCUSDT", &r, &book, now).is_ok());
                            }
                        }
                    }
                }
            }
            black_box(n_events)
        })
    });
}

criterion_group!(benches, matching);
criterion_main!(benches);
