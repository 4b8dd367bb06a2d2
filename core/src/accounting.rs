//! Deterministic trade accounting: positions, average-cost P&L, fees and turnover, kept per
//! (strategy, instrument) and per (venue, instrument).
//!
//! Money is `rust_decimal::Decimal`, never `f64`. The open position carries its *cost basis*
//! (the signed quote amount paid for the open quantity) rather than an average price, so the
//! only inexact step — splitting the basis when part of a position is closed — can move P&L
//! between "realized" and "unrealized" by at most 10^-18 but never creates or loses any:
//! `realized + unrealized − quote fees` always equals the cash-flow P&L
//! `−Σ signed qty × px − quote fees + position × mark`, exactly.
//!
//! Fees are signed (negative = rebate) and kept by liquidity (maker/taker). A fee charged in the
//! quote currency enters P&L; a fee charged in the base asset or another asset (BNB) is kept
//! apart in its own unit and never silently converted into a quote fee.
//!
//! A base-asset fee is also inventory that never arrived: buying 1 BTC with a 0.001 BTC fee
//! leaves 0.999 BTC at the venue. The position is therefore the venue's balance change
//! (`bought − sold − base fees`), and the fee quantity is booked as a disposal at zero proceeds:
//! when it reduces a position it takes its share of the cost basis into realized P&L, otherwise
//! it opens at zero cost, so its value shows in unrealized P&L at the mark. Either way
//! `Pnl::fees` stays quote-only and `Account::base_fees` reports the amount in base units, and
//! the cash-flow identity above holds with the fee as a zero-price fill.
//!
//! Applying a fill allocates nothing: every account lives in a table sized at construction.

use rust_decimal::{Decimal, RoundingStrategy};

use crate::event::{FeeUnit, Fill, Liquidity, Side};
use crate::ids::{InstrumentId, StrategyId, VenueId};
use crate::num::{InstrumentSpec, Px, Qty};

/// Decimal places to which a closed part of the cost basis is rounded: the scale of an exact
/// `Px × Qty` product, so every stored amount stays exact under addition.
const COST_DECIMALS: u32 = 18;

/// How many distinct non-quote, non-base fee assets one account keeps apart.
pub const OTHER_FEE_ASSETS: usize = 2;

/// The asset a fee was charged in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FeeAsset {
    /// The instrument's quote currency: enters P&L.
    Quote,
    /// The instrument's base asset (Binance charges buys in the bought asset).
    Base,
    /// Another asset, identified by a caller-chosen code (e.g. BNB).
    Other(u16),
}

/// A fee on one fill.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fee {
    /// Signed amount in `asset` units: positive is paid, negative is a rebate.
    pub amount: Decimal,
    /// The asset charged.
    pub asset: FeeAsset,
}

impl Fee {
    /// A fee in the quote currency, as fill records carry it.
    pub fn quote(amount: Px) -> Self {
        Self {
            amount: amount.to_decimal(),
            asset: FeeAsset::Quote,
        }
    }
}

/// One execution as the ledger books it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LedgerFill {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Direction of our order.
    pub side: Side,
    /// Execution price.
    pub px: Px,
    /// Executed quantity (positive).
    pub qty: Qty,
    /// Fee charged.
    pub fee: Fee,
    /// Whether we added or took liquidity.
    pub liquidity: Liquidity,
}

impl LedgerFill {
    /// The ledger view of a fill record whose side is known. An unreadable liquidity code is
    /// booked as taker (the dearer assumption). The record names only the class of its fee
    /// asset: a fee in another asset (or of an unknown class) is booked as `Other(0)`.
    pub fn from_record(f: &Fill, side: Side) -> Self {
        let asset = match f.fee_unit() {
            Some(FeeUnit::Quote) => FeeAsset::Quote,
            Some(FeeUnit::Base) => FeeAsset::Base,
            Some(FeeUnit::Other) | None => FeeAsset::Other(0),
        };
        Self {
            instrument: f.meta.instrument,
            side,
            px: f.px,
            qty: f.qty,
            fee: Fee {
                amount: f.fee.to_decimal(),
                asset,
            },
            liquidity: Liquidity::from_code(f.liquidity).unwrap_or(Liquidity::Taker),
        }
    }
}

/// A fee charged in an asset other than quote or base.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OtherFee {
    /// Caller's asset code.
    pub asset: u16,
    /// Signed amount in that asset.
    pub amount: Decimal,
}

/// Profit and loss of an account at a mark price, in quote currency.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pnl {
    /// P&L of closed quantity (average-cost method), before fees.
    pub realized: Decimal,
    /// P&L of the open position at the mark.
    pub unrealized: Decimal,
    /// Quote-currency fees, signed (rebates negative).
    pub fees: Decimal,
}

impl Pnl {
    /// `realized + unrealized − fees`.
    pub fn net(&self) -> Decimal {
        self.realized + self.unrealized - self.fees
    }
}

/// One account: the trading of one strategy (or one venue) in one instrument.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Account {
    position: Qty,
    /// Signed quote amount paid for the open position (negative for a short).
    cost: Decimal,
    realized: Decimal,
    maker_fees: Decimal,
    taker_fees: Decimal,
    base_fees: Decimal,
    other_fees: [OtherFee; OTHER_FEE_ASSETS],
    /// Fees in further assets that found no free slot; counted so the loss is visible.
    unbooked_fees: u32,
    turnover: Decimal,
    bought: Qty,
    sold: Qty,
    trades: u64,
    maker_trades: u64,
}

impl Account {
    /// Signed position: the sum of signed fill quantities less base-asset fees (the venue's
    /// balance change).
    pub fn position(&self) -> Qty {
        self.position
    }

    /// Cost basis of the open position (signed quote amount).
    pub fn cost_basis(&self) -> Decimal {
        self.cost
    }

    /// Average entry price of the open position, `None` when flat.
    pub fn avg_price(&self) -> Option<Decimal> {
        let q = self.position.to_decimal();
        (!q.is_zero()).then(|| self.cost.checked_div(q).unwrap_or_default())
    }

    /// Realized P&L before fees, in quote currency.
    pub fn realized(&self) -> Decimal {
        self.realized
    }

    /// Unrealized P&L of the open position marked at `mark` (e.g. the mid).
    pub fn unrealized(&self, mark: Px) -> Decimal {
        self.position.to_decimal() * mark.to_decimal() - self.cost
    }

    /// Quote-currency fees, signed (negative = net rebate).
    pub fn fees(&self) -> Decimal {
        self.maker_fees + self.taker_fees
    }

    /// Quote-currency fees on maker fills (negative = rebate).
    pub fn maker_fees(&self) -> Decimal {
        self.maker_fees
    }

    /// Quote-currency fees on taker fills.
    pub fn taker_fees(&self) -> Decimal {
        self.taker_fees
    }

    /// Fees charged in the base asset, in base units (not part of P&L).
    pub fn base_fees(&self) -> Decimal {
        self.base_fees
    }

    /// Fees charged in other assets, in their own units (not part of P&L).
    pub fn other_fees(&self) -> impl Iterator<Item = &OtherFee> {
        self.other_fees.iter().filter(|f| !f.amount.is_zero())
    }

    /// Fills whose fee asset found no slot (more than [`OTHER_FEE_ASSETS`] other assets).
    pub fn unbooked_fees(&self) -> u32 {
        self.unbooked_fees
    }

    /// Quote volume traded: `Σ |qty × px|`.
    pub fn turnover(&self) -> Decimal {
        self.turnover
    }

    /// Base quantity bought.
    pub fn bought(&self) -> Qty {
        self.bought
    }

    /// Base quantity sold.
    pub fn sold(&self) -> Qty {
        self.sold
    }

    /// Number of fills booked.
    pub fn trades(&self) -> u64 {
        self.trades
    }

    /// Number of maker fills booked.
    pub fn maker_trades(&self) -> u64 {
        self.maker_trades
    }

    /// P&L at `mark`.
    pub fn pnl(&self, mark: Px) -> Pnl {
        Pnl {
            realized: self.realized,
            unrealized: self.unrealized(mark),
            fees: self.fees(),
        }
    }

    /// Books one fill.
    pub fn apply(&mut self, f: &LedgerFill) {
        let px = f.px.to_decimal();
        let qty = f.qty.to_decimal();
        let notional = px * qty;
        let signed_qty = if f.side == Side::Buy { qty } else { -qty };
        self.move_basis(signed_qty, px);
        let delta = if f.side == Side::Buy {
            f.qty
        } else {
            f.qty.neg()
        };
        self.position = self.position.saturating_add(delta);
        if f.fee.asset == FeeAsset::Base && !f.fee.amount.is_zero() {
            // The fee quantity leaves the inventory at zero proceeds (see the module docs).
            self.move_basis(-f.fee.amount, Decimal::ZERO);
            let fee_qty = Qty::from_decimal(f.fee.amount).unwrap_or(Qty::ZERO);
            self.position = self.position.saturating_sub(fee_qty);
        }
        match f.side {
            Side::Buy => self.bought = self.bought.saturating_add(f.qty),
            Side::Sell => self.sold = self.sold.saturating_add(f.qty),
        }
        self.turnover += notional.abs();
        self.trades += 1;
        if f.liquidity == Liquidity::Maker {
            self.maker_trades += 1;
        }
        self.book_fee(f.fee, f.liquidity);
    }

    /// Moves the cost basis and realized P&L for a signed quantity change at `px`.
    fn move_basis(&mut self, signed_qty: Decimal, px: Decimal) {
        let pos = self.position.to_decimal();
        let new_pos = pos + signed_qty;
        if pos.is_zero() || pos.is_sign_positive() == signed_qty.is_sign_positive() {
            // Opening or adding: the whole fill joins the basis.
            self.cost += signed_qty * px;
        } else if new_pos.is_zero() || new_pos.is_sign_positive() == pos.is_sign_positive() {
            // Reducing: the closed part of the basis is proportional to the closed quantity.
            // Rounding goes to the remainder, so basis + realized stays exact.
            let closed = if new_pos.is_zero() {
                self.cost
            } else {
                (self.cost * (-signed_qty) / pos)
                    .round_dp_with_strategy(COST_DECIMALS, RoundingStrategy::MidpointNearestEven)
            };
            self.realized += -signed_qty * px - closed;
            self.cost -= closed;
        } else {
            // Through zero: close everything, open the rest at this price.
            self.realized += pos * px - self.cost;
            self.cost = new_pos * px;
        }
    }

    fn book_fee(&mut self, fee: Fee, liquidity: Liquidity) {
        match fee.asset {
            FeeAsset::Quote => match liquidity {
                Liquidity::Maker => self.maker_fees += fee.amount,
                Liquidity::Taker => self.taker_fees += fee.amount,
            },
            FeeAsset::Base => self.base_fees += fee.amount,
            FeeAsset::Other(asset) => {
                let slot = self
                    .other_fees
                    .iter()
                    .position(|f| f.asset == asset && !f.amount.is_zero())
                    .or_else(|| self.other_fees.iter().position(|f| f.amount.is_zero()));
                match slot {
                    Some(i) => {
                        self.other_fees[i].asset = asset;
                        self.other_fees[i].amount += fee.amount;
                    }
                    None => self.unbooked_fees += 1,
                }
            }
        }
    }
}

/// Accounts for every (strategy, instrument) and every (venue, instrument), plus fills that
/// could not be attributed to a strategy (they still moved the venue's inventory).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ledger {
    venues: Vec<VenueId>,
    strategies: usize,
    /// Strategy-major: `by_strategy[s * instruments + i]`.
    by_strategy: Vec<Account>,
    /// By instrument: each instrument trades on exactly one venue.
    by_venue: Vec<Account>,
    unattributed: Vec<Account>,
}

impl Ledger {
    /// A ledger for `strategies` strategies trading `instruments` (`spec.id` = index).
    pub fn new(instruments: &[InstrumentSpec], strategies: usize) -> Self {
        let n = instruments.len();
        Self {
            venues: instruments.iter().map(|s| s.venue).collect(),
            strategies,
            by_strategy: vec![Account::default(); n * strategies],
            by_venue: vec![Account::default(); n],
            unattributed: vec![Account::default(); n],
        }
    }

    /// Books a fill of `strategy` (`None`: unattributed). Returns false, booking nothing, for an
    /// instrument outside the table.
    pub fn apply(&mut self, strategy: Option<StrategyId>, f: &LedgerFill) -> bool {
        let i = f.instrument.0 as usize;
        let n = self.by_venue.len();
        if i >= n {
            return false;
        }
        self.by_venue[i].apply(f);
        match strategy.map(|s| usize::from(s.0)) {
            Some(s) if s < self.strategies => self.by_strategy[s * n + i].apply(f),
            _ => self.unattributed[i].apply(f),
        }
        true
    }

    /// Number of strategies.
    pub fn strategies(&self) -> usize {
        self.strategies
    }

    /// The account of a strategy in an instrument.
    pub fn account(&self, strategy: StrategyId, instrument: InstrumentId) -> Option<&Account> {
        let (s, i, n) = (
            usize::from(strategy.0),
            instrument.0 as usize,
            self.by_venue.len(),
        );
        (s < self.strategies && i < n).then(|| &self.by_strategy[s * n + i])
    }

    /// A strategy's accounts indexed by instrument (empty for an unknown strategy).
    pub fn strategy_slice(&self, strategy: StrategyId) -> &[Account] {
        let n = self.by_venue.len();
        let s = usize::from(strategy.0);
        if s < self.strategies {
            &self.by_strategy[s * n..(s + 1) * n]
        } else {
            &[]
        }
    }

    /// All accounts of a strategy, by instrument.
    pub fn strategy_accounts(
        &self,
        strategy: StrategyId,
    ) -> impl Iterator<Item = (InstrumentId, &Account)> {
        self.strategy_slice(strategy)
            .iter()
            .enumerate()
            .map(|(i, a)| (InstrumentId(i as u32), a))
    }

    /// The venue-wide account of an instrument (every strategy's fills and unattributed ones).
    pub fn venue_account(&self, venue: VenueId, instrument: InstrumentId) -> Option<&Account> {
        let i = instrument.0 as usize;
        (self.venues.get(i) == Some(&venue)).then(|| &self.by_venue[i])
    }

    /// Fills in an instrument that no strategy owns.
    pub fn unattributed(&self, instrument: InstrumentId) -> Option<&Account> {
        self.unattributed.get(instrument.0 as usize)
    }

    /// A strategy's P&L summed over its instruments, each marked by `mark` (instruments
    /// without a mark count their open position at zero unrealized P&L). Amounts of
    /// instruments with different quote currencies are added as they are: sum only what
    /// shares a quote.
    pub fn strategy_pnl(
        &self,
        strategy: StrategyId,
        mut mark: impl FnMut(InstrumentId) -> Option<Px>,
    ) -> Pnl {
        let mut total = Pnl::default();
        for (id, a) in self.strategy_accounts(strategy) {
            total.realized += a.realized;
            total.fees += a.fees();
            if let Some(m) = mark(id) {
                total.unrealized += a.unrealized(m);
            }
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(side: Side, px: &str, qty: &str, fee: &str, liq: Liquidity) -> LedgerFill {
        LedgerFill {
            instrument: InstrumentId(0),
            side,
            px: Px::parse(px).expect("px"),
            qty: Qty::parse(qty).expect("qty"),
            fee: Fee::quote(Px::parse_signed(fee).expect("fee")),
            liquidity: liq,
        }
    }

    fn d(s: &str) -> Decimal {
        s.parse().expect("decimal")
    }

    #[test]
    fn average_cost_realizes_on_reduce_and_flip() {
        let mut a = Account::default();
        a.apply(&fill(Side::Buy, "100", "1", "0.1", Liquidity::Taker));
        a.apply(&fill(Side::Buy, "110", "1", "-0.02", Liquidity::Maker));
        assert_eq!(a.avg_price(), Some(d("105")));
        a.apply(&fill(Side::Sell, "120", "0.5", "0", Liquidity::Maker));
        assert_eq!(a.realized(), d("7.5"));
        assert_eq!(a.position(), Qty::parse("1.5").expect("qty"));
        // Sell 3 through zero: close 1.5 at +15 each, open 1.5 short at 120.
        a.apply(&fill(Side::Sell, "120", "3", "0", Liquidity::Taker));
        assert_eq!(a.realized(), d("30"));
        assert_eq!(a.avg_price(), Some(d("120")));
        assert_eq!(a.unrealized(Px::parse("100").expect("px")), d("30"));
        assert_eq!(a.fees(), d("0.08"));
        assert_eq!(a.maker_fees(), d("-0.02"));
        assert_eq!(a.turnover(), d("100") + d("110") + d("60") + d("360"));
        assert_eq!(a.trades(), 4);
        assert_eq!(a.maker_trades(), 2);
    }

    #[test]
    fn non_quote_fees_stay_apart() {
        let mut a = Account::default();
        let mut f = fill(Side::Buy, "100", "1", "0", Liquidity::Taker);
        f.fee = Fee {
            amount: d("0.001"),
            asset: FeeAsset::Base,
        };
        a.apply(&f);
        for asset in [7, 8, 7, 9] {
            f.fee = Fee {
                amount: d("0.5"),
                asset: FeeAsset::Other(asset),
            };
            a.apply(&f);
        }
        assert_eq!(a.fees(), Decimal::ZERO);
        assert_eq!(a.base_fees(), d("0.001"));
        let other: Vec<_> = a.other_fees().map(|o| (o.asset, o.amount)).collect();
        assert_eq!(other, vec![(7, d("1.0")), (8, d("0.5"))]);
        assert_eq!(a.unbooked_fees(), 1);
    }
}
