//! One-way ring hop latency against the bare atomic ping-pong floor, measured in the same run.
//!
//! Both benchmarks are round trips between two threads pinned to cores 0 and 1, each side
//! busy-polling with a `spin_loop` hint between polls (what `WaitPolicy::Spin` does):
//!
//! - `ring_hop/atomic_floor`: the two threads bounce one `AtomicU64` (one cache line moving
//!   back and forth) — the cheapest possible inter-core hand-off on this machine;
//! - `ring_hop/line_pair_floor`: a ring of bare atomics: each direction has its own
//!   `AtomicU64`s, one per cache line, as many as a ring has slots, used in turn (the main
//!   thread writes the next `ping` line and polls the matching `pong` line, the echo thread the
//!   reverse). This is the cache-line traffic of the ring benchmark with none of the ring's
//!   work: no record copy, no index, no bookkeeping;
//! - `ring_hop/ring`: a `[u64; 13]` record (104 bytes, the size of the engine's records) goes
//!   out on one `tickwire_core::ring` channel and comes back on another.
//!
//! Criterion reports round-trip times; one-way is half. After criterion, the harness prints
//! one-way latencies and the ratio ring/floor (the goal is at most 1.3×) two ways: the median of
//! the very samples criterion measured, and a paired step that alternates short floor,
//! line-pair and ring bursts, so that all see the same load on a shared host (its best burst is
//! the least disturbed figure).
//!
//! Why the line-pair floor: in the single-line floor each thread writes the line it has just
//! read, which it therefore already owns, so a hop is one cache-line transfer. With two
//! channels the writer's line is one the reader is polling (it holds a shared copy), so a hop is
//! an invalidation *and* a transfer. No pair of rings, however their slots are laid out, can do
//! better than that in this ping-pong; ring/line-pair shows what the ring itself adds, and
//! line-pair/floor what two channels cost compared with one shared line. (The lines rotate like
//! ring slots rather than staying fixed because the cost of a transfer depends on the address:
//! a fixed pair measures its own two addresses, fast or slow by luck of the allocation.)
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
/// A one-way floor hop slower than this (ns) means the two threads were sharing a core.
const CONTENDED_NS: f64 = 250.0;
/// Slots of each benchmark ring, and lines per direction of the line-pair floor.
const RING_SLOTS: usize = 64;
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
        let (ping, ping_rx) = channel::<Rec>(RING_SLOTS);
        let (pong_tx, pong) = channel::<Rec>(RING_SLOTS);
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

/// The line-pair floor: each direction has `RING_SLOTS` lines, used in turn. Round trip `n`
/// stores `n` in `ping[n % RING_SLOTS]`; the echo thread answers with `n` in the matching
/// `pong` line.
struct LinePair {
    lines: Arc<LinePairLines>,
    echo: JoinHandle<()>,
    seq: u64,
}

/// The lines of a [`LinePair`], each on its own cache line.
struct LinePairLines {
    ping: [Line; RING_SLOTS],
    pong: [Line; RING_SLOTS],
}

/// The line round trip `seq` uses in each direction.
fn line_of(seq: u64) -> usize {
    (seq % RING_SLOTS as u64) as usize
}

impl LinePair {
    fn start() -> Self {
        let lines = Arc::new(LinePairLines {
            ping: std::array::from_fn(|_| Line(AtomicU64::new(0))),
            pong: std::array::from_fn(|_| Line(AtomicU64::new(0))),
        });
        let echo = {
            let lines = Arc::clone(&lines);
            thread::spawn(move || line_pair_echo(&lines))
        };
        Self {
            lines,
            echo,
            seq: 0,
        }
    }

    /// `iters` round trips; returns the elapsed time.
    fn round_trips(&mut self, iters: u64) -> Duration {
        let lines = &*self.lines;
        let start = Instant::now();
        for _ in 0..iters {
            self.seq += 1;
            let seq = self.seq;
            let i = line_of(seq);
            lines.ping[i].0.store(seq, Ordering::Release);
            spin_until(|| (lines.pong[i].0.load(Ordering::Acquire) == seq).then_some(()));
        }
        start.elapsed()
    }

    fn stop(self) {
        let next = line_of(self.seq + 1);
        self.lines.ping[next].0.store(STOP, Ordering::Release);
        self.echo.join().unwrap();
    }
}

fn line_pair_echo(lines: &LinePairLines) {
    pin(ECHO_CORE, "the line-pair echo thread");
    let mut seq = 0u64;
    loop {
        seq += 1;
        let i = line_of(seq);
        let v = spin_until(|| {
            let v = lines.ping[i].0.load(Ordering::Acquire);
            (v == seq || v == STOP).then_some(v)
        });
        if v == STOP {
            return;
        }
        lines.pong[i].0.store(seq, Ordering::Release);
    }
}

/// One-way ns per timed burst, for each of (floor, line pair, ring).
struct Paired {
    floor: Vec<f64>,
    pair: Vec<f64>,
    ring: Vec<f64>,
}

/// The paired step: short bursts of floor, line-pair and ring round trips, alternating, so that
/// all see the same machine (other processes come and go on a shared 2-core host).
fn paired_one_way_ns() -> Paired {
    let (mut floor, mut pair, mut ring) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..PAIRED_ROUNDS {
        let mut f = FloorPair::start();
        f.round_trips(PAIRED_WARM_UP);
        let t = f.round_trips(PAIRED_BURST);
        f.stop();
        floor.push(t.as_nanos() as f64 / PAIRED_BURST as f64 / 2.0);

        let mut p = LinePair::start();
        p.round_trips(PAIRED_WARM_UP);
        let t = p.round_trips(PAIRED_BURST);
        p.stop();
        pair.push(t.as_nanos() as f64 / PAIRED_BURST as f64 / 2.0);

        let mut r = RingPair::start();
        r.round_trips(PAIRED_WARM_UP);
        let t = r.round_trips(PAIRED_BURST);
        r.stop();
        ring.push(t.as_nanos() as f64 / PAIRED_BURST as f64 / 2.0);
    }
    Paired { floor, pair, ring }
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
    let mut pair = LinePair::start();
    let line_pair = measure(&mut group, "line_pair_floor", |iters| {
        pair.round_trips(iters)
    });
    pair.stop();
    let mut pair = RingPair::start();
    let ring = measure(&mut group, "ring", |iters| pair.round_trips(iters));
    pair.stop();
    group.finish();
    c.final_summary();

    let (floor, line_pair, ring) = (
        criterion_one_way_ns(&floor),
        criterion_one_way_ns(&line_pair),
        criterion_one_way_ns(&ring),
    );
    if floor.is_empty() || line_pair.is_empty() || ring.is_empty() {
        println!("ring/floor ratio: not measured in this run (test mode or filtered)");
        return;
    }
    let paired = paired_one_way_ns();

    println!();
    println!(
        "one-way hop = round trip / 2, threads pinned to cores {MAIN_CORE} and {ECHO_CORE}, \
         ring record [u64; 13] (104 B)"
    );
    println!(
        "  criterion: median of its {SAMPLES} samples; paired: {PAIRED_ROUNDS} alternating \
         bursts of {PAIRED_BURST} round trips"
    );
    println!("                        criterion median   paired median   paired best");
    let row = |name: &str, c: &[f64], p: &[f64]| {
        println!(
            "  {name:<20} {:>12.1} ns {:>12.1} ns {:>10.1} ns",
            median(c),
            median(p),
            min(p)
        );
    };
    row("atomic floor", &floor, &paired.floor);
    row("line-pair floor", &line_pair, &paired.pair);
    row("ring", &ring, &paired.ring);
    let ratio = |name: &str, c: (&[f64], &[f64]), p: (&[f64], &[f64]), note: &str| {
        println!(
            "  {name:<20} {:>14.2}x {:>14.2}x {:>12.2}x   {note}",
            median(c.0) / median(c.1),
            median(p.0) / median(p.1),
            min(p.0) / min(p.1),
        );
    };
    ratio(
        "ratio ring/floor",
        (&ring, &floor),
        (&paired.ring, &paired.floor),
        "(goal <= 1.30x)",
    );
    ratio(
        "ratio ring/line-pair",
        (&ring, &line_pair),
        (&paired.ring, &paired.pair),
        "(what the ring adds)",
    );
    ratio(
        "ratio line-pair/floor",
        (&line_pair, &floor),
        (&paired.pair, &paired.floor),
        "(two channels instead of one line)",
    );
    if median(&paired.floor) > CONTENDED_NS {
        println!(
            "  warning: a floor hop above {CONTENDED_NS} ns means the two threads did not have a \
             core each (other processes were running): these figures measure the scheduler"
        );
    }
}
