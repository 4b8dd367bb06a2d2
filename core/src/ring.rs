//! Typed single-producer single-consumer rings between threads, and the shutdown protocol.
//!
//! Every arrow between two threads of the engine (feed → core, core → exec, exec → core) is one
//! of these rings. They are a thin layer over [`rtrb`]: a push or a pop is one slot copy plus the
//! same acquire/release index exchange `rtrb` does, and the layer adds no atomic, allocation,
//! lock, syscall or log of its own. What it adds is typing (`T: Copy + Send` records only, so a
//! ring never has to drop anything), waiting with a [`Backoff`] when full, batched draining, and
//! the rules below for stopping without losing a record.
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

/// Creates a ring of `capacity` records and returns its two ends.
///
/// The slot array is allocated here, once; nothing allocates afterwards. Size `capacity` for the
/// longest burst the consumer may fall behind by: a full ring makes the producer wait.
///
/// # Panics
///
/// If `capacity` is zero (such a ring could never accept a record), or if the slot array
/// would exceed `isize::MAX` bytes.
pub fn channel<T: Copy + Send>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    assert!(capacity > 0, "a ring needs at least one slot");
    let (inner_tx, inner_rx) = rtrb::RingBuffer::new(capacity);
    (Producer { inner: inner_tx }, Consumer { inner: inner_rx })
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
    inner: rtrb::Producer<T>,
}

impl<T: Copy + Send> Producer<T> {
    /// Pushes `value` if there is a free slot; gives it back if the ring is full.
    ///
    /// Cost: a slot copy and one release store; the consumer's index is re-read (acquire) only
    /// when the cached copy says the ring may be full.
    #[inline]
    pub fn try_push(&mut self, value: T) -> Result<(), T> {
        self.inner.push(value).map_err(|rtrb::PushError::Full(v)| v)
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
        match self.inner.push(value) {
            Ok(()) => Ok(()),
            Err(rtrb::PushError::Full(v)) => self.wait_and_push(v, backoff, Some(stop)),
        }
    }

    /// Pushes `value`, waiting with `backoff` for as long as the ring is full and the consumer
    /// is alive — for **forwarding** threads, which must not drop a record because stop was
    /// requested (see the [module docs](self)). The only error is [`PushError::Abandoned`].
    ///
    /// The backoff is handled as in [`push_wait`](Self::push_wait).
    #[inline]
    pub fn forward(&mut self, value: T, backoff: &mut Backoff) -> Result<(), PushError<T>> {
        match self.inner.push(value) {
            Ok(()) => Ok(()),
            Err(rtrb::PushError::Full(v)) => self.wait_and_push(v, backoff, None),
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
            if self.inner.is_abandoned() {
                return Err(PushError::Abandoned(value));
            }
            if let Some(stop) = stop
                && stop.is_set()
            {
                return Err(PushError::Stopped(value));
            }
            backoff.idle();
            match self.inner.push(value) {
                Ok(()) => {
                    backoff.reset();
                    return Ok(());
                }
                Err(rtrb::PushError::Full(v)) => value = v,
            }
        }
    }

    /// Free slots right now (the consumer may free more at any time). Reads the consumer's
    /// index (one acquire load): for monitoring and tests, not for every push.
    pub fn slots(&self) -> usize {
        self.inner.slots()
    }

    /// Total slots of the ring.
    pub fn capacity(&self) -> usize {
        self.inner.buffer().capacity()
    }

    /// True once the consumer has been dropped. Once true it stays true; while false the
    /// consumer may be dropped at any moment.
    pub fn is_abandoned(&self) -> bool {
        self.inner.is_abandoned()
    }
}

impl<T> fmt::Debug for Producer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer")
            .field("capacity", &self.inner.buffer().capacity())
            .field("abandoned", &self.inner.is_abandoned())
            .finish_non_exhaustive()
    }
}

/// The receiving end of a ring. Owned by exactly one thread at a time (`Send`, not `Sync`).
pub struct Consumer<T> {
    inner: rtrb::Consumer<T>,
}

impl<T: Copy + Send> Consumer<T> {
    /// Takes the oldest record, if any.
    ///
    /// Cost: a slot copy and one release store; the producer's index is re-read (acquire) only
    /// when the cached copy says the ring may be empty. To take several records, prefer
    /// [`drain_into`](Self::drain_into), which pays the index exchange once per batch.
    #[inline]
    pub fn try_pop(&mut self) -> Option<T> {
        self.inner.pop().ok()
    }

    /// Hands up to `max` records, oldest first, to `f`, and returns how many it handed over.
    ///
    /// One acquire load of the producer's index and one release store of ours for the whole
    /// batch, instead of one store per record: the producer's core sees our index cache line
    /// change once per batch rather than once per record.
    ///
    /// If `f` panics, the records handed over so far (including the one `f` was handling) are
    /// consumed and the rest stay in the ring, so no record is delivered twice.
    #[inline]
    pub fn drain_into(&mut self, mut f: impl FnMut(T), max: usize) -> usize {
        if max == 0 {
            return 0;
        }
        let n = self.inner.slots().min(max);
        if n == 0 {
            return 0;
        }
        // `slots()` just saw `n` readable records and only this thread consumes, so there are
        // still at least `n`: read_chunk cannot fail. Returning 0 keeps the impossible case
        // from becoming a panic on the hot path.
        let Ok(chunk) = self.inner.read_chunk(n) else {
            return 0;
        };
        // The chunk's iterator copies each record out and, when dropped (also during a panic
        // in `f`), publishes the new read index once for everything iterated.
        for value in chunk {
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
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// Readable records right now (one acquire load of the producer's index).
    pub fn len(&self) -> usize {
        self.inner.slots()
    }

    /// Total slots of the ring.
    pub fn capacity(&self) -> usize {
        self.inner.buffer().capacity()
    }

    /// True once the producer has been dropped (records may still be waiting in the ring).
    /// Once true it stays true.
    pub fn is_abandoned(&self) -> bool {
        self.inner.is_abandoned()
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
        self.inner.is_abandoned() && self.inner.is_empty()
    }
}

impl<T> fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer")
            .field("capacity", &self.inner.buffer().capacity())
            .field("abandoned", &self.inner.is_abandoned())
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

#[cfg(test)]
mod tests {
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
}
