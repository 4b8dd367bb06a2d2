//! Market-data parsing comparison: real frames per message type, and the same work done by
//! tickwire's decoders and by generic JSON baselines. Shared by `benches/parse.rs` (criterion,
//! ns/message) and `examples/parse_count.rs` (callgrind, instructions/message).
//!
//! Every variant parses the same in-place frame buffers (the captures hold no escapes, so
//! simd-json's in-place unescaping leaves them unchanged and they can be parsed repeatedly).
//! The baselines produce what a generic parser gives: borrowed strings (typed serde), or a
//! DOM (`serde_json::Value`, simd-json's borrowed `Value`); tickwire's decoders produce exact
//! fixed-point prices and instrument ids, i.e. strictly more work.

use std::hint::black_box;
use std::io::Read as _;
use std::path::PathBuf;

use serde::Deserialize;
use tickwire_core::ids::InstrumentId;
use tickwire_feeds::venue::SymbolTable;
use tickwire_feeds::venue::binance::{BinanceDecoder, BinanceMsg};
use tickwire_feeds::venue::okx::{OkxDecoder, OkxMsg};

/// Message types with real frames in the captures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Binance `bookTicker` (combined stream).
    BookTicker,
    /// Binance `depthUpdate` (combined stream, 100 ms).
    DepthUpdate,
    /// Binance `trade` (combined stream).
    Trade,
    /// OKX `books` update.
    OkxBooks,
    /// OKX `trades`.
    OkxTrades,
}

impl Kind {
    /// All kinds.
    pub const ALL: [Kind; 5] = [
        Kind::BookTicker,
        Kind::DepthUpdate,
        Kind::Trade,
        Kind::OkxBooks,
        Kind::OkxTrades,
    ];

    /// Command-line / report name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::BookTicker => "bookTicker",
            Kind::DepthUpdate => "depthUpdate",
            Kind::Trade => "trade",
            Kind::OkxBooks => "okx-books",
            Kind::OkxTrades => "okx-trades",
        }
    }

    /// Looks a kind up by name.
    pub fn from_name(s: &str) -> Option<Kind> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }

    fn is_okx(self) -> bool {
        matches!(self, Kind::OkxBooks | Kind::OkxTrades)
    }
}

/// The parsers compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// tickwire's decoder as used in production (hand-rolled fast path, simd-json fallback).
    Tickwire,
    /// tickwire's validating path alone (simd-json tape walk).
    TickwireSimd,
    /// simd-json's generic borrowed `Value`, with reused buffers.
    SimdValue,
    /// serde_json into typed `#[derive(Deserialize)]` structs with borrowed `&str` fields.
    SerdeTyped,
    /// serde_json into `serde_json::Value`.
    SerdeValue,
}

impl Variant {
    /// All variants.
    pub const ALL: [Variant; 5] = [
        Variant::Tickwire,
        Variant::TickwireSimd,
        Variant::SimdValue,
        Variant::SerdeTyped,
        Variant::SerdeValue,
    ];

    /// Command-line / report name.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Tickwire => "tickwire",
            Variant::TickwireSimd => "tickwire-simd",
            Variant::SimdValue => "simd-json-value",
            Variant::SerdeTyped => "serde-typed",
            Variant::SerdeValue => "serde-value",
        }
    }

    /// Looks a variant up by name.
    pub fn from_name(s: &str) -> Option<Variant> {
        Self::ALL.into_iter().find(|v| v.name() == s)
    }
}

fn data_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data"))
}

/// Real frames of `kind`, at most `max`, in capture order.
pub fn corpus(kind: Kind, max: usize) -> Vec<Vec<u8>> {
    let lines: Vec<Vec<u8>> = if kind.is_okx() {
        std::fs::read(data_dir().join("okx/cryptofeed_OKX.ws.raw.ndjson"))
            .expect("OKX capture")
            .split(|&b| b == b'\n')
            .map(<[u8]>::to_vec)
            .collect()
    } else {
        let gz = std::fs::read(data_dir().join("binance/btcusdt_20240808.gz")).expect("capture");
        let mut text = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut text)
            .expect("gzip");
        text.split(|&b| b == b'\n')
            .filter_map(|l| {
                l.iter()
                    .position(|&b| b == b' ')
                    .map(|i| l[i + 1..].to_vec())
            })
            .collect()
    };
    let marker: &[u8] = match kind {
        Kind::BookTicker => b"@bookTicker\"",
        Kind::DepthUpdate => b"\"depthUpdate\"",
        Kind::Trade => b"\"e\":\"trade\"",
        Kind::OkxBooks => b"\"action\":\"update\"",
        Kind::OkxTrades => b"\"channel\":\"trades\"",
    };
    lines
        .into_iter()
        .filter(|l| l.windows(marker.len()).any(|w| w == marker) && !l.starts_with(b"{\"event\""))
        .take(max)
        .collect()
}

/// Per-variant parser state, reused across messages as a feed handler would.
pub struct Parsers {
    binance: BinanceDecoder,
    okx: OkxDecoder,
    simd: simd_json::Buffers,
}

impl Default for Parsers {
    fn default() -> Self {
        Self::new()
    }
}

impl Parsers {
    /// Decoders for the captures' instruments.
    pub fn new() -> Self {
        let binance = SymbolTable::from_pairs([("BTCUSDT", InstrumentId(0))]).expect("symbols");
        let okx = SymbolTable::from_pairs([
            ("BTC-USD-220527", InstrumentId(0)),
            ("UNI-USD-SWAP", InstrumentId(1)),
            ("BTC-USDT", InstrumentId(2)),
        ])
        .expect("symbols");
        Self {
            binance: BinanceDecoder::new(binance),
            okx: OkxDecoder::new(okx),
            simd: simd_json::Buffers::new(64 * 1024),
        }
    }

    /// Parses one frame with `variant`; returns a value derived from the result so that the
    /// work cannot be optimised away.
    #[inline]
    pub fn parse(&mut self, variant: Variant, kind: Kind, frame: &mut [u8]) -> u64 {
        match (variant, kind.is_okx()) {
            (Variant::Tickwire, false) => binance_digest(self.binance.decode(frame)),
            (Variant::TickwireSimd, false) => binance_digest(self.binance.decode_validating(frame)),
            (Variant::Tickwire, true) => okx_digest(self.okx.decode(frame)),
            (Variant::TickwireSimd, true) => okx_digest(self.okx.decode_validating(frame)),
            (Variant::SimdValue, _) => {
                use simd_json::prelude::TypedObjectValue as _;
                simd_json::value::borrowed::to_value_with_buffers(frame, &mut self.simd)
                    .map_or(0, |v| black_box(&v).is_object() as u64)
            }
            (Variant::SerdeValue, _) => serde_json::from_slice::<serde_json::Value>(frame)
                .map_or(0, |v| black_box(&v).is_object() as u64),
            (Variant::SerdeTyped, _) => serde_typed(kind, frame),
        }
    }
}

fn binance_digest(m: Result<BinanceMsg<'_>, tickwire_feeds::venue::DecodeError>) -> u64 {
    match m {
        Ok(BinanceMsg::BookTicker(t)) => t.bid_px.raw() as u64 ^ t.ask_qty.raw() as u64,
        Ok(BinanceMsg::Depth(d)) => d.head.final_update_id ^ d.bids.len() as u64,
        Ok(BinanceMsg::Trade(t)) => t.trade_id ^ t.px.raw() as u64,
        Ok(_) => 1,
        Err(_) => 0,
    }
}

fn okx_digest(m: Result<OkxMsg<'_>, tickwire_feeds::venue::DecodeError>) -> u64 {
    match m {
        Ok(OkxMsg::Book(b)) => b.head.checksum as u64 ^ b.bids.len() as u64,
        Ok(OkxMsg::Trades(t)) => t.trades.len() as u64,
        Ok(_) => 1,
        Err(_) => 0,
    }
}

/// The combined-stream wrapper.
#[derive(Deserialize)]
struct Wrapper<'a, T> {
    #[serde(borrow)]
    stream: &'a str,
    data: T,
}

#[derive(Deserialize)]
#[allow(non_snake_case, dead_code)]
struct BookTickerSerde<'a> {
    u: u64,
    s: &'a str,
    b: &'a str,
    B: &'a str,
    a: &'a str,
    A: &'a str,
}

#[derive(Deserialize)]
#[allow(non_snake_case, dead_code)]
struct DepthSerde<'a> {
    e: &'a str,
    E: u64,
    s: &'a str,
    U: u64,
    u: u64,
    #[serde(borrow)]
    b: Vec<[&'a str; 2]>,
    #[serde(borrow)]
    a: Vec<[&'a str; 2]>,
}

#[derive(Deserialize)]
#[allow(non_snake_case, dead_code)]
struct TradeSerde<'a> {
    e: &'a str,
    E: u64,
    s: &'a str,
    t: u64,
    p: &'a str,
    q: &'a str,
    T: u64,
    m: bool,
    M: bool,
}

#[derive(Deserialize)]
#[allow(non_snake_case, dead_code)]
struct OkxArg<'a> {
    channel: &'a str,
    instId: &'a str,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct OkxPush<'a, T> {
    #[serde(borrow)]
    arg: OkxArg<'a>,
    #[serde(default)]
    action: Option<&'a str>,
    data: Vec<T>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct OkxBooksSerde<'a> {
    #[serde(borrow)]
    asks: Vec<[&'a str; 4]>,
    #[serde(borrow)]
    bids: Vec<[&'a str; 4]>,
    ts: &'a str,
    checksum: i64,
}

#[derive(Deserialize)]
#[allow(non_snake_case, dead_code)]
struct OkxTradeSerde<'a> {
    instId: &'a str,
    tradeId: &'a str,
    px: &'a str,
    sz: &'a str,
    side: &'a str,
    ts: &'a str,
}

fn serde_typed(kind: Kind, frame: &[u8]) -> u64 {
    match kind {
        Kind::BookTicker => serde_json::from_slice::<Wrapper<'_, BookTickerSerde<'_>>>(frame)
            .map_or(0, |w| w.data.u ^ w.stream.len() as u64),
        Kind::DepthUpdate => serde_json::from_slice::<Wrapper<'_, DepthSerde<'_>>>(frame)
            .map_or(0, |w| w.data.u ^ w.data.b.len() as u64),
        Kind::Trade => serde_json::from_slice::<Wrapper<'_, TradeSerde<'_>>>(frame)
            .map_or(0, |w| w.data.t ^ w.data.p.len() as u64),
        Kind::OkxBooks => serde_json::from_slice::<OkxPush<'_, OkxBooksSerde<'_>>>(frame)
            .map_or(0, |p| p.data.len() as u64 ^ p.data[0].checksum as u64),
        Kind::OkxTrades => serde_json::from_slice::<OkxPush<'_, OkxTradeSerde<'_>>>(frame)
            .map_or(0, |p| p.data.len() as u64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant accepts every frame of the corpora (a baseline that errored would be
    /// measuring its error path).
    #[test]
    fn every_variant_parses_every_frame() {
        let mut p = Parsers::new();
        for kind in Kind::ALL {
            let frames = corpus(kind, 2_000);
            assert!(!frames.is_empty(), "{kind:?}");
            for variant in Variant::ALL {
                for f in &frames {
                    let mut f = f.clone();
                    assert_ne!(p.parse(variant, kind, &mut f), 0, "{variant:?} {kind:?}");
                }
            }
        }
    }
}
