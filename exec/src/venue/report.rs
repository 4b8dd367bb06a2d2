//! Shared pieces of the venue execution-message decoders ([`super::binance::reports`],
//! [`super::okx::reports`]): the reusable JSON scratch (simd-json tape + buffers, kept between
//! messages so that after warm-up decoding allocates nothing — `tests/no_alloc_reports.rs`
//! counts), the symbol table, the decode error and the decode summary.

use core::fmt;

use simd_json::prelude::*;
use simd_json::tape::{Tape, Value};
use tickwire_core::event::FeeUnit;
use tickwire_core::ids::{ClientOrderId, InstrumentId, StrategyId};
use tickwire_core::num::{Px, Qty};

/// Why a venue message could not be decoded. Nothing is emitted for a message that fails,
/// except where documented (an HTTP status that decides the outcome on its own).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Not valid JSON (or nested too deeply).
    Json,
    /// A required field is missing.
    Missing(&'static str),
    /// A field has the wrong JSON type or an unparsable value.
    Invalid(&'static str),
    /// The symbol / instId is not in the caller's table.
    UnknownSymbol,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Json => f.write_str("malformed JSON"),
            Self::Missing(field) => write!(f, "missing field {field}"),
            Self::Invalid(field) => write!(f, "invalid value in field {field}"),
            Self::UnknownSymbol => f.write_str("symbol not in the instrument table"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// What kind of message was decoded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MessageKind {
    /// A message that carries no execution information (balance update, subscribe reply,
    /// `REPLACED`, ...); nothing was emitted.
    #[default]
    Ignored,
    /// A user-data / private-channel push.
    Push,
    /// A reply to one of our requests (REST or WebSocket).
    Reply,
}

/// Maximum asset-code length kept in a [`RawFee`]; longer codes are truncated (and flagged).
pub const ASSET_MAX: usize = 16;

/// A commission as the venue sent it, kept when it was charged in an asset that is neither the
/// instrument's quote nor its base (BNB): the fill then carries it as [`FeeUnit::Other`] and
/// this names the asset. The amount uses our sign convention: positive = paid, negative = rebate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RawFee {
    /// Commission amount (summed over the fills of one reply when they share the asset).
    pub amount: Px,
    asset: [u8; ASSET_MAX],
    asset_len: u8,
    /// The asset code was longer than [`ASSET_MAX`] and is truncated.
    pub asset_truncated: bool,
    /// Fills of one reply charged different non-quote assets; `amount`/`asset` describe the
    /// first one only.
    pub mixed_assets: bool,
}

impl RawFee {
    pub(crate) fn new(amount: Px, asset: &[u8]) -> Self {
        let n = asset.len().min(ASSET_MAX);
        let mut a = [0u8; ASSET_MAX];
        a[..n].copy_from_slice(&asset[..n]);
        Self {
            amount,
            asset: a,
            asset_len: n as u8,
            asset_truncated: asset.len() > ASSET_MAX,
            mixed_assets: false,
        }
    }

    /// The commission asset (empty when the venue sent `null`).
    pub fn asset(&self) -> &[u8] {
        &self.asset[..usize::from(self.asset_len)]
    }

    /// Adds another other-asset fee of one reply.
    pub(crate) fn merge(slot: &mut Option<Self>, amount: Px, asset: &[u8]) {
        match slot {
            None => *slot = Some(Self::new(amount, asset)),
            Some(f) if f.asset() == asset && !f.asset_truncated => {
                f.amount = f.amount.saturating_add(amount);
            }
            Some(f) => f.mixed_assets = true,
        }
    }
}

/// What a decode call did, beside the reports it emitted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecodeSummary {
    /// Kind of message.
    pub kind: MessageKind,
    /// Reports emitted.
    pub emitted: u32,
    /// Commission charged in neither the quote nor the base asset (booked on the fill as
    /// [`FeeUnit::Other`]), with the asset's name as sent.
    pub unbooked_fee: Option<RawFee>,
    /// At least one report concerned an order whose client id is not ours (empty or not of
    /// the `tw<strategy>x<seq>` form); it was emitted with the "none" client id.
    pub foreign: bool,
    /// OKX only: the reply envelope's `code` was non-zero but carried no per-order entry
    /// (`"data":[]`, a format error): the caller must fail the request by its id.
    pub envelope_error: Option<i32>,
}

/// Maps venue symbols (`BTCUSDT`, `BTC-USDT`) to instrument ids and their quote and base
/// assets. Built once at start-up; lookups are a linear scan over a handful of entries, no
/// allocation.
#[derive(Clone, Debug, Default)]
pub struct SymbolTable {
    entries: Vec<SymbolEntry>,
}

#[derive(Clone, Debug)]
struct SymbolEntry {
    symbol: Box<[u8]>,
    quote: Box<[u8]>,
    base: Box<[u8]>,
    id: InstrumentId,
}

impl SymbolTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) `symbol` → `id` quoted in `quote`. The base asset is the symbol
    /// without its quote suffix and separator (`BTCUSDT`, `BTC-USDT` → `BTC`); use
    /// [`Self::insert_with_base`] when the symbol is not of that form.
    pub fn insert(&mut self, symbol: &str, quote: &str, id: InstrumentId) {
        let base = symbol
            .strip_suffix(quote)
            .map(|b| b.strip_suffix('-').unwrap_or(b))
            .unwrap_or("");
        self.insert_with_base(symbol, base, quote, id);
    }

    /// Adds (or replaces) `symbol` → `id` trading `base` against `quote`: commissions in
    /// either are booked on the fill with their [`FeeUnit`]. An empty `base` matches no asset.
    pub fn insert_with_base(&mut self, symbol: &str, base: &str, quote: &str, id: InstrumentId) {
        self.entries.retain(|e| &*e.symbol != symbol.as_bytes());
        self.entries.push(SymbolEntry {
            symbol: symbol.as_bytes().into(),
            quote: quote.as_bytes().into(),
            base: base.as_bytes().into(),
            id,
        });
    }

    /// The instrument and quote asset of `symbol`.
    pub fn get(&self, symbol: &[u8]) -> Option<(InstrumentId, &[u8])> {
        // `as_slice` on purpose: with simd-json's prelude in scope, `Vec::iter` would resolve to
        // value-trait's `Array::iter`, which boxes its iterator (one allocation per lookup).
        self.entries
            .as_slice()
            .iter()
            .find(|e| &*e.symbol == symbol)
            .map(|e| (e.id, &*e.quote))
    }

    /// The instrument and its assets of `symbol`.
    pub fn assets(&self, symbol: &[u8]) -> Option<(InstrumentId, Assets<'_>)> {
        self.entries
            .as_slice()
            .iter()
            .find(|e| &*e.symbol == symbol)
            .map(|e| {
                (
                    e.id,
                    Assets {
                        quote: &e.quote,
                        base: &e.base,
                    },
                )
            })
    }
}

/// The quote and base asset codes of an instrument, as the venue spells them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Assets<'a> {
    /// Quote currency (`USDT`).
    pub quote: &'a [u8],
    /// Base asset (`BTC`); empty when unknown.
    pub base: &'a [u8],
}

impl Assets<'_> {
    /// Classifies a commission of `amount` (ours: positive = paid) charged in `asset`. A fee in
    /// another asset is also recorded, with its name, in the summary. A zero commission with
    /// no asset (`null`) is a zero quote fee.
    pub(crate) fn fee(
        &self,
        amount: Px,
        asset: &[u8],
        summary: &mut DecodeSummary,
    ) -> (Px, FeeUnit) {
        if asset == self.quote || (amount.is_zero() && asset.is_empty()) {
            (amount, FeeUnit::Quote)
        } else if !self.base.is_empty() && asset == self.base {
            (amount, FeeUnit::Base)
        } else {
            if !amount.is_zero() {
                RawFee::merge(&mut summary.unbooked_fee, amount, asset);
            }
            (amount, FeeUnit::Other)
        }
    }
}

/// Parses our client order id form `tw<strategy>x<seq>` (decimal, no sign, no leading zeros
/// beyond a lone `0` strategy). Anything else, including the empty string, is "not ours".
pub fn parse_client_order_id(s: &[u8]) -> Option<ClientOrderId> {
    let rest = s.strip_prefix(b"tw")?;
    let x = rest.iter().position(|&b| b == b'x')?;
    let strategy = parse_dec(&rest[..x], 5)?;
    let seq = parse_dec(&rest[x + 1..], 15)?;
    ClientOrderId::new(StrategyId(u16::try_from(strategy).ok()?), seq)
}

/// Canonical unsigned decimal of at most `max_digits` digits.
fn parse_dec(d: &[u8], max_digits: usize) -> Option<u64> {
    if d.is_empty() || d.len() > max_digits || (d.len() > 1 && d[0] == b'0') {
        return None;
    }
    d.iter().try_fold(0u64, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u64::from(b - b'0'))
    })
}

/// Our id, or "none" plus the foreign flag.
pub(crate) fn our_id(s: &[u8], summary: &mut DecodeSummary) -> ClientOrderId {
    parse_client_order_id(s).unwrap_or_else(|| {
        summary.foreign = true;
        ClientOrderId::default()
    })
}

/// Reusable parse state: simd-json buffers and a tape whose allocation survives between
/// messages (its borrow of the input ends with each call).
pub(crate) struct JsonScratch {
    buffers: simd_json::Buffers,
    tape: Option<Tape<'static>>,
}

impl fmt::Debug for JsonScratch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonScratch").finish_non_exhaustive()
    }
}

impl JsonScratch {
    pub(crate) fn new() -> Self {
        Self {
            buffers: simd_json::Buffers::new(64 * 1024),
            tape: Some(Tape(Vec::with_capacity(8 * 1024))),
        }
    }

    /// Parses `input` in place (simd-json unescapes strings into it) and hands the root to `f`.
    pub(crate) fn with_root<R>(
        &mut self,
        input: &mut [u8],
        f: impl FnOnce(Value<'_, '_>) -> Result<R, DecodeError>,
    ) -> Result<R, DecodeError> {
        let mut tape: Tape<'_> = self.tape.take().unwrap_or_else(Tape::null).reset();
        let r = match simd_json::fill_tape(input, &mut self.buffers, &mut tape) {
            Ok(()) => f(tape.as_value()),
            Err(_) => Err(DecodeError::Json),
        };
        self.tape = Some(tape.reset());
        r
    }
}

/// Tape-value helpers with field names for errors.
pub(crate) type V<'t, 'i> = Value<'t, 'i>;

pub(crate) fn field<'t, 'i>(v: V<'t, 'i>, key: &'static str) -> Result<V<'t, 'i>, DecodeError> {
    v.get(key).ok_or(DecodeError::Missing(key))
}

pub(crate) fn str_of<'i>(v: V<'_, 'i>, key: &'static str) -> Result<&'i str, DecodeError> {
    field(v, key)?
        .into_string()
        .ok_or(DecodeError::Invalid(key))
}

/// A string field, or "" when absent or `null`.
pub(crate) fn str_or_empty<'i>(v: V<'_, 'i>, key: &'static str) -> Result<&'i str, DecodeError> {
    match v.get(key) {
        None => Ok(""),
        Some(x) if x.is_null() => Ok(""),
        Some(x) => x.into_string().ok_or(DecodeError::Invalid(key)),
    }
}

pub(crate) fn i64_of(v: V<'_, '_>, key: &'static str) -> Result<i64, DecodeError> {
    field(v, key)?.as_i64().ok_or(DecodeError::Invalid(key))
}

pub(crate) fn u64_of(v: V<'_, '_>, key: &'static str) -> Result<u64, DecodeError> {
    field(v, key)?.as_u64().ok_or(DecodeError::Invalid(key))
}

/// An unsigned decimal id sent as a JSON string (OKX).
pub(crate) fn u64_str(v: V<'_, '_>, key: &'static str) -> Result<u64, DecodeError> {
    let s = str_of(v, key)?;
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DecodeError::Invalid(key));
    }
    s.parse().map_err(|_| DecodeError::Invalid(key))
}

pub(crate) fn px_of(v: V<'_, '_>, key: &'static str) -> Result<Px, DecodeError> {
    Px::parse_bytes(str_of(v, key)?.as_bytes()).map_err(|_| DecodeError::Invalid(key))
}

pub(crate) fn signed_px_of(v: V<'_, '_>, key: &'static str) -> Result<Px, DecodeError> {
    Px::parse_signed(str_of(v, key)?).map_err(|_| DecodeError::Invalid(key))
}

pub(crate) fn qty_of(v: V<'_, '_>, key: &'static str) -> Result<Qty, DecodeError> {
    Qty::parse_bytes(str_of(v, key)?.as_bytes()).map_err(|_| DecodeError::Invalid(key))
}

/// Epoch milliseconds → nanoseconds (0 when out of range).
pub(crate) fn ms_to_ns(ms: i64) -> i64 {
    ms.checked_mul(1_000_000).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_order_ids() {
        let id = ClientOrderId::new(StrategyId(7), 42).unwrap();
        assert_eq!(parse_client_order_id(b"tw7x42"), Some(id));
        let max = ClientOrderId::new(StrategyId(u16::MAX), (1 << 48) - 1).unwrap();
        assert_eq!(parse_client_order_id(max.to_string().as_bytes()), Some(max));
        for bad in [
            &b""[..],
            b"tw",
            b"twx1",
            b"tw1x",
            b"tw1x0",
            b"tw01x1",
            b"tw1x01",
            b"tw65536x1",
            b"tw1x281474976710656",
            b"tw1x1x",
            b"TW1x1",
            b"6gCrw2kRUAF9CvJDGP16IP",
            b"tw-1x1",
        ] {
            assert_eq!(parse_client_order_id(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn raw_fee_merge() {
        let mut s = None;
        RawFee::merge(&mut s, Px::ONE, b"BNB");
        RawFee::merge(&mut s, Px::ONE, b"BNB");
        let f = s.unwrap();
        assert_eq!(f.amount, Px::from_units(2).unwrap());
        assert_eq!(f.asset(), b"BNB");
        assert!(!f.mixed_assets);
        RawFee::merge(&mut s, Px::ONE, b"BTC");
        assert!(s.unwrap().mixed_assets);
    }
}
