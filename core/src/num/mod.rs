//! Exact numbers: fixed-point prices and quantities, notional, instrument rules.

mod fixed;
mod instrument;

pub use fixed::{
    DECIMALS, NOTIONAL_SCALE, Notional, NumError, Px, Qty, SCALE, parse_nanos, write_nanos,
};
pub use instrument::{InstrumentSpec, QtyTolerance, Round, SpecError, qty_within};

#[cfg(test)]
mod tests;
