//! An L2 order book: price levels per side with O(1) best bid/ask.
//!
//! Each side is a vector sorted so that the best level is the *last* element (bids ascending,
//! asks descending). Most updates land near the touch, so the memmove an insert or delete
//! causes is short, and the best level is a plain index. Capacity is reserved up front; a book
//! that outgrows it reallocates (a cold path, counted by [`L2Book::grew`]).

use crate::event::Side;
use crate::num::{Px, Qty};

/// One price level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Level {
    /// Price.
    pub px: Px,
    /// Total quantity at the price.
    pub qty: Qty,
}

/// Levels within this many of the touch are found by a linear scan.
const NEAR_TOUCH: usize = 8;

/// Position of `px` in `levels` (best last; `ascending` for bids), as `binary_search` reports it.
fn find(levels: &[Level], px: Px, ascending: bool) -> Result<usize, usize> {
    // `beyond(l)`: `l` is closer to the touch than `px`, so `px` belongs further from the end.
    let beyond = |l: &Level| if ascending { l.px > px } else { l.px < px };
    let n = levels.len();
    let near = n.saturating_sub(NEAR_TOUCH);
    let mut i = n;
    while i > near {
        let l = &levels[i - 1];
        if l.px == px {
            return Ok(i - 1);
        }
        if !beyond(l) {
            return Err(i);
        }
        i -= 1;
    }
    let far = &levels[..near];
    if ascending {
        far.binary_search_by(|l| l.px.cmp(&px))
    } else {
        far.binary_search_by(|l| px.cmp(&l.px))
    }
}

/// A price-level book for one instrument.
#[derive(Clone, Debug)]
pub struct L2Book {
    /// Bids, ascending by price (best last).
    bids: Vec<Level>,
    /// Asks, descending by price (best last).
    asks: Vec<Level>,
    update_id: u64,
    grew: u32,
}

impl L2Book {
    /// A book with room for `levels` levels per side before it reallocates.
    pub fn with_capacity(levels: usize) -> Self {
        Self {
            bids: Vec::with_capacity(levels),
            asks: Vec::with_capacity(levels),
            update_id: 0,
            grew: 0,
        }
    }

    /// Removes every level (a snapshot follows, or the book is invalid after a gap).
    pub fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
        self.update_id = 0;
    }

    /// Sets the quantity at `px` on `side`; zero removes the level.
    pub fn set(&mut self, side: Side, px: Px, qty: Qty) {
        let (levels, ascending) = match side {
            Side::Buy => (&mut self.bids, true),
            Side::Sell => (&mut self.asks, false),
        };
        // Most updates land within a few levels of the touch, which is the end of the vector:
        // scan those linearly (no unpredictable branches over a cold range), and fall back to a
        // binary search for far levels.
        let found = find(levels, px, ascending);
        match found {
            Ok(i) if qty.is_zero() => {
                levels.remove(i);
            }
            Ok(i) => levels[i].qty = qty,
            Err(_) if qty.is_zero() => {}
            Err(i) => {
                if levels.len() == levels.capacity() {
                    self.grew += 1;
                }
                levels.insert(i, Level { px, qty });
            }
        }
    }

    /// Records the venue update id the book now reflects.
    pub fn set_update_id(&mut self, id: u64) {
        self.update_id = id;
    }

    /// The venue update id the book reflects (0 before any).
    pub fn update_id(&self) -> u64 {
        self.update_id
    }

    /// Quantity at `px` on `side` (zero when there is no level there).
    pub fn qty_at(&self, side: Side, px: Px) -> Qty {
        let (levels, ascending) = match side {
            Side::Buy => (&self.bids, true),
            Side::Sell => (&self.asks, false),
        };
        find(levels, px, ascending).map_or(Qty::ZERO, |i| levels[i].qty)
    }

    /// Best bid.
    pub fn best_bid(&self) -> Option<Level> {
        self.bids.last().copied()
    }

    /// Best ask.
    pub fn best_ask(&self) -> Option<Level> {
        self.asks.last().copied()
    }

    /// Mid price, rounded down to the nano-unit, if both sides exist.
    pub fn mid(&self) -> Option<Px> {
        let (b, a) = (self.best_bid()?, self.best_ask()?);
        Some(Px::from_raw(
            ((i128::from(b.px.raw()) + i128::from(a.px.raw())) / 2) as i64,
        ))
    }

    /// True if the best bid is at or above the best ask.
    pub fn is_crossed(&self) -> bool {
        matches!((self.best_bid(), self.best_ask()), (Some(b), Some(a)) if b.px >= a.px)
    }

    /// Bid levels, best first.
    pub fn bids(&self) -> impl Iterator<Item = Level> + '_ {
        self.bids.iter().rev().copied()
    }

    /// Ask levels, best first.
    pub fn asks(&self) -> impl Iterator<Item = Level> + '_ {
        self.asks.iter().rev().copied()
    }

    /// Number of (bid, ask) levels.
    pub fn depth(&self) -> (usize, usize) {
        (self.bids.len(), self.asks.len())
    }

    /// How many times a side outgrew its reserved capacity.
    pub fn grew(&self) -> u32 {
        self.grew
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn px(s: &str) -> Px {
        Px::parse(s).expect("test literal")
    }
    fn qty(s: &str) -> Qty {
        Qty::parse(s).expect("test literal")
    }

    #[test]
    fn best_levels_and_removal() {
        let mut b = L2Book::with_capacity(4);
        b.set(Side::Buy, px("100"), qty("1"));
        b.set(Side::Buy, px("101"), qty("2"));
        b.set(Side::Sell, px("103"), qty("3"));
        b.set(Side::Sell, px("102"), qty("4"));
        assert_eq!(b.best_bid().map(|l| l.px), Some(px("101")));
        assert_eq!(b.best_ask().map(|l| l.px), Some(px("102")));
        assert_eq!(b.mid(), Some(px("101.5")));
        b.set(Side::Buy, px("101"), Qty::ZERO);
        assert_eq!(b.best_bid().map(|l| l.px), Some(px("100")));
        b.set(Side::Buy, px("99"), Qty::ZERO); // absent level: no-op
        assert_eq!(b.depth(), (1, 2));
        assert!(!b.is_crossed());
        b.set(Side::Buy, px("102"), qty("1"));
        assert!(b.is_crossed());
        let asks: Vec<Px> = b.asks().map(|l| l.px).collect();
        assert_eq!(asks, vec![px("102"), px("103")]);
        assert_eq!(b.grew(), 0, "within the reserved 4 levels");
        for p in ["98", "97", "96", "95"] {
            b.set(Side::Buy, px(p), qty("1"));
        }
        assert_eq!(b.depth().0, 6);
        assert!(b.grew() >= 1, "outgrowing the reservation is counted");
    }

    proptest! {
        /// The book equals a BTreeMap model after any sequence of sets.
        #[test]
        fn matches_model(ops in proptest::collection::vec((any::<bool>(), 0i64..50, 0i64..4), 0..400)) {
            let mut book = L2Book::with_capacity(8);
            let mut bids = BTreeMap::new();
            let mut asks = BTreeMap::new();
            for (is_bid, p, q) in ops {
                let (side, model) = if is_bid { (Side::Buy, &mut bids) } else { (Side::Sell, &mut asks) };
                let p = Px::from_raw(p * 1_000_000);
                let q = Qty::from_raw(q);
                book.set(side, p, q);
                if q.is_zero() { model.remove(&p); } else { model.insert(p, q); }
            }
            let want_bids: Vec<_> = bids.iter().rev().map(|(p, q)| Level { px: *p, qty: *q }).collect();
            let want_asks: Vec<_> = asks.iter().map(|(p, q)| Level { px: *p, qty: *q }).collect();
            prop_assert_eq!(book.bids().collect::<Vec<_>>(), want_bids);
            prop_assert_eq!(book.asks().collect::<Vec<_>>(), want_asks);
            for p in 0..50i64 {
                let p = Px::from_raw(p * 1_000_000);
                prop_assert_eq!(book.qty_at(Side::Buy, p), bids.get(&p).copied().unwrap_or(Qty::ZERO));
                prop_assert_eq!(book.qty_at(Side::Sell, p), asks.get(&p).copied().unwrap_or(Qty::ZERO));
            }
        }
    }
}
