//! Instrument specs from OKX `GET /api/v5/public/instruments` (one `instType` per response).
//!
//! Per instrument: `tickSz` → tick, `lotSz` → lot, `minSz` → minimum quantity (contracts for
//! SWAP/FUTURES/OPTION, base currency for SPOT); OKX has no minimum notional (zero). Runs
//! once at start-up, off the hot path.

use tickwire_core::ids::{InstrumentId, VenueId};
use tickwire_core::num::{InstrumentSpec, Px};

use crate::venue::json::{self, TapeParser};
use crate::venue::{DecodeError, SpecLoadError};

/// Specs for the instIds `select` maps to an instrument id, in the response's order. `body`
/// is one response (simd-json rewrites it in place).
pub fn parse_instruments(
    body: &mut [u8],
    venue: VenueId,
    mut select: impl FnMut(&str) -> Option<InstrumentId>,
) -> Result<Vec<InstrumentSpec>, SpecLoadError> {
    let mut out = Vec::new();
    let mut venue_error = None;
    TapeParser::new().parse(body, |root| {
        let top = json::object(root, "instruments")?;
        if let Some(code) = top.get("code") {
            let code = json::str_of(code, "code")?;
            if code != "0" {
                venue_error = Some(code.to_owned());
                return Ok(());
            }
        }
        let data = json::array(
            top.get("data").ok_or(DecodeError::MissingField("data"))?,
            "data",
        )?;
        for entry in data.iter() {
            let obj = json::object(entry, "data")?;
            let inst = json::str_of(
                obj.get("instId")
                    .ok_or(DecodeError::MissingField("instId"))?,
                "instId",
            )?;
            let Some(id) = select(inst) else {
                continue;
            };
            let field = |error| SpecLoadError::Field {
                symbol: inst.to_owned(),
                error,
            };
            let get = |name: &'static str| {
                obj.get(name)
                    .ok_or(DecodeError::MissingField(name))
                    .map_err(field)
            };
            let spec = (|| -> Result<InstrumentSpec, SpecLoadError> {
                let spec = InstrumentSpec {
                    id,
                    venue,
                    symbol: inst.to_owned(),
                    tick: json::px_of(get("tickSz")?, "tickSz").map_err(field)?,
                    lot: json::qty_of(get("lotSz")?, "lotSz").map_err(field)?,
                    min_qty: json::qty_of(get("minSz")?, "minSz").map_err(field)?,
                    min_notional: Px::ZERO,
                };
                spec.validate().map_err(|error| SpecLoadError::Invalid {
                    symbol: inst.to_owned(),
                    error,
                })?;
                Ok(spec)
            })();
            out.push(spec);
        }
        Ok(())
    })?;
    if let Some(code) = venue_error {
        return Err(SpecLoadError::VenueError(code));
    }
    out.into_iter().collect()
}

/// Specs for exactly the `wanted` (instId, id) pairs, looked up across several responses
/// (one per `instType`), in `wanted` order; a missing instId is an error.
pub fn specs_for(
    bodies: &mut [Vec<u8>],
    venue: VenueId,
    wanted: &[(&str, InstrumentId)],
) -> Result<Vec<InstrumentSpec>, SpecLoadError> {
    let mut found = Vec::new();
    for body in bodies.iter_mut() {
        found.extend(parse_instruments(body, venue, |s| {
            wanted.iter().find(|(w, _)| *w == s).map(|(_, id)| *id)
        })?);
    }
    wanted
        .iter()
        .map(|(symbol, _)| {
            found
                .iter()
                .find(|s| s.symbol == *symbol)
                .cloned()
                .ok_or_else(|| SpecLoadError::Missing((*symbol).to_owned()))
        })
        .collect()
}
