//! Binance spot market-data frames → typed messages.
//!
//! Accepted frames (FORMATS §1): the combined-stream wrapper `{"stream":..,"data":{..}}` or a
//! raw payload; `bookTicker` (spot: no `e`; the futures form with `"e":"bookTicker"` too),
//! `depthUpdate`, `trade`, `aggTrade`, the REST depth snapshot `{"lastUpdateId":..}`, and
//! everything else (subscription replies, `serverShutdown`, klines, ...) as [`Ignored`].
//!
//! Two decoders produce identical results: the validating simd-json tape walk
//! ([`BinanceDecoder::decode_validating`]) handles every frame, and a hand-rolled scanner
//! (`fast.rs`) takes the hot messages (bookTicker, depthUpdate, trade) when they are in
//! the plain form Binance sends, handing anything unusual back to simd-json.
//!
//! Classification of a payload object (the same in both decoders):
//! 1. it has `e` (a string): `depthUpdate`, `trade`, `aggTrade`, `bookTicker` are decoded,
//!    `serverShutdown` and any other event are ignored;
//! 2. else it has `lastUpdateId`: a depth snapshot;
//! 3. else it has `u`: a spot bookTicker;
//! 4. else it has `id`: a reply to a request (subscribe, list, ...); otherwise ignored.
//!
//! A top-level object with a `stream` key is a combined-stream wrapper: its `data` is the
//! payload (a non-object `data`, e.g. an array stream, is ignored). A key the decoder reads
//! that appears twice is an error, unknown keys are ignored.

use simd_json::tape::{Object, Value};
use tickwire_core::book::Level;
use tickwire_core::event::Side;
use tickwire_core::ids::InstrumentId;
use tickwire_core::num::{Px, Qty};

use super::fast;
use crate::venue::json::{self, TapeParser, need, put};
use crate::venue::{DecodeError, SymbolTable};

/// Most levels per side accepted in one frame (the REST snapshot is capped at 5000).
pub const MAX_LEVELS: usize = 10_000;

/// Best bid/offer (`<symbol>@bookTicker`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BookTicker {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Order-book update id `u` (the same sequence as depthUpdate's `U`/`u`).
    pub update_id: u64,
    /// Best bid price.
    pub bid_px: Px,
    /// Best bid quantity.
    pub bid_qty: Qty,
    /// Best ask price.
    pub ask_px: Px,
    /// Best ask quantity.
    pub ask_qty: Qty,
    /// Event time `E` in ms (0: spot sends none).
    pub event_time_ms: u64,
}

/// Fields of a diff-depth event other than its levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DepthHead {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Event time `E` in ms (0 if absent).
    pub event_time_ms: u64,
    /// First update id in the event, `U`.
    pub first_update_id: u64,
    /// Final update id in the event, `u`.
    pub final_update_id: u64,
}

/// A diff-depth event (`depthUpdate`): absolute quantities, zero removes the level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DepthUpdate<'a> {
    /// Ids, time and instrument.
    pub head: DepthHead,
    /// Bid levels in wire order.
    pub bids: &'a [Level],
    /// Ask levels in wire order.
    pub asks: &'a [Level],
}

/// A depth snapshot: the REST `GET /api/v3/depth` body, or a partial-book stream payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DepthSnapshot<'a> {
    /// The instrument when the frame names it (a partial-book stream's `stream` name); the
    /// REST body does not, the caller knows which symbol it asked for.
    pub instrument: Option<InstrumentId>,
    /// `lastUpdateId`.
    pub last_update_id: u64,
    /// Bids, best first.
    pub bids: &'a [Level],
    /// Asks, best first.
    pub asks: &'a [Level],
}

/// A public trade (`trade`) or aggregated trade (`aggTrade`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TradePrint {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Trade id `t` (or aggregate id `a` for aggTrade).
    pub trade_id: u64,
    /// Price.
    pub px: Px,
    /// Quantity.
    pub qty: Qty,
    /// Aggressor side: `m` (buyer is maker) true means the taker sold.
    pub aggressor: Side,
    /// Trade time `T` in ms.
    pub trade_time_ms: u64,
    /// True for `aggTrade`.
    pub aggregated: bool,
}

/// Frames that carry no market data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ignored {
    /// A reply to a request (`{"result":null,"id":1}` or an error reply with `id`).
    Reply,
    /// `serverShutdown`: the server will close this connection soon; reconnect.
    ServerShutdown,
    /// Another event type (kline, ticker, ...).
    OtherEvent,
    /// A payload that is not an object, or an object of no known shape.
    Other,
}

/// One decoded Binance frame. Level slices borrow the decoder's reused buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinanceMsg<'a> {
    /// bookTicker.
    BookTicker(BookTicker),
    /// depthUpdate.
    Depth(DepthUpdate<'a>),
    /// trade / aggTrade.
    Trade(TradePrint),
    /// Depth snapshot.
    Snapshot(DepthSnapshot<'a>),
    /// Nothing to act on (see [`Ignored`]).
    Ignored(Ignored),
}

/// What a decoder produced, without borrowing it: levels stay in the decoder's buffers. This
/// indirection lets the fast path fall back to simd-json without a borrow held across it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Parsed {
    BookTicker(BookTicker),
    Depth(DepthHead),
    Trade(TradePrint),
    Snapshot {
        instrument: Option<InstrumentId>,
        last_update_id: u64,
    },
    Ignored(Ignored),
}

/// Decoder state reused across frames: simd-json buffers, level buffers, the symbol table.
pub struct BinanceDecoder {
    symbols: SymbolTable,
    tape: TapeParser,
    pub(crate) bids: Vec<Level>,
    pub(crate) asks: Vec<Level>,
    fast_enabled: bool,
}

impl BinanceDecoder {
    /// A decoder for the symbols in `symbols` (payload `s` and stream names are matched
    /// case-insensitively). The fast path is on.
    pub fn new(symbols: SymbolTable) -> Self {
        Self {
            symbols,
            tape: TapeParser::new(),
            bids: Vec::with_capacity(MAX_LEVELS),
            asks: Vec::with_capacity(MAX_LEVELS),
            fast_enabled: true,
        }
    }

    /// Turns the hand-rolled fast path on or off (off: every frame goes through simd-json).
    pub fn set_fast_path(&mut self, enabled: bool) {
        self.fast_enabled = enabled;
    }

    /// The symbol table.
    pub fn symbols(&self) -> &SymbolTable {
        &self.symbols
    }

    /// Decodes one frame: the fast path when it recognises the frame, else simd-json.
    /// simd-json rewrites the buffer in place (unescaping), hence `&mut`.
    #[inline]
    pub fn decode(&mut self, frame: &mut [u8]) -> Result<BinanceMsg<'_>, DecodeError> {
        let parsed = match self.fast_parsed(frame) {
            Some(p) => p,
            None => self.validating_parsed(frame)?,
        };
        Ok(self.view(parsed))
    }

    /// Decodes with simd-json only (the reference path; every frame type).
    pub fn decode_validating(&mut self, frame: &mut [u8]) -> Result<BinanceMsg<'_>, DecodeError> {
        let parsed = self.validating_parsed(frame)?;
        Ok(self.view(parsed))
    }

    /// The hand-rolled path alone: `Some` only when it is sure of the result, which then equals
    /// [`Self::decode_validating`]'s; `None` means "let simd-json decide".
    pub fn decode_fast(&mut self, frame: &[u8]) -> Option<BinanceMsg<'_>> {
        let parsed = fast::decode(frame, &self.symbols, &mut self.bids, &mut self.asks)?;
        Some(self.view(parsed))
    }

    #[inline]
    fn fast_parsed(&mut self, frame: &[u8]) -> Option<Parsed> {
        if !self.fast_enabled {
            return None;
        }
        fast::decode(frame, &self.symbols, &mut self.bids, &mut self.asks)
    }

    fn validating_parsed(&mut self, frame: &mut [u8]) -> Result<Parsed, DecodeError> {
        let Self {
            symbols,
            tape,
            bids,
            asks,
            ..
        } = self;
        tape.parse(frame, |root| decode_root(root, symbols, bids, asks))
    }

    fn view(&self, parsed: Parsed) -> BinanceMsg<'_> {
        match parsed {
            Parsed::BookTicker(t) => BinanceMsg::BookTicker(t),
            Parsed::Depth(head) => BinanceMsg::Depth(DepthUpdate {
                head,
                bids: &self.bids,
                asks: &self.asks,
            }),
            Parsed::Trade(t) => BinanceMsg::Trade(t),
            Parsed::Snapshot {
                instrument,
                last_update_id,
            } => BinanceMsg::Snapshot(DepthSnapshot {
                instrument,
                last_update_id,
                bids: &self.bids,
                asks: &self.asks,
            }),
            Parsed::Ignored(i) => BinanceMsg::Ignored(i),
        }
    }
}

/// Looks a payload's `s` up in the table.
#[inline]
pub(crate) fn instrument_of(symbols: &SymbolTable, s: &[u8]) -> Result<InstrumentId, DecodeError> {
    symbols
        .lookup(s)
        .map(|(_, id)| id)
        .ok_or(DecodeError::UnknownSymbol)
}

/// `m` (buyer is the maker) → the aggressor's side.
#[inline]
pub(crate) fn aggressor(buyer_is_maker: bool) -> Side {
    if buyer_is_maker {
        Side::Sell
    } else {
        Side::Buy
    }
}

fn decode_root(
    root: Value<'_, '_>,
    symbols: &SymbolTable,
    bids: &mut Vec<Level>,
    asks: &mut Vec<Level>,
) -> Result<Parsed, DecodeError> {
    let top = json::object(root, "frame")?;
    let (mut stream, mut data) = (None, None);
    for (k, v) in top.iter() {
        match k {
            "stream" => put(&mut stream, v, "stream")?,
            "data" => put(&mut data, v, "data")?,
            _ => {}
        }
    }
    let Some(stream) = stream else {
        return decode_payload(top, None, symbols, bids, asks);
    };
    let stream = json::str_of(stream, "stream")?;
    let data = need(data, "data")?;
    match data.as_object() {
        Some(payload) => decode_payload(payload, Some(stream), symbols, bids, asks),
        None => Ok(Parsed::Ignored(Ignored::Other)),
    }
}

/// Every payload key either decoder reads. Collected in one pass so that a duplicate of any
/// of them is an error whatever the message type.
#[derive(Default)]
struct Fields<'t, 'i> {
    e: Option<Value<'t, 'i>>,
    big_e: Option<Value<'t, 'i>>,
    s: Option<Value<'t, 'i>>,
    big_u: Option<Value<'t, 'i>>,
    u: Option<Value<'t, 'i>>,
    b: Option<Value<'t, 'i>>,
    a: Option<Value<'t, 'i>>,
    big_b: Option<Value<'t, 'i>>,
    big_a: Option<Value<'t, 'i>>,
    t: Option<Value<'t, 'i>>,
    p: Option<Value<'t, 'i>>,
    q: Option<Value<'t, 'i>>,
    big_t: Option<Value<'t, 'i>>,
    m: Option<Value<'t, 'i>>,
    last_update_id: Option<Value<'t, 'i>>,
    bids: Option<Value<'t, 'i>>,
    asks: Option<Value<'t, 'i>>,
    id: Option<Value<'t, 'i>>,
}

/// The payload keys the decoders read (the fast path gives up on any of them it does not
/// expect, so that both paths always agree).
pub(crate) const PAYLOAD_KEYS: [&str; 18] = [
    "e",
    "E",
    "s",
    "U",
    "u",
    "b",
    "a",
    "B",
    "A",
    "t",
    "p",
    "q",
    "T",
    "m",
    "lastUpdateId",
    "bids",
    "asks",
    "id",
];

fn collect<'t, 'i>(obj: Object<'t, 'i>) -> Result<Fields<'t, 'i>, DecodeError> {
    let mut f = Fields::default();
    for (k, v) in obj.iter() {
        match k {
            "e" => put(&mut f.e, v, "e")?,
            "E" => put(&mut f.big_e, v, "E")?,
            "s" => put(&mut f.s, v, "s")?,
            "U" => put(&mut f.big_u, v, "U")?,
            "u" => put(&mut f.u, v, "u")?,
            "b" => put(&mut f.b, v, "b")?,
            "a" => put(&mut f.a, v, "a")?,
            "B" => put(&mut f.big_b, v, "B")?,
            "A" => put(&mut f.big_a, v, "A")?,
            "t" => put(&mut f.t, v, "t")?,
            "p" => put(&mut f.p, v, "p")?,
            "q" => put(&mut f.q, v, "q")?,
            "T" => put(&mut f.big_t, v, "T")?,
            "m" => put(&mut f.m, v, "m")?,
            "lastUpdateId" => put(&mut f.last_update_id, v, "lastUpdateId")?,
            "bids" => put(&mut f.bids, v, "bids")?,
            "asks" => put(&mut f.asks, v, "asks")?,
            "id" => put(&mut f.id, v, "id")?,
            _ => {}
        }
    }
    Ok(f)
}

fn decode_payload(
    obj: Object<'_, '_>,
    stream: Option<&str>,
    symbols: &SymbolTable,
    bids: &mut Vec<Level>,
    asks: &mut Vec<Level>,
) -> Result<Parsed, DecodeError> {
    let f = collect(obj)?;
    if let Some(e) = f.e {
        return match json::str_of(e, "e")? {
            "depthUpdate" => depth(&f, symbols, bids, asks),
            "trade" => trade(&f, symbols, false),
            "aggTrade" => trade(&f, symbols, true),
            "bookTicker" => book_ticker(&f, symbols),
            "serverShutdown" => Ok(Parsed::Ignored(Ignored::ServerShutdown)),
            _ => Ok(Parsed::Ignored(Ignored::OtherEvent)),
        };
    }
    if let Some(lid) = f.last_update_id {
        let last_update_id = json::u64_of(lid, "lastUpdateId")?;
        json::levels_into(need(f.bids, "bids")?, "bids", bids, MAX_LEVELS)?;
        json::levels_into(need(f.asks, "asks")?, "asks", asks, MAX_LEVELS)?;
        // A partial-book stream names its symbol only in the stream name (`btcusdt@depth5`).
        let instrument = match stream {
            Some(name) => {
                let symbol = name.split('@').next().unwrap_or(name);
                Some(instrument_of(symbols, symbol.as_bytes())?)
            }
            None => None,
        };
        return Ok(Parsed::Snapshot {
            instrument,
            last_update_id,
        });
    }
    if f.u.is_some() {
        return book_ticker(&f, symbols);
    }
    if f.id.is_some() {
        return Ok(Parsed::Ignored(Ignored::Reply));
    }
    Ok(Parsed::Ignored(Ignored::Other))
}

fn optional_u64(v: Option<Value<'_, '_>>, field: &'static str) -> Result<u64, DecodeError> {
    v.map_or(Ok(0), |v| json::u64_of(v, field))
}

fn symbol_of(f: &Fields<'_, '_>, symbols: &SymbolTable) -> Result<InstrumentId, DecodeError> {
    instrument_of(symbols, json::str_of(need(f.s, "s")?, "s")?.as_bytes())
}

fn book_ticker(f: &Fields<'_, '_>, symbols: &SymbolTable) -> Result<Parsed, DecodeError> {
    Ok(Parsed::BookTicker(BookTicker {
        update_id: json::u64_of(need(f.u, "u")?, "u")?,
        instrument: symbol_of(f, symbols)?,
        bid_px: json::px_of(need(f.b, "b")?, "b")?,
        bid_qty: json::qty_of(need(f.big_b, "B")?, "B")?,
        ask_px: json::px_of(need(f.a, "a")?, "a")?,
        ask_qty: json::qty_of(need(f.big_a, "A")?, "A")?,
        event_time_ms: optional_u64(f.big_e, "E")?,
    }))
}

fn depth(
    f: &Fields<'_, '_>,
    symbols: &SymbolTable,
    bids: &mut Vec<Level>,
    asks: &mut Vec<Level>,
) -> Result<Parsed, DecodeError> {
    let head = DepthHead {
        event_time_ms: optional_u64(f.big_e, "E")?,
        instrument: symbol_of(f, symbols)?,
        first_update_id: json::u64_of(need(f.big_u, "U")?, "U")?,
        final_update_id: json::u64_of(need(f.u, "u")?, "u")?,
    };
    json::levels_into(need(f.b, "b")?, "b", bids, MAX_LEVELS)?;
    json::levels_into(need(f.a, "a")?, "a", asks, MAX_LEVELS)?;
    Ok(Parsed::Depth(head))
}

fn trade(
    f: &Fields<'_, '_>,
    symbols: &SymbolTable,
    aggregated: bool,
) -> Result<Parsed, DecodeError> {
    let (id, id_name) = if aggregated { (f.a, "a") } else { (f.t, "t") };
    Ok(Parsed::Trade(TradePrint {
        instrument: symbol_of(f, symbols)?,
        trade_id: json::u64_of(need(id, id_name)?, id_name)?,
        px: json::px_of(need(f.p, "p")?, "p")?,
        qty: json::qty_of(need(f.q, "q")?, "q")?,
        aggressor: aggressor(json::bool_of(need(f.m, "m")?, "m")?),
        trade_time_ms: json::u64_of(need(f.big_t, "T")?, "T")?,
        aggregated,
    }))
}
