//! OKX v5 public market data: frame decoding, `books` sync with checksums, instrument specs.
//!
//! [`OkxHandler`] ties them together for one `/ws/v5/public` connection. A feed loop drives it:
//!
//! 1. **connect**: [`OkxHandler::on_connect`] (forgets every book), then subscribe to `books`
//!    (or `books-l2-tbt`), `bbo-tbt` and `trades` per instId; send the text `ping` when
//!    nothing was received for ~25 s (the server closes after 30 s of silence);
//! 2. **each text frame**: [`OkxHandler::on_frame`]; it emits market events and returns an
//!    [`Action`]. There is no REST snapshot: the first `books` push after subscribing is the
//!    snapshot;
//! 3. [`Action::Resubscribe`]: a sequence gap or checksum mismatch invalidated that book
//!    (`Gap` emitted); send `unsubscribe` then `subscribe` for its books channel, and the
//!    snapshot that follows rebuilds it (`Resynced`);
//! 4. [`Action::VenueError`]: the server refused a request (bad channel, VIP level, ...).

mod book;
pub mod checksum;
pub mod decode;
mod fast;
pub mod instruments;
pub mod sync;

use tickwire_core::event::{MarketEvent, Meta, TopOfBook, Trade};
use tickwire_core::ids::{InstrumentId, VenueId};
use tickwire_core::num::{Px, Qty};

pub use book::WireBook;
pub use checksum::{CHECKSUM_DEPTH, book_checksum};
pub use decode::{
    Bbo, BookAction, BookHead, BookMsg, MAX_BOOK_LEVELS, MAX_TRADES, OkxDecoder, OkxEvent, OkxMsg,
    OkxTrade, TradesMsg, WireLevel,
};
pub use instruments::{parse_instruments, specs_for};
pub use sync::{OkxBookSync, OkxSyncOutcome, OkxSyncStats};

use super::events::{malformed, ms_to_ns};
use super::{DecodeError, SymbolTable};

/// What the feed loop should do after a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing.
    None,
    /// Unsubscribe and resubscribe this instrument's books channel.
    Resubscribe(InstrumentId),
    /// The server answered a request with an error event.
    VenueError(u32),
}

/// A `bbo-tbt` push as a [`MarketEvent::Top`] (a missing side is zero; update id = `seqId`).
#[inline]
pub fn top_event(venue: VenueId, b: &Bbo, recv_ns: u64) -> MarketEvent {
    let mut meta = Meta::new(venue, b.instrument, recv_ns);
    meta.venue_ts_ns = ms_to_ns(b.ts_ms);
    let (bid_px, bid_qty) = b.bid.map_or((Px::ZERO, Qty::ZERO), |l| (l.px, l.qty));
    let (ask_px, ask_qty) = b.ask.map_or((Px::ZERO, Qty::ZERO), |l| (l.px, l.qty));
    MarketEvent::Top(TopOfBook {
        meta,
        bid_px,
        bid_qty,
        ask_px,
        ask_qty,
        update_id: b.seq_id.and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
    })
}

/// One trade of a `trades` push as a [`MarketEvent::Trade`].
#[inline]
pub fn trade_event(
    venue: VenueId,
    instrument: InstrumentId,
    t: &OkxTrade,
    recv_ns: u64,
) -> MarketEvent {
    let mut meta = Meta::new(venue, instrument, recv_ns);
    meta.venue_ts_ns = ms_to_ns(t.ts_ms);
    MarketEvent::Trade(Trade::new(meta, t.px, t.qty, t.trade_id, t.side))
}

/// Decoder plus one book-sync machine per instrument, for one connection.
pub struct OkxHandler {
    venue: VenueId,
    decoder: OkxDecoder,
    books: Vec<OkxBookSync>,
}

impl OkxHandler {
    /// A handler for the instIds in `symbols`.
    pub fn new(symbols: SymbolTable) -> Self {
        let venue = VenueId::OKX;
        let books = (0..symbols.len())
            .filter_map(|slot| symbols.id(slot))
            .map(|id| OkxBookSync::new(venue, id))
            .collect();
        Self {
            venue,
            decoder: OkxDecoder::new(symbols),
            books,
        }
    }

    /// Call on every (re)connect, before subscribing.
    pub fn on_connect(&mut self) {
        self.books.iter_mut().for_each(OkxBookSync::reset);
    }

    /// Handles one text frame received at `recv_ns`. A malformed frame also emits a
    /// venue-wide `Malformed` status.
    pub fn on_frame(
        &mut self,
        frame: &mut [u8],
        recv_ns: u64,
        emit: &mut impl FnMut(MarketEvent),
    ) -> Result<Action, DecodeError> {
        let venue = self.venue;
        let msg = match self.decoder.decode(frame) {
            Ok(msg) => msg,
            Err(e) => {
                emit(malformed(venue, recv_ns, frame.len()));
                return Err(e);
            }
        };
        Ok(match msg {
            OkxMsg::Book(m) => {
                match self
                    .books
                    .iter_mut()
                    .find(|b| b.instrument() == m.head.instrument)
                {
                    Some(book) => match book.on_book(&m, recv_ns, emit) {
                        OkxSyncOutcome::Resubscribe => Action::Resubscribe(book.instrument()),
                        _ => Action::None,
                    },
                    None => Action::None,
                }
            }
            OkxMsg::Bbo(b) => {
                emit(top_event(venue, &b, recv_ns));
                Action::None
            }
            OkxMsg::Trades(t) => {
                for trade in t.trades {
                    emit(trade_event(venue, t.instrument, trade, recv_ns));
                }
                Action::None
            }
            OkxMsg::Event(OkxEvent::Error { code }) => Action::VenueError(code),
            OkxMsg::Event(_) | OkxMsg::Pong | OkxMsg::Ignored => Action::None,
        })
    }

    /// True if some instrument has no valid book.
    pub fn needs_snapshot(&self) -> bool {
        self.books.iter().any(OkxBookSync::needs_snapshot)
    }

    /// The sync machine of `instrument`.
    pub fn book(&self, instrument: InstrumentId) -> Option<&OkxBookSync> {
        self.books.iter().find(|b| b.instrument() == instrument)
    }

    /// The decoder (for its symbol table, or to switch the fast path off).
    pub fn decoder_mut(&mut self) -> &mut OkxDecoder {
        &mut self.decoder
    }
}
