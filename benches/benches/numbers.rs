//! Exact number parsing and formatting against `rust_decimal` and `f64` baselines.
//!
//! `cargo bench -p tickwire-benches --bench numbers -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::io::Write as _;
use std::str::FromStr;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rust_decimal::Decimal;
use tickwire_core::num::Px;

/// Realistic venue strings: a Binance BTC price, a small-coin price, an OKX short form and a
/// padded quantity.
const INPUTS: [&str; 4] = ["61837.63000000", "0.00006547", "30249.4", "1.67177000"];

fn parse(c: &mut Criterion) {
    for input in INPUTS {
        let mut g = c.benchmark_group(format!("parse/{input}"));
        g.throughput(Throughput::Elements(1));
        g.bench_function("tickwire Px::parse_bytes", |b| {
            b.iter(|| Px::parse_bytes(black_box(input.as_bytes())))
        });
        g.bench_function("rust_decimal Decimal::from_str", |b| {
            b.iter(|| Decimal::from_str(black_box(input)))
        });
        g.bench_function("std str::parse::<f64>", |b| {
            b.iter(|| black_box(input).parse::<f64>())
        });
        g.finish();
    }
    // All four in one iteration, as a feed handler meets them.
    let mut g = c.benchmark_group("parse/mix4");
    g.throughput(Throughput::Elements(INPUTS.len() as u64));
    g.bench_function("tickwire Px::parse_bytes", |b| {
        b.iter(|| {
            for s in black_box(&INPUTS) {
                let _ = black_box(Px::parse_bytes(s.as_bytes()));
            }
        })
    });
    g.bench_function("rust_decimal Decimal::from_str", |b| {
        b.iter(|| {
            for s in black_box(&INPUTS) {
                let _ = black_box(Decimal::from_str(s));
            }
        })
    });
    g.bench_function("std str::parse::<f64>", |b| {
        b.iter(|| {
            for s in black_box(&INPUTS) {
                let _ = black_box(s.parse::<f64>());
            }
        })
    });
    g.finish();
}

fn format(c: &mut Criterion) {
    let px = Px::parse("61837.63").expect("valid price");
    let dec = px.to_decimal();
    let float = 61837.63f64;
    let mut g = c.benchmark_group("format/61837.63");
    g.throughput(Throughput::Elements(1));
    g.bench_function("tickwire Px::write_to(8)", |b| {
        let mut buf = [0u8; 32];
        b.iter(|| black_box(black_box(px).write_to(8, &mut buf)).len())
    });
    g.bench_function("tickwire Px::write_to(0)", |b| {
        let mut buf = [0u8; 32];
        b.iter(|| black_box(black_box(px).write_to(0, &mut buf)).len())
    });
    // Baselines write into the same kind of stack buffer, without allocating.
    g.bench_function("rust_decimal Display", |b| {
        let mut buf = [0u8; 32];
        b.iter(|| {
            let mut w = &mut buf[..];
            write!(w, "{}", black_box(dec)).expect("fits");
            32 - w.len()
        })
    });
    g.bench_function("std f64 Display", |b| {
        let mut buf = [0u8; 32];
        b.iter(|| {
            let mut w = &mut buf[..];
            write!(w, "{}", black_box(float)).expect("fits");
            32 - w.len()
        })
    });
    g.finish();
}

criterion_group!(benches, parse, format);
criterion_main!(benches);
