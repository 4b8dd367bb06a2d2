//! Independent reference decoders built on `serde_json::Value`, written from FORMATS.md and the
//! decoders' documented rules (not from their code), producing owned copies of the decoders'
//! message types so results compare field by field. Errors are plain strings: only "error or
//! not" is compared.

use serde_json::{Map, Value};
use tickwire_core::book::Level;
use tickwire_core::event::Side;
use tickwire_core::ids::InstrumentId;
use tickwire_core::num::{Px, Qty};
use tickwire_feeds::venue::SymbolTable;
use tickwire_feeds::venue::binance::{
    BinanceMsg, BookTicker, DepthHead, Ignored, MAX_LEVELS, TradePrint,
};
use tickwire_feeds::venue::okx::{
    Bbo, BookAction, BookHead, MAX_BOOK_LEVELS, MAX_TRADES, OkxEvent, OkxMsg, OkxTrade, WireLevel,
};

type R<T> = Result<T, String>;

/// An owned Binance message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Binance {
    BookTicker(BookTicker),
    Depth {
        head: DepthHead,
        bids: Vec<Level>,
        asks: Vec<Level>,
    },
    Trade(TradePrint),
    Snapshot {
        instrument: Option<InstrumentId>,
        last_update_id: u64,
        bids: Vec<Level>,
        asks: Vec<Level>,
    },
    Ignored(Ignored),
}

/// Copies a decoder result out of the decoder's buffers.
pub fn own_binance(m: &BinanceMsg<'_>) -> Binance {
    match m {
        BinanceMsg::BookTicker(t) => Binance::BookTicker(*t),
        BinanceMsg::Depth(d) => Binance::Depth {
            head: d.head,
            bids: d.bids.to_vec(),
            asks: d.asks.to_vec(),
        },
        BinanceMsg::Trade(t) => Binance::Trade(*t),
        BinanceMsg::Snapshot(s) => Binance::Snapshot {
            instrument: s.instrument,
            last_update_id: s.last_update_id,
            bids: s.bids.to_vec(),
            asks: s.asks.to_vec(),
        },
        BinanceMsg::Ignored(i) => Binance::Ignored(*i),
    }
}

fn field<'a>(o: &'a Map<String, Value>, k: &str) -> R<&'a Value> {
    o.get(k).ok_or_else(|| format!("missing {k}"))
}

fn string<'a>(o: &'a Map<String, Value>, k: &str) -> R<&'a str> {
    field(o, k)?
        .as_str()
        .ok_or_else(|| format!("{k} not a string"))
}

fn uint(o: &Map<String, Value>, k: &str) -> R<u64> {
    field(o, k)?.as_u64().ok_or_else(|| format!("{k} not u64"))
}

fn opt_uint(o: &Map<String, Value>, k: &str) -> R<u64> {
    match o.get(k) {
        None => Ok(0),
        Some(v) => v.as_u64().ok_or_else(|| format!("{k} not u64")),
    }
}

fn px(s: &str) -> R<Px> {
    Px::parse(s).map_err(|e| e.to_string())
}

fn qty(s: &str) -> R<Qty> {
    Qty::parse(s).map_err(|e| e.to_string())
}

fn lookup(symbols: &SymbolTable, s: &str) -> R<InstrumentId> {
    symbols
        .lookup(s.as_bytes())
        .map(|(_, id)| id)
        .ok_or_else(|| format!("unknown symbol {s}"))
}

fn pair(level: &Value) -> R<(&str, &str)> {
    let a = level.as_array().ok_or("level not an array")?;
    if a.len() < 2 {
        return Err("short level".into());
    }
    Ok((
        a[0].as_str().ok_or("level price not a string")?,
        a[1].as_str().ok_or("level size not a string")?,
    ))
}

fn levels(v: &Value, max: usize) -> R<Vec<Level>> {
    let a = v.as_array().ok_or("levels not an array")?;
    if a.len() > max {
        return Err("too many levels".into());
    }
    a.iter()
        .map(|l| {
            let (p, q) = pair(l)?;
            Ok(Level {
                px: px(p)?,
                qty: qty(q)?,
            })
        })
        .collect()
}

/// Reference Binance decoder.
pub fn binance(bytes: &[u8], symbols: &SymbolTable) -> R<Binance> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let top = v.as_object().ok_or("frame not an object")?;
    let (payload, stream) = match top.get("stream") {
        Some(s) => {
            let s = s.as_str().ok_or("stream not a string")?;
            match field(top, "data")?.as_object() {
                Some(p) => (p, Some(s)),
                None => return Ok(Binance::Ignored(Ignored::Other)),
            }
        }
        None => (top, None),
    };
    let p = payload;
    if let Some(e) = p.get("e") {
        return match e.as_str().ok_or("e not a string")? {
            "depthUpdate" => Ok(Binance::Depth {
                head: DepthHead {
                    instrument: lookup(symbols, string(p, "s")?)?,
                    event_time_ms: opt_uint(p, "E")?,
                    first_update_id: uint(p, "U")?,
                    final_update_id: uint(p, "u")?,
                },
                bids: levels(field(p, "b")?, MAX_LEVELS)?,
                asks: levels(field(p, "a")?, MAX_LEVELS)?,
            }),
            kind @ ("trade" | "aggTrade") => {
                let agg = kind == "aggTrade";
                let m = field(p, "m")?.as_bool().ok_or("m not a bool")?;
                Ok(Binance::Trade(TradePrint {
                    instrument: lookup(symbols, string(p, "s")?)?,
                    trade_id: uint(p, if agg { "a" } else { "t" })?,
                    px: px(string(p, "p")?)?,
                    qty: qty(string(p, "q")?)?,
                    aggressor: if m { Side::Sell } else { Side::Buy },
                    trade_time_ms: uint(p, "T")?,
                    aggregated: agg,
                }))
            }
            "bookTicker" => book_ticker(p, symbols),
            "serverShutdown" => Ok(Binance::Ignored(Ignored::ServerShutdown)),
            _ => Ok(Binance::Ignored(Ignored::OtherEvent)),
        };
    }
    if p.contains_key("lastUpdateId") {
        let last_update_id = uint(p, "lastUpdateId")?;
        let bids = levels(field(p, "bids")?, MAX_LEVELS)?;
        let asks = levels(field(p, "asks")?, MAX_LEVELS)?;
        let instrument = match stream {
            Some(name) => Some(lookup(symbols, name.split('@').next().unwrap_or(name))?),
            None => None,
        };
        return Ok(Binance::Snapshot {
            instrument,
            last_update_id,
            bids,
            asks,
        });
    }
    if p.contains_key("u") {
        return book_ticker(p, symbols);
    }
    if p.contains_key("id") {
        return Ok(Binance::Ignored(Ignored::Reply));
    }
    Ok(Binance::Ignored(Ignored::Other))
}

fn book_ticker(p: &Map<String, Value>, symbols: &SymbolTable) -> R<Binance> {
    Ok(Binance::BookTicker(BookTicker {
        instrument: lookup(symbols, string(p, "s")?)?,
        update_id: uint(p, "u")?,
        bid_px: px(string(p, "b")?)?,
        bid_qty: qty(string(p, "B")?)?,
        ask_px: px(string(p, "a")?)?,
        ask_qty: qty(string(p, "A")?)?,
        event_time_ms: opt_uint(p, "E")?,
    }))
}

/// An owned OKX message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Okx {
    Book {
        head: BookHead,
        bids: Vec<WireLevel>,
        asks: Vec<WireLevel>,
    },
    Bbo(Bbo),
    Trades {
        instrument: InstrumentId,
        trades: Vec<OkxTrade>,
    },
    Event(OkxEvent),
    Pong,
    Ignored,
}

/// Copies a decoder result out of the decoder's buffers.
pub fn own_okx(m: &OkxMsg<'_>) -> Okx {
    match m {
        OkxMsg::Book(b) => Okx::Book {
            head: b.head,
            bids: b.bids.to_vec(),
            asks: b.asks.to_vec(),
        },
        OkxMsg::Bbo(b) => Okx::Bbo(*b),
        OkxMsg::Trades(t) => Okx::Trades {
            instrument: t.instrument,
            trades: t.trades.to_vec(),
        },
        OkxMsg::Event(e) => Okx::Event(*e),
        OkxMsg::Pong => Okx::Pong,
        OkxMsg::Ignored => Okx::Ignored,
    }
}

/// Digits after the point, refusing strings that cannot be rewritten from the value.
fn decimals(s: &str) -> R<u8> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 9 || (int.len() > 1 && int.starts_with('0')) {
        return Err(format!("non-canonical {s}"));
    }
    Ok(frac.len() as u8)
}

fn digits(o: &Map<String, Value>, k: &str) -> R<u64> {
    let s = string(o, k)?;
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{k} not digits"));
    }
    s.parse().map_err(|_| format!("{k} overflows"))
}

fn opt_int(o: &Map<String, Value>, k: &str) -> R<Option<i64>> {
    o.get(k)
        .map(|v| v.as_i64().ok_or_else(|| format!("{k} not i64")))
        .transpose()
}

fn wire_levels(v: &Value) -> R<Vec<WireLevel>> {
    let a = v.as_array().ok_or("levels not an array")?;
    if a.len() > MAX_BOOK_LEVELS {
        return Err("too many levels".into());
    }
    a.iter()
        .map(|l| {
            let (p, q) = pair(l)?;
            Ok(WireLevel {
                px: px(p)?,
                qty: qty(q)?,
                px_decimals: decimals(p)?,
                qty_decimals: decimals(q)?,
            })
        })
        .collect()
}

fn only(v: &Value) -> R<&Map<String, Value>> {
    let a = v.as_array().ok_or("data not an array")?;
    if a.len() != 1 {
        return Err("data must hold one entry".into());
    }
    a[0].as_object()
        .ok_or_else(|| "data entry not an object".into())
}

/// Reference OKX decoder.
pub fn okx(bytes: &[u8], symbols: &SymbolTable) -> R<Okx> {
    if bytes == b"pong" {
        return Ok(Okx::Pong);
    }
    let v: Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let top = v.as_object().ok_or("frame not an object")?;
    if let Some(e) = top.get("event") {
        return Ok(Okx::Event(
            match e.as_str().ok_or("event not a string")? {
                "subscribe" => OkxEvent::Subscribe,
                "unsubscribe" => OkxEvent::Unsubscribe,
                "login" => OkxEvent::Login,
                "error" => OkxEvent::Error {
                    code: match top.get("code") {
                        None => 0,
                        Some(_) => {
                            let d = digits(top, "code")?;
                            u32::try_from(d).map_err(|_| "code too large")?
                        }
                    },
                },
                _ => OkxEvent::Other,
            },
        ));
    }
    let arg = field(top, "arg")?.as_object().ok_or("arg not an object")?;
    let channel = string(arg, "channel")?;
    let is_book = matches!(channel, "books" | "books-l2-tbt" | "books50-l2-tbt");
    if !is_book && channel != "bbo-tbt" && channel != "trades" {
        return Ok(Okx::Ignored);
    }
    let instrument = lookup(symbols, string(arg, "instId")?)?;
    let data = field(top, "data")?;
    if !data.is_array() {
        return Err("data not an array".into());
    }
    if is_book {
        let action = match string(top, "action")? {
            "snapshot" => BookAction::Snapshot,
            "update" => BookAction::Update,
            _ => return Err("bad action".into()),
        };
        let d = only(data)?;
        let asks = wire_levels(field(d, "asks")?)?;
        let bids = wire_levels(field(d, "bids")?)?;
        let checksum = match opt_int(d, "checksum")? {
            None => 0,
            Some(c) => i32::try_from(c).map_err(|_| "checksum out of range")?,
        };
        return Ok(Okx::Book {
            head: BookHead {
                instrument,
                action,
                ts_ms: digits(d, "ts")?,
                checksum,
                seq_id: opt_int(d, "seqId")?,
                prev_seq_id: opt_int(d, "prevSeqId")?,
            },
            bids,
            asks,
        });
    }
    if channel == "bbo-tbt" {
        let d = only(data)?;
        let asks = levels(field(d, "asks")?, MAX_BOOK_LEVELS)?;
        let bids = levels(field(d, "bids")?, MAX_BOOK_LEVELS)?;
        return Ok(Okx::Bbo(Bbo {
            instrument,
            ts_ms: digits(d, "ts")?,
            seq_id: opt_int(d, "seqId")?,
            bid: bids.first().copied(),
            ask: asks.first().copied(),
        }));
    }
    let items = data.as_array().ok_or("data not an array")?;
    if items.len() > MAX_TRADES {
        return Err("too many trades".into());
    }
    let trades = items
        .iter()
        .map(|t| {
            let t = t.as_object().ok_or("trade not an object")?;
            Ok(OkxTrade {
                trade_id: digits(t, "tradeId")?,
                px: px(string(t, "px")?)?,
                qty: qty(string(t, "sz")?)?,
                side: match string(t, "side")? {
                    "buy" => Side::Buy,
                    "sell" => Side::Sell,
                    _ => return Err("bad side".to_owned()),
                },
                ts_ms: digits(t, "ts")?,
            })
        })
        .collect::<R<Vec<_>>>()?;
    Ok(Okx::Trades { instrument, trades })
}
