//! Queue position of resting orders, behind a trait so the backtest can calibrate it.

use tickwire_core::num::Qty;

/// How much is ahead of a resting order at its price, and how trades there reach it.
///
/// `visible` is the public quantity at the order's price in the engine's view (after our
/// consumption); `ours` is the remaining quantity of our own older orders resting there.
pub trait QueueModel {
    /// The queue ahead of an order that starts resting.
    fn join(&self, visible: Qty, ours: Qty) -> Qty;
    /// The level changed (or an order ahead left): the queue ahead now, given what it was.
    fn on_level(&self, ahead: Qty, visible: Qty, ours: Qty) -> Qty;
    /// A public trade of `avail` reached the order's price: returns the new queue ahead and
    /// the quantity that fills the order (at most `leaves`).
    fn on_trade(&self, ahead: Qty, avail: Qty, leaves: Qty) -> (Qty, Qty);
}

/// Today's model: an order joins behind everything visible at its price plus our older orders
/// there; the queue ahead never grows, shrinks with the level (cancellations ahead are
/// assumed), and trades at the price eat it before they reach the order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VisibleQueue;

impl QueueModel for VisibleQueue {
    fn join(&self, visible: Qty, ours: Qty) -> Qty {
        visible.saturating_add(ours)
    }

    fn on_level(&self, ahead: Qty, visible: Qty, ours: Qty) -> Qty {
        ahead.min(visible.saturating_add(ours))
    }

    fn on_trade(&self, ahead: Qty, avail: Qty, leaves: Qty) -> (Qty, Qty) {
        let used = ahead.min(avail);
        (
            ahead.saturating_sub(used),
            leaves.min(avail.saturating_sub(used)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(n: i64) -> Qty {
        Qty::from_raw(n)
    }

    #[test]
    fn visible_queue_joins_behind_shrinks_and_is_eaten_first() {
        let m = VisibleQueue;
        assert_eq!(m.join(q(5), q(2)), q(7));
        assert_eq!(m.on_level(q(7), q(3), q(1)), q(4), "cancellations ahead");
        assert_eq!(m.on_level(q(4), q(10), q(0)), q(4), "never grows");
        assert_eq!(m.on_trade(q(4), q(3), q(10)), (q(1), q(0)), "all ahead");
        assert_eq!(m.on_trade(q(1), q(3), q(10)), (q(0), q(2)), "then us");
        assert_eq!(
            m.on_trade(q(0), q(30), q(10)),
            (q(0), q(10)),
            "at most leaves"
        );
    }
}
