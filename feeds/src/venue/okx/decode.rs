//! OKX v5 public frames → typed messages.
//!
//! Accepted frames (FORMATS §2): the text `pong`; `event` messages (subscribe, unsubscribe,
//! login, error); pushes `{"arg":{"channel":..,"instId":..},"action"?:..,"data":[..]}` of
//! `books` / `books-l2-tbt` / `books50-l2-tbt` (same format and sync rules), `bbo-tbt` and
//! `trades`. Pushes of other channels (tickers, candles, ...) are [`OkxMsg::Ignored`].
//!
//! Rules, identical in the validating (simd-json) and the fast decoder:
//! - a frame that is exactly `pong` is [`OkxMsg::Pong`]; anything else must be a JSON object;
//! - a top-level `event` (a string) makes it an event; an `error` event's `code` is a string
//!   of digits (absent: 0);
//! - otherwise `arg` (an object with a string `channel`) is required; for the decoded
//!   channels `instId` is required and must be in the symbol table;
//! - books: `action` is `snapshot` or `update`; `data` holds exactly one object with `asks`,
//!   `bids` (levels `[price, size, ...]`, at least two strings), `ts` (a string of digits),
//!   optional integer `checksum` (32-bit), `seqId`, `prevSeqId`; every price and size must be
//!   reproducible byte for byte from its value and decimal count (for the checksum);
//! - bbo-tbt: `data` holds exactly one object with `asks`, `bids`, `ts`, optional `seqId`;
//! - trades: `data` holds objects with `tradeId` and `ts` (strings of digits), `px`, `sz`,
//!   `side` (`buy`/`sell`, the taker's side);
//! - a key the decoder reads that appears twice is an error; unknown keys are ignored.

use simd_json::tape::{Object, Value};
use tickwire_core::book::Level;
use tickwire_core::event::Side;
use tickwire_core::ids::InstrumentId;
use tickwire_core::num::{Px, Qty};

use super::fast;
use crate::venue::json::{self, TapeParser, need, put};
use crate::venue::{DecodeError, SymbolTable};

/// Most levels per side in one books frame (OKX sends at most 400).
pub const MAX_BOOK_LEVELS: usize = 1_000;
/// Most trades in one `trades` push.
pub const MAX_TRADES: usize = 256;

/// A book level with the decimal counts of its wire strings, so that the exact strings the
/// checksum is computed over can be rewritten from the numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WireLevel {
    /// Price.
    pub px: Px,
    /// Size (contracts for derivatives, base currency for spot).
    pub qty: Qty,
    /// Digits after the point in the price string (0: no point).
    pub px_decimals: u8,
    /// Digits after the point in the size string.
    pub qty_decimals: u8,
}

impl WireLevel {
    /// The price and size without the wire shape.
    pub fn level(&self) -> Level {
        Level {
            px: self.px,
            qty: self.qty,
        }
    }
}

/// `snapshot` or `update`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BookAction {
    /// The full book: replace everything.
    Snapshot,
    /// Changed levels.
    Update,
}

/// Fields of a books push other than its levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BookHead {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Snapshot or update.
    pub action: BookAction,
    /// `ts` in ms.
    pub ts_ms: u64,
    /// Server CRC32 (signed); 0 means "not provided" (deprecated, always 0 nowadays).
    pub checksum: i32,
    /// `seqId`, absent in captures from before it existed.
    pub seq_id: Option<i64>,
    /// `prevSeqId` (-1 on snapshots).
    pub prev_seq_id: Option<i64>,
}

/// A books push.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BookMsg<'a> {
    /// Ids, time, checksum.
    pub head: BookHead,
    /// Bids in wire order (best first).
    pub bids: &'a [WireLevel],
    /// Asks in wire order (best first).
    pub asks: &'a [WireLevel],
}

/// A `bbo-tbt` push: best bid and offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bbo {
    /// Instrument.
    pub instrument: InstrumentId,
    /// `ts` in ms.
    pub ts_ms: u64,
    /// `seqId`, if sent.
    pub seq_id: Option<i64>,
    /// Best bid (first of `bids`), if any.
    pub bid: Option<Level>,
    /// Best ask (first of `asks`), if any.
    pub ask: Option<Level>,
}

/// One entry of a `trades` push (all fills of one taker order at one price).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OkxTrade {
    /// The last trade id of the aggregated fills.
    pub trade_id: u64,
    /// Price.
    pub px: Px,
    /// Size.
    pub qty: Qty,
    /// Taker side.
    pub side: Side,
    /// `ts` in ms.
    pub ts_ms: u64,
}

/// A `trades` push.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TradesMsg<'a> {
    /// Instrument.
    pub instrument: InstrumentId,
    /// The trades, in wire order.
    pub trades: &'a [OkxTrade],
}

/// An `event` message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OkxEvent {
    /// Subscription acknowledged.
    Subscribe,
    /// Unsubscription acknowledged.
    Unsubscribe,
    /// Login acknowledged.
    Login,
    /// The server refused a request (`code`, e.g. 60012 invalid request, 64003 VIP level).
    Error {
        /// OKX error code (0 if absent).
        code: u32,
    },
    /// Another event (notice, channel-conn-count, ...).
    Other,
}

/// One decoded OKX frame. Slices borrow the decoder's reused buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OkxMsg<'a> {
    /// books / books-l2-tbt / books50-l2-tbt.
    Book(BookMsg<'a>),
    /// bbo-tbt.
    Bbo(Bbo),
    /// trades.
    Trades(TradesMsg<'a>),
    /// event.
    Event(OkxEvent),
    /// The text `pong`.
    Pong,
    /// A push of a channel this decoder does not read.
    Ignored,
}

/// What a decoder produced, without borrowing (levels and trades stay in the buffers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Parsed {
    Book(BookHead),
    Bbo(Bbo),
    Trades(InstrumentId),
    Event(OkxEvent),
    Pong,
    Ignored,
}

/// The decoder's reused output buffers.
pub(crate) struct Buffers {
    pub(crate) bids: Vec<WireLevel>,
    pub(crate) asks: Vec<WireLevel>,
    pub(crate) plain: Vec<Level>,
    pub(crate) trades: Vec<OkxTrade>,
}

/// Decoder state reused across frames.
pub struct OkxDecoder {
    symbols: SymbolTable,
    tape: TapeParser,
    out: Buffers,
    fast_enabled: bool,
}

impl OkxDecoder {
    /// A decoder for the instIds in `symbols`. The fast path is on.
    pub fn new(symbols: SymbolTable) -> Self {
        Self {
            symbols,
            tape: TapeParser::new(),
            out: Buffers {
                bids: Vec::with_capacity(MAX_BOOK_LEVELS),
                asks: Vec::with_capacity(MAX_BOOK_LEVELS),
                plain: Vec::with_capacity(MAX_BOOK_LEVELS),
                trades: Vec::with_capacity(MAX_TRADES),
            },
            fast_enabled: true,
        }
    }

    /// Turns the hand-rolled fast path on or off.
    pub fn set_fast_path(&mut self, enabled: bool) {
        self.fast_enabled = enabled;
    }

    /// The symbol table.
    pub fn symbols(&self) -> &SymbolTable {
        &self.symbols
    }

    /// Decodes one frame: the fast path when it recognises it, else simd-json.
    #[inline]
    pub fn decode(&mut self, frame: &mut [u8]) -> Result<OkxMsg<'_>, DecodeError> {
        let fast = if self.fast_enabled {
            fast::decode(frame, &self.symbols, &mut self.out)
        } else {
            None
        };
        let parsed = match fast {
            Some(p) => p,
            None => self.validating_parsed(frame)?,
        };
        Ok(self.view(parsed))
    }

    /// Decodes with simd-json only (the reference path).
    pub fn decode_validating(&mut self, frame: &mut [u8]) -> Result<OkxMsg<'_>, DecodeError> {
        let parsed = self.validating_parsed(frame)?;
        Ok(self.view(parsed))
    }

    /// The hand-rolled path alone: `Some` only when its result equals the validating path's.
    pub fn decode_fast(&mut self, frame: &[u8]) -> Option<OkxMsg<'_>> {
        let parsed = fast::decode(frame, &self.symbols, &mut self.out)?;
        Some(self.view(parsed))
    }

    fn validating_parsed(&mut self, frame: &mut [u8]) -> Result<Parsed, DecodeError> {
        if frame == b"pong" {
            return Ok(Parsed::Pong);
        }
        let Self {
            symbols, tape, out, ..
        } = self;
        tape.parse(frame, |root| decode_root(root, symbols, out))
    }

    fn view(&self, parsed: Parsed) -> OkxMsg<'_> {
        match parsed {
            Parsed::Book(head) => OkxMsg::Book(BookMsg {
                head,
                bids: &self.out.bids,
                asks: &self.out.asks,
            }),
            Parsed::Bbo(b) => OkxMsg::Bbo(b),
            Parsed::Trades(instrument) => OkxMsg::Trades(TradesMsg {
                instrument,
                trades: &self.out.trades,
            }),
            Parsed::Event(e) => OkxMsg::Event(e),
            Parsed::Pong => OkxMsg::Pong,
            Parsed::Ignored => OkxMsg::Ignored,
        }
    }
}

/// Which decoded channel a push belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Channel {
    Books,
    Bbo,
    Trades,
}

/// Channel names the decoders read.
pub(crate) fn channel(name: &[u8]) -> Option<Channel> {
    match name {
        b"books" | b"books-l2-tbt" | b"books50-l2-tbt" => Some(Channel::Books),
        b"bbo-tbt" => Some(Channel::Bbo),
        b"trades" => Some(Channel::Trades),
        _ => None,
    }
}

/// The decimal count of a price/size string that parsed, or an error if the string cannot be
/// rewritten exactly from (value, decimals): a leading zero (`"01.5"`) or more than 9 decimals.
#[inline]
pub(crate) fn wire_decimals(s: &[u8], field: &'static str) -> Result<u8, DecodeError> {
    let (int, decimals) = match s.iter().position(|&b| b == b'.') {
        Some(dot) => (&s[..dot], s.len() - dot - 1),
        None => (s, 0),
    };
    if decimals > 9 || (int.len() > 1 && int[0] == b'0') {
        return Err(DecodeError::NonCanonicalNumber(field));
    }
    Ok(decimals as u8)
}

/// A `[price, size, ...]` level with its wire shape.
#[inline]
pub(crate) fn wire_level(
    px: &[u8],
    qty: &[u8],
    field: &'static str,
) -> Result<WireLevel, DecodeError> {
    Ok(WireLevel {
        px: Px::parse_bytes(px).map_err(|error| DecodeError::BadNumber { field, error })?,
        qty: Qty::parse_bytes(qty).map_err(|error| DecodeError::BadNumber { field, error })?,
        px_decimals: wire_decimals(px, field)?,
        qty_decimals: wire_decimals(qty, field)?,
    })
}

/// `buy`/`sell` → side.
#[inline]
pub(crate) fn side_of(s: &[u8]) -> Result<Side, DecodeError> {
    match s {
        b"buy" => Ok(Side::Buy),
        b"sell" => Ok(Side::Sell),
        _ => Err(DecodeError::BadValue("side")),
    }
}

/// A 64-bit checksum value → the 32-bit one OKX computes.
#[inline]
pub(crate) fn checksum_of(v: i64) -> Result<i32, DecodeError> {
    i32::try_from(v).map_err(|_| DecodeError::BadValue("checksum"))
}

/// An error event's `code` string.
#[inline]
pub(crate) fn code_of(s: &[u8]) -> Result<u32, DecodeError> {
    let v = json::digits_u64(s, "code")?;
    u32::try_from(v).map_err(|_| DecodeError::BadValue("code"))
}

fn decode_root(
    root: Value<'_, '_>,
    symbols: &SymbolTable,
    out: &mut Buffers,
) -> Result<Parsed, DecodeError> {
    let top = json::object(root, "frame")?;
    let (mut event, mut arg, mut action, mut data, mut code) = (None, None, None, None, None);
    for (k, v) in top.iter() {
        match k {
            "event" => put(&mut event, v, "event")?,
            "arg" => put(&mut arg, v, "arg")?,
            "action" => put(&mut action, v, "action")?,
            "data" => put(&mut data, v, "data")?,
            "code" => put(&mut code, v, "code")?,
            _ => {}
        }
    }
    if let Some(event) = event {
        return Ok(Parsed::Event(match json::str_of(event, "event")? {
            "subscribe" => OkxEvent::Subscribe,
            "unsubscribe" => OkxEvent::Unsubscribe,
            "login" => OkxEvent::Login,
            "error" => OkxEvent::Error {
                code: match code {
                    Some(c) => code_of(json::str_of(c, "code")?.as_bytes())?,
                    None => 0,
                },
            },
            _ => OkxEvent::Other,
        }));
    }
    let arg = json::object(need(arg, "arg")?, "arg")?;
    let (mut name, mut inst) = (None, None);
    for (k, v) in arg.iter() {
        match k {
            "channel" => put(&mut name, v, "channel")?,
            "instId" => put(&mut inst, v, "instId")?,
            _ => {}
        }
    }
    let Some(ch) = channel(json::str_of(need(name, "channel")?, "channel")?.as_bytes()) else {
        return Ok(Parsed::Ignored);
    };
    let instrument = symbols
        .lookup(json::str_of(need(inst, "instId")?, "instId")?.as_bytes())
        .map(|(_, id)| id)
        .ok_or(DecodeError::UnknownSymbol)?;
    let data = json::array(need(data, "data")?, "data")?;
    match ch {
        Channel::Books => {
            let action = match json::str_of(need(action, "action")?, "action")? {
                "snapshot" => BookAction::Snapshot,
                "update" => BookAction::Update,
                _ => return Err(DecodeError::BadValue("action")),
            };
            let entry = single(data.iter())?;
            book(json::object(entry, "data")?, instrument, action, out)
        }
        Channel::Bbo => {
            let entry = single(data.iter())?;
            bbo(json::object(entry, "data")?, instrument, out)
        }
        Channel::Trades => {
            out.trades.clear();
            if data.len() > MAX_TRADES {
                return Err(DecodeError::TooManyLevels("data"));
            }
            for entry in data.iter() {
                let t = trade(json::object(entry, "data")?)?;
                out.trades.push(t);
            }
            Ok(Parsed::Trades(instrument))
        }
    }
}

/// The one element of a `data` array.
fn single<'t, 'i>(
    mut items: impl Iterator<Item = Value<'t, 'i>>,
) -> Result<Value<'t, 'i>, DecodeError> {
    match (items.next(), items.next()) {
        (Some(v), None) => Ok(v),
        _ => Err(DecodeError::BadValue("data")),
    }
}

fn digits_of(v: Option<Value<'_, '_>>, field: &'static str) -> Result<u64, DecodeError> {
    json::digits_u64(json::str_of(need(v, field)?, field)?.as_bytes(), field)
}

fn optional_i64(v: Option<Value<'_, '_>>, field: &'static str) -> Result<Option<i64>, DecodeError> {
    v.map(|v| json::i64_of(v, field)).transpose()
}

fn wire_levels_into(
    v: Value<'_, '_>,
    field: &'static str,
    out: &mut Vec<WireLevel>,
) -> Result<(), DecodeError> {
    out.clear();
    let a = json::array(v, field)?;
    if a.len() > MAX_BOOK_LEVELS {
        return Err(DecodeError::TooManyLevels(field));
    }
    for level in a.iter() {
        let (p, q) = json::level_strs(level, field)?;
        out.push(wire_level(p.as_bytes(), q.as_bytes(), field)?);
    }
    Ok(())
}

fn book(
    obj: Object<'_, '_>,
    instrument: InstrumentId,
    action: BookAction,
    out: &mut Buffers,
) -> Result<Parsed, DecodeError> {
    let (mut asks, mut bids, mut ts, mut checksum, mut seq, mut prev) =
        (None, None, None, None, None, None);
    for (k, v) in obj.iter() {
        match k {
            "asks" => put(&mut asks, v, "asks")?,
            "bids" => put(&mut bids, v, "bids")?,
            "ts" => put(&mut ts, v, "ts")?,
            "checksum" => put(&mut checksum, v, "checksum")?,
            "seqId" => put(&mut seq, v, "seqId")?,
            "prevSeqId" => put(&mut prev, v, "prevSeqId")?,
            _ => {}
        }
    }
    wire_levels_into(need(asks, "asks")?, "asks", &mut out.asks)?;
    wire_levels_into(need(bids, "bids")?, "bids", &mut out.bids)?;
    Ok(Parsed::Book(BookHead {
        instrument,
        action,
        ts_ms: digits_of(ts, "ts")?,
        checksum: match checksum {
            Some(v) => checksum_of(json::i64_of(v, "checksum")?)?,
            None => 0,
        },
        seq_id: optional_i64(seq, "seqId")?,
        prev_seq_id: optional_i64(prev, "prevSeqId")?,
    }))
}

fn bbo(
    obj: Object<'_, '_>,
    instrument: InstrumentId,
    out: &mut Buffers,
) -> Result<Parsed, DecodeError> {
    let (mut asks, mut bids, mut ts, mut seq) = (None, None, None, None);
    for (k, v) in obj.iter() {
        match k {
            "asks" => put(&mut asks, v, "asks")?,
            "bids" => put(&mut bids, v, "bids")?,
            "ts" => put(&mut ts, v, "ts")?,
            "seqId" => put(&mut seq, v, "seqId")?,
            _ => {}
        }
    }
    json::levels_into(need(asks, "asks")?, "asks", &mut out.plain, MAX_BOOK_LEVELS)?;
    let ask = out.plain.first().copied();
    json::levels_into(need(bids, "bids")?, "bids", &mut out.plain, MAX_BOOK_LEVELS)?;
    let bid = out.plain.first().copied();
    Ok(Parsed::Bbo(Bbo {
        instrument,
        ts_ms: digits_of(ts, "ts")?,
        seq_id: optional_i64(seq, "seqId")?,
        bid,
        ask,
    }))
}

fn trade(obj: Object<'_, '_>) -> Result<OkxTrade, DecodeError> {
    let (mut id, mut px, mut sz, mut side, mut ts) = (None, None, None, None, None);
    for (k, v) in obj.iter() {
        match k {
            "tradeId" => put(&mut id, v, "tradeId")?,
            "px" => put(&mut px, v, "px")?,
            "sz" => put(&mut sz, v, "sz")?,
            "side" => put(&mut side, v, "side")?,
            "ts" => put(&mut ts, v, "ts")?,
            _ => {}
        }
    }
    Ok(OkxTrade {
        trade_id: digits_of(id, "tradeId")?,
        px: json::px_of(need(px, "px")?, "px")?,
        qty: json::qty_of(need(sz, "sz")?, "sz")?,
        side: side_of(json::str_of(need(side, "side")?, "side")?.as_bytes())?,
        ts_ms: digits_of(ts, "ts")?,
    })
}
