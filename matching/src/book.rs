//! What the engine reads of the public market: the visible quantity per level.

use tickwire_core::book::L2Book;
use tickwire_core::event::Side;
use tickwire_core::market::MarketView;
use tickwire_core::num::{Px, Qty};

/// The public book our orders match against: levels of each side, best first.
pub trait PublicBook {
    /// Visible quantity at `px` on `side` (zero when there is no level).
    fn qty_at(&self, side: Side, px: Px) -> Qty;
    /// Calls `f(px, qty)` for the levels of `side`, best first, until it returns false.
    fn each_level(&self, side: Side, f: &mut dyn FnMut(Px, Qty) -> bool);
}

impl PublicBook for L2Book {
    fn qty_at(&self, side: Side, px: Px) -> Qty {
        L2Book::qty_at(self, side, px)
    }

    fn each_level(&self, side: Side, f: &mut dyn FnMut(Px, Qty) -> bool) {
        match side {
            Side::Buy => {
                for l in self.bids() {
                    if !f(l.px, l.qty) {
                        return;
                    }
                }
            }
            Side::Sell => {
                for l in self.asks() {
                    if !f(l.px, l.qty) {
                        return;
                    }
                }
            }
        }
    }
}

/// An engine market view: its depth book, or its top of book when the feed carries only that
/// (a `bookTicker`-only subscription).
impl PublicBook for MarketView {
    fn qty_at(&self, side: Side, px: Px) -> Qty {
        if self.book.depth() != (0, 0) {
            return self.book.qty_at(side, px);
        }
        self.top
            .map(|t| match side {
                Side::Buy if t.bid_px == px => t.bid_qty,
                Side::Sell if t.ask_px == px => t.ask_qty,
                _ => Qty::ZERO,
            })
            .unwrap_or(Qty::ZERO)
    }

    fn each_level(&self, side: Side, f: &mut dyn FnMut(Px, Qty) -> bool) {
        if self.book.depth() != (0, 0) {
            self.book.each_level(side, f);
            return;
        }
        if let Some(t) = self.top {
            let (px, qty) = match side {
                Side::Buy => (t.bid_px, t.bid_qty),
                Side::Sell => (t.ask_px, t.ask_qty),
            };
            if px.is_positive() && qty.is_positive() {
                f(px, qty);
            }
        }
    }
}
