//! Every record pushed into a ring arrives exactly once and in order, across real threads, with
//! every wait policy. Small rings force the full/empty transitions (and so the waits) millions
//! of times.
//!
//! Two cores at most: one producer and one consumer per test. `spin` only ever waits opposite a
//! partner that yields, so the pair cannot livelock even when both share one core. Every wait
//! is bounded: a thread that does not finish in time fails the test instead of hanging it.

use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use tickwire_core::event::{MarketEvent, Meta, Side, Trade};
use tickwire_core::ids::{InstrumentId, VenueId};
use tickwire_core::num::{Px, Qty};
use tickwire_core::ring::{Consumer, Producer, StopFlag, channel};
use tickwire_core::wait::{Backoff, WaitPolicy};

/// A hang guard, not a speed check: generous for a debug build on a busy 2-core machine.
const HANG_LIMIT: Duration = Duration::from_secs(180);

/// ~100 bytes, like the engine's records; every word depends on the sequence number, so a torn
/// or stale slot shows up as a mismatch.
type Rec = [u64; 13];

fn rec(seq: u64) -> Rec {
    let mut r = [0u64; 13];
    r[0] = seq;
    for (i, w) in r.iter_mut().enumerate().skip(1) {
        *w = seq
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(i as u32)
            ^ i as u64;
    }
    r
}

fn check(r: &Rec, expected_seq: u64) {
    assert_eq!(r[0], expected_seq, "out of order, lost or duplicated");
    assert_eq!(*r, rec(expected_seq), "torn record {expected_seq}");
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

/// How the consumer takes records off the ring.
#[derive(Clone, Copy)]
enum Take {
    /// `drain_until_finished` in batches of this size.
    Batches(usize),
    /// `try_pop` one at a time, with its own wait loop.
    OneByOne,
}

fn produce(mut tx: Producer<Rec>, n: u64, policy: WaitPolicy) -> u64 {
    let never = StopFlag::new();
    let mut backoff = Backoff::new(policy);
    for seq in 0..n {
        tx.push_wait(rec(seq), &mut backoff, &never)
            .expect("the consumer outlives the producer");
    }
    n
}

fn consume(mut rx: Consumer<Rec>, policy: WaitPolicy, take: Take) -> u64 {
    let mut backoff = Backoff::new(policy);
    let mut next = 0u64;
    match take {
        Take::Batches(batch) => {
            let total = rx.drain_until_finished(&mut backoff, batch, |r| {
                check(&r, next);
                next += 1;
            });
            assert_eq!(total, next);
        }
        Take::OneByOne => loop {
            if let Some(r) = rx.try_pop() {
                check(&r, next);
                next += 1;
                backoff.reset();
            } else if rx.is_finished() {
                break;
            } else {
                backoff.idle();
            }
        },
    }
    next
}

fn run_pair(n: u64, capacity: usize, producer: WaitPolicy, consumer: WaitPolicy, take: Take) {
    let (tx, rx) = channel::<Rec>(capacity);
    let p = thread::spawn(move || produce(tx, n, producer));
    let c = thread::spawn(move || consume(rx, consumer, take));
    let sent = join_within(p, "producer");
    let received = join_within(c, "consumer");
    assert_eq!(sent, n);
    assert_eq!(received, n, "every record exactly once");
}

#[test]
fn spin_then_yield_delivers_everything_in_order() {
    let policy = WaitPolicy::spin_then_yield();
    run_pair(2_000_000, 16, policy, policy, Take::Batches(32));
}

#[test]
fn spin_then_yield_one_by_one_delivers_everything_in_order() {
    let policy = WaitPolicy::SpinThenYield { spins: 8 };
    run_pair(1_000_000, 4, policy, policy, Take::OneByOne);
}

#[test]
fn spin_then_park_delivers_everything_in_order() {
    let policy = WaitPolicy::spin_then_park();
    run_pair(1_000_000, 64, policy, policy, Take::Batches(64));
}

#[test]
fn spin_then_park_that_parks_at_once_delivers_everything_in_order() {
    // No spins, no yields: every empty or full poll parks, so parking and waking is exercised
    // on almost every transition.
    let policy = WaitPolicy::SpinThenPark {
        spins: 0,
        yields: 0,
        park: Duration::from_micros(20),
    };
    run_pair(100_000, 8, policy, policy, Take::Batches(8));
}

#[test]
fn spinning_producer_with_a_yielding_consumer_delivers_everything_in_order() {
    run_pair(
        1_000_000,
        8,
        WaitPolicy::Spin,
        WaitPolicy::SpinThenYield { spins: 0 },
        Take::Batches(4),
    );
}

#[test]
fn spinning_consumer_with_a_yielding_producer_delivers_everything_in_order() {
    run_pair(
        1_000_000,
        8,
        WaitPolicy::SpinThenYield { spins: 0 },
        WaitPolicy::Spin,
        Take::OneByOne,
    );
}

#[test]
fn capacity_one_still_delivers_everything_in_order() {
    let policy = WaitPolicy::SpinThenYield { spins: 4 };
    run_pair(200_000, 1, policy, policy, Take::Batches(16));
}

#[test]
fn engine_records_cross_threads_intact() {
    // The real ring payload: a Copy enum of Pod structs.
    const N: u64 = 200_000;
    let (mut tx, mut rx) = channel::<MarketEvent>(32);
    let make = |i: u64| {
        let meta = Meta::new(VenueId::OKX, InstrumentId(7), i);
        let px = Px::from_raw(100_000_000_000 + i as i64);
        MarketEvent::Trade(Trade::new(meta, px, Qty::ONE, i, Side::Buy))
    };
    let p = thread::spawn(move || {
        let never = StopFlag::new();
        let mut backoff = Backoff::default();
        for i in 0..N {
            tx.push_wait(make(i), &mut backoff, &never).unwrap();
        }
    });
    let c = thread::spawn(move || {
        let mut next = 0u64;
        rx.drain_until_finished(&mut Backoff::default(), 16, |ev| {
            assert_eq!(ev, make(next));
            next += 1;
        })
    });
    join_within(p, "producer");
    assert_eq!(join_within(c, "consumer"), N);
}
