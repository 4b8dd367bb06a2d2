//! Fault injection: what can go wrong on a market-data connection, and the bookkeeping of
//! when each configured or injected fault fires.
//!
//! Faults act on the venue's tape, so every connection subscribed to the affected frame sees
//! the same fault (as when a real venue's gateway misbehaves), and the simulator's own book is
//! never affected: a dropped diff is missing on the wire, not in the venue.

use std::time::Duration;

/// One kind of fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// Withhold one book diff (Binance `depthUpdate`, OKX `books` update) from every subscriber:
    /// the client sees a missing update-id range (Binance) or a checksum mismatch (OKX).
    Gap,
    /// Stop the whole tape for this long before the frame (a stale feed).
    Pause(Duration),
    /// Close every subscribed connection abruptly (TCP shutdown, no close frame) before the
    /// frame; the listeners keep accepting, so a reconnect succeeds.
    Disconnect,
    /// Send an unparsable text frame (the first half of the frame's text) before the frame.
    Malformed,
    /// Send the frame twice.
    Duplicate,
}

impl FaultKind {
    /// The config spelling.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Gap => "gap",
            FaultKind::Pause(_) => "pause",
            FaultKind::Disconnect => "disconnect",
            FaultKind::Malformed => "malformed",
            FaultKind::Duplicate => "duplicate",
        }
    }
}

/// A fault that has fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FiredFault {
    /// What fired.
    pub kind: FaultKind,
    /// The capture frame (0-based, in the venue's tape order) it applied to.
    pub frame: u64,
}

/// Pending faults of one venue, in firing order.
#[derive(Debug, Default)]
pub(crate) struct FaultPlan {
    pending: Vec<(u64, FaultKind)>,
}

impl FaultPlan {
    pub(crate) fn new(mut specs: Vec<(u64, FaultKind)>) -> Self {
        // Stable sort: two faults at the same frame fire in config order.
        specs.sort_by_key(|(at, _)| *at);
        Self { pending: specs }
    }

    /// Adds a fault that fires at the first eligible frame at or after `at`.
    pub(crate) fn push(&mut self, at: u64, kind: FaultKind) {
        let i = self.pending.partition_point(|(a, _)| *a <= at);
        self.pending.insert(i, (at, kind));
    }

    /// Removes and returns every fault due at capture frame `seq`. A gap stays pending until
    /// a book diff comes (`is_diff`), so `gap at = N` always produces a real gap.
    pub(crate) fn due(&mut self, seq: u64, is_diff: bool) -> Vec<FaultKind> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.pending.len() && self.pending[i].0 <= seq {
            let kind = self.pending[i].1;
            if kind == FaultKind::Gap && !is_diff {
                i += 1;
            } else {
                self.pending.remove(i);
                out.push(kind);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gap_waits_for_a_diff_and_others_fire_in_order() {
        let mut p = FaultPlan::new(vec![
            (3, FaultKind::Duplicate),
            (1, FaultKind::Gap),
            (3, FaultKind::Malformed),
        ]);
        assert!(p.due(0, true).is_empty());
        assert!(p.due(1, false).is_empty());
        assert!(p.due(2, false).is_empty());
        assert_eq!(
            p.due(3, false),
            vec![FaultKind::Duplicate, FaultKind::Malformed]
        );
        p.push(4, FaultKind::Disconnect);
        assert_eq!(p.due(4, true), vec![FaultKind::Gap, FaultKind::Disconnect]);
        assert!(p.due(9, true).is_empty());
    }
}
