//! A seeded, deterministic synthetic market: a random-walk L2 book around a mid per instrument.
//!
//! It lets the whole pipeline run with no venue. The same seed and instruments always produce
//! the same event contents (the generator is a local SplitMix64 rather than a crate so the
//! sequence cannot change under a dependency upgrade); the caller stamps receive times.
//!
//! Each step picks an instrument and one of: a quantity change near the touch, a one-tick move
//! of the mid (the touch level is traded away, a trade prints, the ladder shifts), or a top of
//! book message. Each book change is one delta batch, so strategies only see consistent books.

use tickwire_core::event::{BookDelta, MarketEvent, Meta, Side, TopOfBook, Trade};
use tickwire_core::num::{InstrumentSpec, Px, Qty};

/// SplitMix64: tiny, fast, and with a sequence fixed by its definition.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`), by multiply-shift (bias below 2^-32 for our small `n`).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

/// One synthetic instrument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntheticInstrument {
    /// Trading rules (tick, lot) and ids.
    pub spec: InstrumentSpec,
    /// Starting mid price (rounded onto the tick grid).
    pub mid: Px,
    /// Levels per side.
    pub depth: u32,
    /// Largest level size, in lots.
    pub max_level_lots: u32,
}

#[derive(Clone, Debug)]
struct Ladder {
    spec: InstrumentSpec,
    /// Best bid, in ticks.
    bid_ticks: i64,
    /// `bids[k]`: lots at `bid_ticks - k`.
    bids: Vec<u32>,
    /// `asks[k]`: lots at `bid_ticks + 1 + k` (one-tick spread).
    asks: Vec<u32>,
    max_lots: u32,
    update_id: u64,
    trade_id: u64,
}

impl Ladder {
    fn px(&self, ticks: i64) -> Px {
        Px::from_raw(ticks.saturating_mul(self.spec.tick.raw()))
    }

    fn qty(&self, lots: u32) -> Qty {
        Qty::from_raw(self.spec.lot.raw().saturating_mul(i64::from(lots)))
    }

    fn bid_px(&self, k: usize) -> Px {
        self.px(self.bid_ticks - k as i64)
    }

    fn ask_px(&self, k: usize) -> Px {
        self.px(self.bid_ticks + 1 + k as i64)
    }
}

/// The generator. Events are produced one at a time; a step that yields several (a batch)
/// queues them internally, so the caller sees a flat stream.
#[derive(Clone, Debug)]
pub struct SyntheticMarket {
    rng: SplitMix64,
    ladders: Vec<Ladder>,
    queue: [MarketEvent; 8],
    queued: usize,
    next: usize,
    started: bool,
    /// Snapshot progress: (instrument, level index) still to emit.
    snapshot: (usize, usize),
}

impl SyntheticMarket {
    /// A market over `instruments`, seeded with `seed`. Instruments need a depth of at least 2.
    pub fn new(seed: u64, instruments: &[SyntheticInstrument]) -> Self {
        let mut rng = SplitMix64::new(seed);
        let ladders = instruments
            .iter()
            .map(|i| {
                let depth = i.depth.max(2) as usize;
                let max_lots = i.max_level_lots.max(1);
                let tick = i.spec.tick.raw().max(1);
                let lots = |rng: &mut SplitMix64| 1 + rng.below(u64::from(max_lots)) as u32;
                Ladder {
                    spec: i.spec.clone(),
                    bid_ticks: i.mid.raw() / tick,
                    bids: (0..depth).map(|_| lots(&mut rng)).collect(),
                    asks: (0..depth).map(|_| lots(&mut rng)).collect(),
                    max_lots,
                    update_id: 0,
                    trade_id: 0,
                }
            })
            .collect();
        Self {
            rng,
            ladders,
            queue: [MarketEvent::Top(TopOfBook::default()); 8],
            queued: 0,
            next: 0,
            started: false,
            snapshot: (0, 0),
        }
    }

    /// The next event, stamped as received at `recv_ns`. Never ends; the caller decides how
    /// many to take. The first events are a full snapshot of every instrument.
    pub fn next_event(&mut self, recv_ns: u64) -> MarketEvent {
        if self.ladders.is_empty() {
            return MarketEvent::Top(TopOfBook::default());
        }
        if !self.started {
            if let Some(ev) = self.snapshot_event(recv_ns) {
                return ev;
            }
            self.started = true;
        }
        if self.next == self.queued {
            self.step(recv_ns);
        }
        let ev = self.queue[self.next];
        self.next += 1;
        ev
    }

    /// True while events of one book update (a snapshot or a step's batch) are still to come:
    /// a consumer that stops here would leave the book half-updated.
    pub fn mid_batch(&self) -> bool {
        if !self.started {
            return self.snapshot.1 != 0;
        }
        self.next < self.queued
    }

    fn snapshot_event(&mut self, recv_ns: u64) -> Option<MarketEvent> {
        let (i, k) = self.snapshot;
        let ladder = self.ladders.get_mut(i)?;
        let depth = ladder.bids.len();
        let total = 2 * depth;
        let mut flags = 0;
        if k == 0 {
            flags |= BookDelta::CLEAR | BookDelta::BATCH_BEGIN;
        }
        if k + 1 == total {
            flags |= BookDelta::BATCH_END;
        }
        ladder.update_id += 1;
        let (side, px, qty) = if k < depth {
            (Side::Buy, ladder.bid_px(k), ladder.qty(ladder.bids[k]))
        } else {
            let a = k - depth;
            (Side::Sell, ladder.ask_px(a), ladder.qty(ladder.asks[a]))
        };
        let meta = Meta::new(ladder.spec.venue, ladder.spec.id, recv_ns);
        let ev = MarketEvent::Delta(BookDelta::new(meta, side, px, qty, ladder.update_id, flags));
        self.snapshot = if k + 1 == total {
            (i + 1, 0)
        } else {
            (i, k + 1)
        };
        Some(ev)
    }

    fn push(&mut self, ev: MarketEvent) {
        self.queue[self.queued] = ev;
        self.queued += 1;
    }

    fn step(&mut self, recv_ns: u64) {
        self.queued = 0;
        self.next = 0;
        let i = self.rng.below(self.ladders.len() as u64) as usize;
        let roll = self.rng.below(100);
        let lots = 1 + self.rng.below(u64::from(self.ladders[i].max_lots)) as u32;
        let near = self.rng.below(5.min(self.ladders[i].bids.len() as u64)) as usize;
        let buy_side = self.rng.below(2) == 0;
        let l = &mut self.ladders[i];
        let meta = Meta::new(l.spec.venue, l.spec.id, recv_ns);
        l.update_id += 1;
        let uid = l.update_id;
        if roll < 55 {
            // Size change at a level near the touch.
            let (side, px) = if buy_side {
                l.bids[near] = lots;
                (Side::Buy, l.bid_px(near))
            } else {
                l.asks[near] = lots;
                (Side::Sell, l.ask_px(near))
            };
            let qty = l.qty(lots);
            let flags = BookDelta::BATCH_BEGIN | BookDelta::BATCH_END;
            self.push(MarketEvent::Delta(BookDelta::new(
                meta, side, px, qty, uid, flags,
            )));
        } else if roll < 80 {
            // The mid moves one tick: the touch on one side trades away.
            let depth = l.bids.len();
            l.trade_id += 1;
            let tid = l.trade_id;
            let (
                removed_side,
                removed_px,
                removed_lots,
                new_side,
                new_px,
                far_side,
                far_add,
                far_del,
            ) = if buy_side {
                // Buyers lift the best ask; the book moves up a tick.
                let removed_px = l.ask_px(0);
                let removed_lots = l.asks.remove(0);
                l.asks.push(lots);
                let far_del_px = l.bid_px(depth - 1);
                l.bids.pop();
                l.bid_ticks += 1;
                l.bids.insert(0, lots);
                let far_add_px = l.ask_px(depth - 1);
                (
                    Side::Sell,
                    removed_px,
                    removed_lots,
                    Side::Buy,
                    l.bid_px(0),
                    Side::Sell,
                    far_add_px,
                    far_del_px,
                )
            } else {
                // Sellers hit the best bid; the book moves down a tick.
                let removed_px = l.bid_px(0);
                let removed_lots = l.bids.remove(0);
                l.bids.push(lots);
                let far_del_px = l.ask_px(depth - 1);
                l.asks.pop();
                l.bid_ticks -= 1;
                l.asks.insert(0, lots);
                let far_add_px = l.bid_px(depth - 1);
                (
                    Side::Buy,
                    removed_px,
                    removed_lots,
                    Side::Sell,
                    l.ask_px(0),
                    Side::Buy,
                    far_add_px,
                    far_del_px,
                )
            };
            let aggressor = removed_side.opposite();
            let trade_qty = l.qty(removed_lots);
            let new_qty = l.qty(lots);
            let zero = Qty::ZERO;
            let b = BookDelta::BATCH_BEGIN;
            let e = BookDelta::BATCH_END;
            self.push(MarketEvent::Trade(Trade::new(
                meta, removed_px, trade_qty, tid, aggressor,
            )));
            self.push(MarketEvent::Delta(BookDelta::new(
                meta,
                removed_side,
                removed_px,
                zero,
                uid,
                b,
            )));
            self.push(MarketEvent::Delta(BookDelta::new(
                meta, new_side, new_px, new_qty, uid, 0,
            )));
            self.push(MarketEvent::Delta(BookDelta::new(
                meta, far_side, far_add, new_qty, uid, 0,
            )));
            self.push(MarketEvent::Delta(BookDelta::new(
                meta,
                far_side.opposite(),
                far_del,
                zero,
                uid,
                e,
            )));
        } else {
            let top = TopOfBook {
                meta,
                bid_px: l.bid_px(0),
                bid_qty: l.qty(l.bids[0]),
                ask_px: l.ask_px(0),
                ask_qty: l.qty(l.asks[0]),
                update_id: uid,
            };
            self.push(MarketEvent::Top(top));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickwire_core::ids::{InstrumentId, VenueId};
    use tickwire_core::market::Markets;

    fn instruments() -> Vec<SyntheticInstrument> {
        (0..2)
            .map(|i| SyntheticInstrument {
                spec: InstrumentSpec {
                    id: InstrumentId(i),
                    venue: VenueId::SYNTHETIC,
                    symbol: format!("SYN{i}"),
                    tick: Px::parse("0.5").expect("literal"),
                    lot: Qty::parse("0.001").expect("literal"),
                    min_qty: Qty::parse("0.001").expect("literal"),
                    min_notional: Px::ZERO,
                },
                mid: Px::parse("100").expect("literal"),
                depth: 10,
                max_level_lots: 50,
            })
            .collect()
    }

    #[test]
    fn same_seed_same_stream_and_books_stay_sane() {
        let inst = instruments();
        let mut a = SyntheticMarket::new(7, &inst);
        let mut b = SyntheticMarket::new(7, &inst);
        let specs: Vec<_> = inst.iter().map(|i| i.spec.clone()).collect();
        let mut markets = Markets::new(&specs, 16);
        for n in 0..20_000u64 {
            let ev = a.next_event(n);
            assert_eq!(ev, b.next_event(n));
            markets.apply(&ev, n);
            if let MarketEvent::Delta(d) = ev
                && d.flags & BookDelta::BATCH_END != 0
            {
                let view = markets.get(d.meta.instrument).expect("known instrument");
                assert!(!view.book.is_crossed(), "crossed at event {n}");
                assert_eq!(view.book.depth(), (10, 10), "depth kept at event {n}");
            }
        }
        let mut c = SyntheticMarket::new(8, &inst);
        let differs = (0..100u64).any(|n| a.next_event(n) != c.next_event(n));
        assert!(differs, "another seed gives another stream");
    }
}
