//! Per-strategy performance figures, as a strategy reports them (see
//! [`crate::engine::Strategy::metrics`]). The strategies crate computes them; the CLI prints
//! them at the end of a run and `ctl status` shows them.
//!
//! Money is exact (`Decimal`, quote currency); ratios that are statistics (Sharpe, rates) are
//! `f64` — they are reported, never traded on.

use rust_decimal::Decimal;

/// A snapshot of one strategy's performance.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StrategyMetrics {
    /// Realized P&L before fees, quote currency.
    pub realized: Decimal,
    /// Unrealized P&L of open positions at the last mark, quote currency.
    pub unrealized: Decimal,
    /// Fees paid (negative: rebates earned), quote currency.
    pub fees: Decimal,
    /// Fills received.
    pub trades: u64,
    /// Fills that closed position at a profit (realized P&L net of the fill's fee went up).
    pub wins: u64,
    /// Fills that closed position at a loss.
    pub losses: u64,
    /// Orders placed.
    pub orders_placed: u64,
    /// Orders that received at least one fill.
    pub orders_filled: u64,
    /// Sum over fills of (fill price − decision price) × quantity, signed so that a positive
    /// value is a cost (bought higher / sold lower than decided), quote currency.
    pub slippage: Decimal,
    /// Largest fall of net P&L from a running peak, quote currency (≥ 0).
    pub max_drawdown: Decimal,
    /// Sharpe ratio of per-interval net P&L changes (mean / standard deviation, not
    /// annualised); `None` with fewer than two intervals or no variation.
    pub sharpe: Option<f64>,
    /// Intervals the Sharpe ratio was computed over.
    pub intervals: u64,
    /// Engine time with a non-zero position, ns.
    pub time_in_market_ns: u64,
    /// Engine time the strategy has been observed, ns.
    pub elapsed_ns: u64,
}

impl StrategyMetrics {
    /// Net P&L: realized + unrealized − fees.
    pub fn net(&self) -> Decimal {
        self.realized + self.unrealized - self.fees
    }

    /// Share of closing fills that were winners, if any closed.
    pub fn win_rate(&self) -> Option<f64> {
        ratio(self.wins, self.wins + self.losses)
    }

    /// Orders filled (at least partly) per order placed.
    pub fn fill_rate(&self) -> Option<f64> {
        ratio(self.orders_filled, self.orders_placed)
    }

    /// Share of the observed time spent with a position.
    pub fn time_in_market(&self) -> Option<f64> {
        ratio(self.time_in_market_ns, self.elapsed_ns)
    }
}

fn ratio(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}
