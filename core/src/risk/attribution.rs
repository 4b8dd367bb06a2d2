//! Incident attribution: P&L that accrued while a data anomaly or a risk event touched a
//! strategy is reported apart from the strategy's own P&L, so a post-mortem can tell what the
//! strategy earned from what the incident cost (or, with luck, paid).
//!
//! The split is taken on every timer tick from the ledger's net P&L (realized + unrealized at
//! the mid − fees): the change since the previous tick goes to the incident bucket if, at this
//! tick, the strategy's risk level is not `active` or an instrument it holds or quotes is
//! flagged (data anomaly, fill debt, tripped breaker). The resolution is one timer interval.

use rust_decimal::Decimal;

/// One strategy's P&L split.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Attribution {
    last: Option<Decimal>,
    /// P&L accrued in normal operation.
    pub strategy: Decimal,
    /// P&L accrued while an incident was active.
    pub incident: Decimal,
}

impl Attribution {
    /// Books the change from the last total to `total` to one bucket.
    pub fn update(&mut self, total: Decimal, incident: bool) {
        let delta = total - self.last.unwrap_or(Decimal::ZERO);
        self.last = Some(total);
        if incident {
            self.incident += delta;
        } else {
            self.strategy += delta;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_go_to_the_bucket_active_at_the_tick_and_sum_to_the_total() {
        let mut a = Attribution::default();
        a.update(Decimal::from(5), false);
        a.update(Decimal::from(-3), true);
        a.update(Decimal::from(-1), true);
        a.update(Decimal::from(4), false);
        assert_eq!(a.strategy, Decimal::from(10));
        assert_eq!(a.incident, Decimal::from(-6));
        assert_eq!(a.strategy + a.incident, Decimal::from(4));
    }
}
