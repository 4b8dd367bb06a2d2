//! Pieces every strategy uses: exact basis-point arithmetic, lot and tick rounding, exposure,
//! marketable prices and config readers.

use tickwire_core::book::Level;
use tickwire_core::config::Section;
use tickwire_core::engine::Ctx;
use tickwire_core::event::Side;
use tickwire_core::ids::InstrumentId;
use tickwire_core::market::MarketView;
use tickwire_core::num::{InstrumentSpec, Px, Qty, Round};

/// Raw units of one basis point in a [`Bps`] (9 decimals, like prices).
const BPS_SCALE: i128 = 1_000_000_000;
/// `1 / 10_000` in [`Bps`] raw units: a fraction `f` is `f × DENOM` raw.
pub const BPS_DENOM: i128 = 10_000 * BPS_SCALE;

/// A signed number of basis points with 9 decimals, exact (`"7.5"` bps is `7_500_000_000`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bps(pub i64);

impl Bps {
    /// Zero.
    pub const ZERO: Self = Self(0);

    /// Raw nano-bps.
    pub fn raw(self) -> i128 {
        i128::from(self.0)
    }

    /// `px × (1 + self)` rounded onto `spec`'s tick grid with `mode`; `None` past the range.
    pub fn scale_up(self, px: Px, spec: &InstrumentSpec, mode: Round) -> Option<Px> {
        let v = i128::from(px.raw()) * (BPS_DENOM + self.raw());
        let (q, r) = (v.div_euclid(BPS_DENOM), v.rem_euclid(BPS_DENOM));
        // Round the exact quotient towards the grid direction first, so that a result just
        // off a tick is never pulled across it by integer truncation.
        let q = if r != 0 && mode == Round::Up {
            q + 1
        } else {
            q
        };
        let raw = i64::try_from(q).ok()?;
        spec.round_px(Px::from_raw(raw), mode)
    }

    /// `px × (1 − self)` rounded onto the tick grid with `mode`.
    pub fn scale_down(self, px: Px, spec: &InstrumentSpec, mode: Round) -> Option<Px> {
        Bps(self.0.checked_neg()?).scale_up(px, spec, mode)
    }

    /// The value as a decimal string.
    pub fn to_px_string(self) -> String {
        Px::from_raw(self.0).to_string()
    }
}

/// Reads an optional basis-point setting written as a decimal string, within `[min, max]`.
pub fn bps_or(s: &mut Section<'_>, key: &str, min: Bps, max: Bps, default: Bps) -> Bps {
    match s.opt_parsed::<Px>(key, "number of basis points") {
        Some(v) if (min.0..=max.0).contains(&v.raw()) => Bps(v.raw()),
        Some(v) => {
            s.error(
                key,
                format!(
                    "{v} bps is out of range {}..={}",
                    min.to_px_string(),
                    max.to_px_string()
                ),
            );
            default
        }
        None => default,
    }
}

/// Reads an optional float setting within `[min, max]` (model parameters, never prices).
pub fn float_or(s: &mut Section<'_>, key: &str, min: f64, max: f64, default: f64) -> f64 {
    match s.opt_float(key) {
        Some(v) if v.is_finite() && (min..=max).contains(&v) => v,
        Some(v) => {
            s.error(key, format!("{v} is out of range {min}..={max}"));
            default
        }
        None => default,
    }
}

/// Reads a required strictly positive quantity.
pub fn positive_qty(s: &mut Section<'_>, key: &str) -> Option<Qty> {
    let q = s.qty(key)?;
    if q.is_zero() {
        s.error(key, "must be > 0");
        return None;
    }
    Some(q)
}

/// Resolves the instrument symbol under `key` against the configured instruments.
pub fn instrument(
    s: &mut Section<'_>,
    key: &str,
    instruments: &[InstrumentSpec],
) -> Option<InstrumentSpec> {
    let sym = s.str(key)?;
    let found = instruments.iter().find(|i| i.symbol == sym).cloned();
    if found.is_none() {
        s.error(key, format!("no instrument {sym:?} is configured"));
    }
    found
}

/// Position plus what open orders would add if they all filled, in raw quantity units:
/// sizing against this, not the bare position, keeps in-flight orders from overshooting a limit.
pub fn exposure(ctx: &Ctx<'_>, inst: InstrumentId) -> i64 {
    let pending: i64 = ctx
        .open_orders()
        .filter(|o| o.instrument == inst)
        .map(|o| o.side.sign() * o.leaves().raw())
        .sum();
    ctx.position(inst).raw().saturating_add(pending)
}

/// `qty` rounded down onto the lot grid (never negative).
pub fn lots_down(qty: Qty, spec: &InstrumentSpec) -> Qty {
    spec.round_qty(qty.max(Qty::ZERO), Round::Down)
        .unwrap_or(Qty::ZERO)
}

/// The visible levels of one side, best first: the depth book if it has any, else the last
/// top of book.
pub fn levels(view: &MarketView, side: Side) -> impl Iterator<Item = Level> + '_ {
    let (bids, asks) = view.book.depth();
    let from_top = match side {
        Side::Buy if bids == 0 => view.top.map(|t| Level {
            px: t.bid_px,
            qty: t.bid_qty,
        }),
        Side::Sell if asks == 0 => view.top.map(|t| Level {
            px: t.ask_px,
            qty: t.ask_qty,
        }),
        _ => None,
    };
    // Two concrete iterator types, one of them empty: no boxing on the hot path.
    let (bids, asks) = match side {
        Side::Buy => (Some(view.book.bids()), None),
        Side::Sell => (None, Some(view.book.asks())),
    };
    bids.into_iter()
        .flatten()
        .chain(asks.into_iter().flatten())
        .chain(from_top)
        .filter(|l| l.px.is_positive() && l.qty.is_positive())
}

/// A marketable limit price for an order on `side`: the opposite touch moved `band` further
/// (buy: ask × (1 + band), rounded down; sell: bid × (1 − band), rounded up), so the order
/// takes what is there but never trades more than `band` beyond the touch.
pub fn marketable(view: &MarketView, side: Side, band: Bps) -> Option<Px> {
    match side {
        Side::Buy => band.scale_up(view.best_ask()?, &view.spec, Round::Down),
        Side::Sell => band.scale_down(view.best_bid()?, &view.spec, Round::Up),
    }
}

/// Greatest common divisor (for a lot valid on two venues).
pub fn gcd(mut a: i64, mut b: i64) -> i64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.abs()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickwire_core::ids::VenueId;

    fn spec() -> InstrumentSpec {
        InstrumentSpec {
            id: InstrumentId(0),
            venue: VenueId::OKX,
            symbol: "X".into(),
            tick: Px::parse("0.1").expect("literal"),
            lot: Qty::parse("0.001").expect("literal"),
            min_qty: Qty::ZERO,
            min_notional: Px::ZERO,
        }
    }

    #[test]
    fn bps_scaling_is_exact_and_stays_inside_the_band() {
        let s = spec();
        let p = Px::parse("100").expect("literal");
        let b = Bps(25 * 1_000_000_000); // 25 bps: 100 → 100.25
        assert_eq!(b.scale_up(p, &s, Round::Down), Px::parse("100.2").ok());
        assert_eq!(b.scale_up(p, &s, Round::Up), Px::parse("100.3").ok());
        assert_eq!(b.scale_down(p, &s, Round::Up), Px::parse("99.8").ok());
        assert_eq!(b.scale_down(p, &s, Round::Down), Px::parse("99.7").ok());
        // Exactly on the grid: no rounding either way.
        let b = Bps(100 * 1_000_000_000);
        assert_eq!(b.scale_up(p, &s, Round::Up), Px::parse("101").ok());
        assert_eq!(
            lots_down(Qty::parse("0.0129").expect("l"), &s),
            Qty::parse("0.012").expect("l")
        );
        assert_eq!(gcd(10, 4), 2);
    }
}
