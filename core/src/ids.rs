//! Identifiers carried in every record: venues, instruments, strategies, orders, trades.

use core::fmt;

use bytemuck::{Pod, Zeroable};
use serde::Serialize;

/// A venue (exchange connection family). Stored raw so that decoding a journal written by a
/// newer build never panics on an unknown value.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Pod, Zeroable)]
pub struct VenueId(pub u16);

impl VenueId {
    /// The in-process synthetic market and simulated exchange.
    pub const SYNTHETIC: Self = Self(0);
    /// Binance spot.
    pub const BINANCE: Self = Self(1);
    /// Binance.US (the Binance adapter on other hosts).
    pub const BINANCE_US: Self = Self(2);
    /// OKX v5.
    pub const OKX: Self = Self(3);
    /// Hyperliquid.
    pub const HYPERLIQUID: Self = Self(4);

    const NAMES: [&'static str; 5] = ["synthetic", "binance", "binance-us", "okx", "hyperliquid"];

    /// The venue's config name, if this build knows it.
    pub fn name(self) -> Option<&'static str> {
        Self::NAMES.get(usize::from(self.0)).copied()
    }

    /// Looks a venue up by its config name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .position(|n| *n == name)
            .and_then(|i| u16::try_from(i).ok())
            .map(Self)
    }
}

impl fmt::Display for VenueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "venue#{}", self.0),
        }
    }
}

/// An instrument: its index in the engine's instrument table (config order).
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Pod, Zeroable, Serialize)]
#[serde(transparent)]
pub struct InstrumentId(pub u32);

impl fmt::Display for InstrumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "inst#{}", self.0)
    }
}

/// A strategy: its index in the engine's strategy table (config order).
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Pod, Zeroable, Serialize)]
#[serde(transparent)]
pub struct StrategyId(pub u16);

/// A client order id, deterministic from (strategy, per-strategy sequence) so that a replay of
/// the same inputs produces the same ids. Zero means "none".
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Pod, Zeroable)]
pub struct ClientOrderId(pub u64);

impl ClientOrderId {
    /// Bits available for the per-strategy sequence.
    pub const SEQ_BITS: u32 = 48;

    /// The id of the `seq`-th order of `strategy`; `None` once the sequence space is exhausted.
    pub fn new(strategy: StrategyId, seq: u64) -> Option<Self> {
        (seq < (1 << Self::SEQ_BITS))
            .then(|| Self((u64::from(strategy.0) << Self::SEQ_BITS) | seq))
    }

    /// The strategy that placed the order.
    pub fn strategy(self) -> StrategyId {
        StrategyId((self.0 >> Self::SEQ_BITS) as u16)
    }

    /// The order's sequence within its strategy.
    pub fn seq(self) -> u64 {
        self.0 & ((1 << Self::SEQ_BITS) - 1)
    }

    /// True when no order is referenced.
    pub fn is_none(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for ClientOrderId {
    /// The form sent to venues as the client order id: `tw<strategy>x<seq>` (alphanumeric, so
    /// it passes every venue's clOrdId rules).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tw{}x{}", self.strategy().0, self.seq())
    }
}

impl Serialize for VenueId {
    /// Serialised by name where known, so journal JSON reads `"venue":"okx"`.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl Serialize for ClientOrderId {
    /// Serialised in the venue form (`tw1x42`).
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
