//! `tickwire_core::ring` against `rtrb`, the ring it replaced: the same randomized schedules of
//! pushes, pops, drains and queries give identical results, single-threaded step by step, and
//! across two threads record for record.
//!
//! The reference is `rtrb` used exactly as the previous `ring` layer used it (`push`, `pop`,
//! `slots`, and `drain_into` as `read_chunk(slots().min(max))`), so these tests pin the
//! observable behaviour of the new slot protocol to the old one.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use tickwire_core::ring::{Consumer, Producer, channel};

/// A hang guard, not a speed check.
const HANG_LIMIT: Duration = Duration::from_secs(180);

/// ~100 bytes like the engine's records; every word depends on the sequence number.
type Rec = [u64; 13];

fn rec(seq: u64) -> Rec {
    let mut r = [0u64; 13];
    for (i, w) in r.iter_mut().enumerate() {
        *w = seq
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(i as u32 * 5)
            ^ seq;
    }
    r[0] = seq;
    r
}

/// The previous implementation of `Consumer::drain_into`, over `rtrb`.
fn reference_drain(rx: &mut rtrb::Consumer<Rec>, mut f: impl FnMut(Rec), max: usize) -> usize {
    if max == 0 {
        return 0;
    }
    let n = rx.slots().min(max);
    if n == 0 {
        return 0;
    }
    let chunk = rx.read_chunk(n).expect("slots() said so");
    for v in chunk {
        f(v);
    }
    n
}

/// One step of a single-threaded schedule.
#[derive(Clone, Debug)]
enum Op {
    /// `try_push` this many records (some of them may find the ring full).
    Push(usize),
    /// `try_pop` this many times.
    Pop(usize),
    /// `drain_into` with this `max`.
    Drain(usize),
    /// `drain_into` with this `max`, whose handler panics on the record at this index of the
    /// batch (if the batch gets that far).
    DrainPanicking(usize, usize),
    /// `len`, `is_empty`, `slots`.
    Query,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0usize..12).prop_map(Op::Push),
        3 => (0usize..6).prop_map(Op::Pop),
        3 => (0usize..12).prop_map(Op::Drain),
        1 => (1usize..12, 0usize..12).prop_map(|(m, p)| Op::DrainPanicking(m, p)),
        2 => Just(Op::Query),
    ]
}

/// What one step produced: compared between the two rings.
#[derive(Debug, PartialEq)]
enum Outcome {
    Pushed(Vec<Result<(), Rec>>),
    Popped(Vec<Option<Rec>>),
    Drained {
        n: Option<usize>,
        seen: Vec<Rec>,
    },
    State {
        len: usize,
        empty: bool,
        free: usize,
    },
}

struct Ours(Producer<Rec>, Consumer<Rec>);
struct Theirs(rtrb::Producer<Rec>, rtrb::Consumer<Rec>);

fn step_ours(r: &mut Ours, op: &Op, next: &mut u64) -> Outcome {
    match *op {
        Op::Push(k) => Outcome::Pushed(
            (0..k)
                .map(|_| {
                    *next += 1;
                    r.0.try_push(rec(*next))
                })
                .collect(),
        ),
        Op::Pop(k) => Outcome::Popped((0..k).map(|_| r.1.try_pop()).collect()),
        Op::Drain(max) => {
            let mut seen = Vec::new();
            let n = r.1.drain_into(|v| seen.push(v), max);
            Outcome::Drained { n: Some(n), seen }
        }
        Op::DrainPanicking(max, at) => {
            let mut seen = Vec::new();
            let n = catch_unwind(AssertUnwindSafe(|| {
                r.1.drain_into(
                    |v| {
                        seen.push(v);
                        assert!(seen.len() != at + 1, "handler fails");
                    },
                    max,
                )
            }))
            .ok();
            Outcome::Drained { n, seen }
        }
        Op::Query => Outcome::State {
            len: r.1.len(),
            empty: r.1.is_empty(),
            free: r.0.slots(),
        },
    }
}

fn step_theirs(r: &mut Theirs, op: &Op, next: &mut u64) -> Outcome {
    match *op {
        Op::Push(k) => Outcome::Pushed(
            (0..k)
                .map(|_| {
                    *next += 1;
                    r.0.push(rec(*next)).map_err(|rtrb::PushError::Full(v)| v)
                })
                .collect(),
        ),
        Op::Pop(k) => Outcome::Popped((0..k).map(|_| r.1.pop().ok()).collect()),
        Op::Drain(max) => {
            let mut seen = Vec::new();
            let n = reference_drain(&mut r.1, |v| seen.push(v), max);
            Outcome::Drained { n: Some(n), seen }
        }
        Op::DrainPanicking(max, at) => {
            let mut seen = Vec::new();
            let n = catch_unwind(AssertUnwindSafe(|| {
                reference_drain(
                    &mut r.1,
                    |v| {
                        seen.push(v);
                        assert!(seen.len() != at + 1, "handler fails");
                    },
                    max,
                )
            }))
            .ok();
            Outcome::Drained { n, seen }
        }
        Op::Query => Outcome::State {
            len: r.1.slots(),
            empty: r.1.is_empty(),
            free: r.0.slots(),
        },
    }
}

/// Keeps the expected panics of `DrainPanicking` out of the test output.
fn quiet_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let msg = info.payload().downcast_ref::<&str>().copied();
            if msg != Some("handler fails") {
                default(info);
            }
        }));
    });
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn single_threaded_schedules_match_rtrb_step_by_step(
        capacity in 1usize..10,
        ops in proptest::collection::vec(op(), 1..120),
    ) {
        quiet_panics();
        let (tx, rx) = channel::<Rec>(capacity);
        let mut ours = Ours(tx, rx);
        let (tx, rx) = rtrb::RingBuffer::new(capacity);
        let mut theirs = Theirs(tx, rx);
        let (mut next_ours, mut next_theirs) = (0u64, 0u64);
        for (i, op) in ops.iter().enumerate() {
            let a = step_ours(&mut ours, op, &mut next_ours);
            let b = step_theirs(&mut theirs, op, &mut next_theirs);
            prop_assert_eq!(a, b, "step {} {:?}", i, op);
        }
        // Abandonment is seen the same way from both ends.
        drop(ours.0);
        drop(theirs.0);
        prop_assert_eq!(ours.1.is_abandoned(), theirs.1.is_abandoned());
        prop_assert_eq!(ours.1.is_finished(), theirs.1.is_abandoned() && theirs.1.is_empty());
    }
}

/// A small deterministic generator (xorshift64*), so that the two-thread schedules are
/// reproducible from their seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn join_within<T>(h: JoinHandle<T>, what: &str) -> T {
    let deadline = Instant::now() + HANG_LIMIT;
    while !h.is_finished() {
        assert!(
            Instant::now() < deadline,
            "{what} did not finish within {HANG_LIMIT:?}"
        );
        thread::sleep(Duration::from_millis(1));
    }
    h.join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Either ring, behind the operations the two-thread schedule uses.
trait Tx: Send + 'static {
    fn try_push(&mut self, r: Rec) -> Result<(), Rec>;
}
trait Rx: Send + 'static {
    fn try_pop(&mut self) -> Option<Rec>;
    fn drain(&mut self, f: &mut dyn FnMut(Rec), max: usize) -> usize;
    fn finished(&self) -> bool;
}

impl Tx for Producer<Rec> {
    fn try_push(&mut self, r: Rec) -> Result<(), Rec> {
        Producer::try_push(self, r)
    }
}
impl Rx for Consumer<Rec> {
    fn try_pop(&mut self) -> Option<Rec> {
        Consumer::try_pop(self)
    }
    fn drain(&mut self, f: &mut dyn FnMut(Rec), max: usize) -> usize {
        self.drain_into(f, max)
    }
    fn finished(&self) -> bool {
        self.is_finished()
    }
}
impl Tx for rtrb::Producer<Rec> {
    fn try_push(&mut self, r: Rec) -> Result<(), Rec> {
        self.push(r).map_err(|rtrb::PushError::Full(v)| v)
    }
}
impl Rx for rtrb::Consumer<Rec> {
    fn try_pop(&mut self) -> Option<Rec> {
        self.pop().ok()
    }
    fn drain(&mut self, f: &mut dyn FnMut(Rec), max: usize) -> usize {
        reference_drain(self, f, max)
    }
    fn finished(&self) -> bool {
        self.is_abandoned() && self.is_empty()
    }
}

/// Runs one seeded two-thread schedule over a ring: the producer pushes `n` records in random
/// bursts with random pauses (retrying when full), the consumer takes them with a random mix
/// of pops and drains (with random `max`) until the ring is finished. Returns what the consumer
/// received, in order.
fn two_thread_run(mut tx: impl Tx, mut rx: impl Rx, seed: u64, n: u64) -> Vec<Rec> {
    let producer = thread::spawn(move || {
        let mut rng = Rng(seed | 1);
        let mut seq = 0u64;
        while seq < n {
            let burst = rng.below(20);
            for _ in 0..burst.min(n - seq) {
                let mut r = rec(seq);
                while let Err(back) = tx.try_push(r) {
                    r = back;
                    thread::yield_now();
                }
                seq += 1;
            }
            if rng.below(4) == 0 {
                thread::yield_now();
            }
        }
    });
    let consumer = thread::spawn(move || {
        let mut rng = Rng((seed ^ 0xDEAD_BEEF) | 1);
        let mut got = Vec::with_capacity(n as usize);
        loop {
            let took = match rng.below(3) {
                0 => rx.try_pop().map(|r| got.push(r)).is_some(),
                1 => rx.drain(&mut |r| got.push(r), rng.below(40) as usize) > 0,
                _ => rx.drain(&mut |r| got.push(r), usize::MAX) > 0,
            };
            if !took {
                if rx.finished() {
                    return got;
                }
                thread::yield_now();
            }
        }
    });
    join_within(producer, "producer");
    join_within(consumer, "consumer")
}

#[test]
fn two_thread_schedules_deliver_the_same_records_as_rtrb() {
    const N: u64 = 20_000;
    let expected: Vec<Rec> = (0..N).map(rec).collect();
    for (seed, capacity) in [(1, 1), (2, 2), (3, 3), (4, 7), (5, 16), (6, 64)] {
        let (tx, rx) = channel::<Rec>(capacity);
        let ours = two_thread_run(tx, rx, seed, N);
        let (tx, rx) = rtrb::RingBuffer::<Rec>::new(capacity);
        let theirs = two_thread_run(tx, rx, seed, N);
        assert!(
            ours == theirs,
            "seed {seed} capacity {capacity}: outputs differ"
        );
        assert!(
            ours == expected,
            "seed {seed} capacity {capacity}: not every record in order"
        );
    }
}
