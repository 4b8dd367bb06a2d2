//! Parses N real frames of one message type with one parser, for instruction counting:
//!
//! ```text
//! cargo build -p tickwire-benches --profile fastrel --example parse_count
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*measured_loop*' \
//!     target/fastrel/examples/parse_count tickwire bookTicker 20000
//! ```
//!
//! Only `measured_loop` is counted (not loading and un-gzipping the capture); divide the
//! reported `Ir` by N. Variants: tickwire, tickwire-simd, simd-json-value, serde-typed,
//! serde-value. Kinds: bookTicker, depthUpdate, trade, okx-books, okx-trades.

use std::hint::black_box;

use tickwire_benches::parse::{Kind, Parsers, Variant, corpus};

/// Parses `n` frames, cycling through `frames`. Not inlined so that callgrind can count it
/// alone.
#[inline(never)]
fn measured_loop(
    parsers: &mut Parsers,
    variant: Variant,
    kind: Kind,
    frames: &mut [Vec<u8>],
    n: usize,
) -> u64 {
    let mut acc = 0u64;
    let len = frames.len();
    for i in 0..n {
        acc ^= parsers.parse(variant, kind, black_box(&mut frames[i % len]));
    }
    acc
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: parse_count <variant> <kind> [messages]";
    let variant = args
        .get(1)
        .and_then(|s| Variant::from_name(s))
        .expect(usage);
    let kind = args.get(2).and_then(|s| Kind::from_name(s)).expect(usage);
    let n: usize = args.get(3).map_or(20_000, |s| s.parse().expect(usage));
    let mut frames = corpus(kind, 2_000);
    let bytes: usize = frames.iter().map(Vec::len).sum();
    let mut parsers = Parsers::new();
    // Warm-up: every buffer reaches its steady-state size before counting.
    for f in frames.iter_mut() {
        black_box(parsers.parse(variant, kind, f));
    }
    let acc = measured_loop(&mut parsers, variant, kind, &mut frames, n);
    println!(
        "{} {} messages={n} corpus={} avg_bytes={} digest={acc:x}",
        variant.name(),
        kind.name(),
        frames.len(),
        bytes / frames.len().max(1)
    );
}
