//! Building [`MarketEvent`]s shared by the venues: delta batches, time conversion, statuses.

use tickwire_core::book::Level;
use tickwire_core::event::{BookDelta, FeedState, FeedStatus, MarketEvent, Meta, Side};
use tickwire_core::ids::VenueId;
use tickwire_core::num::{Px, Qty};

/// Milliseconds since the epoch → the `i64` nanoseconds a [`Meta`] carries (saturating).
#[inline]
pub(crate) fn ms_to_ns(ms: u64) -> i64 {
    i64::try_from(ms.saturating_mul(1_000_000)).unwrap_or(i64::MAX)
}

/// Emits `bids` then `asks` as one batch: the first delta carries `first_flags |
/// BATCH_BEGIN`, the last `BATCH_END`. With no levels at all, one no-op delta (zero quantity at
/// price zero) carries every flag, so the consumer still sees the batch and its update id.
pub(crate) fn emit_batch(
    meta: Meta,
    update_id: u64,
    first_flags: u8,
    bids: impl ExactSizeIterator<Item = Level>,
    asks: impl ExactSizeIterator<Item = Level>,
    emit: &mut impl FnMut(MarketEvent),
) {
    let total = bids.len() + asks.len();
    if total == 0 {
        emit(MarketEvent::Delta(BookDelta::new(
            meta,
            Side::Buy,
            Px::ZERO,
            Qty::ZERO,
            update_id,
            first_flags | BookDelta::BATCH_BEGIN | BookDelta::BATCH_END,
        )));
        return;
    }
    let sides = bids
        .map(|l| (Side::Buy, l))
        .chain(asks.map(|l| (Side::Sell, l)));
    for (i, (side, l)) in sides.enumerate() {
        let mut flags = 0;
        if i == 0 {
            flags |= first_flags | BookDelta::BATCH_BEGIN;
        }
        if i + 1 == total {
            flags |= BookDelta::BATCH_END;
        }
        emit(MarketEvent::Delta(BookDelta::new(
            meta, side, l.px, l.qty, update_id, flags,
        )));
    }
}

/// A venue-wide `Malformed` status (detail: frame length).
pub(crate) fn malformed(venue: VenueId, recv_ns: u64, len: usize) -> MarketEvent {
    MarketEvent::Status(FeedStatus::new(
        Meta::new(venue, Meta::ALL_INSTRUMENTS, recv_ns),
        FeedState::Malformed,
        len as u64,
        0,
    ))
}
