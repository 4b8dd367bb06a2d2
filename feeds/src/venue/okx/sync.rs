//! OKX `books` sync (FORMATS §2.2–2.3): a snapshot, then updates chained by `prevSeqId`, each
//! verified by the CRC32 checksum whenever the server sends a non-zero one.
//!
//! Sequence rules, exactly as documented: every update's `prevSeqId` must equal the previous
//! message's `seqId`. A heartbeat (no change for ~60 s) has `prevSeqId == seqId` and no
//! levels; after maintenance the sequence may reset, giving an update with `seqId <
//! prevSeqId` (its `prevSeqId` still chains), after which normal chaining resumes. Frames
//! without `seqId`/`prevSeqId` (captures from before they existed) skip the chain check and
//! rely on the checksum.
//!
//! A broken chain or a checksum mismatch emits `Gap` and returns
//! [`OkxSyncOutcome::Resubscribe`]: the feed loop unsubscribes and resubscribes the channel,
//! and the snapshot that follows rebuilds the book (`Resynced`). Updates arriving before that
//! snapshot are dropped. Output batches are as for Binance: a snapshot is one
//! `CLEAR | BATCH_BEGIN` … `BATCH_END` batch, each update one batch (a heartbeat a single
//! no-op delta). The delta update id is `seqId`, or the `ts` when there is none.

use tickwire_core::event::{BookDelta, FeedState, FeedStatus, MarketEvent, Meta, Side};
use tickwire_core::ids::{InstrumentId, VenueId};

use super::book::WireBook;
use super::checksum::book_checksum;
use super::decode::{BookAction, BookHead, BookMsg, MAX_BOOK_LEVELS};
use crate::venue::events::{emit_batch, ms_to_ns};

/// What one books push did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OkxSyncOutcome {
    /// The book changed (or a heartbeat passed) and was emitted.
    Applied,
    /// An update arrived while no valid book exists (waiting for a snapshot): dropped.
    Dropped,
    /// A gap or checksum mismatch: `Gap` was emitted; unsubscribe and resubscribe the channel.
    Resubscribe,
}

/// Counters over the machine's life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OkxSyncStats {
    /// Snapshots applied.
    pub snapshots: u64,
    /// Updates applied.
    pub updates: u64,
    /// Non-zero server checksums that matched.
    pub checksums_verified: u64,
    /// Non-zero server checksums that did not.
    pub checksum_mismatches: u64,
    /// Broken `prevSeqId` chains.
    pub seq_gaps: u64,
    /// Heartbeats (`prevSeqId == seqId`, no levels).
    pub heartbeats: u64,
    /// Sequence resets (`seqId < prevSeqId`).
    pub seq_resets: u64,
    /// Updates dropped while waiting for a snapshot.
    pub dropped_unsynced: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    AwaitingSnapshot,
    /// `last_seq`: the previous message's `seqId`, if it had one.
    Synced {
        last_seq: Option<i64>,
    },
}

/// Book sync for one OKX instrument on a `books`-type channel.
#[derive(Clone, Debug)]
pub struct OkxBookSync {
    venue: VenueId,
    instrument: InstrumentId,
    state: State,
    book: WireBook,
    stats: OkxSyncStats,
}

impl OkxBookSync {
    /// A machine awaiting its first snapshot, with its book preallocated.
    pub fn new(venue: VenueId, instrument: InstrumentId) -> Self {
        Self {
            venue,
            instrument,
            state: State::AwaitingSnapshot,
            book: WireBook::with_capacity(MAX_BOOK_LEVELS),
            stats: OkxSyncStats::default(),
        }
    }

    /// Forgets the book (call on every (re)connect, before subscribing).
    pub fn reset(&mut self) {
        self.state = State::AwaitingSnapshot;
        self.book.clear();
    }

    /// The instrument.
    pub fn instrument(&self) -> InstrumentId {
        self.instrument
    }

    /// True while no valid book exists.
    pub fn needs_snapshot(&self) -> bool {
        self.state == State::AwaitingSnapshot
    }

    /// The book as the checksum sees it (valid only when synced).
    pub fn book(&self) -> &WireBook {
        &self.book
    }

    /// Counters.
    pub fn stats(&self) -> &OkxSyncStats {
        &self.stats
    }

    /// Handles one books push received at `recv_ns`.
    pub fn on_book(
        &mut self,
        m: &BookMsg<'_>,
        recv_ns: u64,
        emit: &mut impl FnMut(MarketEvent),
    ) -> OkxSyncOutcome {
        let h = &m.head;
        let flags = match (h.action, self.state) {
            (BookAction::Snapshot, _) => {
                self.book.clear();
                BookDelta::CLEAR
            }
            (BookAction::Update, State::AwaitingSnapshot) => {
                self.stats.dropped_unsynced += 1;
                return OkxSyncOutcome::Dropped;
            }
            (BookAction::Update, State::Synced { last_seq }) => {
                if let (Some(prev), Some(last)) = (h.prev_seq_id, last_seq)
                    && prev != last
                {
                    self.stats.seq_gaps += 1;
                    return self.fail(recv_ns, last as u64, prev as u64, emit);
                }
                if let (Some(seq), Some(prev)) = (h.seq_id, h.prev_seq_id) {
                    if seq == prev && m.bids.is_empty() && m.asks.is_empty() {
                        self.stats.heartbeats += 1;
                    } else if seq < prev {
                        self.stats.seq_resets += 1;
                    }
                }
                0
            }
        };
        for l in m.bids {
            self.book.set(Side::Buy, *l);
        }
        for l in m.asks {
            self.book.set(Side::Sell, *l);
        }
        if h.checksum != 0 {
            let ours = book_checksum(&self.book);
            if ours != h.checksum {
                self.stats.checksum_mismatches += 1;
                // Bits of the two signed values, for the status record.
                return self.fail(recv_ns, h.checksum as u32 as u64, ours as u32 as u64, emit);
            }
            self.stats.checksums_verified += 1;
        }
        let meta = self.meta(h, recv_ns);
        let update_id = update_id(h);
        emit_batch(
            meta,
            update_id,
            flags,
            m.bids.iter().map(|l| l.level()),
            m.asks.iter().map(|l| l.level()),
            emit,
        );
        self.state = State::Synced { last_seq: h.seq_id };
        if h.action == BookAction::Snapshot {
            self.stats.snapshots += 1;
            emit(MarketEvent::Status(FeedStatus::new(
                meta,
                FeedState::Resynced,
                update_id,
                0,
            )));
        } else {
            self.stats.updates += 1;
        }
        OkxSyncOutcome::Applied
    }

    /// Invalidates the book: `Gap` (details as given), wait for a new snapshot.
    fn fail(
        &mut self,
        recv_ns: u64,
        detail: u64,
        detail2: u64,
        emit: &mut impl FnMut(MarketEvent),
    ) -> OkxSyncOutcome {
        self.state = State::AwaitingSnapshot;
        self.book.clear();
        emit(MarketEvent::Status(FeedStatus::new(
            Meta::new(self.venue, self.instrument, recv_ns),
            FeedState::Gap,
            detail,
            detail2,
        )));
        OkxSyncOutcome::Resubscribe
    }

    fn meta(&self, h: &BookHead, recv_ns: u64) -> Meta {
        let mut meta = Meta::new(self.venue, self.instrument, recv_ns);
        meta.venue_ts_ns = ms_to_ns(h.ts_ms);
        meta
    }
}

/// `seqId` when present (and not negative), else the push time.
fn update_id(h: &BookHead) -> u64 {
    h.seq_id
        .and_then(|s| u64::try_from(s).ok())
        .unwrap_or(h.ts_ms)
}
