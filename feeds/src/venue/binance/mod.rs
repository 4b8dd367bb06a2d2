//! Binance spot / Binance.US market data: frame decoding, book sync, instrument specs.
//!
//! [`BinanceHandler`] ties them together for one WebSocket connection. A feed loop drives it:
//!
//! 1. **connect**: [`BinanceHandler::on_connect`] (forgets every book), then subscribe to
//!    `<symbol>@depth@100ms`, `<symbol>@bookTicker`, `<symbol>@trade` on a combined stream;
//! 2. **each text frame**: [`BinanceHandler::on_frame`]; it emits market events and returns an
//!    [`Action`];
//! 3. [`Action::FetchSnapshot`]: `GET /api/v3/depth?symbol=..&limit=5000` (off the socket
//!    thread's hot path if possible) and pass the body to [`BinanceHandler::on_snapshot`]; if
//!    the fetch fails, retry while [`BinanceHandler::needs_snapshot`] is true;
//! 4. **gap**: handled inside: `Gap` is emitted and `FetchSnapshot` returned again;
//! 5. [`Action::Reconnect`]: the server announced `serverShutdown`; reconnect, then step 1.

pub mod decode;
mod fast;
pub mod instruments;
pub mod sync;

use tickwire_core::event::{MarketEvent, Meta, TopOfBook, Trade};
use tickwire_core::ids::{InstrumentId, VenueId};

pub use decode::{
    BinanceDecoder, BinanceMsg, BookTicker, DepthHead, DepthSnapshot, DepthUpdate, Ignored,
    MAX_LEVELS, TradePrint,
};
pub use instruments::{parse_exchange_info, specs_for};
pub use sync::{BinanceBookSync, SyncConfig, SyncOutcome, SyncStats};

use super::{DecodeError, SymbolTable};
use crate::venue::events::{malformed, ms_to_ns};

/// What the feed loop should do after a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing.
    None,
    /// Fetch a REST depth snapshot for this instrument and pass it to
    /// [`BinanceHandler::on_snapshot`].
    FetchSnapshot(InstrumentId),
    /// The server is going away (`serverShutdown`): reconnect.
    Reconnect,
}

/// A bookTicker as a [`MarketEvent::Top`].
#[inline]
pub fn top_event(venue: VenueId, t: &BookTicker, recv_ns: u64) -> MarketEvent {
    let mut meta = Meta::new(venue, t.instrument, recv_ns);
    meta.venue_ts_ns = ms_to_ns(t.event_time_ms);
    MarketEvent::Top(TopOfBook {
        meta,
        bid_px: t.bid_px,
        bid_qty: t.bid_qty,
        ask_px: t.ask_px,
        ask_qty: t.ask_qty,
        update_id: t.update_id,
    })
}

/// A trade as a [`MarketEvent::Trade`] (venue time = trade time `T`).
#[inline]
pub fn trade_event(venue: VenueId, t: &TradePrint, recv_ns: u64) -> MarketEvent {
    let mut meta = Meta::new(venue, t.instrument, recv_ns);
    meta.venue_ts_ns = ms_to_ns(t.trade_time_ms);
    MarketEvent::Trade(Trade::new(meta, t.px, t.qty, t.trade_id, t.aggressor))
}

/// Decoder plus one book-sync machine per instrument, for one connection.
pub struct BinanceHandler {
    venue: VenueId,
    decoder: BinanceDecoder,
    /// Indexed by symbol-table slot.
    books: Vec<BinanceBookSync>,
}

impl BinanceHandler {
    /// A handler for `symbols` on `venue` (`VenueId::BINANCE` or `VenueId::BINANCE_US`).
    pub fn new(venue: VenueId, symbols: SymbolTable, config: SyncConfig) -> Self {
        let books = (0..symbols.len())
            .filter_map(|slot| symbols.id(slot))
            .map(|id| BinanceBookSync::new(venue, id, config))
            .collect();
        Self {
            venue,
            decoder: BinanceDecoder::new(symbols),
            books,
        }
    }

    /// Call on every (re)connect, before subscribing: every book waits for a new snapshot.
    pub fn on_connect(&mut self) {
        self.books.iter_mut().for_each(BinanceBookSync::reset);
    }

    /// Handles one text frame received at `recv_ns`. A malformed frame also emits a
    /// venue-wide `Malformed` status (the book state is untouched).
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
            BinanceMsg::BookTicker(t) => {
                emit(top_event(venue, &t, recv_ns));
                Action::None
            }
            BinanceMsg::Trade(t) => {
                emit(trade_event(venue, &t, recv_ns));
                Action::None
            }
            BinanceMsg::Depth(d) => {
                match self
                    .books
                    .iter_mut()
                    .find(|b| b.instrument() == d.head.instrument)
                {
                    Some(book) => {
                        let outcome = book.on_depth(&d, recv_ns, emit);
                        outcome_action(book, outcome)
                    }
                    None => Action::None,
                }
            }
            // A snapshot inlined in the stream (as recorders do) without a symbol can only be
            // meant for the connection's one instrument. A partial-book stream is not a sync
            // snapshot and is not applied.
            BinanceMsg::Snapshot(s) if s.instrument.is_none() && self.books.len() == 1 => {
                let book = &mut self.books[0];
                let outcome = book.on_snapshot(&s, recv_ns, emit);
                outcome_action(book, outcome)
            }
            BinanceMsg::Snapshot(_) => Action::None,
            BinanceMsg::Ignored(Ignored::ServerShutdown) => Action::Reconnect,
            BinanceMsg::Ignored(_) => Action::None,
        })
    }

    /// Handles a REST depth snapshot body for `instrument`, received at `recv_ns`.
    pub fn on_snapshot(
        &mut self,
        instrument: InstrumentId,
        body: &mut [u8],
        recv_ns: u64,
        emit: &mut impl FnMut(MarketEvent),
    ) -> Result<Action, DecodeError> {
        let BinanceMsg::Snapshot(s) = self.decoder.decode(body)? else {
            return Err(DecodeError::MissingField("lastUpdateId"));
        };
        Ok(
            match self.books.iter_mut().find(|b| b.instrument() == instrument) {
                Some(book) => {
                    let outcome = book.on_snapshot(&s, recv_ns, emit);
                    outcome_action(book, outcome)
                }
                None => Action::None,
            },
        )
    }

    /// True if some instrument still needs a snapshot.
    pub fn needs_snapshot(&self) -> bool {
        self.books.iter().any(BinanceBookSync::needs_snapshot)
    }

    /// The sync machine of `instrument`.
    pub fn book(&self, instrument: InstrumentId) -> Option<&BinanceBookSync> {
        self.books.iter().find(|b| b.instrument() == instrument)
    }

    /// The decoder (for its symbol table, or to switch the fast path off).
    pub fn decoder_mut(&mut self) -> &mut BinanceDecoder {
        &mut self.decoder
    }
}

fn outcome_action(book: &BinanceBookSync, outcome: SyncOutcome) -> Action {
    match outcome {
        SyncOutcome::NeedSnapshot => Action::FetchSnapshot(book.instrument()),
        _ => Action::None,
    }
}
