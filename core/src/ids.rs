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

    /// Decimals the venue writes prices and sizes with (Binance pads to 8; 0 = shortest form,
    /// as OKX and Hyperliquid send). Used to print values exactly as the venue would.
    pub fn wire_decimals(self) -> u32 {
        match self {
            Self::BINANCE | Self::BINANCE_US => 8,
            _ => 0,
        }
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
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Pod, Zeroable, Serialize,
)]
#[serde(transparent)]
pub struct InstrumentId(pub u32);

impl fmt::Display for InstrumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "inst#{}", self.0)
    }
}

/// A strategy: its index in the engine's strategy table (config order).
#[repr(transparent)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Pod, Zeroable, Serialize,
)]
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

    /// The id of the `seq`-th order of `strategy`; `None` once the sequence space is exhausted,
    /// and for `seq == 0`, which is reserved: sequences start at 1, so that no real order (the
    /// first one of strategy 0 in particular) can get the all-zero "none" id.
    pub fn new(strategy: StrategyId, seq: u64) -> Option<Self> {
        (seq != 0 && seq < (1 << Self::SEQ_BITS))
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Parses the venue form `tw<strategy>x<seq>` back (test-only reference for Display).
    fn parse_venue_form(s: &str) -> Option<(u16, u64)> {
        let (strategy, seq) = s.strip_prefix("tw")?.split_once('x')?;
        Some((strategy.parse().ok()?, seq.parse().ok()?))
    }

    #[test]
    fn client_order_id_layout() {
        let id = ClientOrderId::new(StrategyId(1), 42).unwrap();
        assert_eq!(id.0, (1 << 48) | 42);
        assert_eq!(id.strategy(), StrategyId(1));
        assert_eq!(id.seq(), 42);
        assert!(!id.is_none());
        assert_eq!(id.to_string(), "tw1x42");
    }

    #[test]
    fn client_order_id_sequence_space() {
        let last = (1u64 << ClientOrderId::SEQ_BITS) - 1;
        let id = ClientOrderId::new(StrategyId(u16::MAX), last).unwrap();
        assert_eq!(id.0, u64::MAX);
        assert_eq!(id.strategy(), StrategyId(u16::MAX));
        assert_eq!(id.seq(), last);
        assert_eq!(id.to_string(), format!("tw65535x{last}"));
        assert_eq!(ClientOrderId::new(StrategyId(0), last + 1), None);
        assert_eq!(ClientOrderId::new(StrategyId(7), u64::MAX), None);
    }

    #[test]
    fn no_real_order_gets_the_none_id() {
        // Sequence 0 is reserved: otherwise strategy 0's first order would be `none`.
        assert_eq!(ClientOrderId::new(StrategyId(0), 0), None);
        assert_eq!(ClientOrderId::new(StrategyId(3), 0), None);
        let first = ClientOrderId::new(StrategyId(0), 1).unwrap();
        assert!(!first.is_none());
        assert_eq!(first.to_string(), "tw0x1");
        assert!(ClientOrderId::default().is_none());
        assert_eq!(ClientOrderId::default().to_string(), "tw0x0");
    }

    #[test]
    fn venue_names() {
        for v in [
            VenueId::SYNTHETIC,
            VenueId::BINANCE,
            VenueId::BINANCE_US,
            VenueId::OKX,
            VenueId::HYPERLIQUID,
        ] {
            let name = v.name().unwrap();
            assert_eq!(VenueId::from_name(name), Some(v));
            assert_eq!(v.to_string(), name);
        }
        assert_eq!(VenueId::OKX.to_string(), "okx");
        assert_eq!(VenueId(9).name(), None);
        assert_eq!(VenueId(9).to_string(), "venue#9");
        assert_eq!(VenueId(u16::MAX).to_string(), "venue#65535");
        assert_eq!(VenueId::from_name("OKX"), None);
        assert_eq!(VenueId::from_name(""), None);
        assert_eq!(InstrumentId(3).to_string(), "inst#3");
    }

    proptest! {
        /// new → (strategy, seq) and new → Display → parse are the identity.
        #[test]
        fn client_order_id_round_trip(
            strategy in any::<u16>(),
            seq in 1u64..(1 << ClientOrderId::SEQ_BITS),
        ) {
            let id = ClientOrderId::new(StrategyId(strategy), seq).unwrap();
            prop_assert_eq!(id.strategy(), StrategyId(strategy));
            prop_assert_eq!(id.seq(), seq);
            prop_assert!(!id.is_none());
            let s = id.to_string();
            prop_assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()));
            prop_assert!(s.len() <= 2 + 5 + 1 + 15);
            prop_assert_eq!(parse_venue_form(&s), Some((strategy, seq)));
        }

        /// Distinct (strategy, seq) pairs give distinct ids, ordered by strategy then seq.
        #[test]
        fn client_order_id_injective(
            a in (any::<u16>(), 1u64..(1 << ClientOrderId::SEQ_BITS)),
            b in (any::<u16>(), 1u64..(1 << ClientOrderId::SEQ_BITS)),
        ) {
            let ia = ClientOrderId::new(StrategyId(a.0), a.1).unwrap();
            let ib = ClientOrderId::new(StrategyId(b.0), b.1).unwrap();
            prop_assert_eq!(ia == ib, a == b);
            prop_assert_eq!(ia.cmp(&ib), a.cmp(&b));
        }

        /// Any raw value decodes without panicking, and re-encodes to itself when valid.
        #[test]
        fn client_order_id_from_raw(raw in any::<u64>()) {
            let id = ClientOrderId(raw);
            match ClientOrderId::new(id.strategy(), id.seq()) {
                Some(again) => prop_assert_eq!(again, id),
                None => prop_assert_eq!(id.seq(), 0),
            }
        }
    }
}
