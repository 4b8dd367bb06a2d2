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

mod market;
mod orders;
pub mod replay;
pub mod runner;
mod strategy;

pub use market::{MarketChange, MarketView, Markets, through_touch};
pub use orders::{FillDedup, OrderEntry, OrderTable};
pub use strategy::{CancelError, Ctx, OrderRequest, PlaceError, Strategy, StrategyMode};

use crate::event::{Alert, CancelAll};
use crate::event::{
    AlertCode, ExecReport, Fill, Input, Meta, OperatorAction, OperatorCmd, OrderState, OrderStatus,
    OrderUpdate, Output, PositionUpdate, Side,
};
use crate::ids::{ClientOrderId, InstrumentId, StrategyId};
use crate::num::{InstrumentSpec, Qty};

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
    strategies: Vec<Box<dyn Strategy>>,
    books: Vec<strategy::Book>,
    out: Vec<Output>,
    stats: EngineStats,
    shutting_down: bool,
}

impl Engine {
    /// An engine trading `strategies` (their ids are their indexes) on `cfg.instruments`.
    pub fn new(cfg: &EngineConfig, strategies: Vec<Box<dyn Strategy>>) -> Self {
        let n = cfg.instruments.len();
        Self {
            now: 0,
            markets: Markets::new(&cfg.instruments, cfg.book_depth),
            orders: OrderTable::with_capacity(cfg.max_open_orders),
            dedup: FillDedup::with_capacity(cfg.fill_memory),
            positions: vec![Qty::ZERO; n * strategies.len()],
            unattributed: vec![Qty::ZERO; n],
            books: strategies
                .iter()
                .map(|_| strategy::Book {
                    mode: StrategyMode::Active,
                    next_seq: 1,
                })
                .collect(),
            strategies,
            // Generous: one input rarely yields more than a handful of outputs; cancel-all of a
            // full table is the worst case.
            out: Vec::with_capacity(2 * cfg.max_open_orders + 64),
            stats: EngineStats::default(),
            shutting_down: false,
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
        self.now = self.now.max(input.meta().event_time());
        self.stats.inputs += 1;
        let trigger = *input.meta();
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
        }
        for o in &self.out {
            self.stats.outputs += 1;
            match o {
                Output::Command(_) => self.stats.commands += 1,
                Output::Alert(_) => self.stats.alerts += 1,
                _ => {}
            }
        }
        &self.out
    }

    fn dispatch(
        &mut self,
        only: Option<StrategyId>,
        trigger: &Meta,
        mut f: impl FnMut(&mut dyn Strategy, &mut Ctx<'_>),
    ) {
        let n = self.unattributed.len();
        for (i, strat) in self.strategies.iter_mut().enumerate() {
            let sid = StrategyId(i as u16);
            if only.is_some_and(|o| o != sid) {
                continue;
            }
            let mut ctx = Ctx {
                strategy: sid,
                now: self.now,
                trigger: *trigger,
                markets: &self.markets,
                orders: &mut self.orders,
                positions: &self.positions[i * n..(i + 1) * n],
                book: &mut self.books[i],
                out: &mut self.out,
            };
            f(strat.as_mut(), &mut ctx);
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
            self.orders.remove(id);
        }
        self.dispatch(Some(id.strategy()), trigger, |s, c| {
            s.on_order_update(c, &update)
        });
    }

    fn on_exec(&mut self, report: &ExecReport, trigger: &Meta) {
        match report {
            ExecReport::Ack(a) => {
                let Some(o) = self.orders.get_mut(a.cl_ord_id) else {
                    // Ack for an order already filled or cancelled: nothing to change.
                    return;
                };
                o.venue_order_id = a.venue_order_id;
                if matches!(o.state, OrderState::PendingNew | OrderState::Unknown) {
                    o.state = OrderState::Working;
                    self.order_changed(trigger, a.cl_ord_id, OrderState::Working);
                }
            }
            ExecReport::Reject(r) => {
                self.alert(trigger, AlertCode::Rejected, r.cl_ord_id.0);
                if self.orders.get(r.cl_ord_id).is_some() {
                    self.order_changed(trigger, r.cl_ord_id, OrderState::Rejected);
                }
            }
            ExecReport::Fill(f) => self.on_fill(f, trigger),
            ExecReport::CancelAck(c) => {
                if self.orders.get(c.cl_ord_id).is_some() {
                    self.order_changed(trigger, c.cl_ord_id, OrderState::Canceled);
                }
            }
            ExecReport::CancelReject(r) => {
                if let Some(o) = self.orders.get_mut(r.cl_ord_id)
                    && o.state == OrderState::PendingCancel
                {
                    o.state = o.before_cancel;
                    let state = o.state;
                    self.order_changed(trigger, r.cl_ord_id, state);
                }
            }
            ExecReport::Status(st) => {
                let Some(o) = self.orders.get_mut(st.cl_ord_id) else {
                    return;
                };
                if st.filled_qty > o.filled {
                    // Fill debt: the venue reports more filled than the fills we received.
                    // Positions move only on fills; the missing fills must be fetched.
                    self.alert(trigger, AlertCode::FillAnomaly, st.cl_ord_id.0);
                    return;
                }
                let state = match OrderStatus::from_code(st.status) {
                    Some(OrderStatus::New) => OrderState::Working,
                    Some(OrderStatus::PartiallyFilled) => OrderState::PartiallyFilled,
                    Some(OrderStatus::Filled) => OrderState::Filled,
                    Some(OrderStatus::Canceled | OrderStatus::Expired) => OrderState::Canceled,
                    Some(OrderStatus::Rejected | OrderStatus::NotFound) => OrderState::Rejected,
                    None => return,
                };
                if state != o.state {
                    o.state = state;
                    self.order_changed(trigger, st.cl_ord_id, state);
                }
            }
            ExecReport::Unknown(u) => {
                if let Some(o) = self.orders.get_mut(u.cl_ord_id) {
                    o.state = OrderState::Unknown;
                    self.order_changed(trigger, u.cl_ord_id, OrderState::Unknown);
                }
            }
        }
    }

    fn on_fill(&mut self, f: &Fill, trigger: &Meta) {
        if !self.dedup.first_time(f.meta.venue, f.trade_id) {
            self.stats.duplicate_fills += 1;
            return;
        }
        self.stats.fills += 1;
        let entry = self.orders.get(f.cl_ord_id).copied();
        let Some(side) = f.side().or(entry.map(|e| e.side)) else {
            self.alert(trigger, AlertCode::FillAnomaly, f.cl_ord_id.0);
            return;
        };
        let delta = if side == Side::Buy {
            f.qty
        } else {
            f.qty.neg()
        };
        let strategy = f.cl_ord_id.strategy();
        let position = match self.pos_index(strategy, f.meta.instrument) {
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
            self.alert(trigger, AlertCode::FillAnomaly, f.cl_ord_id.0);
        }
        // A remainder smaller than one lot can never trade: venues report such fills
        // (0.024098 of 0.0241) as complete.
        let state = if e.qty.saturating_sub(filled) < lot {
            OrderState::Filled
        } else {
            OrderState::PartiallyFilled
        };
        if let Some(o) = self.orders.get_mut(f.cl_ord_id) {
            o.filled = filled;
            if o.state != OrderState::PendingCancel || state == OrderState::Filled {
                o.state = state;
            }
        }
        self.dispatch(Some(strategy), trigger, |s, c| s.on_fill(c, f));
        let now_state = self.orders.get(f.cl_ord_id).map_or(state, |o| o.state);
        self.order_changed(trigger, f.cl_ord_id, now_state);
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
        for (i, book) in self.books.iter_mut().enumerate() {
            if target.is_none_or(|t| usize::from(t.0) == i) && book.mode != StrategyMode::Stopping {
                book.mode = mode;
            }
        }
        if matches!(
            action,
            OperatorAction::Kill | OperatorAction::Flatten | OperatorAction::Shutdown
        ) {
            self.dispatch(target, trigger, |_, c| c.cancel_all(None));
        }
    }
}

#[cfg(test)]
mod tests;
