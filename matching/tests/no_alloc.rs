//! After construction the engine allocates nothing, however long it runs: orders placed,
//! taking, resting, filled by trades and by the book, amended and cancelled, far past the
//! table's capacity. Counted per thread by the testkit's allocator (its own test binary).

use tickwire_core::book::L2Book;
use tickwire_core::event::Side;
use tickwire_core::ids::{InstrumentId, VenueId};
use tickwire_core::num::{InstrumentSpec, Px, Qty};
use tickwire_matching::{Engine, EngineConfig, Fees, Kind, OrderSpec, Tif};
use tickwire_testkit::alloc::{CountingAlloc, allocations};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

const I: InstrumentId = InstrumentId(0);

fn p(units: i64) -> Px {
    Px::from_raw(units * 1_000_000_000)
}

fn q(hundredths: i64) -> Qty {
    Qty::from_raw(hundredths * 10_000_000)
}

/// One round of everything the engine does, on a book around `mid`.
fn round(e: &mut Engine, b: &mut L2Book, mid: i64, n: u64, sink: &mut u64) {
    b.clear();
    for i in 1..=10 {
        b.set(Side::Buy, p(mid - i), q(100 + i));
        b.set(Side::Sell, p(mid + i), q(100 + i));
    }
    let mut out = |ev: &tickwire_matching::Event| *sink = sink.wrapping_add(ev.order.id);
    e.on_book(I, b, n, &mut out);
    let order = |side, kind, tif, px, qty| OrderSpec {
        instrument: I,
        client: n,
        side,
        kind,
        tif,
        px,
        qty,
    };
    let rest = e.place(
        &order(Side::Buy, Kind::Limit, Tif::Gtc, p(mid - 1), q(50)),
        b,
        n,
        &mut out,
    );
    let _ = e.place(
        &order(Side::Sell, Kind::PostOnly, Tif::Gtc, p(mid + 2), q(30)),
        b,
        n,
        &mut out,
    );
    let _ = e.place(
        &order(Side::Buy, Kind::Limit, Tif::Ioc, p(mid + 3), q(250)),
        b,
        n,
        &mut out,
    );
    let _ = e.place(
        &order(Side::Sell, Kind::Limit, Tif::Fok, p(mid - 2), q(90)),
        b,
        n,
        &mut out,
    );
    let _ = e.place(
        &order(Side::Sell, Kind::Market, Tif::Gtc, Px::ZERO, q(20)),
        b,
        n,
        &mut out,
    );
    e.on_trade(I, p(mid - 1), q(300), Some(Side::Sell), n, &mut out);
    if let Ok(id) = rest {
        let _ = e.amend(id, Some(q(40)), None, b, n, &mut out);
        let _ = e.cancel(id, b, n, &mut out);
    }
    // Whatever still rests is cancelled so the table churns instead of filling up.
    loop {
        let Some(id) = e.open_orders().map(|o| o.id).next() else {
            break;
        };
        let _ = e.cancel(id, b, n, &mut out);
    }
}

#[test]
fn the_engine_never_allocates_after_construction() {
    let mut e = Engine::new(EngineConfig {
        instruments: vec![InstrumentSpec {
            id: I,
            venue: VenueId::SYNTHETIC,
            symbol: "X".into(),
            tick: p(1),
            lot: q(1),
            min_qty: q(1),
            min_notional: Px::ZERO,
        }],
        max_orders: 16,
        fees: Fees {
            maker_ppb: -10_000,
            taker_ppb: 50_000,
        },
    });
    let mut b = L2Book::with_capacity(32);
    let mut sink = 0u64;
    // Warm-up: the scratch vectors reach their working size.
    round(&mut e, &mut b, 100, 0, &mut sink);
    let before = allocations();
    for n in 1..2_000u64 {
        let mid = 100 + (n % 7) as i64 - 3;
        round(&mut e, &mut b, mid, n, &mut sink);
    }
    assert_eq!(allocations() - before, 0, "the engine allocated");
    assert!(sink != 0, "events were produced");
    let probe = allocations();
    drop(std::hint::black_box(vec![1u8; 16]));
    assert!(allocations() > probe, "the counter works");
}
