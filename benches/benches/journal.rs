//! Journal append benchmarks.
//!
//! - `journal/append_64b`: criterion, one 64-byte-payload append per iteration, throughput in
//!   payload bytes, with the default background write-back (100 ms);
//!   `journal/append_64b_no_flush`: the same without background write-back.
//! - `journal/append_64b_batched_p50`: prints a percentile table of per-append times measured
//!   in batches (timing each append alone would mostly measure the clock), plus the sustained
//!   rate over the whole run, segment switches included.
//!
//! Finished segments are deleted between timed batches so that a long run does not fill the
//! disk. Except in `append_64b_no_flush`, the background flush thread runs (100 ms) as in
//! production, so the figures include its competition for the CPU and the disk.
//!
//! `cargo bench -p tickwire-benches --bench journal -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tickwire_core::journal::{JournalConfig, Writer};

const PAYLOAD: usize = 64;
const SEGMENT: u64 = 256 << 20;

fn config(flush: bool) -> JournalConfig {
    JournalConfig {
        segment_bytes: SEGMENT,
        flush_interval: if flush {
            JournalConfig::default().flush_interval
        } else {
            Duration::ZERO
        },
        ..JournalConfig::default()
    }
}

/// Deletes every segment before the writer's active one (the writer never reads them again).
fn prune(w: &Writer) {
    let active = w.position().segment;
    let Ok(rd) = std::fs::read_dir(w.dir()) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let idx = name
            .strip_suffix(".twj")
            .and_then(|d| d.parse::<u32>().ok());
        if idx.is_some_and(|i| i < active) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

fn open(dir: &Path, flush: bool) -> Writer {
    match Writer::open(dir, config(flush)) {
        Ok((w, _)) => w,
        Err(e) => panic!("open journal: {e}"),
    }
}

/// One criterion benchmark of appends of a 64-byte payload, segment switches included.
fn bench_append(c: &mut Criterion, name: &str, flush: bool) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut w = open(dir.path(), flush);
    let payload = [0x5au8; PAYLOAD];
    let mut g = c.benchmark_group("journal");
    g.throughput(Throughput::Bytes(PAYLOAD as u64));
    g.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            for i in 0..iters {
                black_box(
                    w.append(1, black_box(i), black_box(&payload))
                        .expect("append"),
                );
            }
            let el = t.elapsed();
            prune(&w);
            el
        })
    });
    g.finish();
    let s = w.stats();
    eprintln!(
        "journal/{name}: {} rollovers, {} created synchronously, {} waits, next seq {}",
        s.rollovers,
        s.sync_creates,
        s.prepare_waits,
        w.next_seq()
    );
}

/// With the default 100 ms background write-back, as in production.
fn append_64b(c: &mut Criterion) {
    bench_append(c, "append_64b", true);
}

/// Without background write-back: the append path and segment provisioning alone.
fn append_64b_no_flush(c: &mut Criterion) {
    bench_append(c, "append_64b_no_flush", false);
}

fn append_64b_batched_p50(_c: &mut Criterion) {
    const BATCH: u64 = 64;
    const BATCHES: usize = 1 << 19;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut w = open(dir.path(), true);
    let payload = [0x5au8; PAYLOAD];
    // Warm up: page in code, fill caches, let the preparer get ahead.
    for i in 0..1_000_000 {
        black_box(w.append(1, i, &payload).expect("append"));
    }
    prune(&w);
    let mut per_append = Vec::with_capacity(BATCHES);
    let mut timed = Duration::ZERO;
    for b in 0..BATCHES {
        let t = Instant::now();
        for i in 0..BATCH {
            black_box(
                w.append(1, black_box(i), black_box(&payload))
                    .expect("append"),
            );
        }
        let el = t.elapsed();
        timed += el;
        per_append.push(el.as_nanos() as f64 / BATCH as f64);
        if b % 8192 == 8191 {
            prune(&w);
        }
    }
    per_append.sort_by(f64::total_cmp);
    let pct = |p: f64| per_append[((per_append.len() - 1) as f64 * p) as usize];
    let n = (BATCHES as u64 * BATCH) as f64;
    let s = w.stats();
    eprintln!(
        "journal/append_64b_batched_p50: per-append ns over {BATCHES} batches of {BATCH}: \
         p50 {:.1}  p90 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}",
        pct(0.5),
        pct(0.9),
        pct(0.99),
        pct(0.999),
        pct(1.0)
    );
    eprintln!(
        "journal/append_64b_batched_p50: sustained {:.2} GB/s payload ({:.2} GB/s incl. headers) \
         over {:.2} s of appends; {} rollovers, {} created synchronously",
        n * PAYLOAD as f64 / timed.as_secs_f64() / 1e9,
        n * 96.0 / timed.as_secs_f64() / 1e9,
        timed.as_secs_f64(),
        s.rollovers,
        s.sync_creates
    );
}

criterion_group!(
    benches,
    append_64b,
    append_64b_no_flush,
    append_64b_batched_p50
);
criterion_main!(benches);
