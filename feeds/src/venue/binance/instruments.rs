//! Instrument specs from Binance `GET /api/v3/exchangeInfo`.
//!
//! Per symbol: `PRICE_FILTER.tickSize` → tick, `LOT_SIZE.stepSize` → lot, `LOT_SIZE.minQty` →
//! minimum quantity, and `NOTIONAL.minNotional` (current) or `MIN_NOTIONAL.minNotional` (before
//! 2023) → minimum notional, zero when neither filter is present. Runs once at start-up, off
//! the hot path.

use simd_json::tape::Value;
use tickwire_core::ids::{InstrumentId, VenueId};
use tickwire_core::num::{InstrumentSpec, Px, Qty};

use crate::venue::json::{self, TapeParser};
use crate::venue::{DecodeError, SpecLoadError};

/// Specs for the symbols `select` maps to an instrument id, in the list's order. `body` is the
/// exchangeInfo JSON (simd-json rewrites it in place).
pub fn parse_exchange_info(
    body: &mut [u8],
    venue: VenueId,
    mut select: impl FnMut(&str) -> Option<InstrumentId>,
) -> Result<Vec<InstrumentSpec>, SpecLoadError> {
    let mut out = Vec::new();
    TapeParser::new().parse(body, |root| {
        let top = json::object(root, "exchangeInfo")?;
        let symbols = json::array(
            top.get("symbols")
                .ok_or(DecodeError::MissingField("symbols"))?,
            "symbols",
        )?;
        for entry in symbols.iter() {
            let obj = json::object(entry, "symbols")?;
            let symbol = json::str_of(
                obj.get("symbol")
                    .ok_or(DecodeError::MissingField("symbol"))?,
                "symbol",
            )?;
            let Some(id) = select(symbol) else {
                continue;
            };
            out.push(spec(entry, symbol, venue, id));
        }
        Ok(())
    })?;
    out.into_iter().collect()
}

/// Specs for exactly the `wanted` (symbol, id) pairs, in that order; a missing symbol is an
/// error.
pub fn specs_for(
    body: &mut [u8],
    venue: VenueId,
    wanted: &[(&str, InstrumentId)],
) -> Result<Vec<InstrumentSpec>, SpecLoadError> {
    let found = parse_exchange_info(body, venue, |s| {
        wanted.iter().find(|(w, _)| *w == s).map(|(_, id)| *id)
    })?;
    wanted
        .iter()
        .map(|(symbol, _)| {
            found
                .iter()
                .find(|spec| spec.symbol == *symbol)
                .cloned()
                .ok_or_else(|| SpecLoadError::Missing((*symbol).to_owned()))
        })
        .collect()
}

fn spec(
    entry: Value<'_, '_>,
    symbol: &str,
    venue: VenueId,
    id: InstrumentId,
) -> Result<InstrumentSpec, SpecLoadError> {
    let field = |error| SpecLoadError::Field {
        symbol: symbol.to_owned(),
        error,
    };
    let filters = entry
        .get("filters")
        .ok_or(DecodeError::MissingField("filters"))
        .and_then(|f| json::array(f, "filters"))
        .map_err(field)?;
    let (mut tick, mut lot, mut min_qty) = (None, None, None);
    let (mut notional, mut legacy_notional) = (None, None);
    for filter in filters.iter() {
        let kind = filter
            .get("filterType")
            .ok_or(DecodeError::MissingField("filterType"))
            .and_then(|k| json::str_of(k, "filterType"))
            .map_err(field)?;
        let px_field = |name: &'static str| -> Result<Px, SpecLoadError> {
            let v = filter
                .get(name)
                .ok_or(DecodeError::MissingField(name))
                .map_err(field)?;
            json::px_of(v, name).map_err(field)
        };
        let qty_field = |name: &'static str| -> Result<Qty, SpecLoadError> {
            let v = filter
                .get(name)
                .ok_or(DecodeError::MissingField(name))
                .map_err(field)?;
            json::qty_of(v, name).map_err(field)
        };
        match kind {
            "PRICE_FILTER" => tick = Some(px_field("tickSize")?),
            "LOT_SIZE" => {
                lot = Some(qty_field("stepSize")?);
                min_qty = Some(qty_field("minQty")?);
            }
            "NOTIONAL" => notional = Some(px_field("minNotional")?),
            "MIN_NOTIONAL" => legacy_notional = Some(px_field("minNotional")?),
            _ => {}
        }
    }
    let spec = InstrumentSpec {
        id,
        venue,
        symbol: symbol.to_owned(),
        tick: tick.ok_or_else(|| field(DecodeError::MissingField("PRICE_FILTER")))?,
        lot: lot.ok_or_else(|| field(DecodeError::MissingField("LOT_SIZE")))?,
        min_qty: min_qty.unwrap_or(Qty::ZERO),
        min_notional: notional.or(legacy_notional).unwrap_or(Px::ZERO),
    };
    spec.validate().map_err(|error| SpecLoadError::Invalid {
        symbol: symbol.to_owned(),
        error,
    })?;
    Ok(spec)
}
