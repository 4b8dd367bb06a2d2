//! The shutdown protocol of `tickwire_core::ring`, with real threads: stop is requested while
//! records are in flight, every thread exits, and every record a ring accepted is received.
//!
//! Every wait is bounded: a thread that does not finish in time fails the test instead of
//! hanging it. No test asserts on speed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use tickwire_core::ring::{Consumer, Producer, PushError, StopFlag, channel};
use tickwire_core::topology::{Role, Topology, plan, spawn};
use tickwire_core::wait::{Backoff, WaitPolicy};

/// A hang guard, not a speed check: generous for a debug build on a busy 2-core machine.
const HANG_LIMIT: Duration = Duration::from_secs(180);

/// ~100 bytes, like the engine's records: the sequence number and a checksum-ish pattern.
type Rec = [u64; 13];

fn rec(seq: u64) -> Rec {
    let mut r = [seq; 13];
    r[12] = !seq;
    r
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

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + HANG_LIMIT;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within {HANG_LIMIT:?}"
        );
        thread::sleep(Duration::from_millis(1));
    }
}

/// What a source thread reports when it stops.
#[derive(Debug)]
struct SourceEnd {
    /// Records the ring accepted.
    sent: u64,
    /// The record `push_wait` handed back, if stop came while the ring was full.
    returned: Option<Rec>,
}

/// A source (feed) thread body: produce sequence numbers until stop, following the protocol.
/// It borrows the producer so the caller decides when to drop it (and so when the consumer
/// can see the end of the stream).
fn source(tx: &mut Producer<Rec>, stop: &StopFlag, mut backoff: Backoff) -> SourceEnd {
    let mut sent = 0u64;
    let mut returned = None;
    while !stop.is_set() {
        match tx.push_wait(rec(sent), &mut backoff, stop) {
            Ok(()) => sent += 1,
            Err(PushError::Stopped(r)) => {
                returned = Some(r);
                break;
            }
            Err(PushError::Abandoned(_)) => panic!("consumers outlive sources"),
        }
    }
    SourceEnd { sent, returned }
}

fn check_returned(end: &SourceEnd) {
    if let Some(r) = end.returned {
        assert_eq!(
            r,
            rec(end.sent),
            "the record handed back is the one not sent"
        );
    }
}

#[test]
fn stop_mid_stream_two_sources_one_consumer_loses_nothing() {
    let stop = StopFlag::new();
    let received_total = Arc::new(AtomicU64::new(0));
    let policy = WaitPolicy::SpinThenPark {
        spins: 16,
        yields: 4,
        park: Duration::from_micros(20),
    };

    let (tx0, rx0) = channel::<Rec>(8);
    let (tx1, rx1) = channel::<Rec>(8);
    let sources: Vec<_> = [tx0, tx1]
        .into_iter()
        .map(|tx| {
            let stop = stop.clone();
            thread::spawn(move || {
                let mut tx = tx;
                source(&mut tx, &stop, Backoff::new(policy))
            })
        })
        .collect();

    // One consumer with two inputs: it exits only when both are finished.
    let progress = Arc::clone(&received_total);
    let consumer = thread::spawn(move || {
        let mut inputs: [Consumer<Rec>; 2] = [rx0, rx1];
        let mut next = [0u64; 2];
        let mut backoff = Backoff::new(policy);
        loop {
            let mut got = 0;
            for (rx, next) in inputs.iter_mut().zip(next.iter_mut()) {
                got += rx.drain_into(
                    |r| {
                        assert_eq!(r, rec(*next), "in order, once");
                        *next += 1;
                    },
                    16,
                );
            }
            if got > 0 {
                progress.fetch_add(got as u64, Ordering::Relaxed);
                backoff.reset();
            } else if inputs.iter().all(Consumer::is_finished) {
                return next;
            } else {
                backoff.idle();
            }
        }
    });

    wait_until("some traffic", || {
        received_total.load(Ordering::Relaxed) >= 100_000
    });
    stop.request();

    let ends: Vec<SourceEnd> = sources
        .into_iter()
        .map(|h| join_within(h, "source"))
        .collect();
    let received = join_within(consumer, "consumer");
    for (end, got) in ends.iter().zip(received) {
        check_returned(end);
        assert_eq!(got, end.sent, "received == sent successfully ({end:?})");
    }
}

#[test]
fn chain_feed_core_exec_shuts_down_in_order_and_loses_nothing() {
    let stop = StopFlag::new();
    let exit_rank = Arc::new(AtomicUsize::new(0));
    let exec_progress = Arc::new(AtomicU64::new(0));

    let roles = [
        (Role::Feed(0), WaitPolicy::spin_then_park()),
        (Role::Core, WaitPolicy::spin_then_park()),
        (Role::Exec, WaitPolicy::SpinThenYield { spins: 32 }),
    ];
    // Shared: three busy threads on a 2-core machine must not be pinned.
    let plan = plan(Topology::Shared, &roles, &[]);

    let (feed_tx, mut core_rx) = channel::<Rec>(16);
    let (mut core_tx, mut exec_rx) = channel::<Rec>(4);

    let feed = {
        let stop = stop.clone();
        let rank = Arc::clone(&exit_rank);
        spawn(Role::Feed(0), &plan, move |ctx| {
            assert_eq!(thread::current().name(), Some("tw-feed-0"));
            let mut feed_tx = feed_tx;
            let end = source(&mut feed_tx, &stop, ctx.backoff());
            let my_rank = rank.fetch_add(1, Ordering::SeqCst);
            drop(feed_tx); // only now can core finish
            (end, my_rank)
        })
        .unwrap()
    };

    let core = {
        let rank = Arc::clone(&exit_rank);
        spawn(Role::Core, &plan, move |ctx| {
            // A forwarding stage: ignores stop, drains its input until finished, forwards
            // everything with `forward`.
            let mut out_backoff = ctx.backoff();
            let mut next = 0u64;
            let n = core_rx.drain_until_finished(&mut ctx.backoff(), 32, |r| {
                assert_eq!(r, rec(next));
                next += 1;
                core_tx
                    .forward(r, &mut out_backoff)
                    .expect("exec outlives core");
            });
            let my_rank = rank.fetch_add(1, Ordering::SeqCst);
            drop(core_tx); // only now can exec finish
            (n, my_rank)
        })
        .unwrap()
    };

    let exec = {
        let rank = Arc::clone(&exit_rank);
        let progress = Arc::clone(&exec_progress);
        spawn(Role::Exec, &plan, move |ctx| {
            let mut next = 0u64;
            let n = exec_rx.drain_until_finished(&mut ctx.backoff(), 8, |r| {
                assert_eq!(r, rec(next), "in order, once, end to end");
                next += 1;
                progress.store(next, Ordering::Relaxed);
                // A slower last stage keeps both rings full part of the time.
                if next.is_multiple_of(1024) {
                    thread::yield_now();
                }
            });
            (n, rank.fetch_add(1, Ordering::SeqCst))
        })
        .unwrap()
    };

    wait_until("traffic through the chain", || {
        exec_progress.load(Ordering::Relaxed) >= 50_000
    });
    stop.request();

    let (feed_end, feed_rank) = join_within(feed, "feed");
    let (core_n, core_rank) = join_within(core, "core");
    let (exec_n, exec_rank) = join_within(exec, "exec");

    check_returned(&feed_end);
    assert_eq!(
        core_n, feed_end.sent,
        "core received everything the feed sent"
    );
    assert_eq!(
        exec_n, feed_end.sent,
        "exec received everything the feed sent"
    );
    // Core can only finish after the feed dropped its producer, exec only after core did.
    assert_eq!(
        (feed_rank, core_rank, exec_rank),
        (0, 1, 2),
        "feed, then core, then exec"
    );
}

#[test]
fn push_wait_hands_the_record_back_when_stop_comes_while_full() {
    let stop = StopFlag::new();
    let gate = StopFlag::new(); // opened by the test to let the consumer start
    let sent = Arc::new(AtomicU64::new(0));
    let (tx, mut rx) = channel::<Rec>(4);

    let producer = {
        let stop = stop.clone();
        let sent = Arc::clone(&sent);
        thread::spawn(move || {
            let mut tx = tx;
            let mut backoff = Backoff::new(WaitPolicy::SpinThenPark {
                spins: 8,
                yields: 8,
                park: Duration::from_micros(100),
            });
            let mut seq = 0u64;
            loop {
                match tx.push_wait(rec(seq), &mut backoff, &stop) {
                    Ok(()) => {
                        seq += 1;
                        sent.store(seq, Ordering::SeqCst);
                    }
                    Err(e) => return (seq, e),
                }
            }
        })
    };
    let consumer = {
        let gate = gate.clone();
        thread::spawn(move || {
            wait_until("the gate opening", || gate.is_set());
            let mut next = 0u64;
            rx.drain_until_finished(&mut Backoff::default(), 16, |r| {
                assert_eq!(r, rec(next));
                next += 1;
            })
        })
    };

    // The ring (4 slots) fills and the producer blocks on record 4 until stop.
    wait_until("the ring filling", || sent.load(Ordering::SeqCst) == 4);
    stop.request();
    let (n_sent, err) = join_within(producer, "producer");
    assert_eq!(n_sent, 4);
    assert_eq!(err, PushError::Stopped(rec(4)));

    gate.request();
    assert_eq!(
        join_within(consumer, "consumer"),
        4,
        "all accepted records arrive"
    );
}

#[test]
fn push_wait_hands_the_record_back_when_the_consumer_goes_away() {
    let (tx, mut rx) = channel::<Rec>(2);
    let consumer = thread::spawn(move || {
        // Take two records, then drop the consumer as a crashed thread would.
        let mut taken = Vec::new();
        wait_until("two records", || {
            if let Some(r) = rx.try_pop() {
                taken.push(r);
            }
            taken.len() == 2
        });
        drop(rx);
        taken
    });
    let producer = thread::spawn(move || {
        let mut tx = tx;
        let never = StopFlag::new();
        let mut backoff = Backoff::new(WaitPolicy::SpinThenYield { spins: 16 });
        let mut seq = 0u64;
        loop {
            match tx.push_wait(rec(seq), &mut backoff, &never) {
                Ok(()) => seq += 1,
                Err(e) => return (seq, e),
            }
        }
    });

    let taken = join_within(consumer, "consumer");
    assert_eq!(taken, [rec(0), rec(1)]);
    let (n_sent, err) = join_within(producer, "producer");
    // The producer keeps going until the (now dead) ring is full, then learns the consumer is
    // gone and gets the unsent record back.
    assert_eq!(err, PushError::Abandoned(rec(n_sent)));
    assert!(n_sent >= 2);
}

#[test]
fn forward_keeps_delivering_after_stop_and_stops_only_when_the_consumer_goes() {
    // A forwarding stage has no stop flag: a stop requested upstream must not make it drop the
    // records it still holds.
    let stop = StopFlag::new();
    stop.request();
    let (tx, rx) = channel::<Rec>(2);
    let forwarder = thread::spawn(move || {
        let mut tx = tx;
        let mut backoff = Backoff::new(WaitPolicy::SpinThenYield { spins: 4 });
        for seq in 0..1_000u64 {
            tx.forward(rec(seq), &mut backoff).unwrap();
        }
        // Now nobody reads: the next forward waits until the consumer is dropped.
        let mut seq = 1_000u64;
        loop {
            if let Err(e) = tx.forward(rec(seq), &mut backoff) {
                return (seq, e);
            }
            seq += 1;
        }
    });
    let consumer = thread::spawn(move || {
        let mut rx = rx;
        let mut next = 0u64;
        let mut backoff = Backoff::new(WaitPolicy::SpinThenYield { spins: 4 });
        while next < 1_000 {
            match rx.try_pop() {
                Some(r) => {
                    assert_eq!(r, rec(next));
                    next += 1;
                    backoff.reset();
                }
                None => backoff.idle(),
            }
        }
        // Hold the consumer a moment so the forwarder really waits on a full ring.
        wait_until("the ring filling", || rx.len() == 2);
        next
    });
    assert_eq!(join_within(consumer, "consumer"), 1_000);
    let (seq, err) = join_within(forwarder, "forwarder");
    assert_eq!(err, PushError::Abandoned(rec(seq)));
    assert_eq!(
        seq, 1_002,
        "two more fitted in the ring, the third came back"
    );
}
