//! Time bars (OHLCV) built from public trades, in engine time.
//!
//! A bar covers `[start, start + interval)` with `start` a multiple of the interval, so bars
//! from the same trades are the same whichever trade came first in a session. Prices are exact
//! ([`Px`]); volume and traded notional are exact sums. Intervals without a trade produce no bar:
//! a strategy that needs a regular grid sees the gap in [`Bar::start_ns`].
//!
//! Nothing here allocates or reads a clock: the builder only moves forward with the event time
//! it is given, so replay rebuilds the same bars.

use core::num::NonZeroU64;

use tickwire_core::num::{Notional, Px, Qty};

/// One completed (or forming) time bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bar {
    /// Start of the interval (engine time, ns), a multiple of the interval.
    pub start_ns: u64,
    /// First trade price.
    pub open: Px,
    /// Highest trade price.
    pub high: Px,
    /// Lowest trade price.
    pub low: Px,
    /// Last trade price.
    pub close: Px,
    /// Sum of traded quantities.
    pub volume: Qty,
    /// Sum of price × quantity (exact), for the VWAP.
    pub notional: Notional,
    /// Number of trades.
    pub trades: u32,
}

impl Bar {
    fn first(start_ns: u64, px: Px, qty: Qty) -> Self {
        Self {
            start_ns,
            open: px,
            high: px,
            low: px,
            close: px,
            volume: qty,
            notional: Notional::of(px, qty),
            trades: 1,
        }
    }

    fn add(&mut self, px: Px, qty: Qty) {
        self.high = self.high.max(px);
        self.low = self.low.min(px);
        self.close = px;
        self.volume = self.volume.saturating_add(qty);
        // A notional sum past i128 would need ~10^20 quote units in one bar; keep the last
        // representable value rather than wrap.
        self.notional = self
            .notional
            .checked_add(Notional::of(px, qty))
            .unwrap_or(self.notional);
        self.trades = self.trades.saturating_add(1);
    }
}

/// Builds time bars of a fixed interval from trades of one instrument.
#[derive(Clone, Debug)]
pub struct BarBuilder {
    interval_ns: u64,
    forming: Option<Bar>,
}

impl BarBuilder {
    /// A builder of `interval_ns` bars.
    pub fn new(interval_ns: NonZeroU64) -> Self {
        Self {
            interval_ns: interval_ns.get(),
            forming: None,
        }
    }

    /// The bar interval in ns.
    pub fn interval_ns(&self) -> u64 {
        self.interval_ns
    }

    fn start_of(&self, t: u64) -> u64 {
        t - t % self.interval_ns
    }

    /// Adds a trade at engine time `t`; returns the bar it completed, if the trade opened a
    /// new interval. A trade timed before the forming bar (out of order) is counted in it, since
    /// engine time never goes back.
    pub fn on_trade(&mut self, t: u64, px: Px, qty: Qty) -> Option<Bar> {
        let start = self.start_of(t);
        match &mut self.forming {
            Some(bar) if start <= bar.start_ns => {
                bar.add(px, qty);
                None
            }
            slot => slot.replace(Bar::first(start, px, qty)),
        }
    }

    /// Closes the forming bar if engine time `now` is past its interval (call from a timer so a
    /// bar completes even when no further trade prints).
    pub fn on_time(&mut self, now: u64) -> Option<Bar> {
        let end = self.forming?.start_ns.saturating_add(self.interval_ns);
        if now >= end {
            self.forming.take()
        } else {
            None
        }
    }

    /// The bar being formed.
    pub fn forming(&self) -> Option<&Bar> {
        self.forming.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn px(s: &str) -> Px {
        Px::parse(s).expect("literal")
    }
    fn qty(s: &str) -> Qty {
        Qty::parse(s).expect("literal")
    }

    #[test]
    fn ohlcv_exact_and_aligned_to_the_interval() {
        let mut b = BarBuilder::new(NonZeroU64::new(1_000).expect("non-zero"));
        assert_eq!(b.on_trade(1_250, px("100.1"), qty("0.5")), None);
        assert_eq!(b.on_trade(1_300, px("100.4"), qty("0.25")), None);
        assert_eq!(b.on_trade(1_999, px("99.9"), qty("1")), None);
        assert_eq!(b.on_trade(1_999, px("100.2"), qty("0.1")), None);
        let bar = b.on_trade(2_000, px("101"), qty("2")).expect("completed");
        assert_eq!(bar.start_ns, 1_000);
        assert_eq!(
            (bar.open, bar.high, bar.low, bar.close),
            (px("100.1"), px("100.4"), px("99.9"), px("100.2"))
        );
        assert_eq!(bar.volume, qty("1.85"));
        assert_eq!(bar.trades, 4);
        // 50.05 + 25.1 + 99.9 + 10.02 = 185.07, exactly.
        assert_eq!(bar.notional.to_string(), "185.07");
        // No trade in [3000, 5000): the next bar starts at 5000.
        let bar = b.on_trade(5_100, px("102"), qty("1")).expect("completed");
        assert_eq!(
            (bar.start_ns, bar.open, bar.close),
            (2_000, px("101"), px("101"))
        );
        assert_eq!(b.forming().map(|f| f.start_ns), Some(5_000));
    }

    #[test]
    fn timer_closes_a_bar_only_after_its_interval() {
        let mut b = BarBuilder::new(NonZeroU64::new(1_000).expect("non-zero"));
        assert_eq!(b.on_time(10_000), None, "nothing forming");
        b.on_trade(500, px("1"), qty("1"));
        assert_eq!(b.on_time(999), None);
        let bar = b.on_time(1_000).expect("interval over");
        assert_eq!(bar.start_ns, 0);
        assert!(b.forming().is_none());
    }
}
