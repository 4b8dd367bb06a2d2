//! The slot protocol under stress, with real threads: the smallest rings (capacity 1 and 2)
//! wrapped around millions of times, `len` checked against what is really there while both
//! ends run, and either end dropped while records are in flight.
//!
//! Every wait is bounded: a thread that does not finish in time fails the test instead of
//! hanging it. Waiting threads yield, so the tests also pass when both share one core.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use tickwire_core::ring::{PushError, StopFlag, channel};
use tickwire_core::wait::{Backoff, WaitPolicy};

/// A hang guard, not a speed check: generous for a debug build on a busy 2-core machine.
const HANG_LIMIT: Duration = Duration::from_secs(180);

/// ~100 bytes like the engine's records; every word depends on the sequence number, so a torn,
/// stale or duplicated slot shows up.
type Rec = [u64; 13];

fn rec(seq: u64) -> Rec {
    let mut r = [0u64; 13];
    for (i, w) in r.iter_mut().enumerate() {
        *w = seq
            .wrapping_mul(0xD6E8_FEB8_6659_FD93)
            .rotate_left(i as u32 * 7)
            ^ (i as u64);
    }
    r[0] = seq;
    r
}

fn check(r: &Rec, seq: u64) {
    assert_eq!(r[0], seq, "out of order, lost or duplicated");
    assert_eq!(*r, rec(seq), "torn record {seq}");
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

/// `n` records through a ring of `capacity` slots, the producer alternating `try_push` and
/// `push_wait`, the consumer alternating `try_pop` and drains of varying size. Every 1024
/// records the consumer checks `len` from both sides: it never exceeds what was pushed (nor
/// the capacity), never falls below what the producer had published before the call, and
/// that many records can then really be popped.
fn wrap_around(capacity: usize, n: u64) {
    let (mut tx, mut rx) = channel::<Rec>(capacity);
    let pushed = Arc::new(AtomicU64::new(0));
    let producer = {
        let pushed = Arc::clone(&pushed);
        thread::spawn(move || {
            let never = StopFlag::new();
            let mut backoff = Backoff::new(WaitPolicy::SpinThenYield { spins: 16 });
            for seq in 0..n {
                if seq.is_multiple_of(2) {
                    tx.push_wait(rec(seq), &mut backoff, &never).unwrap();
                } else {
                    let mut r = rec(seq);
                    while let Err(back) = tx.try_push(r) {
                        assert!(!tx.is_abandoned(), "the consumer failed");
                        r = back;
                        backoff.idle();
                    }
                    backoff.reset();
                }
                pushed.store(seq + 1, Ordering::Release);
            }
        })
    };
    let consumer = thread::spawn(move || {
        let mut backoff = Backoff::new(WaitPolicy::SpinThenYield { spins: 16 });
        let mut next = 0u64;
        let mut round = 0usize;
        while next < n {
            round += 1;
            if round.is_multiple_of(1024) {
                let before = pushed.load(Ordering::Acquire);
                let len = rx.len();
                let after = pushed.load(Ordering::Acquire);
                assert!(len <= capacity, "len {len} > capacity {capacity}");
                // (`next` may already be one past `before`: the record popped last may not
                // have been counted yet.)
                assert!(
                    len as u64 >= before.saturating_sub(next),
                    "len {len} missed published records"
                );
                // The producer publishes `pushed` just after each push: at most one record
                // can be in the ring and not yet counted.
                assert!(
                    len as u64 <= after + 1 - next,
                    "len {len} counts records never pushed"
                );
                for _ in 0..len {
                    let r = rx.try_pop().expect("len said it was there");
                    check(&r, next);
                    next += 1;
                }
                continue;
            }
            let took = if round.is_multiple_of(3) {
                rx.try_pop()
                    .map(|r| {
                        check(&r, next);
                        next += 1;
                    })
                    .is_some()
            } else {
                rx.drain_into(
                    |r| {
                        check(&r, next);
                        next += 1;
                    },
                    round % 5 + 1,
                ) > 0
            };
            if took {
                backoff.reset();
            } else {
                backoff.idle();
            }
        }
        assert!(rx.is_empty());
        next
    });
    join_within(producer, "producer");
    assert_eq!(join_within(consumer, "consumer"), n);
}

#[test]
fn capacity_one_wraps_around_millions_of_times() {
    wrap_around(1, 2_000_000);
}

#[test]
fn capacity_two_wraps_around_millions_of_times() {
    wrap_around(2, 2_000_000);
}

#[test]
fn capacity_three_wraps_around_a_million_times() {
    // Not a power of two: the slot index and the position wrap at different points.
    wrap_around(3, 1_000_000);
}

#[test]
fn a_producer_dropped_mid_stream_leaves_every_accepted_record_to_the_consumer() {
    // The `is_finished` ordering under a race: the producer pushes a few records and drops at
    // an arbitrary moment while the consumer polls; the consumer must not stop before it has
    // taken every record, however the drop and its last pushes interleave with its checks.
    for round in 0..2_000u64 {
        let capacity = (round % 4 + 1) as usize;
        let count = round % 7;
        let (mut tx, mut rx) = channel::<Rec>(capacity);
        let producer = thread::spawn(move || {
            for seq in 0..count {
                let mut r = rec(seq);
                while let Err(back) = tx.try_push(r) {
                    r = back;
                    thread::yield_now();
                }
            }
            // `tx` dropped here, right after the last push.
        });
        let mut next = 0u64;
        loop {
            let n = rx.drain_into(
                |r| {
                    check(&r, next);
                    next += 1;
                },
                usize::MAX,
            );
            if n == 0 {
                if rx.is_finished() {
                    break;
                }
                thread::yield_now();
            }
        }
        join_within(producer, "producer");
        assert_eq!(next, count, "round {round}: a record was left behind");
    }
}

#[test]
fn a_consumer_dropped_with_records_in_flight_hands_the_next_record_back() {
    for round in 0..400u64 {
        let capacity = (round % 5 + 1) as usize;
        let take = round % 9;
        let (mut tx, mut rx) = channel::<Rec>(capacity);
        let consumer = thread::spawn(move || {
            let mut next = 0u64;
            while next < take {
                match rx.try_pop() {
                    Some(r) => {
                        check(&r, next);
                        next += 1;
                    }
                    None => thread::yield_now(),
                }
            }
            // Dropped with up to `capacity` records still in the ring.
        });
        let never = StopFlag::new();
        let mut backoff = Backoff::new(WaitPolicy::SpinThenYield { spins: 4 });
        let mut sent = 0u64;
        let err = loop {
            match tx.push_wait(rec(sent), &mut backoff, &never) {
                Ok(()) => sent += 1,
                Err(e) => break e,
            }
        };
        join_within(consumer, "consumer");
        assert!(tx.is_abandoned());
        assert_eq!(
            err,
            PushError::Abandoned(rec(sent)),
            "the unsent record comes back"
        );
        assert!(sent >= take, "the consumer took {take} of {sent}");
        assert!(
            sent <= take + capacity as u64,
            "round {round}: {sent} pushed into a ring of {capacity} whose consumer took {take}"
        );
        // Futile but harmless: pushes into an abandoned ring fail only when it is full.
        assert_eq!(tx.slots(), capacity - (sent - take) as usize);
    }
}

#[test]
fn both_ends_dropped_at_once_with_records_in_flight_free_the_ring_cleanly() {
    // Whichever end goes last frees the slot array; neither may touch it afterwards.
    for round in 0..1_000u64 {
        let (mut tx, rx) = channel::<Rec>(4);
        for seq in 0..round % 5 {
            tx.try_push(rec(seq)).unwrap();
        }
        let a = thread::spawn(move || drop(tx));
        let b = thread::spawn(move || {
            assert!(rx.len() as u64 == round % 5);
            drop(rx);
        });
        join_within(a, "producer dropper");
        join_within(b, "consumer dropper");
    }
    // And in both orders on one thread, with the survivor still used after the other is gone.
    let (mut tx, mut rx) = channel::<Rec>(2);
    tx.try_push(rec(0)).unwrap();
    drop(tx);
    assert!(rx.is_abandoned() && !rx.is_finished());
    check(&rx.try_pop().unwrap(), 0);
    assert!(rx.is_finished());
    drop(rx);
    let (mut tx, rx) = channel::<Rec>(2);
    tx.try_push(rec(0)).unwrap();
    drop(rx);
    assert!(tx.is_abandoned());
    assert_eq!(tx.try_push(rec(1)), Ok(()));
    assert_eq!(tx.try_push(rec(2)), Err(rec(2)));
    drop(tx);
}
