//! Typed single-producer single-consumer rings between threads, and the shutdown protocol.
//!
//! Every arrow between two threads of the engine (feed → core, core → exec, exec → core) is one
//! of these rings. A push is one slot copy and one release store; a pop is one acquire load,
//! one slot copy and one release store; no lock, allocation, syscall, log or read-modify-write
//! after [`channel`]. Each slot carries its own ready stamp in the cache line where the record
//! starts, so a hop between cores moves the record's lines and nothing else (see the `slots`
//! submodule for the layout, the protocol and the memory orderings). Around that: typing
//! (`T: Copy + Send` records only, so a ring never has to drop anything), waiting with a
//! [`Backoff`] when full, batched draining, and the rules below for stopping without losing a
//! record.
//!
//! # Shutdown protocol
//!
//! Stopping propagates *downstream through the rings*, not through a flag every thread reads:
//!
//! 1. Someone (signal handler, operator command, a test) calls [`StopFlag::request`].
//! 2. **Sources** — threads that produce without consuming a ring (the feed threads) — check
//!    [`StopFlag::is_set`] once per loop. When it is set they stop producing, and drop their
//!    [`Producer`]s (normally by returning from the thread function). A source blocked in
//!    [`Producer::push_wait`] on a full ring gets [`PushError::Stopped`] with the record back:
//!    the record was *not* sent, and the source decides what to do with it (count it, journal
//!    it); nothing disappears silently.
//! 3. **No other thread stops draining because of the flag.** It may react to it (the core
//!    starts cancelling orders), but it keeps draining each input ring until
//!    [`Consumer::is_finished`] (the producer is gone *and* the ring is empty), and sends
//!    what it produces with [`Producer::forward`], which waits for room for as long as the
//!    consumer is alive. When all its inputs are finished it drops its producers and exits —
//!    which finishes the rings of the next stage in turn.
//!
//! Threads therefore exit in pipeline order (feed, then core, then exec) and every record a
//! ring accepted is consumed: the consumer only stops once the producer can push nothing more
//! and the ring is empty. [`Consumer::drain_until_finished`] is the consumer half as one call.
//!
//! **Cycles** (core → exec → core): if both sides of a cycle block on a full output ring they
//! wait on each other forever. At least one side of a cycle must never block on its output
//! (the core treats a full order ring as backpressure rather than waiting), and the cycle is
//! closed from the upstream end: the core drops its order producer once its feeds are
//! finished, then drains exec reports until the exec thread has exited.
//!
//! **Crashes are not shutdowns.** A consumer that panics drops its [`Consumer`]; its producer
//! learns this from [`Producer::is_abandoned`], or from [`PushError::Abandoned`] (with the
//! record back) the next time it has to wait for room. Records already in that ring die with
//! the consumer that should have handled them; the journal is what records what happened.

use core::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::wait::Backoff;

mod slots;

#[cfg(test)]
mod tests;

use slots::{RawConsumer, RawProducer, raw_channel};

/// Creates a ring of `capacity` records and returns its two ends.
///
/// The slot array is allocated and initialised here, once; nothing allocates afterwards. Size
/// `capacity` for the longest burst the consumer may fall behind by: a full ring makes the
/// producer wait. Each slot takes the record plus an 8-byte stamp, rounded up to a multiple of
/// 128 bytes (128 bytes for records up to 120 bytes), so a ring of 4096 such records is 512 KiB.
///
/// # Panics
///
/// If `capacity` is zero (such a ring could never accept a record), or if the slot array
/// would exceed `isize::MAX` bytes.
pub fn channel<T: Copy + Send>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    let (raw_tx, raw_rx) = raw_channel(capacity, 0);
    (Producer { raw: raw_tx }, Consumer { raw: raw_rx })
}

/// A record that [`Producer::push_wait`] or [`Producer::forward`] could not send, handed back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushError<T> {
    /// The ring stayed full and stop was requested: the record was not sent.
    Stopped(T),
    /// The consumer is gone (dropped, or its thread panicked): the record was not sent, and no
    /// later one can be.
    Abandoned(T),
}

impl<T> PushError<T> {
    /// The record that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            Self::Stopped(v) | Self::Abandoned(v) => v,
        }
    }
}

impl<T> fmt::Display for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Stopped(_) => "ring full when stop was requested: record not sent",
            Self::Abandoned(_) => "ring consumer is gone: record not sent",
        })
    }
}

impl<T: fmt::Debug> std::error::Error for PushError<T> {}

/// The sending end of a ring. Owned by exactly one thread at a time (`Send`, not `Sync`).
pub struct Producer<T> {
    raw: RawProducer<T>,
}

impl<T: Copy + Send> Producer<T> {
    /// Pushes `value` if there is a free slot; gives it back if the ring is full.
    ///
    /// Cost: a slot copy and one release store (the slot's stamp); the consumer's index is
    /// re-read (acquire) only when the cached copy says the ring may be full.
    #[inline]
    pub fn try_push(&mut self, value: T) -> Result<(), T> {
        self.raw.try_push(value)
    }

    /// Pushes `value`, waiting with `backoff` while the ring is full — for **source** threads
    /// (see the [module docs](self)).
    ///
    /// Returns the record back, unsent, as [`PushError::Stopped`] if `stop` is set while the
    /// ring is still full, or as [`PushError::Abandoned`] if the consumer is gone. Stop is only
    /// looked at while waiting, so a push that finds room succeeds even after stop was
    /// requested: a source checks the flag in its own loop.
    ///
    /// When it had to wait, the backoff is reset before waiting (a wait starts by spinning) and
    /// again on success (progress was made), so a thread can share one backoff between its
    /// input polling and its pushes. A push that finds room does not touch the backoff.
    #[inline]
    pub fn push_wait(
        &mut self,
        value: T,
        backoff: &mut Backoff,
        stop: &StopFlag,
    ) -> Result<(), PushError<T>> {
        match self.raw.try_push(value) {
            Ok(()) => Ok(()),
            Err(v) => self.wait_and_push(v, backoff, Some(stop)),
        }
    }

    /// Pushes `value`, waiting with `backoff` for as long as the ring is full and the consumer
    /// is alive — for **forwarding** threads, which must not drop a record because stop was
    /// requested (see the [module docs](self)). The only error is [`PushError::Abandoned`].
    ///
    /// The backoff is handled as in [`push_wait`](Self::push_wait).
    #[inline]
    pub fn forward(&mut self, value: T, backoff: &mut Backoff) -> Result<(), PushError<T>> {
        match self.raw.try_push(value) {
            Ok(()) => Ok(()),
            Err(v) => self.wait_and_push(v, backoff, None),
        }
    }

    /// The slow path of `push_wait` and `forward`, out of line so that the fast path stays a
    /// slot copy and a store.
    ///
    /// Whether the consumer is gone is checked only here, not on every push: the check could
    /// not make a successful push safe anyway (the consumer may die right after it), and a
    /// consumer that is gone stops freeing slots, so the producer finds out at the latest when
    /// the ring fills.
    #[cold]
    #[inline(never)]
    fn wait_and_push(
        &mut self,
        mut value: T,
        backoff: &mut Backoff,
        stop: Option<&StopFlag>,
    ) -> Result<(), PushError<T>> {
        backoff.reset();
        loop {
            if self.raw.is_abandoned() {
                return Err(PushError::Abandoned(value));
            }
            if let Some(stop) = stop
                && stop.is_set()
            {
                return Err(PushError::Stopped(value));
            }
            backoff.idle();
            match self.raw.try_push(value) {
                Ok(()) => {
                    backoff.reset();
                    return Ok(());
                }
                Err(v) => value = v,
            }
        }
    }

    /// Free slots right now (the consumer may free more at any time). Reads the consumer's
    /// index (one acquire load): for monitoring and tests, not for every push.
    pub fn slots(&self) -> usize {
        self.raw.free_slots()
    }

    /// Total slots of the ring.
    pub fn capacity(&self) -> usize {
        self.raw.capacity()
    }

    /// True once the consumer has been dropped. Once true it stays true; while false the
    /// consumer may be dropped at any moment.
    pub fn is_abandoned(&self) -> bool {
        self.raw.is_abandoned()
    }
}

impl<T> fmt::Debug for Producer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer")
            .field("capacity", &self.raw.capacity())
            .field("abandoned", &self.raw.is_abandoned())
            .finish_non_exhaustive()
    }
}

/// The receiving end of a ring. Owned by exactly one thread at a time (`Send`, not `Sync`).
pub struct Consumer<T> {
    raw: RawConsumer<T>,
}

impl<T: Copy + Send> Consumer<T> {
    /// Takes the oldest record, if any.
    ///
    /// Cost: one acquire load of the slot's stamp (in the line the copy reads anyway), a slot
    /// copy and one release store of our index. To take several records, prefer
    /// [`drain_into`](Self::drain_into), which stores the index once per batch.
    #[inline]
    pub fn try_pop(&mut self) -> Option<T> {
        let value = self.raw.take()?;
        self.raw.publish();
        Some(value)
    }

    /// Hands up to `max` records, oldest first, to `f`, and returns how many it handed over.
    ///
    /// One acquire load of each record's stamp (in the line its copy reads anyway) and one
    /// release store of our index for the whole batch, instead of one store per record: the
    /// producer's core sees our index cache line change once per batch rather than once per
    /// record. Records that arrive while `f` runs join the batch, up to `max`. (A batch cannot
    /// exceed the capacity: the producer gets no slot back until the batch ends.)
    ///
    /// If `f` panics, the records handed over so far (including the one `f` was handling) are
    /// consumed and the rest stay in the ring, so no record is delivered twice.
    #[inline]
    pub fn drain_into(&mut self, mut f: impl FnMut(T), max: usize) -> usize {
        if max == 0 {
            return 0;
        }
        let Some(first) = self.raw.take() else {
            return 0;
        };
        // From here on the index is published when `batch` is dropped: at the end, or while a
        // panic in `f` unwinds. Each record is taken (our private index moved past it) before
        // `f` sees it, so a panicking `f` consumes exactly what it was given.
        let batch = PublishOnDrop(&mut self.raw);
        f(first);
        let mut n = 1;
        while n < max {
            let Some(value) = batch.0.take() else {
                break;
            };
            n += 1;
            f(value);
        }
        n
    }

    /// The consumer half of the shutdown protocol for a thread with a single input: drains in
    /// batches of up to `batch` records into `f`, idling with `backoff` while the ring is empty,
    /// until the ring [`is_finished`](Self::is_finished). Returns the number of records handled.
    ///
    /// It ends only when the producer is dropped: a source stops because of the [`StopFlag`],
    /// everybody downstream because their input ends. `batch` is raised to 1 if zero.
    pub fn drain_until_finished(
        &mut self,
        backoff: &mut Backoff,
        batch: usize,
        mut f: impl FnMut(T),
    ) -> u64 {
        let batch = batch.max(1);
        let mut total = 0u64;
        loop {
            let n = self.drain_into(&mut f, batch);
            if n > 0 {
                total += n as u64;
                backoff.reset();
            } else if self.is_finished() {
                return total;
            } else {
                backoff.idle();
            }
        }
    }

    /// True when no record is readable right now (the producer may push one at any time).
    /// One acquire load of the next slot's stamp.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Readable records right now: a count the ring had at some moment during the call (the
    /// producer may push more at any time). About `log2(capacity)` acquire loads of slot
    /// stamps: for monitoring and tests, not for every record.
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// Total slots of the ring.
    pub fn capacity(&self) -> usize {
        self.raw.capacity()
    }

    /// True once the producer has been dropped (records may still be waiting in the ring).
    /// Once true it stays true.
    pub fn is_abandoned(&self) -> bool {
        self.raw.is_abandoned()
    }

    /// True when the producer is gone and every record it pushed has been taken: nothing more
    /// can ever arrive, so the consumer may exit without losing a record.
    ///
    /// The order of the two checks is what makes this safe: abandonment is read first, with
    /// acquire ordering, so every push the producer made before it was dropped is visible to
    /// the emptiness check that follows. Checking emptiness first could see "empty", then the
    /// producer pushes a last record and drops, then "abandoned" — and that record would be
    /// left behind.
    pub fn is_finished(&self) -> bool {
        self.raw.is_abandoned() && self.raw.is_empty()
    }
}

/// Publishes the consumer's index when dropped: ends a [`Consumer::drain_into`] batch, also
/// during a panic in the handler.
struct PublishOnDrop<'a, T: Copy + Send>(&'a mut RawConsumer<T>);

impl<T: Copy + Send> Drop for PublishOnDrop<'_, T> {
    fn drop(&mut self) {
        self.0.publish();
    }
}

impl<T> fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer")
            .field("capacity", &self.raw.capacity())
            .field("abandoned", &self.raw.is_abandoned())
            .finish_non_exhaustive()
    }
}

/// The process-wide "stop now" signal read by source threads (see the [module docs](self)).
///
/// Clones share one flag. Setting it is one-way: there is no "unstop".
#[derive(Clone, Debug, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    /// A flag that is not set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requests stop. Release ordering: whatever the requester wrote before (a reason, a final
    /// config) is visible to a thread that then sees the flag set.
    pub fn request(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Whether stop was requested. An acquire load, which on x86 is a plain load of a cache
    /// line that stays shared until the single store: cheap enough for every loop iteration.
    #[inline]
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}
