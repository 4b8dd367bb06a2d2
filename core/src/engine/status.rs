//! Status snapshots for the control socket, published by the core thread without locks.
//!
//! On every n-th timer tick the engine pushes one [`StrategyStatus`] per strategy into an SPSC
//! ring ([`StatusPort`]); the ops thread keeps the latest row per strategy and answers `status`
//! from it. The push is `try_push`: a slow reader loses snapshots, never stalls the core. The
//! rows are derived state, not decisions, so they are not journaled.

use super::StrategyMode;
use crate::event::RiskLevel;
use crate::ids::StrategyId;
use crate::num::{Px, Qty};
use crate::ring::Producer;

/// One strategy's state at an engine time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StrategyStatus {
    /// Engine time of the snapshot.
    pub engine_time: u64,
    /// Strategy.
    pub strategy: StrategyId,
    /// Operator mode.
    pub mode: StrategyMode,
    /// Risk escalation level.
    pub level: RiskLevel,
    /// Open orders.
    pub open_orders: u32,
    /// Sum of absolute positions over instruments.
    pub gross_position: Qty,
    /// Net P&L in quote units (the ledger's, fees included, at the last timer tick).
    pub pnl: Px,
    /// The part of `pnl` that accrued while an incident was active (see
    /// [`super::Attribution`]).
    pub incident_pnl: Px,
}

/// The core side of the status ring.
pub struct StatusPort {
    tx: Producer<StrategyStatus>,
    every: u64,
    dropped: u64,
}

impl StatusPort {
    /// Publishes into `tx` on every `every`-th timer tick.
    pub fn new(tx: Producer<StrategyStatus>, every: u64) -> Self {
        Self {
            tx,
            every: every.max(1),
            dropped: 0,
        }
    }

    /// True if tick number `tick` publishes.
    pub fn due(&self, tick: u64) -> bool {
        tick.is_multiple_of(self.every)
    }

    /// Pushes a row; drops it if the ring is full.
    pub fn publish(&mut self, row: StrategyStatus) {
        if self.tx.try_push(row).is_err() {
            self.dropped += 1;
        }
    }

    /// Rows dropped because the reader was behind.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}
