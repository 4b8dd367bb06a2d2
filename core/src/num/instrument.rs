//! Instrument specifications in the same fixed-point units as prices and quantities, and the
//! rounding and tolerance rules every order and fill is held to.

use core::fmt;

use super::fixed::{Notional, Px, Qty};
use crate::ids::{InstrumentId, VenueId};

/// Trading rules of one instrument on one venue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstrumentSpec {
    /// Engine-wide instrument id (index into the instrument table).
    pub id: InstrumentId,
    /// Venue the instrument trades on.
    pub venue: VenueId,
    /// The venue's symbol (`BTCUSDT`, `BTC-USDT`).
    pub symbol: String,
    /// Minimum price increment.
    pub tick: Px,
    /// Minimum quantity increment.
    pub lot: Qty,
    /// Minimum order quantity.
    pub min_qty: Qty,
    /// Minimum order notional in quote currency (zero when the venue has none).
    pub min_notional: Px,
}

/// Why an instrument specification is unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpecError {
    /// Tick size must be strictly positive.
    NonPositiveTick,
    /// Lot size must be strictly positive.
    NonPositiveLot,
    /// Minimum quantity and notional must not be negative.
    NegativeMinimum,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NonPositiveTick => "tick size must be > 0",
            Self::NonPositiveLot => "lot size must be > 0",
            Self::NegativeMinimum => "minimum quantity and notional must be >= 0",
        })
    }
}

impl std::error::Error for SpecError {}

/// Which way to round onto a grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Round {
    /// Towards negative infinity.
    Down,
    /// Towards positive infinity.
    Up,
    /// To the closest grid point, ties away from zero.
    Nearest,
}

fn round_to(raw: i64, step: i64, mode: Round) -> Option<i64> {
    // An unvalidated spec (step <= 0) gives `None` rather than a division panic.
    if step <= 0 {
        return None;
    }
    let rem = raw.rem_euclid(step);
    if rem == 0 {
        return Some(raw);
    }
    // Each neighbour is computed from `raw` directly: the one below can fall off the bottom of
    // the range near `i64::MIN` while the one above is still representable, and vice versa.
    let to_up = step - rem;
    let down = raw.checked_sub(rem);
    let up = raw.checked_add(to_up);
    match mode {
        Round::Down => down,
        Round::Up => up,
        Round::Nearest => {
            // Comparing `rem` with `to_up` rather than `rem * 2` with `step` cannot overflow for
            // a step past `i64::MAX / 2`. Ties go away from zero.
            let up_wins = if raw >= 0 { rem >= to_up } else { rem > to_up };
            if up_wins { up } else { down }
        }
    }
}

impl InstrumentSpec {
    /// Checks the spec's own consistency.
    pub fn validate(&self) -> Result<(), SpecError> {
        if !self.tick.is_positive() {
            return Err(SpecError::NonPositiveTick);
        }
        if !self.lot.is_positive() {
            return Err(SpecError::NonPositiveLot);
        }
        if self.min_qty.is_negative() || self.min_notional.is_negative() {
            return Err(SpecError::NegativeMinimum);
        }
        Ok(())
    }

    /// Rounds a price onto the tick grid; `None` only at the edge of the range (or when the
    /// tick is not positive, i.e. the spec does not validate).
    pub fn round_px(&self, px: Px, mode: Round) -> Option<Px> {
        round_to(px.raw(), self.tick.raw(), mode).map(Px::from_raw)
    }

    /// Rounds a quantity onto the lot grid; `None` only at the edge of the range (or when the
    /// lot is not positive, i.e. the spec does not validate).
    pub fn round_qty(&self, qty: Qty, mode: Round) -> Option<Qty> {
        round_to(qty.raw(), self.lot.raw(), mode).map(Qty::from_raw)
    }

    /// True if the price sits exactly on the tick grid (false for a zero tick).
    pub fn on_tick(&self, px: Px) -> bool {
        px.raw().checked_rem_euclid(self.tick.raw()) == Some(0)
    }

    /// True if the quantity sits exactly on the lot grid (false for a zero lot).
    pub fn on_lot(&self, qty: Qty) -> bool {
        qty.raw().checked_rem_euclid(self.lot.raw()) == Some(0)
    }

    /// True if an order of `qty` at `px` satisfies the minimum quantity and notional.
    pub fn meets_minimums(&self, px: Px, qty: Qty) -> bool {
        qty >= self.min_qty
            && Notional::of(px, qty).abs() >= Notional::from_quote(self.min_notional)
    }

    /// The default tolerance for comparing a reported quantity with an ordered one: the larger
    /// of one lot and 1% of the order (venues report fills more precisely than the lot grid,
    /// e.g. 0.024098 on an order of 0.0241).
    pub fn default_tolerance(&self, order_qty: Qty) -> Qty {
        QtyTolerance {
            lots: 1,
            percent_bps: 100,
        }
        .for_order(self.lot, order_qty)
    }
}

/// A tolerance for quantity comparisons: the larger of a number of lots and a fraction of the
/// order quantity (in basis points).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QtyTolerance {
    /// Absolute part, in lots.
    pub lots: i64,
    /// Relative part, in basis points of the order quantity (100 = 1%).
    pub percent_bps: i64,
}

impl QtyTolerance {
    /// The tolerance in quantity units for an order of `order_qty` on a grid of `lot`.
    pub fn for_order(self, lot: Qty, order_qty: Qty) -> Qty {
        let abs = lot.raw().saturating_mul(self.lots);
        let rel =
            i128::from(order_qty.raw().saturating_abs()) * i128::from(self.percent_bps) / 10_000;
        // Saturate rather than truncate: `as i64` would wrap a large `percent_bps` to garbage.
        let rel = i64::try_from(rel).unwrap_or(if rel < 0 { i64::MIN } else { i64::MAX });
        Qty::from_raw(abs.max(rel))
    }
}

/// True if `a` and `b` differ by at most `tolerance`.
pub fn qty_within(a: Qty, b: Qty, tolerance: Qty) -> bool {
    (i128::from(a.raw()) - i128::from(b.raw())).abs() <= i128::from(tolerance.raw())
}
