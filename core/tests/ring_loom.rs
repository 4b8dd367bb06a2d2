//! Model checking of the ring's slot protocol with `loom`: every interleaving of the two ends
//! (up to loom's preemption bound) and every value each atomic load may return under the C++
//! memory model, with loom's data-race detection on the slot values. A missing or too weak
//! acquire/release shows up here as a race on a slot or a wrong record.
//!
//! Not part of the normal test run. Run with, from the workspace root (a separate target dir
//! keeps the loom build from evicting the normal one):
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
//!     cargo test -p tickwire-core --release --test ring_loom
//! ```
//!
//! `LOOM_MAX_PREEMPTIONS` (default 3 here) bounds the search: 3 explores 10–630 executions per
//! model, 6 up to ~9,000, both within a second or so.

// `loom` is a cfg set by hand (RUSTFLAGS), not one cargo knows about.
#![allow(unexpected_cfgs)]
#![cfg(loom)]

use loom::thread;
use tickwire_core::ring::channel;

/// A record that is not a single word, so a torn slot would show.
type Rec = [u64; 2];

fn rec(seq: u64) -> Rec {
    [seq, !seq]
}

/// Runs `f` under loom with a default preemption bound of 3.
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(3);
    }
    builder.check(f);
}

#[test]
fn records_reuse_the_only_slot_in_order() {
    // Capacity 1: every push after the first waits for the pop before it, so each slot write
    // races (in the model) with the previous read unless `head` orders them.
    model(|| {
        let (mut tx, mut rx) = channel::<Rec>(1);
        let producer = thread::spawn(move || {
            for seq in 0..3 {
                let mut r = rec(seq);
                while let Err(back) = tx.try_push(r) {
                    r = back;
                    thread::yield_now();
                }
            }
        });
        let mut next = 0;
        while next < 3 {
            match rx.try_pop() {
                Some(r) => {
                    assert_eq!(r, rec(next));
                    next += 1;
                }
                None => thread::yield_now(),
            }
        }
        producer.join().unwrap();
    });
}

#[test]
fn batches_wrap_around_two_slots_in_order() {
    model(|| {
        let (mut tx, mut rx) = channel::<Rec>(2);
        let producer = thread::spawn(move || {
            for seq in 0..3 {
                let mut r = rec(seq);
                while let Err(back) = tx.try_push(r) {
                    r = back;
                    thread::yield_now();
                }
            }
        });
        let mut next = 0;
        while next < 3 {
            let n = rx.drain_into(
                |r| {
                    assert_eq!(r, rec(next));
                    next += 1;
                },
                2,
            );
            if n == 0 {
                thread::yield_now();
            }
        }
        producer.join().unwrap();
    });
}

#[test]
fn is_finished_never_leaves_a_record_behind() {
    // The producer pushes twice and is dropped; whenever the consumer sees "finished", it must
    // already have taken both records.
    model(|| {
        let (mut tx, mut rx) = channel::<Rec>(2);
        let producer = thread::spawn(move || {
            tx.try_push(rec(0)).unwrap();
            tx.try_push(rec(1)).unwrap();
        });
        let mut next = 0;
        loop {
            if let Some(r) = rx.try_pop() {
                assert_eq!(r, rec(next));
                next += 1;
            } else if rx.is_finished() {
                break;
            } else {
                thread::yield_now();
            }
        }
        assert_eq!(next, 2);
        producer.join().unwrap();
    });
}

#[test]
fn len_counts_only_records_that_can_be_taken() {
    model(|| {
        let (mut tx, mut rx) = channel::<Rec>(2);
        let producer = thread::spawn(move || {
            tx.try_push(rec(0)).unwrap();
            tx.try_push(rec(1)).unwrap();
        });
        let len = rx.len();
        assert!(len <= 2);
        for seq in 0..len as u64 {
            assert_eq!(rx.try_pop(), Some(rec(seq)), "len said it was there");
        }
        producer.join().unwrap();
        assert_eq!(rx.len(), 2 - len);
    });
}

#[test]
fn a_dropped_consumer_is_noticed_and_frees_nothing_early() {
    // The consumer takes one record and is dropped while the producer keeps pushing into the
    // ring (capacity 1): the producer must see abandonment, and neither end may touch the slots
    // after the last one is gone (loom checks the Arc).
    model(|| {
        let (mut tx, mut rx) = channel::<Rec>(1);
        let consumer = thread::spawn(move || {
            loop {
                if let Some(r) = rx.try_pop() {
                    assert_eq!(r, rec(0));
                    return;
                }
                thread::yield_now();
            }
        });
        let mut sent = 0;
        loop {
            match tx.try_push(rec(sent)) {
                Ok(()) => sent += 1,
                Err(_) if tx.is_abandoned() => break,
                Err(_) => thread::yield_now(),
            }
        }
        assert!((1..=2).contains(&sent), "sent {sent}");
        consumer.join().unwrap();
    });
}
