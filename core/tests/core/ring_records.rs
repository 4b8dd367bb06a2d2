//! Records of every size class and byte pattern come out of a ring bit for bit as they went
//! in: sizes on both sides of the slot's cache-line boundaries (a slot is the record plus an
//! 8-byte stamp, rounded up to 128 bytes), alignments above 8, zero-sized records, and the
//! engine's own enums.

use std::thread;

use tickwire_core::event::{MarketEvent, Meta, Side, Trade};
use tickwire_core::ids::{InstrumentId, VenueId};
use tickwire_core::num::{Px, Qty};
use tickwire_core::ring::channel;

/// 256 fills (every byte value) and 256 mixed patterns (every byte value at every offset,
/// neighbours different) of an `N`-byte record.
fn patterns<const N: usize>() -> impl Iterator<Item = [u8; N]> {
    let fills = (0..=255u8).map(|b| [b; N]);
    let mixed = (0..=255u8).map(|b| {
        let mut r = [0u8; N];
        for (i, x) in r.iter_mut().enumerate() {
            *x = b.wrapping_add((i as u8).wrapping_mul(167)) ^ (i >> 8) as u8;
        }
        r
    });
    fills.chain(mixed)
}

/// Every pattern through rings of 1, 2 and 3 slots, with the fill level varying so that the
/// records land in every slot.
fn round_trip<const N: usize>() {
    for capacity in 1..=3 {
        let (mut tx, mut rx) = channel::<[u8; N]>(capacity);
        let mut pending = std::collections::VecDeque::new();
        for (i, r) in patterns::<N>().enumerate() {
            if tx.try_push(r).is_err() {
                assert_eq!(pending.len(), capacity);
                // Make room, alternately one record and all of them.
                let take = if i.is_multiple_of(2) { 1 } else { capacity };
                for _ in 0..take {
                    let got = rx.try_pop().expect("full ring has records");
                    assert!(
                        got == pending.pop_front().unwrap(),
                        "{N}-byte record changed"
                    );
                }
                tx.try_push(r).expect("room was made");
            }
            pending.push_back(r);
        }
        rx.drain_into(
            |got| {
                assert!(
                    got == pending.pop_front().unwrap(),
                    "{N}-byte record changed"
                )
            },
            usize::MAX,
        );
        assert!(pending.is_empty() && rx.is_empty());
    }
}

#[test]
fn byte_records_of_every_size_class_round_trip_every_pattern() {
    // Around the stamp (8 bytes) and the 64- and 128-byte boundaries of a slot.
    round_trip::<1>();
    round_trip::<7>();
    round_trip::<8>();
    round_trip::<55>();
    round_trip::<56>();
    round_trip::<57>();
    round_trip::<64>();
    round_trip::<72>();
    round_trip::<104>();
    round_trip::<119>();
    round_trip::<120>();
    round_trip::<121>();
    round_trip::<128>();
    round_trip::<130>();
    round_trip::<250>();
    round_trip::<257>();
}

/// Pod-like, aligned above the stamp: the record does not start right after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, align(64))]
struct Wide {
    words: [u128; 4],
    tail: [u8; 8],
}

/// Pod-like, 16-byte aligned, 72 bytes: the smallest engine record size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
struct Small {
    a: u128,
    b: [u64; 7],
}

#[test]
fn aligned_records_round_trip_every_pattern() {
    let (mut tx, mut rx) = channel::<Wide>(3);
    for b in 0..=255u8 {
        let w = u128::from_ne_bytes([b; 16]);
        let r = Wide {
            words: [w, !w, w.rotate_left(u32::from(b)), w ^ u128::from(b)],
            tail: [b, !b, b, !b, b, !b, b, !b],
        };
        tx.try_push(r).unwrap();
        assert_eq!(rx.try_pop(), Some(r));
    }
    let (mut tx, mut rx) = channel::<Small>(2);
    for b in 0..=255u8 {
        let w = u64::from_ne_bytes([b; 8]);
        let r = Small {
            a: u128::from(w) << 64 | u128::from(!w),
            b: [w, !w, w, !w, w, !w, w.rotate_left(u32::from(b))],
        };
        tx.try_push(r).unwrap();
        tx.try_push(r).unwrap();
        assert_eq!(rx.drain_into(|got| assert_eq!(got, r), 5), 2);
    }
}

#[test]
fn zero_sized_records_flow_across_threads() {
    let (mut tx, mut rx) = channel::<()>(2);
    let producer = thread::spawn(move || {
        for _ in 0..100_000 {
            while tx.try_push(()).is_err() {
                thread::yield_now();
            }
        }
    });
    let mut got = 0u64;
    while !rx.is_finished() {
        let n = rx.drain_into(|()| {}, 7);
        if n == 0 {
            thread::yield_now();
        }
        got += n as u64;
    }
    producer.join().unwrap();
    assert_eq!(got, 100_000);
}

#[test]
fn the_largest_record_pattern_survives_a_thread_hop() {
    // 130 bytes: a slot of three lines, copied while the other thread writes the neighbours.
    const N: usize = 130;
    let all: Vec<[u8; N]> = patterns::<N>().collect();
    let expected = all.clone();
    let (mut tx, mut rx) = channel::<[u8; N]>(2);
    let producer = thread::spawn(move || {
        for _ in 0..50 {
            for &r in &all {
                while tx.try_push(r).is_err() {
                    thread::yield_now();
                }
            }
        }
    });
    let mut i = 0usize;
    while !rx.is_finished() {
        let n = rx.drain_into(
            |got| {
                assert!(got == expected[i % expected.len()], "record {i} changed");
                i += 1;
            },
            4,
        );
        if n == 0 {
            thread::yield_now();
        }
    }
    producer.join().unwrap();
    assert_eq!(i, 50 * expected.len());
}

#[test]
fn engine_enums_round_trip_with_every_field_pattern() {
    let (mut tx, mut rx) = channel::<MarketEvent>(3);
    for b in 0..=255u64 {
        let x = b * 0x0101_0101_0101_0101;
        let meta = Meta::new(VenueId::OKX, InstrumentId(b as u32), x);
        let side = if b.is_multiple_of(2) {
            Side::Buy
        } else {
            Side::Sell
        };
        let ev = MarketEvent::Trade(Trade::new(
            meta,
            Px::from_raw(x as i64),
            Qty::from_raw(!x as i64),
            x,
            side,
        ));
        tx.try_push(ev).unwrap();
        assert_eq!(rx.try_pop(), Some(ev));
    }
}
