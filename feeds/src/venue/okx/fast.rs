//! Hand-rolled decoder for OKX pushes: books, bbo-tbt and trades.
//!
//! One strict pass over the bytes (see [`crate::venue::scan`]) using the same field converters
//! as the validating path. It requires `arg` first (as OKX sends it) and gives up (`None`, so
//! simd-json decides) on anything outside the plain subset, a duplicate, an `event`/`code` key,
//! a channel it does not decode, or an unknown instrument. `tests/feeds/okx.rs` checks it against
//! the validating path and the reference decoder on every real frame and under fuzzing.

use tickwire_core::book::Level;
use tickwire_core::ids::InstrumentId;
use tickwire_core::num::{Px, Qty};

use super::decode::{
    Bbo, BookAction, BookHead, Buffers, Channel, MAX_BOOK_LEVELS, MAX_TRADES, OkxTrade, Parsed,
    WireLevel, channel, checksum_of, side_of, wire_level,
};
use crate::venue::SymbolTable;
use crate::venue::json::digits_u64;
use crate::venue::scan::{Cursor, Seen};

/// Decodes `frame` if it is a plain books / bbo-tbt / trades push; `None` otherwise.
pub(crate) fn decode(frame: &[u8], symbols: &SymbolTable, out: &mut Buffers) -> Option<Parsed> {
    let mut c = Cursor::new(frame);
    c.eat(b'{')?;
    if c.key()? != b"arg" {
        return None;
    }
    let (ch, instrument) = arg(&mut c, symbols)?;
    let mut seen = Seen::default();
    let mut action = None;
    let mut parsed = None;
    while c.next_member(b'}')? {
        match c.key()? {
            b"action" => {
                seen.mark(0)?;
                if ch == Channel::Books {
                    action = Some(match c.string()? {
                        b"snapshot" => BookAction::Snapshot,
                        b"update" => BookAction::Update,
                        _ => return None,
                    });
                } else {
                    c.skip_value()?;
                }
            }
            b"data" => {
                seen.mark(1)?;
                parsed = Some(match ch {
                    Channel::Books => Parsed::Book(one(&mut c, |c| book(c, instrument, out))?),
                    Channel::Bbo => Parsed::Bbo(one(&mut c, |c| bbo(c, instrument, out))?),
                    Channel::Trades => {
                        trades(&mut c, out)?;
                        Parsed::Trades(instrument)
                    }
                });
            }
            b"event" | b"arg" | b"code" => return None,
            _ => c.skip_value()?,
        }
    }
    if !c.at_end() {
        return None;
    }
    match parsed? {
        Parsed::Book(mut head) => {
            head.action = action?;
            Some(Parsed::Book(head))
        }
        p => Some(p),
    }
}

fn arg(c: &mut Cursor<'_>, symbols: &SymbolTable) -> Option<(Channel, InstrumentId)> {
    c.eat(b'{')?;
    let mut seen = Seen::default();
    let (mut ch, mut inst) = (None, None);
    loop {
        match c.key()? {
            b"channel" => {
                seen.mark(0)?;
                ch = Some(c.string()?);
            }
            b"instId" => {
                seen.mark(1)?;
                inst = Some(c.string()?);
            }
            _ => c.skip_value()?,
        }
        if !c.next_member(b'}')? {
            break;
        }
    }
    let ch = channel(ch?)?;
    let (_, id) = symbols.lookup(inst?)?;
    Some((ch, id))
}

/// `[<one object>]`.
fn one<T>(c: &mut Cursor<'_>, f: impl FnOnce(&mut Cursor<'_>) -> Option<T>) -> Option<T> {
    c.eat(b'[')?;
    let v = f(c)?;
    c.eat(b']')?;
    Some(v)
}

/// `[price, size, ...]` strings of one level; extra entries are skipped.
#[inline]
fn level_strs<'a>(c: &mut Cursor<'a>) -> Option<(&'a [u8], &'a [u8])> {
    c.eat(b'[')?;
    let px = c.string()?;
    c.eat(b',')?;
    let qty = c.string()?;
    while c.next_member(b']')? {
        c.skip_value()?;
    }
    Some((px, qty))
}

/// An array of levels, each converted by `f` into `out`.
#[inline]
fn levels<T>(
    c: &mut Cursor<'_>,
    out: &mut Vec<T>,
    f: impl Fn(&[u8], &[u8]) -> Option<T>,
) -> Option<()> {
    out.clear();
    c.eat(b'[')?;
    if c.try_eat(b']') {
        return Some(());
    }
    loop {
        if out.len() >= MAX_BOOK_LEVELS {
            return None;
        }
        let (p, q) = level_strs(c)?;
        out.push(f(p, q)?);
        if !c.next_member(b']')? {
            return Some(());
        }
    }
}

fn wire(side: &'static str) -> impl Fn(&[u8], &[u8]) -> Option<WireLevel> {
    move |p, q| wire_level(p, q, side).ok()
}

fn plain(p: &[u8], q: &[u8]) -> Option<Level> {
    Some(Level {
        px: Px::parse_bytes(p).ok()?,
        qty: Qty::parse_bytes(q).ok()?,
    })
}

fn book(c: &mut Cursor<'_>, instrument: InstrumentId, out: &mut Buffers) -> Option<BookHead> {
    const ASKS: u32 = 0;
    const BIDS: u32 = 1;
    const TS: u32 = 2;
    const REQUIRED: u64 = 0b111;
    let mut head = BookHead {
        instrument,
        action: BookAction::Update,
        ts_ms: 0,
        checksum: 0,
        seq_id: None,
        prev_seq_id: None,
    };
    let mut seen = Seen::default();
    c.eat(b'{')?;
    loop {
        match c.key()? {
            b"asks" => {
                seen.mark(ASKS)?;
                levels(c, &mut out.asks, wire("asks"))?;
            }
            b"bids" => {
                seen.mark(BIDS)?;
                levels(c, &mut out.bids, wire("bids"))?;
            }
            b"ts" => {
                seen.mark(TS)?;
                head.ts_ms = digits_u64(c.string()?, "ts").ok()?;
            }
            b"checksum" => {
                seen.mark(3)?;
                head.checksum = checksum_of(c.i64()?).ok()?;
            }
            b"seqId" => {
                seen.mark(4)?;
                head.seq_id = Some(c.i64()?);
            }
            b"prevSeqId" => {
                seen.mark(5)?;
                head.prev_seq_id = Some(c.i64()?);
            }
            _ => c.skip_value()?,
        }
        if !c.next_member(b'}')? {
            break;
        }
    }
    seen.has_all(REQUIRED).then_some(head)
}

fn bbo(c: &mut Cursor<'_>, instrument: InstrumentId, out: &mut Buffers) -> Option<Bbo> {
    const REQUIRED: u64 = 0b111;
    let mut b = Bbo {
        instrument,
        ts_ms: 0,
        seq_id: None,
        bid: None,
        ask: None,
    };
    let mut seen = Seen::default();
    c.eat(b'{')?;
    loop {
        match c.key()? {
            b"asks" => {
                seen.mark(0)?;
                levels(c, &mut out.plain, plain)?;
                b.ask = out.plain.first().copied();
            }
            b"bids" => {
                seen.mark(1)?;
                levels(c, &mut out.plain, plain)?;
                b.bid = out.plain.first().copied();
            }
            b"ts" => {
                seen.mark(2)?;
                b.ts_ms = digits_u64(c.string()?, "ts").ok()?;
            }
            b"seqId" => {
                seen.mark(3)?;
                b.seq_id = Some(c.i64()?);
            }
            _ => c.skip_value()?,
        }
        if !c.next_member(b'}')? {
            break;
        }
    }
    seen.has_all(REQUIRED).then_some(b)
}

fn trades(c: &mut Cursor<'_>, out: &mut Buffers) -> Option<()> {
    out.trades.clear();
    c.eat(b'[')?;
    if c.try_eat(b']') {
        return Some(());
    }
    loop {
        if out.trades.len() >= MAX_TRADES {
            return None;
        }
        let t = trade(c)?;
        out.trades.push(t);
        if !c.next_member(b']')? {
            return Some(());
        }
    }
}

fn trade(c: &mut Cursor<'_>) -> Option<OkxTrade> {
    const REQUIRED: u64 = 0b1_1111;
    let mut t = OkxTrade {
        trade_id: 0,
        px: Px::ZERO,
        qty: Qty::ZERO,
        side: tickwire_core::event::Side::Buy,
        ts_ms: 0,
    };
    let mut seen = Seen::default();
    c.eat(b'{')?;
    loop {
        match c.key()? {
            b"tradeId" => {
                seen.mark(0)?;
                t.trade_id = digits_u64(c.string()?, "tradeId").ok()?;
            }
            b"px" => {
                seen.mark(1)?;
                t.px = Px::parse_bytes(c.string()?).ok()?;
            }
            b"sz" => {
                seen.mark(2)?;
                t.qty = Qty::parse_bytes(c.string()?).ok()?;
            }
            b"side" => {
                seen.mark(3)?;
                t.side = side_of(c.string()?).ok()?;
            }
            b"ts" => {
                seen.mark(4)?;
                t.ts_ms = digits_u64(c.string()?, "ts").ok()?;
            }
            _ => c.skip_value()?,
        }
        if !c.next_member(b'}')? {
            break;
        }
    }
    seen.has_all(REQUIRED).then_some(t)
}
