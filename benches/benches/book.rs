//! L2 book updates near the touch, against a `BTreeMap` book measured in the same run.
//!
//! `cargo bench -p tickwire-benches --bench book -- --warm-up-time 1 --measurement-time 3`
//!
//! The book holds 3000 levels a side (a deep Binance BTCUSDT book); each operation changes the
//! quantity of, removes, or re-inserts a level within the first five of the touch — what a
//! depth stream mostly sends.

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tickwire_core::book::L2Book;
use tickwire_core::event::Side;
use tickwire_core::num::{Px, Qty};

const LEVELS: i64 = 3000;
const TICK: i64 = 10_000_000; // 0.01
const BEST_BID: i64 = 61_837_630_000_000; // 61837.63

/// A fixed cycle of near-touch operations: (side, ticks from the touch, quantity raw; 0 deletes).
fn ops() -> Vec<(Side, i64, i64)> {
    let mut v = Vec::new();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..4096 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let side = if x & 1 == 0 { Side::Buy } else { Side::Sell };
        let depth = ((x >> 8) % 5) as i64;
        // 1 in 4 deletes; the cycle re-inserts deleted levels later with a new quantity.
        let qty = if (x >> 16).is_multiple_of(4) {
            0
        } else {
            1 + ((x >> 20) % 1000) as i64 * 1_000_000
        };
        v.push((side, depth, qty));
    }
    v
}

fn level_px(side: Side, depth: i64) -> Px {
    match side {
        Side::Buy => Px::from_raw(BEST_BID - depth * TICK),
        Side::Sell => Px::from_raw(BEST_BID + TICK + depth * TICK),
    }
}

fn book(c: &mut Criterion) {
    let ops = ops();
    let mut g = c.benchmark_group("book/near-touch update");
    g.throughput(Throughput::Elements(1));

    let mut l2 = L2Book::with_capacity(4096);
    for d in 0..LEVELS {
        l2.set(Side::Buy, level_px(Side::Buy, d), Qty::ONE);
        l2.set(Side::Sell, level_px(Side::Sell, d), Qty::ONE);
    }
    let mut i = 0;
    g.bench_function("tickwire L2Book", |b| {
        b.iter(|| {
            let (side, depth, qty) = ops[i & 4095];
            i += 1;
            l2.set(side, level_px(side, depth), Qty::from_raw(qty));
            black_box(l2.best_bid())
        })
    });

    let mut bids: BTreeMap<Px, Qty> = BTreeMap::new();
    let mut asks: BTreeMap<Px, Qty> = BTreeMap::new();
    for d in 0..LEVELS {
        bids.insert(level_px(Side::Buy, d), Qty::ONE);
        asks.insert(level_px(Side::Sell, d), Qty::ONE);
    }
    let mut i = 0;
    g.bench_function("BTreeMap baseline", |b| {
        b.iter(|| {
            let (side, depth, qty) = ops[i & 4095];
            i += 1;
            let m = if side == Side::Buy {
                &mut bids
            } else {
                &mut asks
            };
            let px = level_px(side, depth);
            if qty == 0 {
                m.remove(&px);
            } else {
                m.insert(px, Qty::from_raw(qty));
            }
            black_box(bids.last_key_value().map(|(p, _)| *p))
        })
    });
    g.finish();
}

criterion_group!(benches, book);
criterion_main!(benches);
