//! The strategy interface and the context through which a strategy acts.

use core::fmt;

use rust_decimal::Decimal;

use crate::accounting::Account;
use crate::event::{
    AmendOrder, CancelOrder, FeedStatus, Fill, Meta, NewOrder, OrderCommand, OrderState, OrderType,
    OrderUpdate, Output, RiskLevel, RiskReason, Side, TimeInForce, TimerTick, Trade,
};
use crate::ids::{ClientOrderId, InstrumentId, StrategyId};
use crate::market::{MarketView, Markets};
use crate::metrics::StrategyMetrics;
use crate::num::{Px, Qty};
use crate::order::{OrderEntry, OrderRequest, OrderTable};
use crate::risk::{LegId, Refusal, Risk};

/// A trading strategy. Every callback runs on the core thread, in input order, with engine time
/// from the input: a strategy must not read a clock, draw random numbers from an unseeded
/// source, or do I/O, so that replay reproduces its decisions.
pub trait Strategy: Send {
    /// A short name for reports.
    fn name(&self) -> &str;
    /// The book or top of book of `instrument` changed and is consistent.
    fn on_book(&mut self, _ctx: &mut Ctx<'_>, _instrument: InstrumentId) {}
    /// A public trade printed.
    fn on_trade(&mut self, _ctx: &mut Ctx<'_>, _trade: &Trade) {}
    /// One of this strategy's orders changed state.
    fn on_order_update(&mut self, _ctx: &mut Ctx<'_>, _update: &OrderUpdate) {}
    /// One of this strategy's orders filled (already applied to the position).
    fn on_fill(&mut self, _ctx: &mut Ctx<'_>, _fill: &Fill) {}
    /// A timer tick.
    fn on_timer(&mut self, _ctx: &mut Ctx<'_>, _tick: &TimerTick) {}
    /// Feed health changed.
    fn on_feed_status(&mut self, _ctx: &mut Ctx<'_>, _status: &FeedStatus) {}
    /// Performance so far, for end-of-run tables and `ctl status` (`None`: not tracked).
    fn metrics(&self) -> Option<StrategyMetrics> {
        None
    }
}

/// Operating mode of a strategy, set by operator commands and engine shutdown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrategyMode {
    /// Trading normally.
    Active,
    /// No new orders; open orders are still managed.
    Paused,
    /// Only orders that reduce the position.
    ReduceOnly,
    /// The engine is shutting down: no new orders.
    Stopping,
}

/// Why an order was not placed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlaceError {
    /// The strategy is paused or the engine is stopping.
    NotActive(StrategyMode),
    /// Reduce-only mode and the order would not reduce the position.
    WouldIncrease,
    /// No such instrument.
    UnknownInstrument,
    /// Price off the tick grid, quantity off the lot grid, or below the minimums.
    Invalid,
    /// The open-order table is full.
    TableFull,
    /// The strategy's order id space is exhausted.
    IdsExhausted,
    /// Refused by a pre-trade risk check (journaled as a `risk` record).
    Risk(RiskReason),
    /// Orders restored from the journal are not yet confirmed by the venue.
    Unverified,
}

impl fmt::Display for PlaceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotActive(m) => write!(f, "strategy is {m:?}"),
            Self::WouldIncrease => f.write_str("reduce-only: order would increase the position"),
            Self::UnknownInstrument => f.write_str("unknown instrument"),
            Self::Invalid => f.write_str("price/quantity off grid or below minimums"),
            Self::TableFull => f.write_str("open-order table full"),
            Self::IdsExhausted => f.write_str("order id space exhausted"),
            Self::Risk(r) => write!(f, "refused by risk: {r}"),
            Self::Unverified => f.write_str("restored orders not yet verified with the venue"),
        }
    }
}

/// Why a cancel or amend was not sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelError {
    /// Not an open order of this strategy.
    NotFound,
    /// Already cancelling or in a terminal state.
    NotCancelable,
    /// An amend refused by a pre-trade risk check (journaled as a `risk` record).
    Risk(RiskReason),
}

/// What the engine keeps per strategy besides its positions and orders.
#[derive(Debug)]
pub(crate) struct StrategyState {
    pub(super) mode: StrategyMode,
    /// The sequence number of the strategy's next client order id.
    pub(super) next_seq: u64,
    /// Open orders restored from the journal that the venue has not confirmed yet.
    pub(super) verifying: u32,
}

impl StrategyState {
    /// A strategy that has not traded yet: active, ids from 1.
    pub(super) fn new() -> Self {
        Self {
            mode: StrategyMode::Active,
            next_seq: 1,
            verifying: 0,
        }
    }
}

/// The engine state a strategy can see and act on, for one callback.
pub struct Ctx<'a> {
    pub(crate) strategy: StrategyId,
    pub(crate) now: u64,
    pub(crate) trigger: Meta,
    pub(crate) markets: &'a Markets,
    pub(crate) orders: &'a mut OrderTable,
    pub(crate) positions: &'a [Qty],
    pub(crate) accounts: &'a [Account],
    pub(crate) state: &'a mut StrategyState,
    pub(crate) out: &'a mut Vec<Output>,
    pub(crate) risk: &'a mut Risk,
}

impl Ctx<'_> {
    /// Engine time: the event time of the input being processed.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// This strategy's id.
    pub fn strategy(&self) -> StrategyId {
        self.strategy
    }

    /// This strategy's mode.
    pub fn mode(&self) -> StrategyMode {
        self.state.mode
    }

    /// The market view of an instrument.
    pub fn market(&self, id: InstrumentId) -> Option<&MarketView> {
        self.markets.get(id)
    }

    /// This strategy's position in an instrument.
    pub fn position(&self, id: InstrumentId) -> Qty {
        self.positions
            .get(id.0 as usize)
            .copied()
            .unwrap_or(Qty::ZERO)
    }

    /// This strategy's account in an instrument: position, average price, realized P&L,
    /// fees, turnover.
    pub fn account(&self, id: InstrumentId) -> Option<&Account> {
        self.accounts.get(id.0 as usize)
    }

    /// Average entry price of this strategy's position in an instrument (`None` when flat).
    pub fn avg_price(&self, id: InstrumentId) -> Option<Decimal> {
        self.account(id).and_then(Account::avg_price)
    }

    /// Realized P&L (before fees) of this strategy in an instrument, in quote currency.
    pub fn realized_pnl(&self, id: InstrumentId) -> Decimal {
        self.account(id).map_or(Decimal::ZERO, Account::realized)
    }

    /// Quote-currency fees this strategy paid in an instrument (negative: net rebate).
    pub fn fees(&self, id: InstrumentId) -> Decimal {
        self.account(id).map_or(Decimal::ZERO, Account::fees)
    }

    /// This strategy's open orders.
    pub fn open_orders(&self) -> impl Iterator<Item = &OrderEntry> {
        let me = self.strategy;
        self.orders.iter().filter(move |o| o.strategy == me)
    }

    /// One of this strategy's open orders.
    pub fn order(&self, id: ClientOrderId) -> Option<&OrderEntry> {
        self.orders.get(id).filter(|o| o.strategy == self.strategy)
    }

    /// This strategy's risk escalation level (orthogonal to the operator [`StrategyMode`]).
    pub fn risk_level(&self) -> RiskLevel {
        self.risk.level(self.strategy)
    }

    /// Declares an unhedged leg (multi-leg strategies): `qty` on `instrument` is exposed until
    /// [`Ctx::hedged`] is called. Refused when larger than `max_leg_qty` or while another leg
    /// is older than `max_leg_age`; a leg that outlives `max_leg_age` escalates the strategy to
    /// reduce-only (an `unhedged-leg` alert).
    pub fn open_leg(&mut self, instrument: InstrumentId, qty: Qty) -> Result<LegId, PlaceError> {
        let r = self.risk.open_leg(self.strategy, instrument, qty, self.now);
        r.map_err(|refusal| {
            let req = OrderRequest {
                instrument,
                side: if qty.is_negative() {
                    Side::Sell
                } else {
                    Side::Buy
                },
                px: Px::ZERO,
                qty: qty.abs(),
                order_type: OrderType::Limit,
                tif: TimeInForce::Gtc,
            };
            self.refuse(&req, refusal)
        })
    }

    /// Marks a declared leg hedged; false if it was not open.
    pub fn hedged(&mut self, leg: LegId) -> bool {
        self.risk.close_leg(self.strategy, leg)
    }

    fn refuse(&mut self, req: &OrderRequest, r: Refusal) -> PlaceError {
        let meta = self.out_meta(req.instrument);
        self.out.push(Output::Risk(Risk::refusal_record(
            meta,
            self.strategy,
            req,
            r,
        )));
        PlaceError::Risk(r.reason)
    }

    pub(crate) fn out_meta(&self, instrument: InstrumentId) -> Meta {
        out_meta(self.markets, &self.trigger, instrument)
    }

    /// Places an order; returns its client order id. Pre-trade risk checks run first; a
    /// refusal is journaled as a `risk` record and returned as [`PlaceError::Risk`].
    pub fn place(&mut self, req: OrderRequest) -> Result<ClientOrderId, PlaceError> {
        let market = self
            .markets
            .get(req.instrument)
            .ok_or(PlaceError::UnknownInstrument)?;
        if self.state.verifying > 0 {
            return Err(PlaceError::Unverified);
        }
        self.risk.sync(self.out, self.now);
        match self.state.mode {
            StrategyMode::Active => {}
            StrategyMode::ReduceOnly => {
                if !self.risk.is_reducing(self.strategy, &req) {
                    return Err(PlaceError::WouldIncrease);
                }
            }
            mode => return Err(PlaceError::NotActive(mode)),
        }
        if self.risk.pre_trade_checks()
            && let Err(r) = self.risk.check_new(self.strategy, &req, market, self.now)
        {
            return Err(self.refuse(&req, r));
        }
        self.place_unchecked(req)
    }

    /// Places an order without mode or risk checks (the flattener, which is budgeted on its
    /// own); grid and table checks still apply.
    pub(crate) fn place_unchecked(
        &mut self,
        req: OrderRequest,
    ) -> Result<ClientOrderId, PlaceError> {
        let market = self
            .markets
            .get(req.instrument)
            .ok_or(PlaceError::UnknownInstrument)?;
        let spec = &market.spec;
        let price_ok =
            req.order_type == OrderType::Market || (req.px.is_positive() && spec.on_tick(req.px));
        if !price_ok
            || !req.qty.is_positive()
            || !spec.on_lot(req.qty)
            || !spec.meets_minimums(req.px, req.qty)
        {
            return Err(PlaceError::Invalid);
        }
        let id = ClientOrderId::new(self.strategy, self.state.next_seq)
            .ok_or(PlaceError::IdsExhausted)?;
        let entry = OrderEntry::new(id, spec.venue, req.instrument, req.side, req.px, req.qty);
        if !self.orders.insert(entry) {
            return Err(PlaceError::TableFull);
        }
        self.state.next_seq += 1;
        let meta = self.out_meta(req.instrument);
        self.out
            .push(Output::Command(OrderCommand::New(NewOrder::new(
                meta,
                id,
                req.side,
                req.order_type,
                req.tif,
                req.px,
                req.qty,
            ))));
        self.out.push(Output::OrderUpdate(OrderUpdate::new(
            meta,
            id,
            OrderState::PendingNew,
            Qty::ZERO,
            req.qty,
        )));
        Ok(id)
    }

    /// Requests a cancel of one of this strategy's open orders.
    pub fn cancel(&mut self, id: ClientOrderId) -> Result<(), CancelError> {
        let strategy = self.strategy;
        let entry = self
            .orders
            .get_mut(id)
            .filter(|o| o.strategy == strategy)
            .ok_or(CancelError::NotFound)?;
        if !entry.request_cancel() {
            return Err(CancelError::NotCancelable);
        }
        push_cancel(self.out, self.markets, &self.trigger, entry);
        Ok(())
    }

    /// Requests a price/quantity change of one of this strategy's working orders.
    pub fn amend(&mut self, id: ClientOrderId, px: Px, qty: Qty) -> Result<(), CancelError> {
        let strategy = self.strategy;
        let entry = self
            .orders
            .get(id)
            .filter(|o| o.strategy == strategy)
            .ok_or(CancelError::NotFound)?;
        if entry.state.is_terminal() || entry.state == OrderState::PendingCancel {
            return Err(CancelError::NotCancelable);
        }
        let (instrument, side) = (entry.instrument, entry.side);
        self.risk.sync(self.out, self.now);
        if let Some(view) = self.markets.get(instrument)
            && let Err(r) = self
                .risk
                .check_amend(self.strategy, id, px, qty, view, self.now)
        {
            let req = OrderRequest {
                instrument,
                side,
                px,
                qty,
                order_type: OrderType::Limit,
                tif: TimeInForce::Gtc,
            };
            let _ = self.refuse(&req, r);
            return Err(CancelError::Risk(r.reason));
        }
        let meta = self.out_meta(instrument);
        self.out
            .push(Output::Command(OrderCommand::Amend(AmendOrder {
                meta,
                cl_ord_id: id,
                new_px: px,
                new_qty: qty,
            })));
        Ok(())
    }

    /// Cancels every open order of this strategy, on one instrument or all, one cancel per
    /// order (so it works across venues and each order's outcome is tracked).
    pub fn cancel_all(&mut self, instrument: Option<InstrumentId>) {
        let me = self.strategy;
        for o in self.orders.iter_mut() {
            let matches = o.strategy == me && instrument.is_none_or(|i| i == o.instrument);
            if matches && o.request_cancel() {
                push_cancel(self.out, self.markets, &self.trigger, o);
            }
        }
    }
}

/// The cancel command for an order just marked cancel-pending, and its order update.
fn push_cancel(out: &mut Vec<Output>, markets: &Markets, trigger: &Meta, o: &OrderEntry) {
    let meta = out_meta(markets, trigger, o.instrument);
    out.push(Output::Command(OrderCommand::Cancel(CancelOrder {
        meta,
        cl_ord_id: o.id,
    })));
    out.push(Output::OrderUpdate(OrderUpdate::new(
        meta,
        o.id,
        o.state,
        o.filled,
        o.leaves(),
    )));
}

/// The header of an output caused by `trigger`: the order's venue and instrument, and the
/// trigger's latency stamps (so tick-to-trade is measured from the record that caused it).
pub(crate) fn out_meta(markets: &Markets, trigger: &Meta, instrument: InstrumentId) -> Meta {
    let venue = markets
        .get(instrument)
        .map_or(trigger.venue, |m| m.spec.venue);
    let mut meta = Meta::new(venue, instrument, trigger.stamps.recv_ns);
    meta.stamps = trigger.stamps;
    meta
}
