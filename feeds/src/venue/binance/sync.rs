//! Binance spot local order-book sync (FORMATS §1.7): REST snapshot + buffered diff stream.
//!
//! States: *awaiting a snapshot* (diffs are buffered, bounded and preallocated) and *synced*
//! (diffs are checked for continuity and emitted). Rules, as verified on real captures:
//! - diffs with `u <= lastUpdateId` are stale and dropped;
//! - the first diff applied after a snapshot must satisfy `U <= lastUpdateId + 1 <= u`
//!   (real data shows `U == lastUpdateId + 1` happens, so the doc's "within `[U;u]`" is too strict);
//! - every later diff must have `U == previous u + 1`; otherwise a `Gap` status is emitted,
//!   the book is dropped, and a new snapshot is needed.
//!
//! A diff that arrives *before* the snapshot it must follow is kept in the buffer and applied
//! after the snapshot (the book is never cleared after applying it): in the real
//! `btcusdt_20240808` capture the first applicable diff is received ~69 ms before the snapshot.
//!
//! Output: the snapshot is one delta batch whose first delta carries `CLEAR | BATCH_BEGIN` and
//! whose last carries `BATCH_END`; every applied diff is one batch (`BATCH_BEGIN` … `BATCH_END`),
//! and a message with no levels is a single no-op delta (zero quantity at price zero) carrying
//! both flags, so the consumer always learns the new update id. `Resynced` follows each
//! rebuilt book, `Gap` each detected gap. Nothing here allocates once the buffers exist.

use tickwire_core::book::Level;
use tickwire_core::event::{BookDelta, FeedState, FeedStatus, MarketEvent, Meta};
use tickwire_core::ids::{InstrumentId, VenueId};

use super::decode::{DepthSnapshot, DepthUpdate};
use crate::venue::events::{emit_batch, ms_to_ns};

/// Bounds of the pre-snapshot buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncConfig {
    /// Most diffs held while waiting for a snapshot.
    pub max_buffered_diffs: usize,
    /// Most levels (both sides, all buffered diffs) held while waiting for a snapshot.
    pub max_buffered_levels: usize,
}

impl Default for SyncConfig {
    /// Room for ~25 s of `@depth@100ms` on a busy book: a REST snapshot comes back much sooner.
    fn default() -> Self {
        Self {
            max_buffered_diffs: 256,
            max_buffered_levels: 64 * 1024,
        }
    }
}

/// What one input did, for the feed loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncOutcome {
    /// Levels were emitted (a diff, or a snapshot plus the buffered diffs after it).
    Applied,
    /// The diff was buffered until a snapshot arrives.
    Buffered,
    /// A stale diff (`u <=` the book's id) or an unneeded snapshot was dropped.
    Stale,
    /// Fetch a REST snapshot and pass it to [`BinanceBookSync::on_snapshot`]. Returned once each
    /// time the need arises (first diff after a reset, a gap, a snapshot older than the
    /// buffered diffs); [`BinanceBookSync::needs_snapshot`] stays true until one is applied.
    NeedSnapshot,
}

/// Counters over the machine's life (not reset by [`BinanceBookSync::reset`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncStats {
    /// Diffs applied to the book.
    pub applied: u64,
    /// Diffs dropped because `u <=` the book's update id.
    pub dropped_stale: u64,
    /// Continuity gaps detected.
    pub gaps: u64,
    /// Snapshots applied.
    pub snapshots: u64,
    /// Snapshots refused because they were older than the first buffered diff.
    pub stale_snapshots: u64,
    /// Snapshots ignored because the book was already in sync.
    pub unneeded_snapshots: u64,
    /// Times the pre-snapshot buffer overflowed and was emptied.
    pub buffer_overflows: u64,
    /// Snapshots refused as impossible: crossed, or an update id far beyond the stream.
    pub bad_snapshots: u64,
    /// Resyncs forced because a live diff was further behind the book than any stream lag
    /// explains (a snapshot from the future would otherwise freeze the book while it still
    /// looks synced).
    pub frozen_resyncs: u64,
}

/// A snapshot's update id may lead the stream (the newest buffered diff, or a live diff older
/// than the book) by at most this much: the updates made while the REST request was in flight
/// and the stream's own lag behind the venue's book. Beyond it the snapshot is not of this
/// stream. Diffs that are merely late — a stream lagging far behind a fast snapshot — stay
/// within it and are dropped as stale until the stream catches up.
const MAX_SNAPSHOT_LEAD: u64 = 1_000_000;

/// Why a snapshot was refused (the `detail2` of its `malformed` feed status).
const BAD_SNAPSHOT_CROSSED: u64 = 1;
/// See [`BAD_SNAPSHOT_CROSSED`].
const BAD_SNAPSHOT_AHEAD: u64 = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// No valid book; diffs are buffered.
    AwaitingSnapshot,
    /// The book reflects update id `last`; `first` is true until one diff is applied after the
    /// snapshot (that diff may straddle `last`).
    Synced { last: u64, first: bool },
}

/// A buffered diff: ids and times, and where its levels sit in the flat level buffer.
#[derive(Clone, Copy, Debug)]
struct Pending {
    first_update_id: u64,
    final_update_id: u64,
    event_time_ms: u64,
    recv_ns: u64,
    n_bids: usize,
    n_asks: usize,
}

/// Book sync for one Binance spot instrument.
#[derive(Clone, Debug)]
pub struct BinanceBookSync {
    venue: VenueId,
    instrument: InstrumentId,
    config: SyncConfig,
    state: State,
    /// True once `NeedSnapshot` has been reported for the current need.
    requested: bool,
    pending: Vec<Pending>,
    /// Levels of `pending`, in order: each diff's bids then its asks.
    pending_levels: Vec<Level>,
    stats: SyncStats,
}

impl BinanceBookSync {
    /// A machine awaiting its first snapshot, with buffers allocated up front.
    pub fn new(venue: VenueId, instrument: InstrumentId, config: SyncConfig) -> Self {
        Self {
            venue,
            instrument,
            config,
            state: State::AwaitingSnapshot,
            requested: false,
            pending: Vec::with_capacity(config.max_buffered_diffs),
            pending_levels: Vec::with_capacity(config.max_buffered_levels),
            stats: SyncStats::default(),
        }
    }

    /// Forgets the book and the buffer (call on every (re)connect, before subscribing).
    pub fn reset(&mut self) {
        self.state = State::AwaitingSnapshot;
        self.requested = false;
        self.pending.clear();
        self.pending_levels.clear();
    }

    /// The instrument this machine syncs.
    pub fn instrument(&self) -> InstrumentId {
        self.instrument
    }

    /// True while no valid book exists (a snapshot must be fetched and applied).
    pub fn needs_snapshot(&self) -> bool {
        self.state == State::AwaitingSnapshot
    }

    /// True when the emitted book is valid.
    pub fn is_synced(&self) -> bool {
        !self.needs_snapshot()
    }

    /// The update id the emitted book reflects, when synced.
    pub fn last_update_id(&self) -> Option<u64> {
        match self.state {
            State::Synced { last, .. } => Some(last),
            State::AwaitingSnapshot => None,
        }
    }

    /// Diffs currently buffered.
    pub fn buffered(&self) -> usize {
        self.pending.len()
    }

    /// Counters.
    pub fn stats(&self) -> &SyncStats {
        &self.stats
    }

    /// Handles one diff received at `recv_ns`.
    pub fn on_depth(
        &mut self,
        d: &DepthUpdate<'_>,
        recv_ns: u64,
        emit: &mut impl FnMut(MarketEvent),
    ) -> SyncOutcome {
        let p = Pending {
            first_update_id: d.head.first_update_id,
            final_update_id: d.head.final_update_id,
            event_time_ms: d.head.event_time_ms,
            recv_ns,
            n_bids: d.bids.len(),
            n_asks: d.asks.len(),
        };
        match self.state {
            State::AwaitingSnapshot => {
                self.buffer(p, d.bids, d.asks);
                self.request()
            }
            State::Synced { .. } => self.apply_live(p, d.bids, d.asks, emit),
        }
    }

    /// Handles a depth snapshot received at `recv_ns`.
    pub fn on_snapshot(
        &mut self,
        s: &DepthSnapshot<'_>,
        recv_ns: u64,
        emit: &mut impl FnMut(MarketEvent),
    ) -> SyncOutcome {
        if self.state != State::AwaitingSnapshot {
            self.stats.unneeded_snapshots += 1;
            return SyncOutcome::Stale;
        }
        let lid = s.last_update_id;
        if let Some(reason) = implausible(s, self.pending.last().map(|p| p.final_update_id)) {
            // Never trusted as a book: a data anomaly, and another snapshot is asked for.
            self.stats.bad_snapshots += 1;
            emit(MarketEvent::Status(FeedStatus::new(
                self.meta(recv_ns),
                FeedState::Malformed,
                lid,
                reason,
            )));
            self.requested = false;
            return self.request();
        }
        // Buffered diffs the snapshot already contains.
        let stale = self
            .pending
            .iter()
            .take_while(|p| p.final_update_id <= lid)
            .count();
        self.stats.dropped_stale += stale as u64;
        self.drop_pending_prefix(stale);
        if let Some(first) = self.pending.first()
            && first.first_update_id > lid.saturating_add(1)
        {
            // Older than the stream we hold: the diffs in between are lost. Ask again.
            self.stats.stale_snapshots += 1;
            self.requested = false;
            return self.request();
        }
        self.emit_snapshot(s, recv_ns, emit);
        self.stats.snapshots += 1;
        self.state = State::Synced {
            last: lid,
            first: true,
        };
        self.requested = false;
        // Apply the buffered diffs in order, exactly like live ones. A gap among them
        // re-buffers the rest (they are moved to the front of the buffer).
        let mut level_at = 0;
        for i in 0..self.pending.len() {
            let p = self.pending[i];
            let end = level_at + p.n_bids + p.n_asks;
            if let Some(outcome) = self.apply_buffered(i, level_at, end, emit) {
                return outcome;
            }
            level_at = end;
        }
        self.pending.clear();
        self.pending_levels.clear();
        if let State::Synced { last, .. } = self.state {
            emit(MarketEvent::Status(FeedStatus::new(
                self.meta(recv_ns),
                FeedState::Resynced,
                last,
                0,
            )));
        }
        SyncOutcome::Applied
    }

    /// Applies buffered diff `i` (levels `from..to`); `Some` if it ended the replay (a gap).
    fn apply_buffered(
        &mut self,
        i: usize,
        from: usize,
        to: usize,
        emit: &mut impl FnMut(MarketEvent),
    ) -> Option<SyncOutcome> {
        let p = self.pending[i];
        let State::Synced { last, first } = self.state else {
            return None;
        };
        if p.final_update_id <= last {
            self.stats.dropped_stale += 1;
            return None;
        }
        if !continues(last, first, p.first_update_id) {
            self.gap(last, p, emit);
            // Keep this diff and the ones after it: the next snapshot may bridge them.
            self.pending.drain(..i);
            self.pending_levels.drain(..from);
            return Some(self.request());
        }
        let levels = &self.pending_levels[from..to];
        let (bids, asks) = levels.split_at(p.n_bids);
        emit_diff(self.venue, self.instrument, p, bids, asks, emit);
        self.stats.applied += 1;
        self.state = State::Synced {
            last: p.final_update_id,
            first: false,
        };
        None
    }

    fn apply_live(
        &mut self,
        p: Pending,
        bids: &[Level],
        asks: &[Level],
        emit: &mut impl FnMut(MarketEvent),
    ) -> SyncOutcome {
        let State::Synced { last, first } = self.state else {
            return SyncOutcome::Buffered;
        };
        if p.final_update_id <= last {
            self.stats.dropped_stale += 1;
            if last - p.final_update_id > MAX_SNAPSHOT_LEAD {
                // The book claims updates the stream is nowhere near: the snapshot was not of
                // this stream. Resync rather than show a frozen book as live.
                self.stats.frozen_resyncs += 1;
                self.gap(last, p, emit);
                self.buffer(p, bids, asks);
                return self.request();
            }
            return SyncOutcome::Stale;
        }
        if !continues(last, first, p.first_update_id) {
            self.gap(last, p, emit);
            self.buffer(p, bids, asks);
            return self.request();
        }
        emit_diff(self.venue, self.instrument, p, bids, asks, emit);
        self.stats.applied += 1;
        self.state = State::Synced {
            last: p.final_update_id,
            first: false,
        };
        SyncOutcome::Applied
    }

    fn gap(&mut self, last: u64, p: Pending, emit: &mut impl FnMut(MarketEvent)) {
        self.stats.gaps += 1;
        self.state = State::AwaitingSnapshot;
        self.requested = false;
        emit(MarketEvent::Status(FeedStatus::new(
            self.meta(p.recv_ns),
            FeedState::Gap,
            last.saturating_add(1),
            p.first_update_id,
        )));
    }

    /// `NeedSnapshot` the first time for the current need, `Buffered` afterwards.
    fn request(&mut self) -> SyncOutcome {
        if self.requested {
            SyncOutcome::Buffered
        } else {
            self.requested = true;
            SyncOutcome::NeedSnapshot
        }
    }

    fn buffer(&mut self, p: Pending, bids: &[Level], asks: &[Level]) {
        let n = bids.len() + asks.len();
        if self.pending.len() >= self.config.max_buffered_diffs
            || self.pending_levels.len() + n > self.config.max_buffered_levels
        {
            // Whatever is dropped here shows up as a gap against the next snapshot, which
            // then gets refused and re-requested: never a wrong book.
            self.stats.buffer_overflows += 1;
            self.pending.clear();
            self.pending_levels.clear();
            if n > self.config.max_buffered_levels {
                return;
            }
        }
        self.pending.push(p);
        self.pending_levels.extend_from_slice(bids);
        self.pending_levels.extend_from_slice(asks);
    }

    fn drop_pending_prefix(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        let levels: usize = self.pending[..n].iter().map(|p| p.n_bids + p.n_asks).sum();
        self.pending.drain(..n);
        self.pending_levels.drain(..levels);
    }

    fn meta(&self, recv_ns: u64) -> Meta {
        Meta::new(self.venue, self.instrument, recv_ns)
    }

    fn emit_snapshot(
        &self,
        s: &DepthSnapshot<'_>,
        recv_ns: u64,
        emit: &mut impl FnMut(MarketEvent),
    ) {
        let meta = self.meta(recv_ns);
        emit_batch(
            meta,
            s.last_update_id,
            BookDelta::CLEAR,
            s.bids.iter().copied(),
            s.asks.iter().copied(),
            emit,
        );
    }
}

/// True if a diff starting at `first_update_id` follows a book at `last`.
#[inline]
fn continues(last: u64, first_after_snapshot: bool, first_update_id: u64) -> bool {
    if first_after_snapshot {
        first_update_id <= last.saturating_add(1)
    } else {
        first_update_id == last.saturating_add(1)
    }
}

fn emit_diff(
    venue: VenueId,
    instrument: InstrumentId,
    p: Pending,
    bids: &[Level],
    asks: &[Level],
    emit: &mut impl FnMut(MarketEvent),
) {
    let mut meta = Meta::new(venue, instrument, p.recv_ns);
    meta.venue_ts_ns = ms_to_ns(p.event_time_ms);
    emit_batch(
        meta,
        p.final_update_id,
        0,
        bids.iter().copied(),
        asks.iter().copied(),
        emit,
    );
}

/// Why a snapshot cannot be a book of this stream, if it cannot: its best bid at or above its
/// best ask, or an update id further ahead of the newest buffered diff than a REST round trip
/// explains.
fn implausible(s: &DepthSnapshot<'_>, newest_buffered: Option<u64>) -> Option<u64> {
    let best_bid = s.bids.iter().map(|l| l.px).max();
    let best_ask = s.asks.iter().map(|l| l.px).min();
    if let (Some(b), Some(a)) = (best_bid, best_ask)
        && b >= a
    {
        return Some(BAD_SNAPSHOT_CROSSED);
    }
    if newest_buffered.is_some_and(|n| s.last_update_id > n.saturating_add(MAX_SNAPSHOT_LEAD)) {
        return Some(BAD_SNAPSHOT_AHEAD);
    }
    None
}

#[cfg(test)]
mod tests {
    use tickwire_core::book::Level;
    use tickwire_core::event::{BookDelta, FeedState, MarketEvent};
    use tickwire_core::ids::{InstrumentId, VenueId};
    use tickwire_core::num::{Px, Qty};

    use super::*;
    use crate::venue::binance::decode::{DepthHead, DepthSnapshot, DepthUpdate};

    fn lv(px: i64, qty: i64) -> Level {
        Level {
            px: Px::from_raw(px),
            qty: Qty::from_raw(qty),
        }
    }

    fn diff<'a>(first: u64, last: u64, bids: &'a [Level], asks: &'a [Level]) -> DepthUpdate<'a> {
        DepthUpdate {
            head: DepthHead {
                instrument: InstrumentId(0),
                event_time_ms: 1,
                first_update_id: first,
                final_update_id: last,
            },
            bids,
            asks,
        }
    }

    fn snap<'a>(id: u64, bids: &'a [Level], asks: &'a [Level]) -> DepthSnapshot<'a> {
        DepthSnapshot {
            instrument: None,
            last_update_id: id,
            bids,
            asks,
        }
    }

    fn machine(config: SyncConfig) -> BinanceBookSync {
        BinanceBookSync::new(VenueId::BINANCE, InstrumentId(0), config)
    }

    /// Runs `f` with an emitter and returns what it emitted.
    fn collect(f: impl FnOnce(&mut dyn FnMut(MarketEvent))) -> Vec<MarketEvent> {
        let mut out = Vec::new();
        f(&mut |ev| out.push(ev));
        out
    }

    fn flags(evs: &[MarketEvent]) -> Vec<(u8, u64)> {
        evs.iter()
            .filter_map(|e| match e {
                MarketEvent::Delta(d) => Some((d.flags, d.update_id)),
                _ => None,
            })
            .collect()
    }

    fn states(evs: &[MarketEvent]) -> Vec<Option<FeedState>> {
        evs.iter()
            .filter_map(|e| match e {
                MarketEvent::Status(s) => Some(s.state()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn snapshot_then_buffered_diffs_in_one_go() {
        let mut m = machine(SyncConfig::default());
        let (b, a) = ([lv(10, 1)], [lv(11, 1)]);
        let mut out = Vec::new();
        let mut emit = |ev| out.push(ev);
        assert_eq!(
            m.on_depth(&diff(5, 8, &b, &[]), 1, &mut emit),
            SyncOutcome::NeedSnapshot
        );
        assert_eq!(
            m.on_depth(&diff(9, 12, &[], &a), 2, &mut emit),
            SyncOutcome::Buffered
        );
        assert!(out.is_empty() && m.needs_snapshot());
        let evs = collect(|e| {
            assert_eq!(
                m.on_snapshot(&snap(10, &b, &a), 3, &mut |ev| e(ev)),
                SyncOutcome::Applied
            );
        });
        // Snapshot batch (CLEAR|BEGIN, END), the straddling diff (one level: BEGIN|END).
        let (c, bb, be) = (
            BookDelta::CLEAR,
            BookDelta::BATCH_BEGIN,
            BookDelta::BATCH_END,
        );
        assert_eq!(flags(&evs), vec![(c | bb, 10), (be, 10), (bb | be, 12)]);
        assert_eq!(states(&evs), vec![Some(FeedState::Resynced)]);
        assert_eq!(m.last_update_id(), Some(12));
        assert_eq!((m.stats().applied, m.stats().dropped_stale), (1, 1));
        assert_eq!(m.buffered(), 0);
    }

    #[test]
    fn stale_snapshot_is_refused_and_requested_again() {
        let mut m = machine(SyncConfig::default());
        let mut sink = |_| {};
        assert_eq!(
            m.on_depth(&diff(20, 25, &[], &[]), 1, &mut sink),
            SyncOutcome::NeedSnapshot
        );
        // lastUpdateId 10: the diffs 11..19 are lost, this snapshot cannot be bridged.
        assert_eq!(
            m.on_snapshot(&snap(10, &[], &[]), 2, &mut sink),
            SyncOutcome::NeedSnapshot
        );
        assert_eq!(m.stats().stale_snapshots, 1);
        assert_eq!(m.buffered(), 1);
        assert_eq!(
            m.on_snapshot(&snap(22, &[], &[]), 3, &mut sink),
            SyncOutcome::Applied
        );
        assert_eq!(m.last_update_id(), Some(25));
        // Already in sync: a further snapshot is not applied.
        assert_eq!(
            m.on_snapshot(&snap(30, &[], &[]), 4, &mut sink),
            SyncOutcome::Stale
        );
        assert_eq!(m.stats().unneeded_snapshots, 1);
    }

    #[test]
    fn a_crossed_snapshot_or_one_far_ahead_of_the_stream_is_refused_as_malformed() {
        let mut m = machine(SyncConfig::default());
        let mut sink = |_| {};
        assert_eq!(
            m.on_depth(&diff(20, 25, &[], &[]), 1, &mut sink),
            SyncOutcome::NeedSnapshot
        );
        // Best bid 101 above best ask 100: no venue's book looks like that.
        let (bids, asks) = ([lv(101, 1), lv(99, 1)], [lv(100, 1), lv(102, 1)]);
        let evs = collect(|e| {
            assert_eq!(
                m.on_snapshot(&snap(22, &bids, &asks), 2, &mut |ev| e(ev)),
                SyncOutcome::NeedSnapshot
            );
        });
        assert_eq!(states(&evs), [Some(FeedState::Malformed)]);
        assert!(flags(&evs).is_empty(), "nothing of it reached the book");
        assert!(!m.is_synced());
        // An update id a million past the newest diff is not a snapshot of this stream.
        let evs = collect(|e| {
            assert_eq!(
                m.on_snapshot(&snap(u64::MAX, &[], &[]), 3, &mut |ev| e(ev)),
                SyncOutcome::NeedSnapshot
            );
        });
        assert_eq!(states(&evs), [Some(FeedState::Malformed)]);
        assert_eq!(m.stats().bad_snapshots, 2);
        assert_eq!(
            m.buffered(),
            1,
            "the buffered diff is kept for a good snapshot"
        );
        assert_eq!(
            m.on_snapshot(&snap(22, &[lv(99, 1)], &[lv(100, 1)]), 4, &mut sink),
            SyncOutcome::Applied
        );
        assert_eq!(m.last_update_id(), Some(25));
    }

    #[test]
    fn a_book_far_ahead_of_the_stream_is_resynced_and_a_merely_late_stream_is_not() {
        let mut m = machine(SyncConfig::default());
        let mut sink = |_| {};
        // No diff buffered yet, so nothing to compare the id with: applied...
        assert_eq!(
            m.on_snapshot(&snap(u64::MAX - 10, &[], &[]), 1, &mut sink),
            SyncOutcome::Applied
        );
        // ...but the first diff shows the stream nowhere near it: a gap and a resync.
        let evs = collect(|e| {
            m.on_depth(&diff(100, 100, &[], &[]), 2, &mut |ev| e(ev));
        });
        assert_eq!(states(&evs), [Some(FeedState::Gap)]);
        assert!(!m.is_synced());
        assert_eq!(m.stats().frozen_resyncs, 1);

        // A stream that lags a fast snapshot by thousands of diffs is only late: dropped
        // as stale until it catches up, never resynced.
        let mut m = machine(SyncConfig::default());
        assert_eq!(
            m.on_snapshot(&snap(50_000, &[], &[]), 1, &mut sink),
            SyncOutcome::Applied
        );
        for i in 0..5_000u64 {
            assert_eq!(
                m.on_depth(&diff(10 + i, 10 + i, &[], &[]), 2 + i, &mut sink),
                SyncOutcome::Stale
            );
        }
        assert!(m.is_synced());
        assert_eq!(m.stats().frozen_resyncs, 0);
        assert_eq!(
            m.on_depth(&diff(50_000, 50_001, &[], &[]), 9_000, &mut sink),
            SyncOutcome::Applied
        );
    }

    #[test]
    fn live_gap_rebuffers_the_diff_and_requests_a_snapshot() {
        let mut m = machine(SyncConfig::default());
        let mut sink = |_| {};
        m.on_snapshot(&snap(100, &[], &[]), 0, &mut sink);
        assert_eq!(
            m.on_depth(&diff(90, 100, &[], &[]), 1, &mut sink),
            SyncOutcome::Stale
        );
        assert_eq!(
            m.on_depth(&diff(95, 105, &[], &[]), 1, &mut sink),
            SyncOutcome::Applied
        );
        assert_eq!(
            m.on_depth(&diff(106, 110, &[], &[]), 1, &mut sink),
            SyncOutcome::Applied
        );
        let evs = collect(|e| {
            assert_eq!(
                m.on_depth(&diff(112, 115, &[], &[]), 2, &mut |ev| e(ev)),
                SyncOutcome::NeedSnapshot
            );
        });
        let MarketEvent::Status(s) = evs[0] else {
            panic!("gap status");
        };
        assert_eq!(
            (s.state(), s.detail, s.detail2),
            (Some(FeedState::Gap), 111, 112)
        );
        assert_eq!(
            m.on_depth(&diff(116, 118, &[], &[]), 3, &mut sink),
            SyncOutcome::Buffered
        );
        assert_eq!((m.buffered(), m.stats().gaps), (2, 1));
        assert_eq!(
            m.on_snapshot(&snap(113, &[], &[]), 4, &mut sink),
            SyncOutcome::Applied
        );
        assert_eq!(m.last_update_id(), Some(118));
    }

    #[test]
    fn a_hole_among_buffered_diffs_is_a_gap_during_the_snapshot() {
        let mut m = machine(SyncConfig::default());
        let mut sink = |_| {};
        m.on_depth(&diff(1, 5, &[], &[]), 0, &mut sink);
        m.on_depth(&diff(6, 9, &[], &[]), 0, &mut sink);
        m.on_depth(&diff(12, 14, &[], &[]), 0, &mut sink);
        let evs = collect(|e| {
            assert_eq!(
                m.on_snapshot(&snap(7, &[], &[]), 1, &mut |ev| e(ev)),
                SyncOutcome::NeedSnapshot
            );
        });
        assert_eq!(states(&evs), vec![Some(FeedState::Gap)]);
        assert_eq!(m.buffered(), 1, "the diff after the hole is kept");
        assert_eq!(
            m.on_snapshot(&snap(12, &[], &[]), 2, &mut sink),
            SyncOutcome::Applied
        );
        assert_eq!(m.last_update_id(), Some(14));
    }

    #[test]
    fn empty_messages_are_single_no_op_deltas() {
        let mut m = machine(SyncConfig::default());
        let evs = collect(|e| {
            m.on_snapshot(&snap(3, &[], &[]), 0, &mut |ev| e(ev));
            m.on_depth(&diff(4, 4, &[], &[]), 0, &mut |ev| e(ev));
        });
        let all = BookDelta::BATCH_BEGIN | BookDelta::BATCH_END;
        assert_eq!(flags(&evs), vec![(BookDelta::CLEAR | all, 3), (all, 4)]);
        for e in &evs {
            if let MarketEvent::Delta(d) = e {
                assert!(d.px.is_zero() && d.qty.is_zero());
            }
        }
    }

    #[test]
    fn buffer_overflow_empties_the_buffer() {
        let mut m = machine(SyncConfig {
            max_buffered_diffs: 2,
            max_buffered_levels: 3,
        });
        let mut sink = |_| {};
        let l = [lv(1, 1), lv(2, 1)];
        m.on_depth(&diff(1, 1, &l, &[]), 0, &mut sink);
        m.on_depth(&diff(2, 2, &l, &[]), 0, &mut sink);
        assert_eq!((m.buffered(), m.stats().buffer_overflows), (1, 1));
        m.on_depth(&diff(3, 3, &[], &[]), 0, &mut sink);
        m.on_depth(&diff(4, 4, &[], &[]), 0, &mut sink);
        assert_eq!((m.buffered(), m.stats().buffer_overflows), (1, 2));
        m.reset();
        assert_eq!(m.buffered(), 0);
        assert_eq!(
            m.on_depth(&diff(5, 5, &[], &[]), 0, &mut sink),
            SyncOutcome::NeedSnapshot
        );
    }
}
