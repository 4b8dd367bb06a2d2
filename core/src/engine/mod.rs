//! The deterministic single-threaded engine (DESIGN §5).
//!
//! [`Engine::process`] is a pure function of the input sequence: it reads no clock (engine time
//! is the event time of the input), draws no randomness and iterates only in deterministic
//! orders. Each call returns the outputs it produced — order commands, order state changes,
//! position changes, alerts — which the runner journals and forwards. Replaying the journaled
//! inputs through a fresh engine built from the journaled config reproduces them exactly.
//!
//! Order-state rules follow what venues really do: a fill may arrive before its ack, a cancel
//! ack after a fill, the same fill twice (stream and poller); a fill is *never* refused — the
//! position always follows the venue — and anything odd raises an alert instead.

mod flatten;
pub mod replay;
pub mod runner;
mod status;
mod strategy;

pub use status::{StatusPort, StrategyStatus};
use strategy::StrategyState;
pub(crate) use strategy::out_meta;
pub use strategy::{CancelError, Ctx, PlaceError, Strategy, StrategyMode};

use crate::accounting::{Ledger, LedgerFill, Pnl};
use crate::event::{Alert, CancelAll};
use crate::event::{
    AlertCode, ExecReport, Fill, Input, Meta, NewOrder, OperatorAction, OperatorCmd, OrderCommand,
    OrderState, OrderStatus, OrderUpdate, Output, PositionUpdate, Record, RejectReason,
    SessionAction, SessionCtl, StatusReport,
};
use crate::event::{RiskLevel, TimerTick};
use crate::ids::{ClientOrderId, InstrumentId, StrategyId};
use crate::market::{MarketChange, MarketView, Markets};
use crate::num::{InstrumentSpec, Px, Qty};
use crate::order::{FillDedup, OrderEntry, OrderEvent, OrderTable};
use crate::risk::{Risk, RiskConfig};

/// Sizes the engine reserves at start so the hot path never allocates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    /// Instrument table; `spec.id` must equal the index.
    pub instruments: Vec<InstrumentSpec>,
    /// Maximum open orders across all strategies.
    pub max_open_orders: usize,
    /// Book levels reserved per side.
    pub book_depth: usize,
    /// How many recent fills are remembered for de-duplication.
    pub fill_memory: usize,
}

/// Counters kept by the engine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Inputs processed.
    pub inputs: u64,
    /// Outputs produced.
    pub outputs: u64,
    /// Order commands produced.
    pub commands: u64,
    /// Fills applied.
    pub fills: u64,
    /// Fills ignored as duplicates of an already-applied (venue, trade id).
    pub duplicate_fills: u64,
    /// Alerts raised.
    pub alerts: u64,
}

/// The engine: market views, open orders, positions and strategies.
pub struct Engine {
    now: u64,
    markets: Markets,
    orders: OrderTable,
    dedup: FillDedup,
    /// Positions, strategy-major: `positions[s * instruments + i]`.
    positions: Vec<Qty>,
    /// Fills whose strategy is unknown still move real inventory; they are kept here.
    unattributed: Vec<Qty>,
    /// P&L, fees and turnover per (strategy, instrument) and (venue, instrument).
    ledger: Ledger,
    /// Rebuilding from the journal or resuming: strategies are not called.
    restoring: bool,
    strategies: Vec<Box<dyn Strategy>>,
    /// Per-strategy mode and id sequence, by strategy index.
    states: Vec<StrategyState>,
    out: Vec<Output>,
    stats: EngineStats,
    shutting_down: bool,
    risk: Risk,
    status: Option<StatusPort>,
    alerts: Option<crate::ring::Producer<Output>>,
    alerts_dropped: u64,
    max_orders: usize,
}

impl Engine {
    /// An engine trading `strategies` (their ids are their indexes) on `cfg.instruments`.
    pub fn new(cfg: &EngineConfig, strategies: Vec<Box<dyn Strategy>>) -> Self {
        let n = cfg.instruments.len();
        let risk = Risk::new(
            RiskConfig::permissive(n),
            &cfg.instruments,
            strategies.len(),
            cfg.max_open_orders,
        );
        Self {
            risk,
            status: None,
            alerts: None,
            alerts_dropped: 0,
            max_orders: cfg.max_open_orders,
            now: 0,
            markets: Markets::new(&cfg.instruments, cfg.book_depth),
            orders: OrderTable::with_capacity(cfg.max_open_orders),
            dedup: FillDedup::with_capacity(cfg.fill_memory),
            positions: vec![Qty::ZERO; n * strategies.len()],
            unattributed: vec![Qty::ZERO; n],
            ledger: Ledger::new(&cfg.instruments, strategies.len()),
            restoring: false,
            states: strategies.iter().map(|_| StrategyState::new()).collect(),
            strategies,
            // Generous: one input rarely yields more than a handful of outputs; cancel-all of a
            // full table is the worst case.
            out: Vec::with_capacity(2 * cfg.max_open_orders + 64),
            stats: EngineStats::default(),
            shutting_down: false,
        }
    }

    /// Replaces the risk configuration (before the first input: limits, breakers, flattener).
    pub fn set_risk(&mut self, cfg: RiskConfig) {
        let specs: Vec<InstrumentSpec> = self.markets.iter().map(|m| m.spec.clone()).collect();
        self.risk = Risk::new(cfg, &specs, self.strategies.len(), self.max_orders);
    }

    /// The risk state.
    pub fn risk(&self) -> &Risk {
        &self.risk
    }

    /// The risk state, mutably (see [`Risk::set_pre_trade_checks`]).
    pub fn risk_mut(&mut self) -> &mut Risk {
        &mut self.risk
    }

    /// Publishes a status snapshot per strategy on every timer tick through `port` (for the
    /// control socket's `status`). Publishing never blocks: a full ring drops the snapshot.
    pub fn attach_status(&mut self, port: StatusPort) {
        self.status = Some(port);
    }

    /// Copies every alert and every risk decision other than a single refusal or a feed's
    /// normal end into `tx` for
    /// the ops thread (log, webhook). Never blocks: a full ring drops (and counts) the copy —
    /// the journal still has every record.
    pub fn attach_alerts(&mut self, tx: crate::ring::Producer<Output>) {
        self.alerts = Some(tx);
    }

    /// Alert copies dropped because the ops thread was behind.
    pub fn alerts_dropped(&self) -> u64 {
        self.alerts_dropped
    }

    /// A strategy's operator mode.
    pub fn mode(&self, strategy: StrategyId) -> Option<StrategyMode> {
        self.states.get(usize::from(strategy.0)).map(|b| b.mode)
    }

    /// The status row of one strategy.
    pub fn strategy_status(&self, strategy: StrategyId) -> StrategyStatus {
        let mode = self.mode(strategy).unwrap_or(StrategyMode::Stopping);
        let mut gross = Qty::ZERO;
        for i in 0..self.unattributed.len() {
            gross = gross.saturating_add(self.position(strategy, InstrumentId(i as u32)).abs());
        }
        let split = self.risk.attribution(strategy);
        let to_px = |d: rust_decimal::Decimal| Px::from_decimal(d.round_dp(9)).unwrap_or(Px::ZERO);
        StrategyStatus {
            engine_time: self.now,
            strategy,
            mode,
            level: self.risk.level(strategy),
            open_orders: self.risk.open_orders(strategy),
            gross_position: gross,
            pnl: self.risk.pnl(strategy),
            incident_pnl: to_px(split.incident),
        }
    }

    /// Engine time: the latest event time seen.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Market views.
    pub fn markets(&self) -> &Markets {
        &self.markets
    }

    /// Open orders.
    pub fn orders(&self) -> &OrderTable {
        &self.orders
    }

    /// Counters.
    pub fn stats(&self) -> EngineStats {
        self.stats
    }

    /// The accounts: position, average price, realized P&L, fees, turnover.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// A strategy's P&L over its instruments, open positions marked at each market's mid
    /// (instruments without a two-sided book count no unrealized P&L).
    pub fn strategy_pnl(&self, strategy: StrategyId) -> Pnl {
        self.ledger.strategy_pnl(strategy, |id| {
            self.markets.get(id).and_then(MarketView::mid)
        })
    }

    /// Quote-currency fees a strategy paid over all its instruments (negative: net rebate).
    pub fn strategy_fees(&self, strategy: StrategyId) -> rust_decimal::Decimal {
        self.ledger
            .strategy_accounts(strategy)
            .map(|(_, a)| a.fees())
            .sum()
    }

    /// The next client order sequence of a strategy (ids are never reused, across restarts).
    pub fn next_order_seq(&self, strategy: StrategyId) -> Option<u64> {
        self.states.get(usize::from(strategy.0)).map(|b| b.next_seq)
    }

    /// Open orders of a strategy still waiting for the venue to confirm them after a restart;
    /// the strategy cannot place orders until this is zero.
    pub fn unverified_orders(&self, strategy: StrategyId) -> u32 {
        self.states
            .get(usize::from(strategy.0))
            .map_or(0, |b| b.verifying)
    }

    /// Strategy names, by id.
    pub fn strategy_names(&self) -> impl Iterator<Item = &str> {
        self.strategies.iter().map(|s| s.name())
    }

    /// Each strategy's name and reported performance, by id.
    pub fn strategy_metrics(
        &self,
    ) -> impl Iterator<Item = (&str, Option<crate::metrics::StrategyMetrics>)> {
        self.strategies.iter().map(|s| (s.name(), s.metrics()))
    }

    /// Position of a strategy in an instrument.
    pub fn position(&self, strategy: StrategyId, instrument: InstrumentId) -> Qty {
        self.pos_index(strategy, instrument)
            .map_or(Qty::ZERO, |i| self.positions[i])
    }

    /// Net position in an instrument across strategies, including unattributed fills.
    pub fn net_position(&self, instrument: InstrumentId) -> Qty {
        let i = instrument.0 as usize;
        let n = self.unattributed.len();
        let mut total = self.unattributed.get(i).copied().unwrap_or(Qty::ZERO);
        for s in 0..self.strategies.len() {
            if let Some(p) = self.positions.get(s * n + i) {
                total = total.saturating_add(*p);
            }
        }
        total
    }

    /// True once a shutdown command has been processed.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down
    }

    fn pos_index(&self, strategy: StrategyId, instrument: InstrumentId) -> Option<usize> {
        let n = self.unattributed.len();
        let (s, i) = (usize::from(strategy.0), instrument.0 as usize);
        (s < self.strategies.len() && i < n).then_some(s * n + i)
    }

    /// Processes one input and returns the outputs it produced, in order.
    pub fn process(&mut self, input: &Input) -> &[Output] {
        self.out.clear();
        self.risk.begin();
        self.now = self.now.max(input.meta().event_time());
        self.stats.inputs += 1;
        let trigger = *input.meta();
        self.risk.on_input(input, self.now, &mut self.out);
        match input {
            Input::Market(ev) => match self.markets.apply(ev, self.now) {
                MarketChange::Book(id) => self.dispatch(None, &trigger, |s, c| s.on_book(c, id)),
                MarketChange::Trade(_) => {
                    if let crate::event::MarketEvent::Trade(t) = ev {
                        self.dispatch(None, &trigger, |s, c| s.on_trade(c, t));
                    }
                }
                MarketChange::Feed(_) => {
                    if let crate::event::MarketEvent::Status(st) = ev {
                        self.dispatch(None, &trigger, |s, c| s.on_feed_status(c, st));
                    }
                }
                MarketChange::None => {}
            },
            Input::Exec(report) => self.on_exec(report, &trigger),
            Input::Timer(tick) => self.dispatch(None, &trigger, |s, c| s.on_timer(c, tick)),
            Input::Operator(cmd) => self.on_operator(cmd, &trigger),
            Input::Session(ctl) => self.on_session(ctl, &trigger),
        }
        self.after_input(input, &trigger);
        for o in &self.out {
            self.stats.outputs += 1;
            let notify = match o {
                Output::Command(_) => {
                    self.stats.commands += 1;
                    false
                }
                Output::Alert(_) => {
                    self.stats.alerts += 1;
                    true
                }
                Output::Risk(r) => {
                    r.kind() != Some(crate::event::RiskDecisionKind::Reject)
                        && r.reason() != Some(crate::event::RiskReason::FeedEnded)
                }
                _ => false,
            };
            if notify
                && let Some(tx) = self.alerts.as_mut()
                && tx.try_push(*o).is_err()
            {
                self.alerts_dropped += 1;
            }
        }
        &self.out
    }

    /// Risk work after an input: fold its outputs into the risk aggregates, run the timer
    /// checks, drive flattening strategies, publish status.
    fn after_input(&mut self, input: &Input, trigger: &Meta) {
        self.risk.sync(&mut self.out, self.now);
        if self.restoring {
            // Rebuilding from the journal: risk state follows the reports, but nothing acts.
            return;
        }
        if let Input::Timer(tick) = input {
            for s in 0..self.strategies.len() {
                let sid = StrategyId(s as u16);
                let net = self.strategy_pnl(sid).net();
                self.risk.set_ledger_pnl(sid, net);
            }
            self.risk
                .on_timer(&self.markets, trigger, self.now, &mut self.out);
            self.publish_status(tick);
        }
        if self.risk.flattening > 0 {
            for i in 0..self.strategies.len() {
                if self.risk.level(StrategyId(i as u16)) != RiskLevel::Flattening {
                    continue;
                }
                let mut ctx = self.ctx(i, trigger);
                flatten::step(&mut ctx);
                ctx.risk.sync(ctx.out, ctx.now);
            }
        }
        self.risk.sync(&mut self.out, self.now);
    }

    fn publish_status(&mut self, tick: &TimerTick) {
        let Some(mut port) = self.status.take() else {
            return;
        };
        if port.due(tick.tick) {
            for s in 0..self.strategies.len() {
                port.publish(self.strategy_status(StrategyId(s as u16)));
            }
        }
        self.status = Some(port);
    }

    fn dispatch(
        &mut self,
        only: Option<StrategyId>,
        trigger: &Meta,
        mut f: impl FnMut(&mut dyn Strategy, &mut Ctx<'_>),
    ) {
        if self.restoring {
            return;
        }
        // Taken out for the loop so each strategy's context can borrow the rest of the
        // engine; an empty Vec does not allocate, and callbacks cannot reach the list.
        let mut strategies = core::mem::take(&mut self.strategies);
        for (i, strat) in strategies.iter_mut().enumerate() {
            if only.is_some_and(|o| usize::from(o.0) != i) {
                continue;
            }
            let mut ctx = self.ctx(i, trigger);
            f(strat.as_mut(), &mut ctx);
        }
        self.strategies = strategies;
    }

    /// The context of strategy `i` for one callback caused by `trigger` (the only place a
    /// [`Ctx`] is made).
    fn ctx(&mut self, i: usize, trigger: &Meta) -> Ctx<'_> {
        let n = self.unattributed.len();
        let sid = StrategyId(i as u16);
        Ctx {
            strategy: sid,
            now: self.now,
            trigger: *trigger,
            markets: &self.markets,
            orders: &mut self.orders,
            positions: &self.positions[i * n..(i + 1) * n],
            accounts: self.ledger.strategy_slice(sid),
            state: &mut self.states[i],
            out: &mut self.out,
            risk: &mut self.risk,
        }
    }

    fn alert(&mut self, trigger: &Meta, code: AlertCode, arg: u64) {
        self.out
            .push(Output::Alert(Alert::new(*trigger, code, arg)));
    }

    /// Emits the order's new state and tells its strategy.
    fn order_changed(&mut self, trigger: &Meta, id: ClientOrderId, state: OrderState) {
        let (filled, leaves) = self
            .orders
            .get(id)
            .map_or((Qty::ZERO, Qty::ZERO), |o| (o.filled, o.leaves()));
        let mut meta = *trigger;
        if let Some(o) = self.orders.get(id) {
            meta.venue = o.venue;
            meta.instrument = o.instrument;
        }
        let update = OrderUpdate::new(meta, id, state, filled, leaves);
        self.out.push(Output::OrderUpdate(update));
        if state.is_terminal() {
            self.settle(id);
            self.orders.remove(id);
        }
        self.dispatch(Some(id.strategy()), trigger, |s, c| {
            s.on_order_update(c, &update)
        });
    }

    /// Applies `event` to open order `id` through the state machine ([`OrderState::apply`]);
    /// publishes the new state (and tells the strategy) when it says something changed. An
    /// event for an order no longer open changes nothing.
    fn transition(&mut self, trigger: &Meta, id: ClientOrderId, event: OrderEvent) {
        let Some(o) = self.orders.get_mut(id) else {
            return;
        };
        if let Some(next) = o.state.apply(event) {
            o.state = next;
            self.order_changed(trigger, id, next);
        }
    }

    /// The venue answered about a restored order: it no longer blocks its strategy.
    fn settle(&mut self, id: ClientOrderId) {
        if let Some(o) = self.orders.get_mut(id)
            && o.verifying
        {
            o.verifying = false;
            if let Some(b) = self.states.get_mut(usize::from(o.strategy.0)) {
                b.verifying = b.verifying.saturating_sub(1);
            }
        }
    }

    /// Closes an order the venue does not know (never arrived, or lost while we were away).
    fn vanished(&mut self, trigger: &Meta, id: ClientOrderId) {
        let Some(o) = self.orders.get(id) else {
            return;
        };
        let was_live = o.venue_order_id != 0 || o.filled.is_positive();
        self.alert(trigger, AlertCode::OrderVanished, id.0);
        self.transition(trigger, id, OrderEvent::Vanished { was_live });
    }

    fn on_exec(&mut self, report: &ExecReport, trigger: &Meta) {
        match report {
            ExecReport::Ack(a) => {
                self.settle(a.cl_ord_id);
                let Some(o) = self.orders.get_mut(a.cl_ord_id) else {
                    // Ack for an order already filled or cancelled: nothing to change.
                    return;
                };
                o.venue_order_id = a.venue_order_id;
                let filled = o.filled.is_positive();
                self.transition(trigger, a.cl_ord_id, OrderEvent::Acked { filled });
            }
            ExecReport::Reject(r) => {
                let Some(o) = self.orders.get(r.cl_ord_id) else {
                    self.alert(trigger, AlertCode::Rejected, r.cl_ord_id.0);
                    return;
                };
                // "Unknown order" for an order past PendingNew (a query, a restored order):
                // the venue has no such order any more; close it rather than leak it.
                if r.reason() == Some(RejectReason::UnknownOrder)
                    && o.state != OrderState::PendingNew
                {
                    self.vanished(trigger, r.cl_ord_id);
                    return;
                }
                self.alert(trigger, AlertCode::Rejected, r.cl_ord_id.0);
                self.transition(trigger, r.cl_ord_id, OrderEvent::Rejected);
            }
            ExecReport::Fill(f) => self.on_fill(f, trigger),
            ExecReport::CancelAck(c) => {
                self.transition(trigger, c.cl_ord_id, OrderEvent::CancelAcked);
            }
            ExecReport::CancelReject(r) => {
                if let Some(o) = self.orders.get(r.cl_ord_id) {
                    let before = o.before_cancel;
                    self.transition(trigger, r.cl_ord_id, OrderEvent::CancelRejected { before });
                }
            }
            ExecReport::Status(st) => self.on_status(st, trigger),
            ExecReport::Unknown(u) => {
                self.transition(trigger, u.cl_ord_id, OrderEvent::OutcomeUnknown);
            }
        }
    }

    /// A status from a venue query: resolves unknown and restored orders, and detects fill
    /// debt (the venue counts more filled than the fills we received). Positions move only on
    /// fills, so an order with debt stays open until its fills arrive.
    fn on_status(&mut self, st: &StatusReport, trigger: &Meta) {
        let id = st.cl_ord_id;
        self.settle(id);
        let Some(status) = OrderStatus::from_code(st.status) else {
            return;
        };
        if status == OrderStatus::NotFound {
            self.vanished(trigger, id);
            return;
        }
        let Some(o) = self.orders.get_mut(id) else {
            return;
        };
        if st.venue_order_id != 0 {
            o.venue_order_id = st.venue_order_id;
        }
        let new_debt = st.filled_qty > o.venue_filled && st.filled_qty > o.filled;
        o.venue_filled = o.venue_filled.max(st.filled_qty);
        let debt = o.fill_debt().is_positive();
        let event = OrderEvent::Reported {
            status,
            filled: o.filled.is_positive(),
            debt,
        };
        if debt {
            // The final state the venue reports while fills are owed: applied when they
            // arrive (see `on_fill`).
            let venue_final = match status {
                OrderStatus::Filled => Some(OrderState::Filled),
                OrderStatus::Canceled | OrderStatus::Expired => Some(OrderState::Canceled),
                OrderStatus::Rejected | OrderStatus::NotFound => Some(OrderState::Rejected),
                OrderStatus::New | OrderStatus::PartiallyFilled => None,
            };
            if venue_final.is_some() {
                o.venue_done = venue_final;
            }
        }
        if new_debt {
            self.alert(trigger, AlertCode::FillDebt, id.0);
        }
        self.transition(trigger, id, event);
    }

    fn on_fill(&mut self, f: &Fill, trigger: &Meta) {
        if !self.dedup.first_time(f.meta.venue, f.trade_id) {
            self.stats.duplicate_fills += 1;
            return;
        }
        self.stats.fills += 1;
        self.settle(f.cl_ord_id);
        let entry = self.orders.get(f.cl_ord_id).copied();
        let Some(side) = f.side().or(entry.map(|e| e.side)) else {
            self.alert(trigger, AlertCode::FillAnomaly, f.cl_ord_id.0);
            return;
        };
        // The position is the venue's balance change: a base-asset fee is inventory that
        // never arrived, so the order's `filled` counts `qty` but the position does not.
        let delta = f.inventory_delta(side);
        let strategy = f.cl_ord_id.strategy();
        let index = self.pos_index(strategy, f.meta.instrument);
        self.ledger
            .apply(index.map(|_| strategy), &LedgerFill::from_record(f, side));
        let position = match index {
            Some(i) => {
                self.positions[i] = self.positions[i].saturating_add(delta);
                self.positions[i]
            }
            None => {
                // A fill we cannot attribute still moved real inventory: keep it, and alert.
                if let Some(u) = self.unattributed.get_mut(f.meta.instrument.0 as usize) {
                    *u = u.saturating_add(delta);
                }
                self.alert(trigger, AlertCode::FillAnomaly, f.cl_ord_id.0);
                return;
            }
        };
        let mut meta = *trigger;
        meta.instrument = f.meta.instrument;
        self.out.push(Output::Position(PositionUpdate::new(
            meta, strategy, position, f.px,
        )));
        let Some(e) = entry else {
            // Fill for an order no longer open (e.g. after its cancel was confirmed).
            self.alert(trigger, AlertCode::FillAnomaly, f.cl_ord_id.0);
            self.dispatch(Some(strategy), trigger, |s, c| s.on_fill(c, f));
            return;
        };
        let filled = e.filled.saturating_add(f.qty);
        let lot = self
            .markets
            .get(e.instrument)
            .map_or(Qty::ZERO, |m| m.spec.lot);
        let tolerance = self
            .markets
            .get(e.instrument)
            .map_or(lot, |m| m.spec.default_tolerance(e.qty));
        if filled.saturating_sub(e.qty) > tolerance {
            // Overfill: applied all the same (the position follows the venue), and flagged.
            self.alert(trigger, AlertCode::FillAnomaly, f.cl_ord_id.0);
        }
        // A remainder smaller than one lot can never trade: venues report such fills
        // (0.024098 of 0.0241) as complete.
        let rest_tradable = e.qty.saturating_sub(filled) >= lot;
        // The owed fills arrived: the order ends as the venue said it did.
        let venue_final = e.venue_done.filter(|_| filled >= e.venue_filled);
        let event = OrderEvent::Filled {
            rest_tradable,
            venue_final,
        };
        let mut state = e.state;
        if let Some(o) = self.orders.get_mut(f.cl_ord_id) {
            o.filled = filled;
            if let Some(next) = o.state.apply(event) {
                o.state = next;
                state = next;
            }
        }
        self.dispatch(Some(strategy), trigger, |s, c| s.on_fill(c, f));
        // Published after the strategy saw the fill, in the state the order is in by then
        // (the strategy may have asked to cancel the rest).
        let now_state = self.orders.get(f.cl_ord_id).map_or(state, |o| o.state);
        self.order_changed(trigger, f.cl_ord_id, now_state);
    }

    fn on_session(&mut self, ctl: &SessionCtl, trigger: &Meta) {
        match ctl.action() {
            Some(SessionAction::Resume) => {
                // Everything restored open is in doubt until the venue confirms it. Strategies
                // are not called: they cannot act on unverified orders anyway.
                let restoring = core::mem::replace(&mut self.restoring, true);
                let mut slot = 0;
                while let Some(id) = self.next_order(&mut slot, |o| !o.verifying) {
                    if let Some(o) = self.orders.get_mut(id) {
                        o.verifying = true;
                        let s = usize::from(o.strategy.0);
                        if let Some(b) = self.states.get_mut(s) {
                            b.verifying += 1;
                        }
                    }
                    self.transition(trigger, id, OrderEvent::Restored);
                }
                self.restoring = restoring;
            }
            Some(SessionAction::Reconciled) => {
                // The venue reported everything it knows: what is still unverified there is
                // unknown to it.
                let venue = ctl.meta.venue;
                let mut slot = 0;
                while let Some(id) = self.next_order(&mut slot, |o| o.verifying && o.venue == venue)
                {
                    self.settle(id);
                    self.vanished(trigger, id);
                }
            }
            None => {}
        }
    }

    /// The next open order at or after `*slot` matching `pick` (iteration that tolerates the
    /// table changing between steps, without collecting ids).
    fn next_order(
        &self,
        slot: &mut usize,
        pick: impl Fn(&OrderEntry) -> bool,
    ) -> Option<ClientOrderId> {
        let found = self
            .orders
            .iter_slots()
            .find(|(i, o)| *i >= *slot && pick(o))?;
        *slot = found.0 + 1;
        Some(found.1.id)
    }

    /// Rebuilds state from one record of an earlier session (see [`replay::RestoreLog`]):
    /// execution reports, session inputs and operator commands (but a shutdown) are processed
    /// with strategies silent and outputs
    /// discarded; journaled new-order and cancel commands re-open and re-mark orders and
    /// advance each strategy's id sequence so ids are never reused.
    pub fn restore(&mut self, rec: &Record<'_>) {
        let restoring = core::mem::replace(&mut self.restoring, true);
        match rec {
            Record::Input(input @ (Input::Exec(_) | Input::Session(_))) => {
                self.process(input);
            }
            // Operator commands: modes, risk levels and breaker resets carry over, so a breaker
            // the operator reset before the restart is not tripped again by its replayed
            // rejects. A shutdown ended that session; it does not end this one.
            Record::Input(input @ Input::Operator(cmd))
                if cmd.action() != Some(OperatorAction::Shutdown) =>
            {
                self.process(input);
            }
            Record::Input(input) => self.now = self.now.max(input.meta().event_time()),
            Record::Output(Output::Command(OrderCommand::New(n))) => self.restore_new(n),
            Record::Output(Output::Command(OrderCommand::Cancel(c))) => {
                if let Some(o) = self.orders.get_mut(c.cl_ord_id) {
                    o.request_cancel();
                }
            }
            _ => {}
        }
        self.out.clear();
        self.restoring = restoring;
    }

    fn restore_new(&mut self, n: &NewOrder) {
        let strategy = n.cl_ord_id.strategy();
        let Some(book) = self.states.get_mut(usize::from(strategy.0)) else {
            return;
        };
        book.next_seq = book.next_seq.max(n.cl_ord_id.seq() + 1);
        let Some(side) = n.side() else {
            return;
        };
        let entry = OrderEntry::new(
            n.cl_ord_id,
            n.meta.venue,
            n.meta.instrument,
            side,
            n.px,
            n.qty,
        );
        // A full table cannot happen with the same config; with a smaller one the order is
        // still known to the venue and shows up in reconciliation.
        if !self.orders.insert(entry) {
            return;
        }
        // Risk tracks orders by reading the engine's outputs: show it the journaled command,
        // so restored orders count toward open orders, worst-case exposure and self-trade
        // extremes exactly as they did when they were sent.
        self.out.clear();
        self.risk.begin();
        self.out.push(Output::Command(OrderCommand::New(*n)));
        self.risk.sync(&mut self.out, self.now);
    }

    fn on_operator(&mut self, cmd: &OperatorCmd, trigger: &Meta) {
        let Some(action) = cmd.action() else {
            return;
        };
        let target = (cmd.strategy != CancelAll::EVERY_STRATEGY).then_some(cmd.strategy);
        let mode = match action {
            OperatorAction::Pause => StrategyMode::Paused,
            OperatorAction::Resume => StrategyMode::Active,
            OperatorAction::ReduceOnly => StrategyMode::ReduceOnly,
            OperatorAction::Flatten | OperatorAction::Kill => StrategyMode::Paused,
            OperatorAction::Shutdown => {
                self.shutting_down = true;
                StrategyMode::Stopping
            }
        };
        for (i, book) in self.states.iter_mut().enumerate() {
            if target.is_none_or(|t| usize::from(t.0) == i) && book.mode != StrategyMode::Stopping {
                book.mode = mode;
            }
        }
        // Risk levels: resume clears escalation (and tripped breakers); flatten and kill hand
        // the strategies to the flattener, which cancels, confirms and closes.
        let level = match action {
            OperatorAction::Resume => Some(RiskLevel::Active),
            OperatorAction::Flatten | OperatorAction::Kill => Some(RiskLevel::Flattening),
            _ => None,
        };
        if let Some(level) = level {
            if action == OperatorAction::Resume {
                self.risk.reset_breakers(*trigger, &mut self.out);
            }
            for i in 0..self.strategies.len() {
                let sid = StrategyId(i as u16);
                if target.is_none_or(|t| t == sid) {
                    self.risk
                        .operator_level(sid, level, *trigger, &mut self.out);
                }
            }
        }
        if action == OperatorAction::Shutdown {
            self.dispatch(target, trigger, |_, c| c.cancel_all(None));
        }
    }
}

#[cfg(test)]
mod tests;
