//! Unit tests of the ring: single-threaded behaviour and the wrap-around of positions.

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::*;
use crate::event::{MarketEvent, TopOfBook};
use crate::wait::WaitPolicy;

fn drain_all<T: Copy + Send>(rx: &mut Consumer<T>) -> Vec<T> {
    let mut out = Vec::new();
    rx.drain_into(|v| out.push(v), usize::MAX);
    out
}

#[test]
#[should_panic(expected = "at least one slot")]
fn zero_capacity_is_refused() {
    let _ = channel::<u64>(0);
}

#[test]
fn try_push_gives_the_value_back_when_full() {
    let (mut tx, mut rx) = channel::<u64>(2);
    assert_eq!(tx.capacity(), 2);
    assert_eq!(rx.capacity(), 2);
    assert_eq!(tx.slots(), 2);
    assert_eq!(tx.try_push(1), Ok(()));
    assert_eq!(tx.try_push(2), Ok(()));
    assert_eq!(tx.slots(), 0);
    assert_eq!(tx.try_push(3), Err(3));
    assert_eq!(rx.len(), 2);
    assert_eq!(rx.try_pop(), Some(1));
    assert_eq!(tx.try_push(3), Ok(()));
    assert_eq!(drain_all(&mut rx), [2, 3]);
    assert_eq!(rx.try_pop(), None);
    assert!(rx.is_empty());
}

#[test]
fn carries_real_records() {
    let (mut tx, mut rx) = channel::<MarketEvent>(4);
    let ev = MarketEvent::Top(TopOfBook {
        update_id: 42,
        ..TopOfBook::default()
    });
    tx.try_push(ev).unwrap();
    assert_eq!(rx.try_pop(), Some(ev));
}

#[test]
fn drain_into_respects_max_and_wraps_around() {
    let (mut tx, mut rx) = channel::<u32>(4);
    for i in 0..3 {
        tx.try_push(i).unwrap();
    }
    assert_eq!(drain_all(&mut rx), [0, 1, 2]);
    // The next four straddle the end of the slot array.
    for i in 3..7 {
        tx.try_push(i).unwrap();
    }
    let mut got = Vec::new();
    assert_eq!(rx.drain_into(|v| got.push(v), 0), 0);
    assert_eq!(rx.drain_into(|v| got.push(v), 3), 3);
    assert_eq!(rx.drain_into(|v| got.push(v), 3), 1);
    assert_eq!(rx.drain_into(|v| got.push(v), 3), 0);
    assert_eq!(got, [3, 4, 5, 6]);
}

#[test]
fn a_panicking_handler_consumes_exactly_what_it_was_given() {
    let (mut tx, mut rx) = channel::<u32>(8);
    for i in 0..5 {
        tx.try_push(i).unwrap();
    }
    let mut seen = Vec::new();
    let result = catch_unwind(AssertUnwindSafe(|| {
        rx.drain_into(
            |v| {
                seen.push(v);
                assert!(v != 2, "handler fails on 2");
            },
            usize::MAX,
        )
    }));
    assert!(result.is_err());
    assert_eq!(seen, [0, 1, 2]);
    // 2 was handed over (and failed), so it is not delivered again.
    assert_eq!(drain_all(&mut rx), [3, 4]);
}

#[test]
fn push_wait_returns_the_record_when_stopped_while_full() {
    let (mut tx, rx) = channel::<[u64; 13]>(2);
    let stop = StopFlag::new();
    let mut backoff = Backoff::new(WaitPolicy::Spin);
    tx.push_wait([1; 13], &mut backoff, &stop).unwrap();
    tx.push_wait([2; 13], &mut backoff, &stop).unwrap();
    stop.request();
    assert_eq!(
        tx.push_wait([3; 13], &mut backoff, &stop),
        Err(PushError::Stopped([3; 13]))
    );
    assert_eq!(rx.len(), 2, "nothing was overwritten");
    drop(rx);
}

#[test]
fn push_wait_succeeds_after_stop_if_there_is_room() {
    let (mut tx, mut rx) = channel::<u8>(1);
    let stop = StopFlag::new();
    stop.request();
    let mut backoff = Backoff::default();
    assert_eq!(tx.push_wait(7, &mut backoff, &stop), Ok(()));
    assert_eq!(rx.try_pop(), Some(7));
}

#[test]
fn push_wait_and_forward_return_the_record_when_the_consumer_is_gone() {
    let (mut tx, rx) = channel::<u16>(1);
    let stop = StopFlag::new();
    let mut backoff = Backoff::new(WaitPolicy::Spin);
    tx.try_push(1).unwrap();
    drop(rx);
    assert!(tx.is_abandoned());
    assert_eq!(
        tx.push_wait(2, &mut backoff, &stop),
        Err(PushError::Abandoned(2))
    );
    assert_eq!(tx.forward(3, &mut backoff), Err(PushError::Abandoned(3)));
    let err = tx.forward(4, &mut backoff).unwrap_err();
    assert_eq!(err.to_string(), "ring consumer is gone: record not sent");
    assert_eq!(err.into_inner(), 4);
}

#[test]
fn push_wait_leaves_the_backoff_alone_on_the_fast_path_and_resets_it_to_wait() {
    let (mut tx, mut rx) = channel::<u8>(1);
    let stop = StopFlag::new();
    let mut backoff = Backoff::new(WaitPolicy::SpinThenYield { spins: 0 });
    backoff.idle();
    tx.push_wait(1, &mut backoff, &stop).unwrap();
    assert_eq!(
        backoff.idle_polls(),
        1,
        "a push that found room is not a wait"
    );
    // Full and stopped: the wait starts from a reset backoff, and stop is checked before
    // the first idle, so nothing was waited.
    stop.request();
    assert_eq!(
        tx.push_wait(2, &mut backoff, &stop),
        Err(PushError::Stopped(2))
    );
    assert_eq!(backoff.idle_polls(), 0);
    assert_eq!(rx.try_pop(), Some(1));
}

#[test]
fn finished_means_abandoned_and_empty() {
    let (mut tx, mut rx) = channel::<u8>(4);
    tx.try_push(1).unwrap();
    tx.try_push(2).unwrap();
    assert!(!rx.is_abandoned());
    assert!(!rx.is_finished());
    drop(tx);
    assert!(rx.is_abandoned());
    assert!(!rx.is_finished(), "records are still waiting");
    assert_eq!(rx.try_pop(), Some(1));
    assert!(!rx.is_finished());
    assert_eq!(rx.try_pop(), Some(2));
    assert!(rx.is_finished());
}

#[test]
fn drain_until_finished_takes_everything_then_returns() {
    let (mut tx, mut rx) = channel::<u32>(8);
    for i in 0..8 {
        tx.try_push(i).unwrap();
    }
    drop(tx);
    let mut got = Vec::new();
    // batch 0 is raised to 1 rather than looping forever.
    let n = rx.drain_until_finished(&mut Backoff::default(), 0, |v| got.push(v));
    assert_eq!(n, 8);
    assert_eq!(got, (0..8).collect::<Vec<_>>());
}

#[test]
fn stop_flag_clones_share_one_flag() {
    let a = StopFlag::new();
    let b = a.clone();
    assert!(!b.is_set());
    a.request();
    assert!(b.is_set());
}

// ---- The slot protocol, from the inside: positions that start anywhere, including just below
// the wrap-around of `usize`, and `len` at every fill level.

/// Both ends of a ring whose positions start at `start` (0 for [`channel`]).
fn channel_at<T: Copy + Send>(capacity: usize, start: usize) -> (Producer<T>, Consumer<T>) {
    let (raw_tx, raw_rx) = raw_channel(capacity, start);
    (Producer { raw: raw_tx }, Consumer { raw: raw_rx })
}

/// Starts that put the wrap-around of positions at every offset of small rings.
fn starts() -> impl Iterator<Item = usize> {
    (0..12)
        .map(|back| usize::MAX - back)
        .chain([0, 1, 7, usize::MAX / 2])
}

#[test]
fn positions_wrap_around_usize_max_without_a_glitch() {
    for capacity in 1..=5 {
        for start in starts() {
            let (mut tx, mut rx) = channel_at::<u64>(capacity, start);
            let mut next_in = 0u64;
            let mut next_out = 0u64;
            // Several laps, filling and emptying completely and partly, so that every slot is
            // written and read on both sides of the wrap.
            for round in 0..(4 * capacity + 8) {
                let room = capacity - (next_in - next_out) as usize;
                let fill = (round % (capacity + 1)).min(room);
                for _ in 0..fill {
                    assert_eq!(tx.try_push(next_in), Ok(()), "cap {capacity} start {start}");
                    next_in += 1;
                }
                let in_flight = (next_in - next_out) as usize;
                assert_eq!(rx.len(), in_flight, "cap {capacity} start {start}");
                assert_eq!(tx.slots(), capacity - in_flight);
                assert_eq!(rx.is_empty(), in_flight == 0);
                if in_flight == capacity {
                    assert_eq!(tx.try_push(u64::MAX), Err(u64::MAX), "full is full");
                }
                // Take all but one (alternating pop and drain), leaving the ring non-empty
                // across rounds so the fill level wanders around the array.
                let take = in_flight.saturating_sub(round % 2);
                for _ in 0..take {
                    let got = if next_out.is_multiple_of(2) {
                        rx.try_pop()
                    } else {
                        let mut one = None;
                        assert_eq!(rx.drain_into(|v| one = Some(v), 1), 1);
                        one
                    };
                    assert_eq!(got, Some(next_out), "cap {capacity} start {start}");
                    next_out += 1;
                }
            }
            let rest = drain_all(&mut rx);
            assert_eq!(rest, (next_out..next_in).collect::<Vec<_>>());
            assert!(rx.is_empty());
            assert_eq!(tx.slots(), capacity);
        }
    }
}

#[test]
fn len_is_exact_at_every_fill_level_and_offset() {
    for capacity in [1, 2, 3, 4, 5, 8, 13, 64] {
        for start in starts() {
            let (mut tx, mut rx) = channel_at::<u32>(capacity, start);
            // Move the consumer's index to every offset of the array, and at each one try
            // every fill level: the binary search must find the exact end of the run.
            for offset in 0..capacity {
                for fill in 0..=capacity {
                    for i in 0..fill {
                        tx.try_push(i as u32).unwrap();
                    }
                    assert_eq!(
                        rx.len(),
                        fill,
                        "cap {capacity} start {start} offset {offset}"
                    );
                    assert_eq!(drain_all(&mut rx).len(), fill);
                }
                tx.try_push(0).unwrap();
                assert_eq!(rx.try_pop(), Some(0));
            }
        }
    }
}

#[test]
fn zero_sized_records_are_counted_like_any_other() {
    let (mut tx, mut rx) = channel::<()>(3);
    for _ in 0..3 {
        tx.try_push(()).unwrap();
    }
    assert_eq!(tx.try_push(()), Err(()));
    assert_eq!(rx.len(), 3);
    assert_eq!(rx.try_pop(), Some(()));
    assert_eq!(rx.drain_into(|()| {}, 10), 2);
    assert!(rx.is_empty());
}

#[test]
fn a_panicking_handler_across_the_wrap_publishes_what_it_took() {
    let (mut tx, mut rx) = channel_at::<u32>(4, usize::MAX - 1);
    for i in 0..4 {
        tx.try_push(i).unwrap();
    }
    let result = catch_unwind(AssertUnwindSafe(|| {
        rx.drain_into(|v| assert!(v != 2, "handler fails on 2"), usize::MAX)
    }));
    assert!(result.is_err());
    // 0, 1 and 2 were handed over: their three slots are free again (published during the
    // unwind), and 3 is still there.
    assert_eq!(tx.slots(), 3);
    for i in 4..7 {
        tx.try_push(i).unwrap();
    }
    assert_eq!(tx.try_push(7), Err(7));
    assert_eq!(drain_all(&mut rx), [3, 4, 5, 6]);
}

#[test]
fn slots_are_cache_line_pairs() {
    use slots::slot_layout;
    // The layout the module docs describe: record and stamp together, nothing shared with the
    // neighbouring slot.
    assert_eq!(slot_layout::<[u64; 13]>(), (128, 128));
    assert_eq!(slot_layout::<[u8; 120]>(), (128, 128));
    assert_eq!(slot_layout::<[u8; 121]>(), (256, 128));
    assert_eq!(slot_layout::<u8>(), (128, 128));
    assert_eq!(slot_layout::<()>(), (128, 128));
    let (size, align) = slot_layout::<MarketEvent>();
    assert_eq!((size % 128, align), (0, 128));
    assert!(size <= 256);
}

#[test]
fn both_ends_are_send() {
    fn send<T: Send>() {}
    send::<Producer<[u64; 13]>>();
    send::<Consumer<[u64; 13]>>();
    send::<Producer<MarketEvent>>();
    send::<Consumer<MarketEvent>>();
}
