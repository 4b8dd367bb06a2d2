//! Hand-rolled decoder for the hottest Binance frames: bookTicker, depthUpdate and trade.
//!
//! It is a strict single pass over the bytes (see [`crate::venue::scan`]) that parses prices
//! while scanning them, with no tape and no copy. It accepts a frame only when the validating
//! path would decode it to the same message: keys may come in any order and unknown keys are
//! skipped, but any key the validating path reads and this type does not (or a key that would
//! change the frame's classification), a duplicate, an escape, whitespace, a number outside the
//! plain subset, or an unknown symbol makes it return `None`, and simd-json takes the frame.
//! `tests/feeds/binance_decode.rs` checks the equivalence on every real frame and under fuzzing.

use tickwire_core::book::Level;
use tickwire_core::num::{Px, Qty};

use super::decode::{
    BookTicker, DepthHead, MAX_LEVELS, PAYLOAD_KEYS, Parsed, TradePrint, aggressor,
};
use crate::venue::SymbolTable;
use crate::venue::scan::{Cursor, Seen};

/// Decodes `frame` if it is a plain bookTicker, depthUpdate or trade; `None` otherwise.
#[inline]
pub(crate) fn decode(
    frame: &[u8],
    symbols: &SymbolTable,
    bids: &mut Vec<Level>,
    asks: &mut Vec<Level>,
) -> Option<Parsed> {
    let mut c = Cursor::new(frame);
    c.eat(b'{')?;
    let wrapped = c.try_lit(b"\"stream\":");
    if wrapped {
        c.string()?;
        c.lit(b",\"data\":{")?;
    }
    let parsed = match c.key()? {
        b"u" => book_ticker(&mut c, symbols)?,
        b"e" => match c.string()? {
            b"depthUpdate" => depth(&mut c, symbols, bids, asks)?,
            b"trade" => trade(&mut c, symbols)?,
            _ => return None,
        },
        _ => return None,
    };
    if wrapped {
        c.eat(b'}')?;
    }
    c.at_end().then_some(parsed)
}

/// A key the validating path reads (or that makes a frame a wrapper) but the current message
/// type does not: its presence could change the outcome, so the fast path gives up.
#[inline]
fn reserved(key: &[u8]) -> bool {
    key == b"stream" || key == b"data" || PAYLOAD_KEYS.iter().any(|k| k.as_bytes() == key)
}

#[inline]
fn symbol(c: &mut Cursor<'_>, symbols: &SymbolTable) -> Option<tickwire_core::ids::InstrumentId> {
    symbols.lookup(c.string()?).map(|(_, id)| id)
}

fn book_ticker(c: &mut Cursor<'_>, symbols: &SymbolTable) -> Option<Parsed> {
    const S: u32 = 0;
    const B: u32 = 1;
    const BQ: u32 = 2;
    const A: u32 = 3;
    const AQ: u32 = 4;
    const E: u32 = 5;
    const REQUIRED: u64 = 0b1_1111;
    let update_id = c.u64()?;
    let mut seen = Seen::default();
    let (mut instrument, mut event_time_ms) = (None, 0);
    let (mut bid_px, mut bid_qty, mut ask_px, mut ask_qty) = (0, 0, 0, 0);
    let mut next = 0;
    while let Some(key) = c.next_key(b"sbBaA", &mut next)? {
        match key {
            b"s" => {
                seen.mark(S)?;
                instrument = Some(symbol(c, symbols)?);
            }
            b"b" => {
                seen.mark(B)?;
                bid_px = c.decimal()?;
            }
            b"B" => {
                seen.mark(BQ)?;
                bid_qty = c.decimal()?;
            }
            b"a" => {
                seen.mark(A)?;
                ask_px = c.decimal()?;
            }
            b"A" => {
                seen.mark(AQ)?;
                ask_qty = c.decimal()?;
            }
            b"E" => {
                seen.mark(E)?;
                event_time_ms = c.u64()?;
            }
            k if reserved(k) => return None,
            _ => c.skip_value()?,
        }
    }
    if !seen.has_all(REQUIRED) {
        return None;
    }
    Some(Parsed::BookTicker(BookTicker {
        instrument: instrument?,
        update_id,
        bid_px: Px::from_raw(bid_px),
        bid_qty: Qty::from_raw(bid_qty),
        ask_px: Px::from_raw(ask_px),
        ask_qty: Qty::from_raw(ask_qty),
        event_time_ms,
    }))
}

fn depth(
    c: &mut Cursor<'_>,
    symbols: &SymbolTable,
    bids: &mut Vec<Level>,
    asks: &mut Vec<Level>,
) -> Option<Parsed> {
    const S: u32 = 0;
    const FIRST: u32 = 1;
    const LAST: u32 = 2;
    const B: u32 = 3;
    const A: u32 = 4;
    const E: u32 = 5;
    const REQUIRED: u64 = 0b1_1111;
    let mut seen = Seen::default();
    let mut head = DepthHead {
        instrument: tickwire_core::ids::InstrumentId(0),
        event_time_ms: 0,
        first_update_id: 0,
        final_update_id: 0,
    };
    let mut next = 0;
    while let Some(key) = c.next_key(b"EsUuba", &mut next)? {
        match key {
            b"E" => {
                seen.mark(E)?;
                head.event_time_ms = c.u64()?;
            }
            b"s" => {
                seen.mark(S)?;
                head.instrument = symbol(c, symbols)?;
            }
            b"U" => {
                seen.mark(FIRST)?;
                head.first_update_id = c.u64()?;
            }
            b"u" => {
                seen.mark(LAST)?;
                head.final_update_id = c.u64()?;
            }
            b"b" => {
                seen.mark(B)?;
                levels(c, bids)?;
            }
            b"a" => {
                seen.mark(A)?;
                levels(c, asks)?;
            }
            k if reserved(k) => return None,
            _ => c.skip_value()?,
        }
    }
    seen.has_all(REQUIRED).then_some(Parsed::Depth(head))
}

/// `[["px","qty"],...]` into `out`, exactly two strings per level.
#[inline]
fn levels(c: &mut Cursor<'_>, out: &mut Vec<Level>) -> Option<()> {
    out.clear();
    c.eat(b'[')?;
    if c.try_eat(b']') {
        return Some(());
    }
    loop {
        if out.len() >= MAX_LEVELS {
            return None;
        }
        c.eat(b'[')?;
        let px = c.decimal()?;
        c.eat(b',')?;
        let qty = c.decimal()?;
        c.eat(b']')?;
        out.push(Level {
            px: Px::from_raw(px),
            qty: Qty::from_raw(qty),
        });
        if !c.next_member(b']')? {
            return Some(());
        }
    }
}

fn trade(c: &mut Cursor<'_>, symbols: &SymbolTable) -> Option<Parsed> {
    const S: u32 = 0;
    const ID: u32 = 1;
    const P: u32 = 2;
    const Q: u32 = 3;
    const M: u32 = 4;
    const T: u32 = 5;
    const E: u32 = 6;
    const REQUIRED: u64 = 0b11_1111;
    let mut seen = Seen::default();
    let mut instrument = None;
    let (mut trade_id, mut px, mut qty, mut maker, mut time) = (0, 0, 0, false, 0);
    let mut next = 0;
    while let Some(key) = c.next_key(b"EstpqTm", &mut next)? {
        match key {
            b"s" => {
                seen.mark(S)?;
                instrument = Some(symbol(c, symbols)?);
            }
            b"t" => {
                seen.mark(ID)?;
                trade_id = c.u64()?;
            }
            b"p" => {
                seen.mark(P)?;
                px = c.decimal()?;
            }
            b"q" => {
                seen.mark(Q)?;
                qty = c.decimal()?;
            }
            b"m" => {
                seen.mark(M)?;
                maker = c.bool()?;
            }
            b"T" => {
                seen.mark(T)?;
                time = c.u64()?;
            }
            // Read by neither path for trades, but a duplicate would be an error there.
            b"E" => {
                seen.mark(E)?;
                c.skip_value()?;
            }
            k if reserved(k) => return None,
            _ => c.skip_value()?,
        }
    }
    if !seen.has_all(REQUIRED) {
        return None;
    }
    Some(Parsed::Trade(TradePrint {
        instrument: instrument?,
        trade_id,
        px: Px::from_raw(px),
        qty: Qty::from_raw(qty),
        aggressor: aggressor(maker),
        trade_time_ms: time,
        aggregated: false,
    }))
}
