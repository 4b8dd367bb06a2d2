//! One-way ring hop latency against the bare atomic ping-pong floor, measured in the same run.
//!
//! Both benchmarks are round trips between two threads pinned to cores 0 and 1, each side
//! busy-polling with a `spin_loop` hint between polls (what `WaitPolicy::Spin` does):
//!
//! - `ring_hop/atomic_floor`: the two threads bounce one `AtomicU64` (one cache line moving
//!   back and forth) — the cheapest possible inter-core hand-off on this machine;
//! - `ring_hop/ring`: a `[u64; 13]` record (104 bytes, the size of the engine's records) goes
//!   out on one `tickwire_core::ring` channel and comes back on another.
//!
//! Criterion reports round-trip times; one-way is half. After criterion, the harness prints
//! one-way latencies and the ratio ring/floor (the goal is at most 1.3×) two ways: the median of
//! the very samples criterion measured, and a paired step that alternates short floor and ring
//! bursts, so that both see the same load on a shared host (its best burst is the least
//! disturbed figure).
//!
//! Run: `cargo bench -p tickwire-benches --bench ring -- --warm-up-time 1 --measurement-time 3`
//! (add `--profile fastrel` for quick iterations). Both cores spin for the whole measurement:
//! on a 2-core host expect the machine to be unresponsive meanwhile.

use std::hint::{black_box, spin_loop};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use core_affinity::CoreId;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};
use tickwire_core::ring::{Consumer, Producer, channel};

/// The record: 104 bytes, like the engine's Copy enums of Pod structs.
type Rec = [u64; 13];

/// The benchmark thread runs here …
const MAIN_CORE: usize = 0;
/// … and its echo partner here.
const ECHO_CORE: usize = 1;
/// Samples criterion takes per benchmark (set on the group so the harness knows which of the
/// recorded calls are measurement rather than warm-up).
const SAMPLES: usize = 100;
/// Sentinel telling an echo thread to exit.
const STOP: u64 = u64::MAX;
/// Paired step: alternating floor/ring bursts ...
const PAIRED_ROUNDS: usize = 25;
/// ... of this many timed round trips ...
const PAIRED_BURST: u64 = 20_000;
/// ... each after this many untimed ones (caches, branch predictors, both threads running).
const PAIRED_WARM_UP: u64 = 2_000;

fn pin(core: usize, who: &str) {
    if !core_affinity::set_for_current(CoreId { id: core }) {
        eprintln!("warning: could not pin {who} to core {core}: figures will be noisier");
    }
}

/// Poll until `poll` yields, with a pause hint between polls.
#[inline(always)]
fn spin_until<T>(mut poll: impl FnMut() -> Option<T>) -> T {
    loop {
        if let Some(v) = poll() {
            return v;
        }
        spin_loop();
    }
}

/// Pushes, spinning while full (never full in a ping-pong with one record in flight).
#[inline(always)]
fn push_spin(tx: &mut Producer<Rec>, mut r: Rec) {
    while let Err(back) = tx.try_push(r) {
        r = back;
        spin_loop();
    }
}

/// A ring ping-pong: records go out on `ping`, an echo thread on the other core adds one to
/// the first word and sends them back on `pong`.
struct RingPair {
    ping: Producer<Rec>,
    pong: Consumer<Rec>,
    echo: JoinHandle<()>,
    seq: u64,
}

impl RingPair {
    fn start() -> Self {
        let (ping, ping_rx) = channel::<Rec>(64);
        let (pong_tx, pong) = channel::<Rec>(64);
        let echo = thread::spawn(move || ring_echo(ping_rx, pong_tx));
        Self {
            ping,
            pong,
            echo,
            seq: 0,
        }
    }

    /// `iters` round trips; returns the elapsed time.
    fn round_trips(&mut self, iters: u64) -> Duration {
        let mut rec: Rec = [0; 13];
        let start = Instant::now();
        for _ in 0..iters {
            self.seq += 1;
            rec[0] = self.seq;
            push_spin(&mut self.ping, rec);
            rec = spin_until(|| self.pong.try_pop());
        }
        let elapsed = start.elapsed();
        assert!(iters == 0 || rec[0] == self.seq + 1, "the echo adds one");
        black_box(rec);
        elapsed
    }

    fn stop(mut self) {
        let mut stop = [0; 13];
        stop[0] = STOP;
        push_spin(&mut self.ping, stop);
        self.echo.join().unwrap();
    }
}

fn ring_echo(mut ping: Consumer<Rec>, mut pong: Producer<Rec>) {
    pin(ECHO_CORE, "the ring echo thread");
    loop {
        let mut r = spin_until(|| ping.try_pop());
        if r[0] == STOP {
            return;
        }
        r[0] += 1;
        push_spin(&mut pong, r);
    }
}

/// One cache line of its own, so nothing else shares the line that bounces.
#[repr(align(128))]
struct Line(AtomicU64);

/// The floor: one atomic bounced between the two cores. We store an odd value, the echo thread
/// answers with value + 1.
struct FloorPair {
    line: Arc<Line>,
    echo: JoinHandle<()>,
    seq: u64,
}

impl FloorPair {
    fn start() -> Self {
        let line = Arc::new(Line(AtomicU64::new(0)));
        let echo = {
            let line = Arc::clone(&line);
            thread::spawn(move || atomic_echo(&line))
        };
        Self { line, echo, seq: 0 }
    }

    /// `iters` round trips; returns the elapsed time.
    fn round_trips(&mut self, iters: u64) -> Duration {
        let line = &self.line.0;
        let start = Instant::now();
        for _ in 0..iters {
            self.seq += 2;
            let ping = self.seq - 1; // odd
            line.store(ping, Ordering::Release);
            spin_until(|| (line.load(Ordering::Acquire) == ping + 1).then_some(()));
        }
        start.elapsed()
    }

    fn stop(self) {
        self.line.0.store(STOP, Ordering::Release);
        self.echo.join().unwrap();
    }
}

fn atomic_echo(line: &Line) {
    pin(ECHO_CORE, "the atomic echo thread");
    let mut answered = 0u64;
    loop {
        let v = spin_until(|| {
            let v = line.0.load(Ordering::Acquire);
            (v != answered && v & 1 == 1).then_some(v)
        });
        if v == STOP {
            return;
        }
        answered = v + 1;
        line.0.store(answered, Ordering::Release);
    }
}

/// Runs a routine under criterion and keeps every (iterations, elapsed) it measured.
fn measure(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    mut routine: impl FnMut(u64) -> Duration,
) -> Vec<(u64, Duration)> {
    let mut samples = Vec::new();
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let t = routine(iters);
            samples.push((iters, t));
            t
        });
    });
    samples
}

/// One-way latencies in ns (round trip / 2) of criterion's measurement samples: the last
/// `SAMPLES` calls (the earlier ones were warm-up). Empty if criterion did not measure (test
/// mode, filtered out).
fn criterion_one_way_ns(samples: &[(u64, Duration)]) -> Vec<f64> {
    if samples.len() < SAMPLES {
        return Vec::new();
    }
    samples[samples.len() - SAMPLES..]
        .iter()
        .map(|&(iters, t)| t.as_nanos() as f64 / iters as f64 / 2.0)
        .collect()
}

/// The paired step: short bursts of floor and ring round trips, alternating, so that both see
/// the same machine (other processes come and go on a shared 2-core host). Returns one-way ns
/// per burst for (floor, ring).
fn paired_one_way_ns() -> (Vec<f64>, Vec<f64>) {
    let (mut floor, mut ring) = (Vec::new(), Vec::new());
    for _ in 0..PAIRED_ROUNDS {
        let mut f = FloorPair::start();
        f.round_trips(PAIRED_WARM_UP);
        let t = f.round_trips(PAIRED_BURST);
        f.stop();
        floor.push(t.as_nanos() as f64 / PAIRED_BURST as f64 / 2.0);

        let mut r = RingPair::start();
        r.round_trips(PAIRED_WARM_UP);
        let t = r.round_trips(PAIRED_BURST);
        r.stop();
        ring.push(t.as_nanos() as f64 / PAIRED_BURST as f64 / 2.0);
    }
    (floor, ring)
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

fn main() {
    pin(MAIN_CORE, "the benchmark thread");
    let mut c = Criterion::default().configure_from_args();

    let mut group = c.benchmark_group("ring_hop");
    group.sample_size(SAMPLES);
    let mut pair = FloorPair::start();
    let floor = measure(&mut group, "atomic_floor", |iters| pair.round_trips(iters));
    pair.stop();
    let mut pair = RingPair::start();
    let ring = measure(&mut group, "ring", |iters| pair.round_trips(iters));
    pair.stop();
    group.finish();
    c.final_summary();

    let (floor, ring) = (criterion_one_way_ns(&floor), criterion_one_way_ns(&ring));
    if floor.is_empty() || ring.is_empty() {
        println!("ring/floor ratio: not measured in this run (test mode or filtered)");
        return;
    }
    let (paired_floor, paired_ring) = paired_one_way_ns();

    println!();
    println!(
        "one-way hop = round trip / 2, threads pinned to cores {MAIN_CORE} and {ECHO_CORE}, \
         ring record [u64; 13] (104 B)"
    );
    println!(
        "  criterion: median of its {SAMPLES} samples; paired: {PAIRED_ROUNDS} alternating \
         bursts of {PAIRED_BURST} round trips"
    );
    println!("                      criterion median   paired median   paired best");
    let row = |name: &str, c: f64, pm: f64, pb: f64| {
        println!("  {name:<18} {c:>12.1} ns {pm:>12.1} ns {pb:>10.1} ns");
    };
    row(
        "atomic floor",
        median(&floor),
        median(&paired_floor),
        min(&paired_floor),
    );
    row(
        "ring",
        median(&ring),
        median(&paired_ring),
        min(&paired_ring),
    );
    println!(
        "  {:<18} {:>14.2}x {:>14.2}x {:>12.2}x   (goal <= 1.30x)",
        "ratio ring/floor",
        median(&ring) / median(&floor),
        median(&paired_ring) / median(&paired_floor),
        min(&paired_ring) / min(&paired_floor),
    );
}
