//! The full OKX book with each level's wire shape, kept by the sync machine for the checksum.
//!
//! Layout as in `tickwire_core::book::L2Book`: each side sorted so that the best level is the
//! last element (bids ascending, asks descending), so updates near the touch move little
//! memory and the top 25 for the checksum are the last 25 elements.

use tickwire_core::event::Side;

use super::decode::WireLevel;

/// One instrument's book, levels with their decimal counts.
#[derive(Clone, Debug)]
pub struct WireBook {
    bids: Vec<WireLevel>,
    asks: Vec<WireLevel>,
}

impl WireBook {
    /// An empty book with room for `levels` per side (OKX `books` keeps 400).
    pub fn with_capacity(levels: usize) -> Self {
        Self {
            bids: Vec::with_capacity(levels),
            asks: Vec::with_capacity(levels),
        }
    }

    /// Removes every level.
    pub fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
    }

    /// Sets a level (size zero deletes it, any other size replaces it, a new price is inserted
    /// in order), as OKX's checksum algorithm prescribes.
    pub fn set(&mut self, side: Side, level: WireLevel) {
        let (levels, ascending) = match side {
            Side::Buy => (&mut self.bids, true),
            Side::Sell => (&mut self.asks, false),
        };
        let found = if ascending {
            levels.binary_search_by(|l| l.px.cmp(&level.px))
        } else {
            levels.binary_search_by(|l| level.px.cmp(&l.px))
        };
        match found {
            Ok(i) if level.qty.is_zero() => {
                levels.remove(i);
            }
            Ok(i) => levels[i] = level,
            Err(_) if level.qty.is_zero() => {}
            Err(i) => levels.insert(i, level),
        }
    }

    /// Bids, best first.
    pub fn bids(&self) -> impl ExactSizeIterator<Item = WireLevel> + '_ {
        self.bids.iter().rev().copied()
    }

    /// Asks, best first.
    pub fn asks(&self) -> impl ExactSizeIterator<Item = WireLevel> + '_ {
        self.asks.iter().rev().copied()
    }

    /// Number of (bid, ask) levels.
    pub fn depth(&self) -> (usize, usize) {
        (self.bids.len(), self.asks.len())
    }
}
