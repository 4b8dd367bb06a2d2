//! Paper execution: fills simulated in-process against real (live or simulated) market data,
//! with queue position.
//!
//! Paper trading is the [`SimExchange`](crate::sim_exchange::SimExchange) fed a venue's market
//! data instead of the synthetic market; this module holds the fill model both share:
//!
//! - **Taker**: an order that crosses takes the visible opposite levels up to its limit, level
//!   by level, and fills partially when they are not enough (the feed's liquidity is not
//!   consumed: no market impact).
//! - **Maker, queue position**: a resting order joins *behind* the quantity visible at its price
//!   on its side when it rests. Public trades at its price consume the queue ahead of it first,
//!   then fill it; a trade *through* its price fills it whole. The visible quantity at its price
//!   shrinking (cancellations, or trades we did not see) shortens the queue ahead to at most
//!   what is left. The opposite touch moving through its price fills it whole; touching it
//!   fills it once nothing is ahead.
//! - One public trade never fills our orders for more than its own quantity, in time priority.
//!
//! Everything is a pure function of the market events and commands in order: deterministic.

use tickwire_core::event::Side;
use tickwire_core::market::MarketView;
use tickwire_core::num::{Px, Qty};

/// Where a resting order stands in the queue at its price.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueuePosition {
    /// Visible quantity still ahead of the order.
    pub ahead: Qty,
}

impl QueuePosition {
    /// Joining behind everything visible at `px` on `side` now.
    pub fn join(view: &MarketView, side: Side, px: Px) -> Self {
        Self {
            ahead: visible_at(view, side, px),
        }
    }

    /// A public trade of `trade_qty` at `trade_px` hit our side. `used` is how much of this
    /// trade earlier orders (in time priority) already received. Returns the quantity that
    /// fills the order (at most `leaves`).
    pub fn on_trade(
        &mut self,
        side: Side,
        order_px: Px,
        leaves: Qty,
        trade_px: Px,
        trade_qty: Qty,
        used: Qty,
    ) -> Qty {
        let through = match side {
            Side::Buy => trade_px < order_px,
            Side::Sell => trade_px > order_px,
        };
        if through {
            self.ahead = Qty::ZERO;
            return leaves;
        }
        if trade_px != order_px {
            return Qty::ZERO;
        }
        let eaten = self.ahead.min(trade_qty);
        self.ahead = self.ahead.saturating_sub(eaten);
        let left = trade_qty.saturating_sub(eaten).saturating_sub(used);
        if left.is_positive() {
            left.min(leaves)
        } else {
            Qty::ZERO
        }
    }

    /// The book changed (and is consistent). Returns true if the order fills whole: the
    /// opposite touch went through its price, or reached it with nothing ahead.
    pub fn on_book(&mut self, view: &MarketView, side: Side, order_px: Px) -> bool {
        self.ahead = self.ahead.min(visible_at(view, side, order_px));
        match side {
            Side::Buy => view
                .best_ask()
                .is_some_and(|a| a < order_px || (a == order_px && self.ahead.is_zero())),
            Side::Sell => view
                .best_bid()
                .is_some_and(|b| b > order_px || (b == order_px && self.ahead.is_zero())),
        }
    }
}

/// Quantity visible at `px` on `side`: from the book, or from the top of book when the feed
/// carries only that.
pub fn visible_at(view: &MarketView, side: Side, px: Px) -> Qty {
    let (bids, asks) = view.book.depth();
    if bids == 0 && asks == 0 {
        return view
            .top
            .map(|t| match side {
                Side::Buy if t.bid_px == px => t.bid_qty,
                Side::Sell if t.ask_px == px => t.ask_qty,
                _ => Qty::ZERO,
            })
            .unwrap_or(Qty::ZERO);
    }
    let found = match side {
        Side::Buy => view.book.bids().find(|l| l.px == px),
        Side::Sell => view.book.asks().find(|l| l.px == px),
    };
    found.map_or(Qty::ZERO, |l| l.qty)
}
