//! Parsing real market-data frames, per message type: tickwire's decoders against simd-json's
//! generic value and serde_json (typed borrowed structs and `Value`). Reports ns/message.
//!
//! `cargo bench -p tickwire-benches --profile fastrel --bench parse -- --warm-up-time 1 --measurement-time 2`
//!
//! Instruction counts per message (steadier than time on shared machines) come from
//! `examples/parse_count.rs` under callgrind.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tickwire_benches::parse::{Kind, Parsers, Variant, corpus};

/// Messages per iteration, per kind.
const MESSAGES: usize = 500;

fn parse(c: &mut Criterion) {
    let mut parsers = Parsers::new();
    for kind in Kind::ALL {
        let mut frames = corpus(kind, MESSAGES);
        let mut g = c.benchmark_group(format!("parse/{}", kind.name()));
        g.throughput(Throughput::Elements(frames.len() as u64));
        for variant in Variant::ALL {
            g.bench_function(variant.name(), |b| {
                b.iter(|| {
                    let mut acc = 0u64;
                    for f in frames.iter_mut() {
                        acc ^= parsers.parse(variant, kind, black_box(f));
                    }
                    acc
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, parse);
criterion_main!(benches);
