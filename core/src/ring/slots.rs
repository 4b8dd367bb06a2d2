//! The slot array and the push/pop protocol behind [`super::channel`]: all of the ring's
//! `unsafe` is in this file.
//!
//! # Layout
//!
//! ```text
//! Shared (one allocation, behind an Arc held by both ends)
//!   head           own 128-byte block   consumer's position; written only by the consumer
//!   producer_gone  \  one read-mostly   written once, when the producer is dropped
//!   consumer_gone   | block             written once, when the consumer is dropped
//!   slots          /                    pointer to the slot array (never changes)
//!
//! Slot<T> (repr(C), aligned to 128 bytes, `capacity` of them in one array)
//!   stamp: usize   offset 0   ready word; written only by the producer
//!   value: T       offset 8 (or T's alignment)
//!   padding up to the next multiple of 128 bytes
//! ```
//!
//! The ready word sits in the same cache line as the start of the record, so a consumer that
//! polls an empty ring is already holding the line the record arrives in: a hop moves the
//! record's lines and nothing else (no separate producer index whose line would have to move
//! first, as with a head/tail ring). A 104-byte record plus its stamp is 112 bytes: two lines,
//! and with 128-byte alignment a slot's lines never share a line (nor an adjacent-line
//! prefetch pair) with a neighbouring slot, which the producer may be writing at that moment.
//! The price is memory: every slot takes a multiple of 128 bytes.
//!
//! The producer never publishes its position: the stamps are the producer's index. The
//! consumer does publish its position (`head`), once per `try_pop` or per drained batch; the
//! producer keeps a private copy and re-reads `head` only when that copy says the ring is full.
//!
//! # Positions and stamps
//!
//! Both ends count records with a *position* (a wrapping `usize`, starting at the same value
//! on both sides, advanced by one per record) and walk the slot array with an *index* advanced
//! in step with it (`0, 1, …, capacity - 1, 0, …`). The record at position `p` lives in the
//! slot the index points at when the position is `p`, and that slot's stamp is set to `p + 1`
//! (wrapping) once the record is in it. Initially slot `i` holds the stamp of a virtual record
//! written one lap before the start, `start + i + 1 - capacity`.
//!
//! Invariant: while the consumer is at position `p`, the slot it points at holds either stamp
//! `p + 1` (the record is there) or `p + 1 - capacity` (the previous lap's, already consumed).
//! It cannot hold a later lap's: the producer writes position `p + capacity` only after it has
//! read a published `head` greater than `p`. Since `0 < capacity <= isize::MAX`, the two values
//! differ modulo `2^usize::BITS`, so **"stamp == p + 1" is exact**, including when positions
//! wrap around `usize::MAX` (tested by starting near it).
//!
//! The producer at position `t` with a published consumer position `h` has `t - h` records in
//! flight (wrapping difference, always in `0..=capacity`); the ring is full when it equals
//! `capacity`.
//!
//! # Memory orderings
//!
//! - **Record hand-off.** The producer writes the record into the slot (plain write), then
//!   stores the stamp with `Release`. The consumer loads the stamp with `Acquire`; seeing
//!   `p + 1` it synchronises with that store, so the record write happens-before its read.
//! - **Slot reuse.** The consumer reads the record (plain read into a local), then stores its
//!   new position into `head` with `Release`. The producer loads `head` with `Acquire` before it
//!   decides a slot is free; the read of the old record therefore happens-before the write of
//!   the new one into the same slot. The producer's cached `head` is an older value of the same
//!   atomic, so it only ever under-estimates the free space.
//! - **Abandonment.** Each end stores its `*_gone` flag with `Release` when dropped, after all
//!   its pushes or pops (they take `&mut self`, so they are sequenced before the drop). A load
//!   with `Acquire` that sees the flag therefore also sees every stamp the producer stored:
//!   this is what `Consumer::is_finished` relies on (flag first, then the emptiness check).
//! - **Stamp coherence.** The stamp of a slot is only ever stored by the producer, in
//!   increasing positions; reads of it by the consumer follow that modification order, so a
//!   stamp seen once stays seen (no "un-publishing").
//! - Freeing: both ends hold an `Arc`; its release decrement / acquire fence orders every
//!   access to the slots before the deallocation by whichever end is dropped last.
//!
//! On x86-64 every `Acquire` load and `Release` store above is a plain `mov`: the fast paths
//! have no fence and no read-modify-write.
//!
//! Built with `RUSTFLAGS="--cfg loom"`, the protocol runs on `loom`'s atomics and cells instead,
//! and `core/tests/ring_loom.rs` model-checks it (every interleaving and every value a load
//! may return under the C++ memory model, with data-race detection on the slot values).

use core::mem::MaybeUninit;
use core::ptr::NonNull;
use std::sync::atomic::Ordering;

use sync::{Arc, AtomicBool, AtomicUsize, UnsafeCell};

/// The primitives the protocol is written against: std's, or loom's under `--cfg loom`.
mod sync {
    // `loom` is a cfg set by hand (RUSTFLAGS), not one cargo knows about.
    #![allow(unexpected_cfgs)]

    #[cfg(loom)]
    pub(super) use loom::cell::UnsafeCell;
    #[cfg(loom)]
    pub(super) use loom::sync::Arc;
    #[cfg(loom)]
    pub(super) use loom::sync::atomic::{AtomicBool, AtomicUsize};

    #[cfg(not(loom))]
    pub(super) use std::sync::Arc;
    #[cfg(not(loom))]
    pub(super) use std::sync::atomic::{AtomicBool, AtomicUsize};

    /// `core::cell::UnsafeCell` with loom's closure-style accessors (which let loom track
    /// every access to the cell).
    #[cfg(not(loom))]
    #[derive(Debug)]
    pub(super) struct UnsafeCell<T>(core::cell::UnsafeCell<T>);

    #[cfg(not(loom))]
    impl<T> UnsafeCell<T> {
        pub(super) const fn new(value: T) -> Self {
            Self(core::cell::UnsafeCell::new(value))
        }

        /// Runs `f` on a pointer for reading the contents.
        #[inline(always)]
        pub(super) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        /// Runs `f` on a pointer for writing the contents.
        #[inline(always)]
        pub(super) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}

/// Cache-line pair alignment: 128 bytes covers both the 64-byte line and the adjacent-line
/// prefetch pair of x86-64 parts.
#[repr(C, align(128))]
struct Padded<T>(T);

/// One record and its ready stamp, in the same cache line.
#[repr(C, align(128))]
struct Slot<T> {
    /// `p + 1` (wrapping) once the record at position `p` is in `value`. Written only by the
    /// producer (`Release`), read by the consumer (`Acquire`).
    stamp: AtomicUsize,
    /// The record. Written only by the producer, while the consumer is known not to read it;
    /// read only by the consumer, after it has seen the stamp. See the module docs.
    value: UnsafeCell<MaybeUninit<T>>,
}

/// Size and alignment of a slot holding a `T`, for the layout tests.
#[cfg(test)]
pub(super) fn slot_layout<T>() -> (usize, usize) {
    (size_of::<Slot<T>>(), align_of::<Slot<T>>())
}

/// What both ends share.
#[repr(C)]
struct Shared<T> {
    /// The consumer's position: every record before it has been read and its slot may be
    /// reused. Written only by the consumer (`Release`), read by the producer (`Acquire`).
    /// Alone in its block: it is the only field the consumer writes on the fast path.
    head: Padded<AtomicUsize>,
    /// Set (`Release`) when the producer is dropped.
    producer_gone: AtomicBool,
    /// Set (`Release`) when the consumer is dropped.
    consumer_gone: AtomicBool,
    /// The slot array; never resized or moved while either end is alive.
    slots: Box<[Slot<T>]>,
}

// SAFETY: `Shared` is what the two ends of one ring, on two threads, both point to. Its atomics
// are `Sync` by themselves. The only non-`Sync` part is the slot values (`UnsafeCell`), and
// they are accessed only under the protocol of the module docs: a value is written by the one
// producer only while the consumer is known not to be reading that slot (the `head` acquire),
// and read by the one consumer only after the write has happened-before (the stamp acquire).
// So there is never a data race on a value. Values move from one thread to the other, hence
// `T: Send`; no `&T` is ever shared (values are copied out), so `T: Sync` is not needed.
unsafe impl<T: Send> Sync for Shared<T> {}

/// The cached pointer to the first slot, or a dangling one for an empty array (never used:
/// a ring has at least one slot).
fn first_slot<T>(shared: &Shared<T>) -> NonNull<Slot<T>> {
    NonNull::from(&*shared.slots).cast()
}

/// Allocates a ring of `capacity` slots whose positions start at `start` (0 outside tests).
///
/// Panics if `capacity` is zero or the slot array would exceed `isize::MAX` bytes.
pub(super) fn raw_channel<T: Copy + Send>(
    capacity: usize,
    start: usize,
) -> (RawProducer<T>, RawConsumer<T>) {
    assert!(capacity > 0, "a ring needs at least one slot");
    // Each slot starts with the stamp of a virtual record one lap before `start` (see
    // "Positions and stamps"), so the first lap looks consumed.
    let slots: Box<[Slot<T>]> = (0..capacity)
        .map(|i| Slot {
            stamp: AtomicUsize::new(start.wrapping_add(i).wrapping_add(1).wrapping_sub(capacity)),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        })
        .collect();
    let shared = Arc::new(Shared {
        head: Padded(AtomicUsize::new(start)),
        producer_gone: AtomicBool::new(false),
        consumer_gone: AtomicBool::new(false),
        slots,
    });
    let first = first_slot(&shared);
    let producer = RawProducer {
        shared: Arc::clone(&shared),
        slots: first,
        capacity,
        idx: 0,
        pos: start,
        cached_head: start,
    };
    let consumer = RawConsumer {
        shared,
        slots: first,
        capacity,
        idx: 0,
        pos: start,
    };
    (producer, consumer)
}

/// The producer's half: its position and index are private (the stamps publish them).
pub(super) struct RawProducer<T> {
    shared: Arc<Shared<T>>,
    /// `shared.slots` as a raw pointer, cached to save a dependent load per push. Valid for
    /// `capacity` slots as long as `shared` is alive.
    slots: NonNull<Slot<T>>,
    capacity: usize,
    /// Slot of the next push, always `< capacity`.
    idx: usize,
    /// Position of the next push.
    pos: usize,
    /// A value `head` had (never newer than the real one).
    cached_head: usize,
}

// SAFETY: the producer may move to another thread: everything it owns is either plain data,
// the `Arc<Shared<T>>` (`Send` since `Shared<T>: Send + Sync` for `T: Send`) or `slots`, a
// pointer into that same allocation used only under the single-producer protocol. It is not
// `Sync` (the raw pointer keeps it so): two threads pushing through `&RawProducer` is
// impossible anyway, as every push takes `&mut self`.
unsafe impl<T: Send> Send for RawProducer<T> {}

impl<T: Copy + Send> RawProducer<T> {
    /// Pushes `value` if a slot is free; gives it back if the ring is full.
    #[inline]
    pub(super) fn try_push(&mut self, value: T) -> Result<(), T> {
        if self.pos.wrapping_sub(self.cached_head) == self.capacity && !self.refresh_head() {
            return Err(value);
        }
        debug_assert!(self.idx < self.capacity);
        // SAFETY: `idx < capacity` (it is reset to 0 when it reaches `capacity`), and `slots`
        // points to `capacity` initialised, aligned slots kept alive by `self.shared`, so the
        // pointer is in bounds and valid. A shared reference is sound although the consumer
        // uses the same slot concurrently: every mutation of a slot goes through its atomic
        // stamp or its `UnsafeCell`.
        let slot = unsafe { self.slots.add(self.idx).as_ref() };
        slot.value.with_mut(|v| {
            // SAFETY: no data race on the value. The consumer reads this slot's value only after
            // seeing stamp `pos + 1`, which is stored below, after this write. Its previous read
            // of this slot (position `pos - capacity`) happened-before this write: we know
            // `pos - head < capacity` from a `head` value loaded with `Acquire`, and the consumer
            // stored that `head` with `Release` after reading the slot. We are the only producer
            // (`&mut self`). Writing a `MaybeUninit<T>` needs no initialised old value, and since
            // `T: Copy` there is nothing to drop.
            unsafe { v.write(MaybeUninit::new(value)) }
        });
        self.pos = self.pos.wrapping_add(1);
        // Release: publishes the value write above to the consumer's acquire of the stamp.
        slot.stamp.store(self.pos, Ordering::Release);
        self.idx += 1;
        if self.idx == self.capacity {
            self.idx = 0;
        }
        Ok(())
    }

    /// Re-reads the consumer's position; returns whether a slot is free now.
    #[cold]
    #[inline(never)]
    fn refresh_head(&mut self) -> bool {
        // Acquire: pairs with the consumer's release store of `head`, so its reads of the
        // slots it freed happen-before our writes into them.
        self.cached_head = self.shared.head.0.load(Ordering::Acquire);
        self.pos.wrapping_sub(self.cached_head) != self.capacity
    }

    /// Free slots right now (one acquire load of the consumer's position).
    pub(super) fn free_slots(&self) -> usize {
        let head = self.shared.head.0.load(Ordering::Acquire);
        self.capacity - self.pos.wrapping_sub(head)
    }
}

impl<T> RawProducer<T> {
    pub(super) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Whether the consumer has been dropped (acquire, pairs with its release in `drop`).
    pub(super) fn is_abandoned(&self) -> bool {
        self.shared.consumer_gone.load(Ordering::Acquire)
    }
}

impl<T> Drop for RawProducer<T> {
    fn drop(&mut self) {
        // Release: every stamp stored by this producer happens-before a consumer's acquire
        // load that sees the flag (the `is_finished` argument).
        self.shared.producer_gone.store(true, Ordering::Release);
    }
}

/// The consumer's half: its position is published in `shared.head`.
pub(super) struct RawConsumer<T> {
    shared: Arc<Shared<T>>,
    /// As in [`RawProducer`].
    slots: NonNull<Slot<T>>,
    capacity: usize,
    /// Slot of the next record to take, always `< capacity`.
    idx: usize,
    /// Position of the next record to take; published to `shared.head` by [`Self::publish`].
    pos: usize,
}

// SAFETY: as for `RawProducer`: plain data, the `Arc` and a pointer into its allocation used
// only under the single-consumer protocol; not `Sync` (the raw pointer keeps it so).
unsafe impl<T: Send> Send for RawConsumer<T> {}

impl<T: Copy + Send> RawConsumer<T> {
    /// The slot `ahead` records after the consumer's position, and the stamp it has when that
    /// record is there. `ahead < capacity`.
    #[inline]
    fn slot_ahead(&self, ahead: usize) -> (&Slot<T>, usize) {
        debug_assert!(ahead < self.capacity && self.idx < self.capacity);
        // Both are below `capacity <= isize::MAX`: no overflow.
        let mut i = self.idx + ahead;
        if i >= self.capacity {
            i -= self.capacity;
        }
        // SAFETY: `i < capacity` (both terms are below it, and one subtraction brings their sum
        // back below it), and `slots` points to `capacity` initialised, aligned slots kept alive
        // by `self.shared`. A shared reference is sound although the producer writes the slot
        // concurrently: every mutation goes through the atomic stamp or the `UnsafeCell`.
        let slot = unsafe { self.slots.add(i).as_ref() };
        (slot, self.pos.wrapping_add(ahead).wrapping_add(1))
    }

    /// Whether the record `ahead` positions on is there (one acquire load of its stamp).
    #[inline]
    fn is_ready(&self, ahead: usize) -> bool {
        let (slot, want) = self.slot_ahead(ahead);
        // Acquire: pairs with the producer's release store of this stamp.
        slot.stamp.load(Ordering::Acquire) == want
    }

    /// Takes the record at the consumer's position, if it is there, and advances the
    /// position **without publishing it**: call [`publish`](Self::publish) afterwards (once
    /// for a whole batch) so that the producer may reuse the slots.
    #[inline]
    pub(super) fn take(&mut self) -> Option<T> {
        let (slot, want) = self.slot_ahead(0);
        // Acquire: pairs with the producer's release store of this stamp, so the write of
        // the value happens-before the read below.
        if slot.stamp.load(Ordering::Acquire) != want {
            return None;
        }
        let value = slot.value.with(|v| {
            // SAFETY: the stamp says the record at our position is in this slot (the stamp test
            // is exact, see "Positions and stamps"), and its write happened-before this read
            // (acquire above). The producer does not write this slot again until it sees a
            // published `head` past our position, which `publish` stores only after this read
            // (sequenced before it, and the store is `Release`). So no data race, and the value is
            // an initialised `T` (a bitwise copy of the one pushed; `T: Copy`, so reading it out
            // leaves nothing to drop or double-drop).
            unsafe { v.read().assume_init() }
        });
        self.pos = self.pos.wrapping_add(1);
        self.idx += 1;
        if self.idx == self.capacity {
            self.idx = 0;
        }
        Some(value)
    }

    /// Publishes the consumer's position: the slots of every record taken so far may be reused.
    #[inline]
    pub(super) fn publish(&self) {
        // Release: our reads of the records taken happen-before the producer's writes into
        // their slots, which it makes only after an acquire load of `head` sees this value.
        self.shared.head.0.store(self.pos, Ordering::Release);
    }

    /// True when the record at the consumer's position is not there yet.
    pub(super) fn is_empty(&self) -> bool {
        !self.is_ready(0)
    }

    /// Readable records: a count the ring had at some moment during the call.
    ///
    /// The records present always form a run starting at the consumer's position (the
    /// producer fills slots in order, and seeing a stamp with acquire also makes every earlier
    /// stamp visible), and only the producer changes the run during the call, by lengthening
    /// it. So a binary search for the end of the run costs `log2(capacity)` stamp loads: it
    /// ends with offset `n - 1` seen present and offset `n` seen absent (or `n == capacity`),
    /// and a run that only grows had length exactly `n` at some moment between those two
    /// observations.
    pub(super) fn len(&self) -> usize {
        if !self.is_ready(0) {
            return 0;
        }
        // `lo` was seen present; `hi` was seen absent or is `capacity`.
        let (mut lo, mut hi) = (0, self.capacity);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.is_ready(mid) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        hi
    }
}

impl<T> RawConsumer<T> {
    pub(super) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Whether the producer has been dropped (acquire, pairs with its release in `drop`).
    pub(super) fn is_abandoned(&self) -> bool {
        self.shared.producer_gone.load(Ordering::Acquire)
    }
}

impl<T> Drop for RawConsumer<T> {
    fn drop(&mut self) {
        // Release, pairing with the producer's acquire in `is_abandoned`. The producer relies
        // on nothing else here: it may go on pushing into an abandoned ring (futile but
        // harmless), and its slot reuse is still ordered by `head` as always.
        self.shared.consumer_gone.store(true, Ordering::Release);
    }
}
