//! The simulator's own order books, independent of tickwire-core's.
//!
//! Levels are keyed by exact decimals (`rust_decimal`) and keep the venue's wire strings, so a
//! REST snapshot or a synthesized OKX snapshot repeats the strings the venue sent (OKX's
//! checksum is computed over those exact strings). The Binance sync follows FORMATS.md §1.7,
//! with the first applicable diff checked as `U <= lastUpdateId + 1 <= u`.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

/// One side of a book: price → level, bids iterated best (highest) first, asks lowest first.
#[derive(Clone, Debug, Default)]
pub struct Book<L> {
    pub bids: BTreeMap<Decimal, L>,
    pub asks: BTreeMap<Decimal, L>,
}

impl<L> Book<L> {
    pub fn new() -> Self {
        Self {
            bids: BTreeMap::new(),
            asks: BTreeMap::new(),
        }
    }

    /// Sets (`Some`) or removes (`None`) a level.
    pub fn set(&mut self, bid: bool, px: Decimal, level: Option<L>) {
        let side = if bid { &mut self.bids } else { &mut self.asks };
        match level {
            Some(l) => {
                side.insert(px, l);
            }
            None => {
                side.remove(&px);
            }
        }
    }

    /// Bids, best first.
    pub fn bids_best_first(&self) -> impl Iterator<Item = &L> {
        self.bids.values().rev()
    }

    /// Asks, best first.
    pub fn asks_best_first(&self) -> impl Iterator<Item = &L> {
        self.asks.values()
    }
}

/// A price level as strings (`[price, qty]`; OKX adds two more fields).
pub type Level = Vec<String>;

/// One parsed level change: side, exact price key, wire strings, removal flag.
#[derive(Clone, Debug)]
pub struct Change {
    pub bid: bool,
    pub px: Decimal,
    pub level: Level,
    pub remove: bool,
}

/// Parses `[["price","qty",...],...]` wire levels into changes. `None` on a malformed level.
pub fn changes(bid: bool, levels: &[Vec<String>]) -> Option<Vec<Change>> {
    levels
        .iter()
        .map(|l| {
            let px: Decimal = l.first()?.parse().ok()?;
            let qty: Decimal = l.get(1)?.parse().ok()?;
            Some(Change {
                bid,
                px,
                level: l.clone(),
                remove: qty.is_zero(),
            })
        })
        .collect()
}

impl Book<Level> {
    pub fn apply(&mut self, changes: &[Change]) {
        for c in changes {
            let level = (!c.remove).then(|| c.level.clone());
            self.set(c.bid, c.px, level);
        }
    }

    pub fn from_changes(changes: &[Change]) -> Self {
        let mut b = Self::new();
        b.apply(changes);
        b
    }
}

/// A Binance depth diff (`depthUpdate`), parsed.
#[derive(Clone, Debug)]
pub struct Diff {
    pub first: u64,
    pub last: u64,
    pub changes: Vec<Change>,
}

/// A Binance REST depth snapshot, parsed.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub last_update_id: u64,
    pub changes: Vec<Change>,
}

/// What applying one diff did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiffOutcome {
    /// `u` at or below the book's id: already contained in it.
    Stale,
    /// Applied.
    Applied,
    /// `U` beyond id + 1: the capture itself misses updates. Applied anyway (best effort).
    Gap,
}

/// A Binance book with its update id, synced from a snapshot per §1.7.
#[derive(Clone, Debug)]
pub struct BinanceBook {
    pub book: Book<Level>,
    pub update_id: u64,
    /// False until a snapshot or a first diff has set the id.
    pub has_id: bool,
}

impl BinanceBook {
    pub fn from_snapshot(s: &Snapshot) -> Self {
        Self {
            book: Book::from_changes(&s.changes),
            update_id: s.last_update_id,
            has_id: true,
        }
    }

    /// A book built from diffs alone (no snapshot in the capture).
    pub fn empty() -> Self {
        Self {
            book: Book::new(),
            update_id: 0,
            has_id: false,
        }
    }

    pub fn apply(&mut self, d: &Diff) -> DiffOutcome {
        if self.has_id && d.last <= self.update_id {
            return DiffOutcome::Stale;
        }
        let gap = self.has_id && d.first > self.update_id + 1;
        self.book.apply(&d.changes);
        self.update_id = d.last;
        self.has_id = true;
        if gap {
            DiffOutcome::Gap
        } else {
            DiffOutcome::Applied
        }
    }
}

/// True if a diff can be the first one applied on a snapshot (`U <= id + 1 <= u`).
pub fn straddles(d: &Diff, snapshot_id: u64) -> bool {
    d.first <= snapshot_id + 1 && snapshot_id < d.last
}

/// OKX's book checksum (FORMATS.md §2.3): the best 25 bids and asks interleaved as
/// `bidPx:bidSz:askPx:askSz:...` (missing entries skipped) with the exact wire strings,
/// CRC32 (IEEE), read as a signed 32-bit integer.
pub fn okx_checksum(book: &Book<Level>) -> i32 {
    let mut s = String::with_capacity(25 * 2 * 24);
    let mut bids = book.bids_best_first().take(25);
    let mut asks = book.asks_best_first().take(25);
    loop {
        let b = bids.next();
        let a = asks.next();
        if b.is_none() && a.is_none() {
            break;
        }
        for l in [b, a].into_iter().flatten() {
            if !s.is_empty() {
                s.push(':');
            }
            s.push_str(l.first().map_or("", String::as_str));
            s.push(':');
            s.push_str(l.get(1).map_or("", String::as_str));
        }
    }
    crc32fast::hash(s.as_bytes()) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lv(px: &str, sz: &str) -> Vec<String> {
        vec![px.into(), sz.into(), "0".into(), "1".into()]
    }

    #[test]
    fn okx_checksum_vectors() {
        // FORMATS.md §2.3 documented vectors.
        let mut c = changes(true, &[lv("3366.1", "7"), lv("3366", "6")]).unwrap_or_default();
        c.extend(changes(false, &[lv("3366.8", "9"), lv("3368", "8")]).unwrap_or_default());
        assert_eq!(okx_checksum(&Book::from_changes(&c)), -1_881_014_294);
        let mut c = changes(true, &[lv("3366.1", "7")]).unwrap_or_default();
        c.extend(
            changes(
                false,
                &[lv("3366.8", "9"), lv("3368", "8"), lv("3372", "8")],
            )
            .unwrap_or_default(),
        );
        assert_eq!(okx_checksum(&Book::from_changes(&c)), 831_078_360);
    }

    #[test]
    fn binance_sync_rules() {
        let snap = Snapshot {
            last_update_id: 10,
            changes: changes(true, &[vec!["1.0".into(), "2".into()]]).unwrap_or_default(),
        };
        let mut b = BinanceBook::from_snapshot(&snap);
        let d = |first, last, qty: &str| Diff {
            first,
            last,
            changes: changes(true, &[vec!["1.00".into(), qty.into()]]).unwrap_or_default(),
        };
        assert_eq!(b.apply(&d(5, 10, "9")), DiffOutcome::Stale);
        assert!(straddles(&d(8, 12, "3"), 10));
        assert!(straddles(&d(11, 12, "3"), 10));
        assert!(!straddles(&d(12, 13, "3"), 10));
        assert_eq!(b.apply(&d(8, 12, "3")), DiffOutcome::Applied);
        assert_eq!(b.book.bids.len(), 1);
        assert_eq!(b.apply(&d(13, 13, "0")), DiffOutcome::Applied);
        assert!(b.book.bids.is_empty());
        assert_eq!(b.apply(&d(20, 21, "1")), DiffOutcome::Gap);
        assert_eq!(b.update_id, 21);
    }
}
