//! Orders as the core knows them: what a strategy asks for ([`OrderRequest`]), the open-order
//! table and fill de-duplication ([`table`]), and the order state machine as one transition
//! table ([`OrderEvent`], [`OrderState::apply`](crate::event::OrderState::apply)).
//!
//! Basic types with no engine or risk logic: both the engine and risk use them, and neither
//! is needed to understand them.

mod state;
mod table;

pub use state::OrderEvent;
pub use table::{FillDedup, OrderEntry, OrderTable};

use crate::event::{OrderType, Side, TimeInForce};
use crate::ids::InstrumentId;
use crate::num::{Px, Qty};

/// An order a strategy wants to place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderRequest {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Direction.
    pub side: Side,
    /// Limit price (must be on the tick grid).
    pub px: Px,
    /// Quantity (must be on the lot grid and meet the minimums).
    pub qty: Qty,
    /// Order type.
    pub order_type: OrderType,
    /// Time in force.
    pub tif: TimeInForce,
}
